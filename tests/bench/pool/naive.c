// SPDX-License-Identifier: MIT
/* The naive baseline pool (see naive.h): a mutex, a condvar and one queue. */
#include "naive.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool pop_locked(struct naive_pool *np, struct naive_task *t)
{
	if (!np->count)
		return false;
	*t = np->ring[np->head];
	np->head = (np->head + 1) & (np->cap - 1);
	np->count--;
	return true;
}

static void *naive_main(void *arg)
{
	struct naive_pool *np = arg;
	struct naive_task t;

	pthread_mutex_lock(&np->mu);
	for (;;) {
		while (!np->count && !np->stop) {
			np->waiting++;
			pthread_cond_wait(&np->cv, &np->mu);
			np->waiting--;
		}
		if (!pop_locked(np, &t))
			break; /* stopping and empty */
		pthread_mutex_unlock(&np->mu);
		t.fn(t.arg);
		pthread_mutex_lock(&np->mu);
	}
	pthread_mutex_unlock(&np->mu);
	return NULL;
}

/*
 * The threads' stacks. A joiner that helps runs whatever task is newest,
 * and with several threads that is often another thread's: its join
 * then nests inside this one, without bound but the number of tasks that
 * wait. fib(30) nested 58k joins deep (8 MB, the default, overflowed at
 * times); at ~150 bytes a join, 256 MB holds every join fib(30) can
 * have waiting (~1M). Reserved, not used: pages are touched as it nests.
 */
#define NAIVE_STACK (256u << 20)

int naive_create(struct naive_pool *np, unsigned nthreads)
{
	pthread_attr_t attr;

	memset(np, 0, sizeof(*np));
	pthread_mutex_init(&np->mu, NULL);
	pthread_cond_init(&np->cv, NULL);
	np->cap = 1024;
	np->ring = malloc(np->cap * sizeof(*np->ring));
	np->th = calloc(nthreads, sizeof(*np->th));
	if (!np->ring || !np->th)
		return -ENOMEM;
	np->nthreads = nthreads;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, NAIVE_STACK);
	for (unsigned i = 0; i < nthreads; i++)
		pthread_create(&np->th[i], &attr, naive_main, np);
	pthread_attr_destroy(&attr);
	return 0;
}

int naive_submit(struct naive_pool *np, void (*fn)(void *), void *arg)
{
	pthread_mutex_lock(&np->mu);
	if (np->count == np->cap) { /* grow: double and unwrap */
		struct naive_task *r = malloc(2 * np->cap * sizeof(*r));

		if (!r) {
			pthread_mutex_unlock(&np->mu);
			return -ENOMEM;
		}
		for (size_t i = 0; i < np->count; i++)
			r[i] = np->ring[(np->head + i) & (np->cap - 1)];
		free(np->ring);
		np->ring = r;
		np->head = 0;
		np->cap *= 2;
	}
	np->ring[(np->head + np->count) & (np->cap - 1)] =
		(struct naive_task){ fn, arg };
	np->count++;
	if (np->waiting)
		pthread_cond_signal(&np->cv);
	pthread_mutex_unlock(&np->mu);
	return 0;
}

bool naive_try_run_one(struct naive_pool *np)
{
	struct naive_task t;
	bool got = false;

	/* a joiner takes the newest task (most likely its own child): taking
	 * the oldest would nest unrelated joins without bound */
	pthread_mutex_lock(&np->mu);
	if (np->count) {
		np->count--;
		t = np->ring[(np->head + np->count) & (np->cap - 1)];
		got = true;
	}
	pthread_mutex_unlock(&np->mu);
	if (got)
		t.fn(t.arg);
	return got;
}

void naive_shutdown(struct naive_pool *np)
{
	pthread_mutex_lock(&np->mu);
	np->stop = true;
	pthread_cond_broadcast(&np->cv);
	pthread_mutex_unlock(&np->mu);
	for (unsigned i = 0; i < np->nthreads; i++)
		pthread_join(np->th[i], NULL);
	free(np->ring);
	free(np->th);
	pthread_mutex_destroy(&np->mu);
	pthread_cond_destroy(&np->cv);
}
