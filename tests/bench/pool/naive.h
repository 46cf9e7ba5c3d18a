/* SPDX-License-Identifier: MIT */
/*
 * The naive baseline pool: one mutex and one condition variable around one
 * growable ring of {fn, arg}: workers take the oldest task; a task waiting
 * for its children (naive_try_run_one) takes the newest, so fork-join on it
 * neither deadlocks nor nests without bound.
 *
 *   naive_create, naive_submit, naive_try_run_one, naive_shutdown
 */
#ifndef SLUICE_BENCH_NAIVE_H
#define SLUICE_BENCH_NAIVE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct naive_task {
	void (*fn)(void *);
	void *arg;
};

struct naive_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct naive_task *ring;
	size_t cap, head, count;
	unsigned nthreads, waiting;
	bool stop;
	pthread_t *th;
};

int naive_create(struct naive_pool *np, unsigned nthreads);
int naive_submit(struct naive_pool *np, void (*fn)(void *), void *arg);
bool naive_try_run_one(struct naive_pool *np);
/* Runs everything queued, then joins and frees. */
void naive_shutdown(struct naive_pool *np);

#endif
