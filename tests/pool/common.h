/* SPDX-License-Identifier: MIT */
/* Helpers shared by the pool tests: cmocka includes, stress scaling, yields,
 * sleeps and bounded waits. */
#ifndef SLUICE_TESTS_POOL_COMMON_H
#define SLUICE_TESTS_POOL_COMMON_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

/* POOL_STRESS_SCALE multiplies stress sizes (default 1). */
static inline unsigned long scaled(unsigned long n)
{
	const char *s = getenv("POOL_STRESS_SCALE");
	unsigned long k = s ? strtoul(s, NULL, 10) : 1;

	return n * (k ? k : 1);
}

/* A cheap per-thread random generator, for random yields. */
static inline uint64_t xrand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static inline void maybe_yield(uint64_t *s, unsigned one_in)
{
	if (xrand(s) % one_in == 0)
		sched_yield();
}

static inline void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Wait up to ~20 s for *v >= want. */
static inline bool wait_for(_Atomic long *v, long want)
{
	for (int i = 0; i < 20000 && atomic_load(v) < want; i++)
		sleep_ms(1);
	return atomic_load(v) >= want;
}

#endif
