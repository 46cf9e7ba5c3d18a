/* SPDX-License-Identifier: MIT */
/*
 * Internals of the pool shared by its files: the task record, the queues, the
 * parking lot, the clock and the pool itself.
 *
 *   deque.c   deque_init/free, deque_push_owner, deque_pop_owner, deque_steal,
 *             deque_size_any
 *   inject.c  inject_init/free, inject_push_mpmc, inject_pop_mpmc,
 *             inject_pop_batch_mpmc,
 *             inject_close, inject_depth_any, inject_oldest_any
 *   park.c    park_init/free, park_worker, park_notify_one, park_wake_all,
 *             futex_wait/futex_wake
 *   clock.c   pool__ticks, pool__ticks_to_ns, pool__clock_init
 *   stats.c   histogram helpers, pool_stats*, pool_window*
 *   blocking.c the capped threads for blocking tasks
 *   pool.c    workers, submit/spawn, groups, shutdown
 */
#ifndef SLUICE_POOL_INTERNAL_H
#define SLUICE_POOL_INTERNAL_H

#include <sluice/pool.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define CACHELINE 64
#define cacheline_aligned __attribute__((aligned(CACHELINE)))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* ---- clock (clock.c) ---------------------------------------------------- */

/* Raw ticks: the TSC on x86 (constant rate, checked at init), else ns. */
uint64_t pool__ticks_slow(void);
extern int pool__use_tsc;
extern uint64_t pool__tick_mult; /* ns = ticks * mult >> 32 */

static inline uint64_t pool__ticks(void)
{
#if defined(__x86_64__)
	if (likely(pool__use_tsc))
		return __builtin_ia32_rdtsc();
#endif
	return pool__ticks_slow();
}

static inline uint64_t pool__ticks_to_ns(uint64_t t)
{
	return (uint64_t)(((unsigned __int128)t * pool__tick_mult) >> 32);
}

void pool__clock_init(void);
uint64_t pool__ticks_to_mono_ns(uint64_t ticks);

/* ---- the task record ---------------------------------------------------- */

/*
 * A spawned task in a deque slot: 24 bytes. Every field is an atomic accessed
 * relaxed, because a thief may read a slot while the owner rewrites it one
 * lap later; the thief then fails its CAS on top and drops what it read, so a
 * torn read is harmless but must not be a data race.
 */
struct deque_slot {
	_Atomic(pool_fn) fn;
	_Atomic(void *) arg;
	_Atomic(struct pool_group *) group;
};

struct task {
	pool_fn fn;
	void *arg;
	struct pool_group *group; /* spawned tasks */
	uint64_t enq;             /* ticks; submitted tasks */
};

/* ---- Chase-Lev deque, fixed capacity (deque.c) -------------------------- */

struct deque {
	struct deque_slot *slots; /* read-only after init */
	int64_t mask;
	_Atomic int64_t top cacheline_aligned;    /* thieves CAS it */
	_Atomic int64_t bottom cacheline_aligned; /* owner writes it */
	char pad[CACHELINE - sizeof(int64_t)];
};

int deque_init(struct deque *d, unsigned size);
void deque_free(struct deque *d);
/* Owner only. The number of tasks it held before (a racy figure: thieves
 * may have taken some since), or -ENOSPC when full. */
int deque_push_owner(struct deque *d, const struct task *t);
/* Owner only. false when empty. LIFO. */
bool deque_pop_owner(struct deque *d, struct task *t);
/* Any thread. 1: got one, 0: empty, -EAGAIN: lost a race, retry. FIFO. */
int deque_steal(struct deque *d, struct task *t);
/* Any thread; a racy estimate. */
int64_t deque_size_any(struct deque *d);
/* Any thread; seq_cst loads, for the parking protocol. */
bool deque_nonempty_sc(struct deque *d);

/* ---- bounded MPMC injection queue (inject.c) ---------------------------- */

struct inject_cell {
	_Atomic uint64_t seq;
	_Atomic(pool_fn) fn;
	_Atomic(void *) arg;
	_Atomic uint64_t enq;
}; /* 32 bytes: the whole cost of a queued submitted task */

_Static_assert(sizeof(struct inject_cell) == 32,
	       "a queued submitted task costs 32 bytes");
_Static_assert(sizeof(struct deque_slot) == 24,
	       "a queued spawned task costs 24 bytes");

#define INJECT_CLOSED (1ull << 63)
/* Under a backlog a worker claims up to this many submitted tasks with one
 * CAS, instead of fighting the other workers for the head once per task. It
 * does so only while its recent tasks were short (SHORT_TASK_NS each on
 * average): a batch shares one clock read for its tasks' start (see
 * take_submitted in pool.c). */
#define INJECT_BATCH 8
#define SHORT_TASK_NS 1000

struct inject {
	/* read-only after init, on a line of their own: producers read them on
	 * every push and must not share a line with head, which consumers
	 * write on every pop */
	struct inject_cell *cells;
	uint64_t mask;
	_Atomic uint64_t tail cacheline_aligned; /* producers; bit 63: closed */
	_Atomic uint64_t head cacheline_aligned; /* consumers */
	char pad[CACHELINE - sizeof(uint64_t)];
};

int inject_init(struct inject *q, unsigned size);
void inject_free(struct inject *q);
/* Any thread. 0, -EAGAIN when full, -ESHUTDOWN once closed. */
int inject_push_mpmc(struct inject *q, pool_fn fn, void *arg, uint64_t enq);
/* Any thread. true: got one. false: empty (or the head cell is still being
 * written by a producer that has claimed it; *busy is then set). */
bool inject_pop_mpmc(struct inject *q, struct task *t, bool *busy);
/* Any thread. Claims up to max consecutive published tasks with one CAS, in
 * FIFO order, or just one unless at least `backlog` are waiting; returns how
 * many (0: none ready). */
unsigned inject_pop_batch_mpmc(struct inject *q, struct task *t, unsigned max,
			       unsigned backlog);
void inject_close(struct inject *q);
uint64_t inject_depth_any(struct inject *q);
bool inject_nonempty_sc(struct inject *q);
/* Enqueue ticks of the head task, 0 if none. */
uint64_t inject_oldest_any(struct inject *q);

/* ---- parking (park.c) --------------------------------------------------- */

int futex_wait(_Atomic uint32_t *addr, uint32_t val, const struct timespec *ts);
int futex_wake(_Atomic uint32_t *addr, int n);

/* Packed state word: sleepers in bits 0..15, searchers in 16..31. */
#define PARK_SLEEPER 1ull
#define PARK_SEARCHER (1ull << 16)
#define park_sleepers(s) ((unsigned)((s) & 0xffff))
#define park_searchers(s) ((unsigned)(((s) >> 16) & 0xffff))

struct worker;

struct park {
	_Atomic uint64_t state cacheline_aligned;
	pthread_mutex_t lock; /* guards the idle stack; taken only to sleep or
				 to wake someone */
	struct worker **idle;
	unsigned nidle, max_searchers;
	const struct pool_driver *drv; /* NULL: workers sleep on futexes */
};

/* ---- the pool ----------------------------------------------------------- */

struct worker_stats {
	/* Single writer (the worker): updated with a relaxed load + store, so
	 * no locked instruction; readers load relaxed and may see a value a
	 * few tasks old, which is all a snapshot promises. */
	_Atomic uint64_t completed, spawned_run, stolen, parked, busy_ticks;
	_Atomic uint64_t busy_since; /* ticks when the current busy stretch
					began, 0 while idle */
	_Atomic uint64_t hist[POOL_HIST_BUCKETS];
};

struct worker {
	struct deque dq;
	struct pool *pool;
	unsigned id;
	unsigned tick;
	struct task slot; /* continuation slot (pool_spawn), owner only */
	/* submitted tasks claimed in one go from a backlog, run in order */
	struct task batch[INJECT_BATCH];
	unsigned batch_i, batch_n;
	uint64_t claim_ticks; /* the clock at the last claim: the start of the
				 submitted tasks it took, for their delay */
	unsigned claim_n;     /* how many tasks that claim took */
	bool claim_short;     /* its tasks were short: claim a batch next */
	_Atomic uint32_t batch_left; /* batch_n - batch_i, for stats */
	unsigned polls;       /* tasks since the driver's last poll */
	bool in_poll;         /* inside the driver's poll */
	uint64_t poll_ticks;  /* the clock at that poll */
	uint64_t rng;
	_Atomic uint32_t notified cacheline_aligned; /* futex word */
	pthread_t thread;
	struct worker_stats st cacheline_aligned;
};

struct blocking {
	pthread_mutex_t lock;
	pthread_cond_t cond, done;
	struct task *ring;
	unsigned size, head, count;
	unsigned threads, idle, max_threads, idle_ms;
	bool stop;
	_Atomic uint64_t completed, rejected;
};

struct pool {
	struct inject inj;
	struct park park;
	struct worker **workers;
	unsigned nworkers;
	_Atomic int stop;      /* 0 running, 1 drain, 2 cancel */
	uint64_t short_ticks; /* SHORT_TASK_NS in ticks */
	uint64_t poll_every_ticks; /* POLL_NS in ticks */
	_Atomic uint64_t rejected cacheline_aligned;
	struct blocking blk;
	bool shut;
	struct pool_opts opts;
	struct pool_driver driver; /* opts.driver's copy; poll NULL: none */
};

/* blocking.c */
int blocking_init(struct blocking *b, const struct pool_opts *o);
void blocking_stop(struct blocking *b);
void blocking_free(struct blocking *b);
int blocking_submit(struct blocking *b, pool_fn fn, void *arg);
int blocking_cancel(struct blocking *b, pool_cancel_fn cb, void *ctx);

/* pool.c: the worker this thread is, if any */
struct worker *pool__self(void);

/* park.c */
int park_init(struct park *pk, unsigned nworkers, unsigned max_searchers,
	      const struct pool_driver *drv);
void park_free(struct park *pk);
bool park_try_search(struct park *pk);
/* Leave the searching state; returns true if this was the last searcher. */
bool park_stop_search(struct park *pk);
void park_notify_one(struct park *pk);
void park_wake_all(struct park *pk);
/* Sleep unless has_work() finds work after announcing; returns true when
 * woken by a notifier (the caller is then counted as searching). */
bool park_worker(struct park *pk, struct worker *w, bool searching,
		 bool (*has_work)(struct pool *), struct pool *p);

/* Queue-delay histogram bucket (see pool.h): log-linear, inlined because
 * every submitted task that starts pays for it. */
#define HIST_SUB (1u << POOL_HIST_SUB_BITS)
#define HIST_MAX ((1ull << 41) - 1)

static inline unsigned hist_bucket(uint64_t ns)
{
	unsigned e;

	if (ns < HIST_SUB)
		return (unsigned)ns;
	if (ns > HIST_MAX)
		ns = HIST_MAX;
	e = 63 - (unsigned)__builtin_clzll(ns);
	return (e - POOL_HIST_SUB_BITS + 1) * HIST_SUB +
	       (unsigned)((ns >> (e - POOL_HIST_SUB_BITS)) & (HIST_SUB - 1));
}

/* single-writer counter bump */
static inline void stat_inc(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

#endif /* SLUICE_POOL_INTERNAL_H */
