// SPDX-License-Identifier: MIT
/*
 * The pool: worker threads, submit and spawn, fork-join groups, shutdown.
 *
 * A worker looks for work in this order: every 61st task the injection queue
 * first (so submitted requests are never starved by spawned work, Go's rule),
 * else its own deque (LIFO: the task it just spawned, hot in cache), then the
 * injection queue (FIFO: requests in arrival order), then the other workers'
 * deques (steal the oldest). With nothing found it becomes one of a bounded
 * number of searchers and spins a while, then parks (park.c).
 *
 * With a driver (pool.h) a worker also runs its event loop: without
 * blocking every POLL_EVERY tasks or POLL_NS, so a backlog of tasks does
 * not starve its IO (one long task still holds it: the loop's connections
 * wait for it, as an nginx worker's do), and when it finds nothing to run;
 * then, instead of spinning (its work comes mostly from that loop, which a
 * spin does not look at), it parks in the loop's blocking poll.
 */
#define _GNU_SOURCE /* sched_getaffinity, pthread_setname_np */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INJECT_EVERY 61  /* tasks between forced looks at the inject queue */
#ifndef SPIN_ROUNDS
#define SPIN_ROUNDS 64   /* search rounds before a searcher parks */
#endif
#define STEAL_RETRIES 4
#define POLL_EVERY 32    /* tasks between the driver's polls while busy, */
#define POLL_NS 200000   /* or this long, whichever comes first */

static _Thread_local struct worker *tls_worker;
static _Thread_local uint64_t tls_enq, tls_start; /* running submitted task */

struct worker *pool__self(void)
{
	return tls_worker;
}

uint64_t pool_task_enqueue_ns(void)
{
	return tls_enq ? pool__ticks_to_mono_ns(tls_enq) : 0;
}

uint64_t pool_task_delay_ns(void)
{
	return tls_enq && tls_start > tls_enq ?
		       pool__ticks_to_ns(tls_start - tls_enq) : 0;
}

void pool_group_init(struct pool_group *g)
{
	atomic_init(&g->state, 0);
}

static void group_done(struct pool_group *g)
{
	/* release: the task's effects happen before the waiter's acquire load
	 * that sees the count reach zero */
	uint32_t prev = atomic_fetch_sub_explicit(&g->state, 2,
						  memory_order_release);

	/* The last one out wakes a sleeping outside waiter. The group may
	 * already be gone by the time futex_wake runs; a wake on such an
	 * address is harmless (at worst a spurious wake-up for another user
	 * of that word, which every futex user tolerates). */
	if (prev == 3)
		futex_wake(&g->state, INT_MAX);
}

static inline void run_task(struct worker *w, struct task *t)
{
	uint64_t saved_enq = tls_enq, saved_start = tls_start;

	if (t->enq) {
		/* read when claimed, see take_submitted: a submitted task
		 * runs only from there, never nested in another's join */
		uint64_t now = w->claim_ticks;
		uint64_t d = now > t->enq ? pool__ticks_to_ns(now - t->enq) : 0;

		stat_inc(&w->st.hist[hist_bucket(d)], 1);
		tls_enq = t->enq;
		tls_start = now;
		t->fn(t->arg);
		stat_inc(&w->st.completed, 1);
	} else {
		tls_enq = 0;
		t->fn(t->arg);
		stat_inc(&w->st.spawned_run, 1);
		if (t->group)
			group_done(t->group);
	}
	tls_enq = saved_enq;
	tls_start = saved_start;
}

static bool steal_any(struct worker *w, struct task *t)
{
	struct pool *p = w->pool;
	unsigned n = p->nworkers, start;

	if (n < 2)
		return false;
	/* xorshift: a random victim order spreads thieves out */
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	start = (unsigned)(w->rng % n);
	for (unsigned i = 0; i < n; i++) {
		struct worker *v = p->workers[(start + i) % n];

		if (v == w)
			continue;
		for (int r = 0; r < STEAL_RETRIES; r++) {
			int got = deque_steal(&v->dq, t);

			if (got == 1) {
				stat_inc(&w->st.stolen, 1);
				return true;
			}
			if (got == 0)
				break;
			cpu_relax();
		}
	}
	return false;
}

static inline bool take_slot(struct worker *w, struct task *t)
{
	if (!w->slot.fn)
		return false;
	*t = w->slot;
	w->slot.fn = NULL;
	return true;
}

/*
 * Take the next submitted task: from this worker's batch, else from the
 * queue. When the queue holds a backlog (at least INJECT_BATCH tasks per
 * worker waiting) claim a batch with one CAS: every worker is busy then, so
 * holding a few tasks privately delays nobody who could have run them
 * sooner, and it spares one contended CAS on the head per task.
 *
 * The clock is read once per claim, and that reading is the start of every
 * task of the claim for its queue delay. For a single task it is the start,
 * give or take this bookkeeping. For a batch it is exact for the first task
 * and early for the others by the run time of the tasks ahead of them in the
 * batch, so a worker claims batches only while its tasks are short: while
 * the time since its previous claim, divided by the tasks that claim took,
 * is at most SHORT_TASK_NS. The error of a batch's delays is then about
 * INJECT_BATCH short tasks, microseconds, where the daemon's signal works in
 * milliseconds; when a long task shows up in a batch, the at most
 * INJECT_BATCH - 1 tasks behind it see their delay short by its run time,
 * once, and the worker claims one task at a time from then on, measuring each
 * exactly, until its tasks are short again. Reading the clock costs about as
 * much as the rest of taking a tiny task (an rdtsc is ~11 ns on this kind of
 * VM), and under a backlog of tiny tasks the workers, not the producer, are
 * the bottleneck.
 */
static bool take_submitted(struct worker *w, struct task *t)
{
	struct pool *p = w->pool;
	uint64_t now;
	unsigned n;

	if (w->batch_i < w->batch_n)
		goto from_batch;
	n = inject_pop_batch_mpmc(&p->inj, w->batch,
				  w->claim_short ? INJECT_BATCH : 1,
				  INJECT_BATCH * p->nworkers);
	if (!n)
		return false;
	now = pool__ticks();
	/* were the previous claim's tasks short? (an idle spell since then
	 * counts as long: the next claim takes one task) */
	w->claim_short = now - w->claim_ticks <= w->claim_n * p->short_ticks;
	w->claim_ticks = now;
	w->claim_n = n;
	w->batch_i = 0;
	w->batch_n = n;
from_batch:
	*t = w->batch[w->batch_i++];
	/* relaxed: a gauge for stats */
	atomic_store_explicit(&w->batch_left, w->batch_n - w->batch_i,
			      memory_order_relaxed);
	return true;
}

static bool find_task(struct worker *w, struct task *t)
{
	if (++w->tick == INJECT_EVERY) {
		w->tick = 0;
		if (take_submitted(w, t))
			return true;
	}
	if (take_slot(w, t))
		return true;
	if (deque_pop_owner(&w->dq, t))
		return true;
	if (take_submitted(w, t))
		return true;
	return steal_any(w, t);
}

/* seq_cst loads: the load half of the parking protocol (park.c) */
static bool queues_have_work(struct pool *p)
{
	if (inject_nonempty_sc(&p->inj))
		return true;
	for (unsigned i = 0; i < p->nworkers; i++)
		if (deque_nonempty_sc(&p->workers[i]->dq))
			return true;
	return false;
}

/* For park_worker: anything that must keep a worker awake. */
static bool has_work(struct pool *p)
{
	/* seq_cst: against the seq_cst store of stop in pool_shutdown, which
	 * then wakes every worker already asleep */
	return atomic_load(&p->stop) || queues_have_work(p);
}

static void busy_begin(struct worker *w)
{
	/* relaxed: single writer, see struct worker_stats */
	atomic_store_explicit(&w->st.busy_since, pool__ticks(),
			      memory_order_relaxed);
}

static void busy_end(struct worker *w)
{
	/* relaxed: single writer, see struct worker_stats */
	uint64_t since = atomic_load_explicit(&w->st.busy_since,
					      memory_order_relaxed);
	uint64_t now = pool__ticks();

	if (now > since)
		stat_inc(&w->st.busy_ticks, now - since);
	atomic_store_explicit(&w->st.busy_since, 0, memory_order_relaxed);
}

/* The driver's poll, without blocking. Its time is not the worker's busy
 * time: that is the time tasks ran, which the pool's users read as load. */
static void poll_now(struct worker *w, bool *busy)
{
	struct pool_driver *drv = &w->pool->driver;

	if (*busy) {
		busy_end(w);
		*busy = false;
	}
	w->polls = 0;
	w->in_poll = true;
	drv->poll(drv->ctx, w->id, 0);
	w->in_poll = false;
	w->poll_ticks = pool__ticks();
}

void pool_task_poll(void)
{
	struct worker *w = tls_worker;
	struct pool_driver *drv;

	/* in_poll: called from inside the poll itself (it is no task) */
	if (!w || !w->pool->driver.poll || w->in_poll)
		return;
	drv = &w->pool->driver;
	w->polls = 0;
	w->in_poll = true;
	drv->poll(drv->ctx, w->id, 0);
	w->in_poll = false;
	w->poll_ticks = pool__ticks();
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->pool;
	bool searching = false, busy = false, drv = p->driver.poll != NULL;
	struct task t;
	int stop;

	tls_worker = w;
	for (;;) {
		/* relaxed: a poll; the flag is re-read under the parking
		 * protocol before sleeping */
		stop = atomic_load_explicit(&p->stop, memory_order_relaxed);
		if (stop == 2)
			break;
		if (drv && (++w->polls >= POLL_EVERY ||
			    pool__ticks() - w->poll_ticks >= p->poll_every_ticks))
			poll_now(w, &busy);
		if (find_task(w, &t))
			goto run;
		if (drv) {
			poll_now(w, &busy);
			if (find_task(w, &t))
				goto run;
		}
		if (busy) {
			busy_end(w);
			busy = false;
		}
		if (stop == 1 && !queues_have_work(p))
			break;
		if (!searching && !drv)
			searching = park_try_search(&p->park);
		if (searching && !drv) {
			for (int i = 0; i < SPIN_ROUNDS; i++) {
				if (take_submitted(w, &t) || steal_any(w, &t))
					goto run;
				for (int k = 0; k < 16; k++)
					cpu_relax();
			}
		}
		searching = park_worker(&p->park, w, searching, has_work, p);
		continue;
run:
		if (searching) {
			searching = false;
			/* the last searcher to find work wakes a successor if
			 * more is waiting (a producer that saw us searching
			 * did not wake anyone) */
			if (park_stop_search(&p->park) &&
			    queues_have_work(p))
				park_notify_one(&p->park);
		}
		if (!busy) {
			busy_begin(w);
			busy = true;
		}
		run_task(w, &t);
	}
	if (busy)
		busy_end(w);
	if (searching)
		park_stop_search(&p->park);
	tls_worker = NULL;
	return NULL;
}

static int submit(struct pool *p, pool_fn fn, void *arg)
{
	int err = inject_push_mpmc(&p->inj, fn, arg, pool__ticks());

	if (unlikely(err)) {
		if (err == -EAGAIN)
			/* relaxed: a statistics counter */
			atomic_fetch_add_explicit(&p->rejected, 1,
						  memory_order_relaxed);
		return err;
	}
	/* The push's CAS on tail was seq_cst: see park.c. From inside one of
	 * our own tasks, a submission into an otherwise empty pool is left to
	 * the submitting worker, which takes it next (the rule of spawn). */
	if (tls_worker && tls_worker->pool == p &&
	    inject_depth_any(&p->inj) <= 1 && !tls_worker->slot.fn &&
	    !deque_size_any(&tls_worker->dq))
		return 0;
	park_notify_one(&p->park);
	return 0;
}

int pool_submit(struct pool *p, pool_fn fn, void *arg)
{
	if (unlikely(!p || !fn))
		return -EINVAL;
	return submit(p, fn, arg);
}

int pool_submit_wait(struct pool *p, pool_fn fn, void *arg)
{
	unsigned backoff_us = 1;
	int err;

	if (!p || !fn)
		return -EINVAL;
	/* room appears as workers take tasks; back off rather than build a
	 * second wait queue (this path is for batch producers, not requests) */
	while ((err = inject_push_mpmc(&p->inj, fn, arg, pool__ticks())) ==
	       -EAGAIN) {
		struct timespec ts = { 0, (long)backoff_us * 1000 };

		nanosleep(&ts, NULL);
		if (backoff_us < 1000)
			backoff_us *= 2;
	}
	if (!err)
		park_notify_one(&p->park);
	return err;
}

int pool_submit_blocking(struct pool *p, pool_fn fn, void *arg)
{
	if (!p || !fn)
		return -EINVAL;
	return blocking_submit(&p->blk, fn, arg);
}

int pool_group_spawn(struct pool_group *g, pool_fn fn, void *arg)
{
	struct worker *w = tls_worker;
	struct task t = { .fn = fn, .arg = arg, .group = g };
	int had;

	if (unlikely(!w))
		return -EPERM;
	if (unlikely(!fn))
		return -EINVAL;
	if (g)
		/* relaxed: the matching decrement happens after the task runs,
		 * which the deque's release/acquire orders after this */
		atomic_fetch_add_explicit(&g->state, 2, memory_order_relaxed);
	had = deque_push_owner(&w->dq, &t);
	if (unlikely(had < 0)) {
		/* full: run it now (work-first), memory stays bounded */
		run_task(w, &t);
		return 0;
	}
	/* Wake a sleeper for a surplus only: a lone task in our deque is run
	 * by this worker as soon as the current task returns or waits, and
	 * waking a worker to fight over it would cost a futex call per step
	 * of a fork-join round trip. The second task queued wakes a helper.
	 * The push stored bottom seq_cst: see park.c. */
	if (had > 0)
		park_notify_one(&w->pool->park);
	return 0;
}

int pool_spawn(pool_fn fn, void *arg)
{
	struct worker *w = tls_worker;

	if (unlikely(!w))
		return -EPERM;
	if (unlikely(!fn))
		return -EINVAL;
	/* A continuation: the first spawn goes to this worker's slot, with no
	 * atomic at all, and runs as soon as the task returns (Tokio's LIFO
	 * slot). It cannot be stolen, so a task that spawns and then runs for
	 * long delays it: fork-join work belongs in a group. */
	if (!w->slot.fn) {
		w->slot = (struct task){ .fn = fn, .arg = arg };
		return 0;
	}
	return pool_group_spawn(NULL, fn, arg);
}

void pool_group_wait(struct pool_group *g)
{
	struct worker *w = tls_worker;
	struct task t;
	uint32_t s;
	unsigned idle = 0;

	if (w) {
		/* acquire: pairs with group_done's release */
		while (atomic_load_explicit(&g->state, memory_order_acquire) >> 1) {
			/* help: our own deque first (most likely the group's
			 * tasks), then others'; never the inject queue, so a
			 * join is not held up by an unrelated request */
			if (take_slot(w, &t) || deque_pop_owner(&w->dq, &t) ||
			    steal_any(w, &t)) {
				run_task(w, &t);
				idle = 0;
			} else if (++idle < 256) {
				cpu_relax();
			} else {
				/* the group's last tasks run elsewhere: sleep
				 * a little, waking early when they finish */
				struct timespec ts = { 0, 200000 };

				s = atomic_fetch_or(&g->state, 1);
				if (s >> 1)
					futex_wait(&g->state, s | 1, &ts);
			}
		}
		return;
	}
	for (;;) {
		/* acquire: pairs with group_done's release */
		s = atomic_load_explicit(&g->state, memory_order_acquire);
		if (!(s >> 1))
			return;
		if (!(s & 1)) {
			/* seq_cst: announce the sleeper before re-reading the
			 * count, against group_done's RMW */
			atomic_fetch_or(&g->state, 1);
			continue;
		}
		futex_wait(&g->state, s, NULL);
	}
}

static unsigned usable_cpus(int *cpus, unsigned max)
{
	cpu_set_t set;
	unsigned n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		for (int c = 0; c < CPU_SETSIZE && n < max; c++)
			if (CPU_ISSET(c, &set))
				cpus[n++] = c;
	}
	if (!n) {
		long k = sysconf(_SC_NPROCESSORS_ONLN);

		for (long c = 0; c < k && n < max; c++)
			cpus[n++] = (int)c;
	}
	return n ? n : 1;
}

unsigned pool_default_workers(void)
{
	int cpus[CPU_SETSIZE];

	return usable_cpus(cpus, CPU_SETSIZE);
}

static void free_pool(struct pool *p)
{
	if (p->workers) {
		for (unsigned i = 0; i < p->nworkers; i++) {
			if (!p->workers[i])
				continue;
			deque_free(&p->workers[i]->dq);
			free(p->workers[i]);
		}
		free(p->workers);
	}
	inject_free(&p->inj);
	park_free(&p->park);
	blocking_free(&p->blk);
	free(p);
}

int pool_create(struct pool **out, const struct pool_opts *opts)
{
	int cpus[CPU_SETSIZE];
	struct pool_opts o = { 0 };
	struct pool *p = NULL;
	unsigned ncpu, started = 0;
	int err = 0;

	if (!out)
		return -EINVAL;
	if (opts)
		o = *opts;
	pool__clock_init();
	ncpu = usable_cpus(cpus, CPU_SETSIZE);
	if (!o.workers)
		o.workers = ncpu;
	if (!o.queue_bound)
		o.queue_bound = 65536;
	if (!o.deque_size)
		o.deque_size = 4096;
	if (!o.max_spinning)
		o.max_spinning = (o.workers + 1) / 2;
	if (!o.max_blocking)
		o.max_blocking = 8;
	if (!o.blocking_bound)
		o.blocking_bound = 1024;
	if (!o.blocking_idle_ms)
		o.blocking_idle_ms = 2000;
	if (!o.name)
		o.name = "pool";
	if (o.workers > 0xffff || o.queue_bound > (1u << 30) ||
	    (o.deque_size & (o.deque_size - 1)) || o.deque_size < 2 ||
	    (o.driver && (!o.driver->poll || !o.driver->wake))) {
		err = -EINVAL;
		goto out;
	}
	/* aligned: the queue heads and counters sit on lines of their own */
	p = aligned_alloc(CACHELINE, sizeof(*p));
	if (!p) {
		err = -ENOMEM;
		goto out;
	}
	memset(p, 0, sizeof(*p));
	if (o.driver)
		p->driver = *o.driver;
	o.driver = NULL; /* the copy above is what stays */
	p->opts = o;
	p->nworkers = o.workers;
	/* ns = ticks * mult >> 32, so ticks = (ns << 32) / mult */
	p->short_ticks = ((uint64_t)SHORT_TASK_NS << 32) / pool__tick_mult;
	p->poll_every_ticks = ((uint64_t)POLL_NS << 32) / pool__tick_mult;
	atomic_init(&p->stop, 0);
	atomic_init(&p->rejected, 0);
	if ((err = inject_init(&p->inj, o.queue_bound)) ||
	    (err = park_init(&p->park, o.workers, o.max_spinning,
			     p->driver.poll ? &p->driver : NULL)) ||
	    (err = blocking_init(&p->blk, &o)))
		goto out;
	p->workers = calloc(o.workers, sizeof(*p->workers));
	if (!p->workers) {
		err = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < o.workers; i++) {
		struct worker *w = aligned_alloc(CACHELINE, sizeof(*w));

		if (!w) {
			err = -ENOMEM;
			goto out;
		}
		memset(w, 0, sizeof(*w));
		p->workers[i] = w;
		w->pool = p;
		w->id = i;
		w->rng = 0x9e3779b97f4a7c15ull * (i + 1);
		if ((err = deque_init(&w->dq, o.deque_size)))
			goto out;
	}
	for (; started < o.workers; started++) {
		struct worker *w = p->workers[started];
		char name[24]; /* the kernel keeps the first 15 */

		err = -pthread_create(&w->thread, NULL, worker_main, w);
		if (err)
			goto out;
		snprintf(name, sizeof(name), "%.8s-w%u", o.name,
			 started & 0xffff);
		pthread_setname_np(w->thread, name);
		if (o.pin_cpus) {
			cpu_set_t set;

			CPU_ZERO(&set);
			CPU_SET(cpus[started % ncpu], &set);
			pthread_setaffinity_np(w->thread, sizeof(set), &set);
		}
	}
	*out = p;
	p = NULL;
out:
	if (p) {
		if (started) {
			inject_close(&p->inj);
			atomic_store(&p->stop, 2);
			park_wake_all(&p->park);
			for (unsigned i = 0; i < started; i++)
				pthread_join(p->workers[i]->thread, NULL);
		}
		free_pool(p);
	}
	return err;
}

static void hand_back(struct task *t, pool_cancel_fn cb, void *ctx)
{
	if (cb)
		cb(t->fn, t->arg, ctx);
	else
		t->fn(t->arg);
	if (t->group)
		group_done(t->group);
}

int pool_shutdown(struct pool *p, enum pool_shutdown_mode mode,
		  pool_cancel_fn cb, void *ctx)
{
	struct task t;
	bool busy;

	if (!p || (mode != POOL_DRAIN && mode != POOL_CANCEL) ||
	    (mode == POOL_CANCEL && !cb))
		return -EINVAL;
	if (p->shut)
		return -ESHUTDOWN;
	p->shut = true;
	inject_close(&p->inj);
	/* seq_cst: against park_worker's fence; the wake below covers the
	 * workers that already sleep */
	atomic_store(&p->stop, mode == POOL_DRAIN ? 1 : 2);
	park_wake_all(&p->park);
	for (unsigned i = 0; i < p->nworkers; i++)
		pthread_join(p->workers[i]->thread, NULL);
	/* The workers are gone: what is left was queued and never started.
	 * Cancel hands it back; a drain has nothing left (a worker leaves only
	 * once the queues are empty), but would run any stragglers here. A
	 * producer may still be publishing a cell it claimed before the close:
	 * wait for it, it cannot fail. */
	for (;;) {
		busy = false;
		if (inject_pop_mpmc(&p->inj, &t, &busy))
			hand_back(&t, mode == POOL_CANCEL ? cb : NULL, ctx);
		else if (busy)
			sched_yield();
		else
			break;
	}
	for (unsigned i = 0; i < p->nworkers; i++) {
		struct worker *w = p->workers[i];

		while (w->batch_i < w->batch_n) {
			t = w->batch[w->batch_i++];
			hand_back(&t, mode == POOL_CANCEL ? cb : NULL, ctx);
		}
		while (take_slot(w, &t) || deque_pop_owner(&w->dq, &t))
			hand_back(&t, mode == POOL_CANCEL ? cb : NULL, ctx);
	}
	if (mode == POOL_CANCEL)
		blocking_cancel(&p->blk, cb, ctx);
	blocking_stop(&p->blk);
	return 0;
}

void pool_destroy(struct pool *p)
{
	if (!p)
		return;
	if (!p->shut)
		pool_shutdown(p, POOL_DRAIN, NULL, NULL);
	free_pool(p);
}
