// SPDX-License-Identifier: MIT
/*
 * Unit tests of the statistics: histogram buckets, quantiles, intervals
 * between snapshots and the sliding window.
 */
#include "internal.h"
#include "common.h"

#include <string.h>

static void test_buckets(void **state)
{
	unsigned prev = 0;

	(void)state;
	for (uint64_t v = 0; v < 20000; v++) {
		unsigned b = pool_hist_bucket(v);

		assert_true(b >= prev);
		assert_true(b < POOL_HIST_BUCKETS);
		assert_true(pool_hist_lower(b) <= v);
		assert_true(pool_hist_upper(b) >= v);
		prev = b;
	}
	for (int e = 3; e < 41; e++) {
		uint64_t v = 1ull << e;
		unsigned b = pool_hist_bucket(v);

		assert_int_equal(pool_hist_lower(b), v);
		/* at most 12.5% wide */
		assert_true(pool_hist_upper(b) - pool_hist_lower(b) + 1 <= v / 8);
		assert_int_equal(pool_hist_bucket(v - 1) + 1, b);
	}
	assert_int_equal(pool_hist_bucket(UINT64_MAX), POOL_HIST_BUCKETS - 1);
}

static void test_quantiles_interval(void **state)
{
	static struct pool_stats a, b;
	struct pool_interval iv;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.now_ns = 1000000000;
	b.now_ns = a.now_ns + 10000000; /* 10 ms */
	a.workers = b.workers = 2;
	a.busy_ns = 5000000;
	b.busy_ns = a.busy_ns + 10000000; /* one of two workers busy */
	a.completed = 10;
	b.completed = 1010;
	a.delay_hist[pool_hist_bucket(5)] = 7; /* before the interval */
	b.delay_hist[pool_hist_bucket(5)] = 7;
	b.delay_hist[pool_hist_bucket(1000)] = 989;
	b.delay_hist[pool_hist_bucket(100000)] = 10;
	b.delay_hist[pool_hist_bucket(10000000)] = 5;
	pool_stats_interval(&a, &b, &iv);
	assert_int_equal(iv.ns, 10000000);
	assert_int_equal(iv.completed, 1000);
	assert_int_equal(iv.started, 1004);
	assert_true(iv.busy > 0.49 && iv.busy < 0.51);
	assert_true(iv.min_delay_ns <= 1000 && iv.min_delay_ns >= 1000 * 7 / 8);
	assert_true(iv.p50_ns >= 1000 && iv.p50_ns < 1000 * 9 / 8);
	assert_true(iv.p99_ns >= 100000 && iv.p99_ns < 100000 * 9 / 8);
	assert_true(iv.p999_ns >= 10000000 && iv.p999_ns < 10000000 * 9 / 8);
	assert_true(iv.max_delay_ns >= 10000000);
	/* an empty interval */
	pool_stats_interval(&b, &b, &iv);
	assert_int_equal(iv.started, 0);
	assert_int_equal(iv.p99_ns, 0);
}

static void test_window(void **state)
{
	static struct pool_stats s;
	struct pool_window w;
	struct pool_interval iv;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.workers = 1;
	assert_int_equal(pool_window_init(&w, 3), 0);
	for (int i = 0; i < 10; i++) {
		s.now_ns = 1000 + 10 * (uint64_t)i;
		s.completed = 100 * (uint64_t)i;
		pool_window_push(&w, &s, &iv);
		/* the window spans at most 3 intervals */
		uint64_t span = i < 3 ? (uint64_t)i : 3;

		assert_int_equal(iv.ns, 10 * span);
		assert_int_equal(iv.completed, 100 * span);
	}
	pool_window_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buckets),
		cmocka_unit_test(test_quantiles_interval),
		cmocka_unit_test(test_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
