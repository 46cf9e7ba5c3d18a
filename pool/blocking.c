// SPDX-License-Identifier: MIT
/*
 * Threads for tasks that block. A blocking call on a CPU worker would take a
 * core away from every other task, so such tasks go to a separate FIFO, served
 * by at most max_blocking threads that are started on demand and exit after
 * blocking_idle_ms without work. The queue is bounded like the main one. A
 * plain mutex and condition variable: these tasks block anyway, so a lock
 * costs nothing that matters.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

int blocking_init(struct blocking *b, const struct pool_opts *o)
{
	pthread_condattr_t ca;

	b->size = o->blocking_bound;
	b->ring = calloc(b->size, sizeof(*b->ring));
	if (!b->ring)
		return -ENOMEM;
	pthread_mutex_init(&b->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cond, &ca);
	pthread_cond_init(&b->done, &ca);
	pthread_condattr_destroy(&ca);
	b->head = b->count = b->threads = b->idle = 0;
	b->max_threads = o->max_blocking;
	b->idle_ms = o->blocking_idle_ms;
	b->stop = false;
	atomic_init(&b->completed, 0);
	atomic_init(&b->rejected, 0);
	return 0;
}

/* Under the lock, with a task queued: take the oldest, run it unlocked. */
static void run_one_locked(struct blocking *b)
{
	struct task t = b->ring[b->head];

	b->head = (b->head + 1) % b->size;
	b->count--;
	pthread_mutex_unlock(&b->lock);
	t.fn(t.arg);
	/* relaxed: a statistics counter */
	atomic_fetch_add_explicit(&b->completed, 1, memory_order_relaxed);
	pthread_mutex_lock(&b->lock);
}

static void *blocking_main(void *arg)
{
	struct blocking *b = arg;
	struct timespec until;

	pthread_mutex_lock(&b->lock);
	for (;;) {
		while (!b->count && !b->stop) {
			int r;

			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_sec += b->idle_ms / 1000;
			until.tv_nsec += (long)(b->idle_ms % 1000) * 1000000;
			if (until.tv_nsec >= 1000000000) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000;
			}
			b->idle++;
			r = pthread_cond_timedwait(&b->cond, &b->lock, &until);
			b->idle--;
			if (r == ETIMEDOUT && !b->count)
				goto out; /* idle too long: reap ourselves */
		}
		if (!b->count)
			goto out; /* stopping and drained */
		run_one_locked(b);
	}
out:
	b->threads--;
	pthread_cond_broadcast(&b->done);
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

int blocking_submit(struct blocking *b, pool_fn fn, void *arg)
{
	pthread_attr_t attr;
	pthread_t th;
	int err = 0;

	pthread_mutex_lock(&b->lock);
	if (b->stop) {
		err = -ESHUTDOWN;
		goto out;
	}
	if (b->count == b->size) {
		/* relaxed: a statistics counter */
		atomic_fetch_add_explicit(&b->rejected, 1, memory_order_relaxed);
		err = -EAGAIN;
		goto out;
	}
	b->ring[(b->head + b->count) % b->size] = (struct task){ .fn = fn, .arg = arg };
	b->count++;
	if (b->idle >= b->count) {
		pthread_cond_signal(&b->cond);
	} else if (b->threads < b->max_threads) {
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&th, &attr, blocking_main, b) == 0)
			b->threads++;
		pthread_attr_destroy(&attr);
		if (!b->threads) {
			/* no thread at all to run it: take it back */
			b->count--;
			err = -EAGAIN;
		}
	}
out:
	pthread_mutex_unlock(&b->lock);
	return err;
}

void blocking_stop(struct blocking *b)
{
	pthread_mutex_lock(&b->lock);
	b->stop = true;
	pthread_cond_broadcast(&b->cond);
	while (b->threads)
		pthread_cond_wait(&b->done, &b->lock);
	/* every thread may have been reaped with work still queued: run the
	 * rest here, so a drain runs everything */
	while (b->count)
		run_one_locked(b);
	pthread_mutex_unlock(&b->lock);
}

void blocking_free(struct blocking *b)
{
	pthread_cond_destroy(&b->cond);
	pthread_cond_destroy(&b->done);
	pthread_mutex_destroy(&b->lock);
	free(b->ring);
	b->ring = NULL;
}

int blocking_cancel(struct blocking *b, pool_cancel_fn cb, void *ctx)
{
	int n = 0;

	pthread_mutex_lock(&b->lock);
	b->stop = true;
	while (b->count) {
		struct task t = b->ring[b->head];

		b->head = (b->head + 1) % b->size;
		b->count--;
		pthread_mutex_unlock(&b->lock);
		cb(t.fn, t.arg, ctx);
		n++;
		pthread_mutex_lock(&b->lock);
	}
	pthread_mutex_unlock(&b->lock);
	return n;
}
