// SPDX-License-Identifier: MIT
/*
 * Unit tests of the fleet-quota arithmetic (fleet_share.c): the heavy
 * sources a host reports (increases since the last snapshot, evicted
 * counters, the threshold, the bound k), the local shares (they add up to
 * the quota over the hosts, in proportion to each host's demand, and none
 * under the quota), the Redis key with its Cluster hash tag, the backoff.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fleet_share.h"

static struct fleet_src src4(uint8_t last, uint64_t count)
{
	struct fleet_src s = { .key = { .slot = 1, .family = 4, .prefixlen = 32 },
			       .count = count };

	s.key.addr[0] = 198;
	s.key.addr[1] = 18;
	s.key.addr[2] = 1;
	s.key.addr[3] = last;
	return s;
}

static void test_heavy_takes_increases_heaviest_first(void **state)
{
	struct fleet_src prev[] = { src4(1, 100), src4(2, 50), src4(3, 7) };
	struct fleet_src cur[] = { src4(1, 130), src4(2, 150), src4(3, 8), src4(4, 60) };
	struct fleet_src out[4];
	size_t m;

	(void)state;
	fleet_src_sort(prev, 3);
	fleet_src_sort(cur, 4);
	m = fleet_heavy(cur, 4, prev, 3, 1, out, 4);
	assert_int_equal(m, 4);
	assert_int_equal(out[0].key.addr[3], 2);
	assert_int_equal(out[0].delta, 100);
	assert_int_equal(out[1].key.addr[3], 4);	/* new: all of it */
	assert_int_equal(out[1].delta, 60);
	assert_int_equal(out[2].delta, 30);
	assert_int_equal(out[3].delta, 1);
}

static void test_heavy_threshold_and_bound(void **state)
{
	struct fleet_src prev[] = { src4(1, 0), src4(2, 0), src4(3, 0) };
	struct fleet_src cur[] = { src4(1, 10), src4(2, 25), src4(3, 3) };
	struct fleet_src out[1];

	(void)state;
	/* Only 1 of the 2 above 5 fits, and it is the heaviest. */
	assert_int_equal(fleet_heavy(cur, 3, prev, 3, 5, out, 1), 1);
	assert_int_equal(out[0].key.addr[3], 2);
	/* Nothing grew: nothing to report. */
	assert_int_equal(fleet_heavy(cur, 3, cur, 3, 1, out, 1), 0);
	assert_int_equal(fleet_heavy(cur, 3, prev, 3, 1, out, 0), 0);
}

static void test_heavy_evicted_counter_counts_afresh(void **state)
{
	struct fleet_src prev[] = { src4(9, 1000) };
	struct fleet_src cur[] = { src4(9, 40) };
	struct fleet_src out[1];

	(void)state;
	assert_int_equal(fleet_heavy(cur, 1, prev, 1, 1, out, 1), 1);
	assert_int_equal(out[0].delta, 40);
}

static void test_min_delta_is_a_quarter_of_a_host_share(void **state)
{
	(void)state;
	/* 100/s over 3 hosts: 33/s each; a quarter, 8/s, is 2 per 250 ms. */
	assert_int_equal(fleet_min_delta(100, 3, 250), 2);
	assert_int_equal(fleet_min_delta(100, 0, 1000), 25);	/* hosts unknown: one */
	assert_int_equal(fleet_min_delta(1, 1000, 250), 1);	/* never 0 */
}

static void test_share_adds_up_to_the_quota(void **state)
{
	struct fleet_limit a, b, c;

	(void)state;
	/* Three hosts, 100/s each in a 1 s window, quota 100. */
	assert_true(fleet_share(100, 300, 100, 1000, &a));
	assert_int_equal(a.rate_milli, 33333);
	/* Demand 200 / 100 / 0: shares 2/3 and 1/3, the idle host refuses. */
	assert_true(fleet_share(200, 300, 100, 1000, &b));
	assert_true(fleet_share(100, 300, 100, 1000, &c));
	assert_int_equal(b.rate_milli + c.rate_milli, 99999);
	assert_true(fleet_share(0, 300, 100, 1000, &a));
	assert_int_equal(a.rate_milli, 0);
	assert_int_equal(a.burst, 1);
}

static void test_share_none_within_the_quota(void **state)
{
	struct fleet_limit l;

	(void)state;
	assert_false(fleet_share(30, 30, 100, 1000, &l));
	assert_false(fleet_share(100, 100, 100, 1000, &l));	/* at it: still within */
	assert_false(fleet_share(100, 150, 100, 2000, &l));	/* 75/s over 2 s */
	assert_false(fleet_share(1, 1, 100, 0, &l));
	assert_true(fleet_share(100, 101, 100, 1000, &l));
}

static void test_share_clamps_mine_and_burst(void **state)
{
	struct fleet_limit l;

	(void)state;
	/* Redis lost part of the window: never more than the whole quota. */
	assert_true(fleet_share(500, 200, 100, 1000, &l));
	assert_int_equal(l.rate_milli, 100000);
	assert_int_equal(l.burst, 10);
	assert_true(fleet_share(1000000, 2000000, 1000000, 1000, &l));
	assert_int_equal(l.burst, 64);
}

static void test_decide_last_window_then_current(void **state)
{
	struct fleet_windows w = { .window_ms = 1000, .sync_ms = 250 };
	struct fleet_limit l;

	(void)state;
	/* The last window over: limited on it, whatever the current says. */
	w.mine_prev = 100;
	w.total_prev = 300;
	assert_true(fleet_decide(&w, 100, &l));
	assert_int_equal(l.rate_milli, 33333);
	/* A source that starts: nothing last window; this one counts only
	 * from its middle on. 300/s seen 400 ms in: not yet. */
	w = (struct fleet_windows){ .window_ms = 1000, .sync_ms = 250, .elapsed_ms = 400,
				    .mine_cur = 40, .total_cur = 120 };
	assert_false(fleet_decide(&w, 100, &l));
	w.elapsed_ms = 600;
	w.mine_cur = 60;
	w.total_cur = 180 + 75;	/* with a sync's worth from before the window */
	assert_true(fleet_decide(&w, 100, &l));
	assert_int_equal(l.rate_milli, 23529);	/* 100 x 60 / 255 */
	/* A light source (30/s fleet-wide), a sync's worth from before the
	 * window and one host late: never over. */
	w = (struct fleet_windows){ .window_ms = 1000, .sync_ms = 250, .elapsed_ms = 500,
				    .mine_cur = 10, .total_cur = 30 * 3 / 4 + 30 / 4 };
	assert_false(fleet_decide(&w, 100, &l));
	w.elapsed_ms = 999;
	w.total_cur = 30 + 8;
	assert_false(fleet_decide(&w, 100, &l));
}

static void test_scale_delta_to_one_window(void **state)
{
	(void)state;
	assert_int_equal(fleet_scale_delta(25, 250, 1000), 25);
	assert_int_equal(fleet_scale_delta(100, 1000, 1000), 100);
	/* Five seconds off the CPU: one second's worth of them. */
	assert_int_equal(fleet_scale_delta(50, 5000, 1000), 10);
}

static void test_key_has_the_source_as_hash_tag(void **state)
{
	struct fleet_src s = src4(2, 0);
	struct sl_src_key k6 = { .slot = 1, .family = 6, .prefixlen = 64 };
	char buf[FLEET_KEY_MAX];

	(void)state;
	assert_int_equal(fleet_key(buf, sizeof(buf), "web", "tcp/8080", &s.key, 1765000000), 0);
	assert_string_equal(buf, "web:tcp/8080:{198.18.1.2/32}:1765000000");
	k6.addr[0] = 0x20;
	k6.addr[1] = 0x01;
	k6.addr[2] = 0x0d;
	k6.addr[3] = 0xb8;
	assert_int_equal(fleet_key(buf, sizeof(buf), "web", "tcp/443", &k6, 7), 0);
	assert_string_equal(buf, "web:tcp/443:{2001:db8::/64}:7");
	assert_int_equal(fleet_key(buf, 10, "web", "tcp/443", &k6, 7), -ENAMETOOLONG);
}

static void test_backoff_doubles_to_its_ceiling(void **state)
{
	uint32_t ms = 0;

	(void)state;
	ms = fleet_backoff(ms, 2000);
	assert_int_equal(ms, 100);
	ms = fleet_backoff(ms, 2000);
	assert_int_equal(ms, 200);
	for (int i = 0; i < 10; i++)
		ms = fleet_backoff(ms, 2000);
	assert_int_equal(ms, 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heavy_takes_increases_heaviest_first),
		cmocka_unit_test(test_heavy_threshold_and_bound),
		cmocka_unit_test(test_heavy_evicted_counter_counts_afresh),
		cmocka_unit_test(test_min_delta_is_a_quarter_of_a_host_share),
		cmocka_unit_test(test_share_adds_up_to_the_quota),
		cmocka_unit_test(test_share_none_within_the_quota),
		cmocka_unit_test(test_share_clamps_mine_and_burst),
		cmocka_unit_test(test_decide_last_window_then_current),
		cmocka_unit_test(test_scale_delta_to_one_window),
		cmocka_unit_test(test_key_has_the_source_as_hash_tag),
		cmocka_unit_test(test_backoff_doubles_to_its_ceiling),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
