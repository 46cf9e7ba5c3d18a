// SPDX-License-Identifier: MIT
/*
 * Parking idle workers. One packed word counts sleepers and searchers (the
 * workers spinning on the queues); a notifier reads it with a plain load, so
 * a submit or spawn costs no syscall and no lock unless a worker sleeps and
 * nobody is searching (Tokio's rule). Each worker sleeps on a futex word of
 * its own; a mutex guards the stack of sleepers and is taken only to sleep or
 * to wake one.
 *
 * No lost wake-up: a producer publishes its task with a seq_cst operation
 * (the inject CAS on tail, or the deque push's store of bottom) and then
 * loads the state with a seq_cst load; a worker going to sleep updates the
 * state with a seq_cst RMW and then looks at every queue with seq_cst loads.
 * In the single total order of seq_cst operations one of the two comes
 * second and sees the other: either the producer sees a sleeper and no
 * searcher and wakes one, or the worker sees the task and does not sleep.
 * The same argument covers a searcher that stops searching (it decrements in
 * that RMW, before its last look). No standalone fences: ThreadSanitizer
 * does not model them.
 *
 * With a driver (pool.h), a sleeping worker blocks in its loop's poll
 * instead of on its futex word, and a notifier calls the driver's wake
 * instead of futex_wake. Its poll may also give it work of its own (a
 * request its loop read and submitted): after each poll it looks at the
 * queues and, finding work, takes itself off the stack as it does when
 * work shows up before it sleeps.
 */
#include "internal.h"

#include <errno.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int futex_wait(_Atomic uint32_t *addr, uint32_t val, const struct timespec *ts)
{
	if (syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, ts,
		    NULL, 0) < 0)
		return -errno;
	return 0;
}

int futex_wake(_Atomic uint32_t *addr, int n)
{
	long r = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, n,
			 NULL, NULL, 0);

	return r < 0 ? -errno : (int)r;
}

int park_init(struct park *pk, unsigned nworkers, unsigned max_searchers,
	      const struct pool_driver *drv)
{
	pk->drv = drv;
	pk->idle = calloc(nworkers, sizeof(*pk->idle));
	if (!pk->idle)
		return -ENOMEM;
	pthread_mutex_init(&pk->lock, NULL);
	pk->nidle = 0;
	pk->max_searchers = max_searchers;
	atomic_init(&pk->state, 0);
	return 0;
}

void park_free(struct park *pk)
{
	pthread_mutex_destroy(&pk->lock);
	free(pk->idle);
	pk->idle = NULL;
}

bool park_try_search(struct park *pk)
{
	/* relaxed: only a throttle on spinning, correctness does not rest on
	 * it (a worker that cannot search goes through park_worker) */
	uint64_t s = atomic_load_explicit(&pk->state, memory_order_relaxed);

	while (park_searchers(s) < pk->max_searchers) {
		/* relaxed for the same reason; see park_stop_search for the
		 * seq_cst side */
		if (atomic_compare_exchange_weak_explicit(
			    &pk->state, &s, s + PARK_SEARCHER,
			    memory_order_relaxed, memory_order_relaxed))
			return true;
	}
	return false;
}

bool park_stop_search(struct park *pk)
{
	/* seq_cst: the caller then looks at the queues to decide whether to
	 * wake a successor; this is the store half of that store->load pair */
	uint64_t prev = atomic_fetch_sub(&pk->state, PARK_SEARCHER);

	return park_searchers(prev) == 1;
}

/* w has been taken off the stack and marked notified: get it running. */
static void wake_worker(struct park *pk, struct worker *w)
{
	if (!pk->drv)
		futex_wake(&w->notified, 1);
	else if (w != pool__self())
		/* a worker that notifies itself is awake already: it is
		 * submitting from inside its own poll */
		pk->drv->wake(pk->drv->ctx, w->id);
}

void park_notify_one(struct park *pk)
{
	struct worker *w = NULL;
	uint64_t s;

	/* seq_cst: the load half of the no-lost-wake-up pair (a plain load on
	 * x86); the caller published its task with a seq_cst operation */
	s = atomic_load(&pk->state);
	if (park_sleepers(s) == 0 || park_searchers(s) > 0)
		return;
	pthread_mutex_lock(&pk->lock);
	/* re-check under the lock: another notifier may have woken one, who
	 * is now searching and will find the task */
	s = atomic_load_explicit(&pk->state, memory_order_relaxed);
	if (pk->nidle && park_searchers(s) == 0) {
		w = pk->idle[--pk->nidle];
		/* the woken worker starts as a searcher, so the next notifier
		 * leaves the others asleep; seq_cst as every state RMW */
		atomic_fetch_add(&pk->state, PARK_SEARCHER - PARK_SLEEPER);
		/* release: the worker sees the state change when it wakes */
		atomic_store_explicit(&w->notified, 1, memory_order_release);
	}
	pthread_mutex_unlock(&pk->lock);
	if (w)
		wake_worker(pk, w);
}

void park_wake_all(struct park *pk)
{
	pthread_mutex_lock(&pk->lock);
	while (pk->nidle) {
		struct worker *w = pk->idle[--pk->nidle];

		atomic_fetch_add(&pk->state, PARK_SEARCHER - PARK_SLEEPER);
		/* release: as in park_notify_one */
		atomic_store_explicit(&w->notified, 1, memory_order_release);
		wake_worker(pk, w);
	}
	pthread_mutex_unlock(&pk->lock);
}

/* Work showed up for a worker on the stack: take it off, unless a
 * notifier did first. true: it is off and counts as neither sleeping nor
 * searching; false: it was notified, and counts as searching. */
static bool unpark_self(struct park *pk, struct worker *w)
{
	bool off = false;

	pthread_mutex_lock(&pk->lock);
	for (unsigned i = 0; i < pk->nidle; i++) {
		if (pk->idle[i] == w) {
			pk->idle[i] = pk->idle[--pk->nidle];
			atomic_fetch_sub(&pk->state, PARK_SLEEPER);
			off = true;
			break;
		}
	}
	pthread_mutex_unlock(&pk->lock);
	return off;
}

bool park_worker(struct park *pk, struct worker *w, bool searching,
		 bool (*has_work)(struct pool *), struct pool *p)
{
	uint64_t delta = PARK_SLEEPER - (searching ? PARK_SEARCHER : 0);

	pthread_mutex_lock(&pk->lock);
	/* relaxed: we are not on the stack, nobody else writes it */
	atomic_store_explicit(&w->notified, 0, memory_order_relaxed);
	pk->idle[pk->nidle++] = w;
	/* seq_cst: the store half of the no-lost-wake-up pair; has_work's
	 * seq_cst loads are the load half */
	atomic_fetch_add(&pk->state, delta);
	pthread_mutex_unlock(&pk->lock);

	/* not searching when we took ourselves off; else a notifier got to
	 * us first, and we now count as searching */
	if (has_work(p))
		return !unpark_self(pk, w);
	stat_inc(&w->st.parked, 1);
	/* acquire: pairs with the notifier's release store */
	while (!atomic_load_explicit(&w->notified, memory_order_acquire)) {
		if (!pk->drv) {
			futex_wait(&w->notified, 0, NULL);
			continue;
		}
		w->in_poll = true;
		pk->drv->poll(pk->drv->ctx, w->id, 1);
		w->in_poll = false;
		w->polls = 0;
		w->poll_ticks = pool__ticks();
		/* seq_cst loads in has_work, as above: a task our poll
		 * submitted, or one another thread did while it saw us
		 * searching */
		if (!atomic_load_explicit(&w->notified, memory_order_acquire) &&
		    has_work(p))
			return !unpark_self(pk, w);
	}
	return true;
}
