// SPDX-License-Identifier: MIT
/*
 * Unit tests of the daemon's heap (memory.c): after a burst of connection
 * memory allocated and freed on a thread other than main (as an IO loop's
 * worker does) and a release, the process's RSS is back where it was
 * before the burst, whatever the burst's size. With an arena of its own
 * per thread, the thread arena's free end kept 128 KiB or more resident.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "memory.h"

#define CONN_BYTES 3072		/* about a struct conn */
#define HEAD_BYTES 4096		/* and its head buffer (SLD_IN_INITIAL) */
#define MAX_BURST 1600
#define SLACK_KIB 16		/* a few pages of chunk headers and caches */

/* Resident KiB, counted from the page tables (exact). */
static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Rss: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

struct bursts {
	long base_kib;
	long after_kib[3];	/* after each burst's release */
	long peak_kib[3];
};

static const unsigned sizes[3] = { 100, 400, MAX_BURST };

/* n connections' memory, written as a loop writes it, then freed in a
 * scrambled order (connections close in any order) and released. */
static void burst(void **slots, unsigned n, long *peak_kib)
{
	for (unsigned i = 0; i < n; i++) {
		slots[2 * i] = malloc(CONN_BYTES);
		slots[2 * i + 1] = malloc(HEAD_BYTES);
		assert_non_null(slots[2 * i]);
		assert_non_null(slots[2 * i + 1]);
		memset(slots[2 * i], 1, CONN_BYTES);
		memset(slots[2 * i + 1], 2, HEAD_BYTES);
	}
	*peak_kib = rss_kib();
	for (unsigned k = 0, i = 0; k < n; k++) {
		i = (i + 7919) % n;	/* a prime step: every index once */
		free(slots[2 * i]);
		free(slots[2 * i + 1]);
	}
	sld_memory_release();
}

static void *worker(void *arg)
{
	struct bursts *b = arg;
	static void *slots[2 * MAX_BURST];
	long peak;

	memset(slots, 0, sizeof(slots));	/* resident before the base */
	burst(slots, 8, &peak);	/* the thread's first allocations */
	b->base_kib = rss_kib();
	for (int i = 0; i < 3; i++) {
		burst(slots, sizes[i], &b->peak_kib[i]);
		b->after_kib[i] = rss_kib();
	}
	return NULL;
}

static void test_init(void **state)
{
	(void)state;
	assert_int_equal(sld_memory_init(), 0);
}

static void test_burst_given_back(void **state)
{
	struct bursts b = { 0 };
	pthread_t t;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, worker, &b), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(b.base_kib > 0);
	for (int i = 0; i < 3; i++) {
		printf("# arena: a burst of %u connections: RSS %ld -> %ld -> %ld KiB\n",
		       sizes[i], b.base_kib, b.peak_kib[i], b.after_kib[i]);
		/* the burst was seen, and given back */
		assert_true(b.peak_kib[i] >= b.base_kib + sizes[i] * 6);
		if (!SLD_OWN_ALLOCATOR)	/* a sanitizer's: figures only */
			assert_true(b.after_kib[i] <= b.base_kib + SLACK_KIB);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),	/* first: before any thread */
		cmocka_unit_test(test_burst_given_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
