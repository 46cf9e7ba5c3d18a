/* SPDX-License-Identifier: MIT */
/*
 * sluice pool: a bounded work-stealing thread pool that measures its own load.
 *
 * API
 *   pool_create(&p, &opts)        start the workers (opts may be NULL)
 *   pool_default_workers()        how many pool_create starts for workers 0
 *   pool_submit(p, fn, arg)       from any thread; FIFO; -EAGAIN when full
 *   pool_submit_wait(p, fn, arg)  same, but waits for room instead of -EAGAIN
 *   pool_submit_blocking(p,fn,arg) run a task that may block, on the capped
 *                                 set of extra threads
 *   pool_spawn(fn, arg)           from inside a task: a continuation, run next
 *   pool_task_poll()              from inside a long task: run the worker's
 *                                 driver once, without blocking
 *   pool_group_init/spawn/wait    fork-join; a waiting worker runs other tasks
 *   pool_task_enqueue_ns()        when the running task was submitted
 *   pool_task_delay_ns()          how long it waited before it started
 *   pool_now_ns()                 the pool's clock (CLOCK_MONOTONIC, in ns)
 *   pool_stats(p, &s)             cheap snapshot: monotonic counters + histogram
 *   pool_stats_interval(a, b, &i) per-interval values between two snapshots
 *   pool_hist_quantile(h, q)      a quantile of a delay histogram
 *   pool_shutdown(p, mode, cb, c) drain, or cancel and hand queued tasks back
 *   pool_destroy(p)               shutdown (drain) if needed, free
 *
 * Errors are negative errno values:
 *   -EAGAIN    the submission queue is at its bound (load shedding signal)
 *   -ESHUTDOWN the pool is shutting down or shut down
 *   -EPERM     pool_spawn/pool_group_spawn called outside a pool task
 *   -EINVAL    bad options or arguments
 *   -ENOMEM    allocation failed (only in pool_create)
 */
#ifndef SLUICE_POOL_H
#define SLUICE_POOL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pool;

typedef void (*pool_fn)(void *arg);

/* Called once per task that a cancelling shutdown takes out of a queue. */
typedef void (*pool_cancel_fn)(pool_fn fn, void *arg, void *ctx);

/*
 * An event loop per worker, run by the worker itself between tasks (as
 * Tokio's workers run their IO driver): a server's IO and its requests
 * then share a thread, and a request its loop submits into an otherwise
 * idle pool is run next by that same thread, with no wake-up and no
 * hand-off. With a driver, a worker with nothing to run blocks in
 * poll(wait true) instead of sleeping on a futex, and the pool calls
 * wake() where it would have woken that futex.
 *
 *   poll(ctx, worker, wait)  run worker's loop once, on worker's thread.
 *                            wait false: without blocking (the worker has
 *                            tasks; called every few dozen tasks and when
 *                            its queues run dry). wait true: the worker is
 *                            idle; block until the loop's own events, a
 *                            wake(), or a timeout of the loop's choosing
 *                            (a return without either is harmless)
 *   wake(ctx, worker)        make worker's poll(wait true) return soon;
 *                            any thread, any time (also before that poll)
 *
 * Tasks submitted from inside poll are measured as any others. A task that
 * runs long holds its worker's loop unless it lends the worker to it now
 * and then with pool_task_poll().
 */
struct pool_driver {
	void (*poll)(void *ctx, unsigned worker, int wait);
	void (*wake)(void *ctx, unsigned worker);
	void *ctx;
};

struct pool_opts {
	unsigned workers;      /* CPU workers; 0: number of usable CPUs */
	unsigned queue_bound;  /* submission queue slots (rounded up to a power
				  of two); 0: 65536 */
	unsigned deque_size;   /* per-worker spawn deque slots (power of two);
				  0: 4096. A spawn into a full deque runs the
				  task at once, in the spawner. */
	unsigned max_spinning; /* workers searching for work at once; 0: half
				  the workers, at least 1 */
	unsigned max_blocking; /* threads for pool_submit_blocking; 0: 8 */
	unsigned blocking_bound;   /* queued blocking tasks; 0: 1024 */
	unsigned blocking_idle_ms; /* an idle blocking thread exits after
				      this; 0: 2000 */
	int pin_cpus;     /* nonzero: pin worker i to the i-th usable CPU */
	const char *name; /* thread name prefix, at most 8 chars; "pool" */
	const struct pool_driver *driver; /* NULL: none; else copied */
};

int pool_create(struct pool **out, const struct pool_opts *opts);
unsigned pool_default_workers(void);

/*
 * Queue fn(arg) from any thread. Never blocks and never allocates: returns
 * -EAGAIN at once when queue_bound tasks are waiting. The enqueue time is
 * recorded and the task's queue delay is measured when it starts.
 */
int pool_submit(struct pool *p, pool_fn fn, void *arg);

/* As pool_submit, but when the queue is full wait for room (backing off). */
int pool_submit_wait(struct pool *p, pool_fn fn, void *arg);

/*
 * Run fn(arg), which may block (disk, DNS, a lock), on a separate capped set
 * of threads so that the CPU workers are never tied up. Threads are started
 * on demand up to max_blocking and exit after blocking_idle_ms idle.
 * -EAGAIN when blocking_bound tasks already wait.
 */
int pool_submit_blocking(struct pool *p, pool_fn fn, void *arg);

/*
 * Fork-join. A group lives where the caller likes (usually the stack of the
 * task that waits). pool_group_spawn and pool_spawn work only from inside a
 * pool task (-EPERM otherwise); spawned tasks run LIFO on the spawning
 * worker, idle workers steal them. pool_group_wait returns once every task
 * spawned into the group has finished; from a worker it runs other tasks
 * meanwhile, from any other thread it sleeps. A spawn into a full deque runs
 * the task at once, in the caller.
 *
 * pool_spawn is for continuations: a task's first pool_spawn goes to the
 * worker's one-task slot, runs right after the task returns, and cannot be
 * stolen (Tokio's LIFO slot); further spawns go to the deque. A spawn wakes a
 * sleeping worker only when the deque already held a task: a lone task is
 * run by its own worker next.
 */
struct pool_group {
	_Atomic uint32_t state; /* 2 x pending tasks | 1 if a thread sleeps */
};

#define POOL_GROUP_INIT { 0 }

void pool_group_init(struct pool_group *g);
int pool_group_spawn(struct pool_group *g, pool_fn fn, void *arg);
void pool_group_wait(struct pool_group *g);
int pool_spawn(pool_fn fn, void *arg);

/*
 * For the running task: the pool_now_ns() time at which it was submitted and
 * how long it waited before it started (0 for spawned tasks and outside a
 * task). A server answers 503 instead of working when the wait already
 * exceeds the request's deadline. A worker reads the clock once per claim of
 * submitted tasks, and claims several at once only while its tasks are short
 * (about 1 us each): the start of a task claimed with others may then be
 * early by the run time of those ahead of it, a few microseconds.
 */
uint64_t pool_task_enqueue_ns(void);
uint64_t pool_task_delay_ns(void);
uint64_t pool_now_ns(void);

/* From inside a task: the driver's poll of this worker, without blocking
 * (pool.h's driver), so that a long task does not hold its worker's loop:
 * what the loop reads meanwhile queues in the pool, measured, instead of
 * waiting unseen in the kernel. A no-op without a driver, outside a task
 * and from inside the poll itself. Its time counts as the task's. */
void pool_task_poll(void);

/* Queue-delay histogram: log-linear, 8 sub-buckets per power of two (so a
 * bucket is at most 12.5% wide), in ns, capped at 2^41 ns. */
#define POOL_HIST_SUB_BITS 3
#define POOL_HIST_BUCKETS 312

struct pool_stats {
	uint64_t now_ns;       /* pool_now_ns() when taken */
	unsigned workers;
	unsigned blocking_threads; /* blocking threads alive now */
	/* monotonic counters (diff two snapshots for a rate) */
	uint64_t submitted;    /* accepted by pool_submit, pool_submit_wait */
	uint64_t rejected;     /* refused with -EAGAIN */
	uint64_t completed;    /* submitted tasks that ran to completion */
	uint64_t spawned_run;  /* spawned tasks that ran */
	uint64_t stolen;       /* tasks taken from another worker's deque */
	uint64_t parked;       /* times a worker went to sleep */
	uint64_t busy_ns;      /* sum over workers of time spent running */
	uint64_t blocking_completed;
	uint64_t blocking_rejected;
	/* gauges */
	uint64_t depth;          /* tasks waiting now: submitted + spawned */
	uint64_t inject_depth;   /* submitted tasks waiting now */
	uint64_t oldest_wait_ns; /* age of the task at the head of the submit
				    queue (under a backlog a worker may hold
				    up to 8 older ones it already claimed) */
	unsigned sleeping;       /* workers asleep now */
	/* queue delay (enqueue to start) of every submitted task that started,
	 * counts per bucket, monotonic */
	uint64_t delay_hist[POOL_HIST_BUCKETS];
};

/* Any thread, any rate (~0.4 us with 2 workers: it sums per-worker counters,
 * it takes no lock the CPU workers use). Counters are monotonic: diff two
 * snapshots with pool_stats_interval, or keep a pool_window. */
int pool_stats(struct pool *p, struct pool_stats *out);

/* What happened between two snapshots of the same pool (a older than b). */
struct pool_interval {
	uint64_t ns;            /* b.now_ns - a.now_ns */
	uint64_t submitted, rejected, completed, started;
	double busy;            /* busy fraction of the CPU workers, 0..1 */
	uint64_t min_delay_ns;  /* smallest queue delay that started (lower
				   bound of its bucket); 0 if none started */
	uint64_t p50_ns, p99_ns, p999_ns; /* queue delay quantiles */
	uint64_t max_delay_ns;  /* upper bound of the highest bucket used */
};

void pool_stats_interval(const struct pool_stats *a, const struct pool_stats *b,
			 struct pool_interval *out);

/* Quantile q (0..1) of a histogram, as the upper bound of its bucket. */
uint64_t pool_hist_quantile(const uint64_t *hist, double q);
unsigned pool_hist_bucket(uint64_t ns);
uint64_t pool_hist_lower(unsigned bucket);
uint64_t pool_hist_upper(unsigned bucket);

/*
 * Sliding window: keep the last n snapshots (the caller takes one every
 * tick); pool_window_push returns the interval covering the whole window,
 * e.g. n = 100 at a 10 ms tick for p99 over the last second.
 */
struct pool_window {
	struct pool_stats *ring;
	unsigned n, count, next;
};

int pool_window_init(struct pool_window *w, unsigned n);
void pool_window_push(struct pool_window *w, const struct pool_stats *s,
		      struct pool_interval *over_window);
void pool_window_free(struct pool_window *w);

enum pool_shutdown_mode {
	POOL_DRAIN,  /* refuse new submissions, run everything queued */
	POOL_CANCEL, /* refuse new submissions, finish running tasks, hand every
			queued task to the callback (never run, never lost) */
};

/*
 * Stop the pool and join its threads. Submissions racing with it either are
 * accepted (then run, or handed back) or fail with -ESHUTDOWN. cb may be NULL
 * only for POOL_DRAIN. Call from outside the pool, once.
 */
int pool_shutdown(struct pool *p, enum pool_shutdown_mode mode,
		  pool_cancel_fn cb, void *ctx);

/* Frees the pool; drains it first if pool_shutdown was not called. No other
 * thread may still be calling into the pool. */
void pool_destroy(struct pool *p);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_POOL_H */
