/* SPDX-License-Identifier: MIT */
/*
 * Shared declarations of the pool benchmark: the clock, the skewed-load
 * workload description, and the OpenMP side (omp.c, built with -fopenmp).
 */
#ifndef SLUICE_BENCH_POOL_H
#define SLUICE_BENCH_POOL_H

#include <stdint.h>
#include <time.h>

static inline uint64_t bench_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void spin_until(uint64_t t)
{
	while (bench_ns() < t)
		;
}

/* skewed load: arrival offsets and service times, in ns; filled by main */
struct skew {
	unsigned n;
	uint64_t *arrive, *service; /* offsets from t0, durations */
	uint64_t *enq, *delay;      /* stamped when queued, when started */
	uint64_t t0;
};

long omp_fib(int n);                                  /* returns fib(n) */
void omp_submit(unsigned long n, unsigned threads);   /* n empty tasks */
void omp_chain(unsigned long steps);
void omp_roundtrip(unsigned long steps);                 /* task + taskwait */
void omp_skew(struct skew *s);
void omp_touch(void);                                 /* start the team */
long omp_task_bytes(unsigned k);                      /* heap per pending task */

#endif
