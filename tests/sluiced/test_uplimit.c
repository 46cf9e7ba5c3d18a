// SPDX-License-Identifier: MIT
/*
 * Unit tests of the proxy's limit on requests in flight (uplimit.c): each
 * branch of the rule, and convergence against a model upstream with c
 * cores sharing its CPU among the requests in flight (Go's net/http with
 * GOMAXPROCS=c): its round trip is s while at most c are in flight and
 * s * L / c beyond. The limit must settle at c + 1 from below (a new
 * proxy) and from above (an upstream that lost cores), and stay.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "uplimit.h"

#define MS 1000000ull

static void test_no_sample_keeps_the_limit(void **state)
{
	(void)state;
	assert_int_equal(uplimit_next(5, 0, 0, 0, true, 16), 5);
	assert_int_equal(uplimit_next(5, 1 * MS, 0, 0, true, 16), 5);
	assert_int_equal(uplimit_next(5, 0, 3 * MS, 0, true, 16), 5);
}

static void test_grows_by_one_while_requests_wait(void **state)
{
	(void)state;
	assert_int_equal(uplimit_next(1, 1 * MS, 1 * MS, 0, true, 16), 2);
	assert_int_equal(uplimit_next(7, 2 * MS, 2 * MS, 0, true, 16), 8);
	/* a sample under the floor counts as the floor: gradient at most 1 */
	assert_int_equal(uplimit_next(3, 2 * MS, 1 * MS, 0, true, 16), 4);
}

static void test_no_wind_up_without_demand(void **state)
{
	(void)state;
	assert_int_equal(uplimit_next(3, 1 * MS, 1 * MS, 0, false, 16), 3);
	/* but it still shrinks when the upstream queues */
	assert_int_equal(uplimit_next(8, 1 * MS, 8 * MS, 0, false, 16), 4);
}

static void test_holds_with_about_one_inside(void **state)
{
	(void)state;
	/* 2 in flight on one core: one waits inside */
	assert_int_equal(uplimit_next(2, 1 * MS, 2 * MS, 0, true, 16), 2);
	/* 5 in flight on 4 cores */
	assert_int_equal(uplimit_next(5, 1 * MS, 1250000, 0, true, 16), 5);
	/* noise: 2 on one core measured at 1.6 and 2.8 ms */
	assert_int_equal(uplimit_next(2, 1 * MS, 1600000, 0, true, 16), 2);
	assert_int_equal(uplimit_next(2, 1 * MS, 2800000, 0, true, 16), 2);
}

static void test_queueing_pulls_back_at_most_by_half(void **state)
{
	(void)state;
	/* 3 and 4 in flight on one core: back to its parallelism + 1 */
	assert_int_equal(uplimit_next(3, 1 * MS, 3 * MS, 0, true, 16), 2);
	assert_int_equal(uplimit_next(4, 1 * MS, 4 * MS, 0, true, 16), 2);
	/* 16 on one core: halved, not cut to 2 on one sample */
	assert_int_equal(uplimit_next(16, 1 * MS, 16 * MS, 0, true, 16), 8);
	/* 6 on one core with a 7.6 ms sample (a pause upstream) */
	assert_int_equal(uplimit_next(6, 1070000, 7600000, 0, true, 16), 3);
}

static void test_one_in_flight_grows_when_slow_but_not_queueing(void **state)
{
	(void)state;
	/* with one in flight nothing of ours waits inside: a slow round
	 * trip is the upstream's own, and the limit may grow */
	assert_int_equal(uplimit_next(1, 1070000, 1410000, 0, true, 16), 2);
	assert_int_equal(uplimit_next(1, 1 * MS, 1900000, 0, true, 16), 2);
	/* but a round trip over twice the floor alone holds it: the floor
	 * is stale, until the next probe re-measures it (upqueue.c) */
	assert_int_equal(uplimit_next(1, 1 * MS, 1000 * MS, 0, true, 16), 1);
}

static void test_bounded_by_max(void **state)
{
	(void)state;
	assert_int_equal(uplimit_next(16, 1 * MS, 1 * MS, 0, true, 16), 16);
	assert_int_equal(uplimit_next(40, 1 * MS, 1 * MS, 0, false, 16), 16);
}

/* A round trip within the slack above the floor is no queue inside,
 * whatever limit * excess / rtt says: the limit doubles while requests
 * wait; beyond it the rule is as without. */
static void test_slack_grows_past_wakeup_noise(void **state)
{
	(void)state;
	/* 30 us floor, 400 us round trip (two wake-ups on a busy host) */
	assert_int_equal(uplimit_next(1, 30000, 400000, MS / 2, true, 64), 2);
	assert_int_equal(uplimit_next(20, 30000, 400000, MS / 2, true, 64), 40);
	assert_int_equal(uplimit_next(40, 30000, 400000, MS / 2, true, 64), 64);
	assert_int_equal(uplimit_next(20, 30000, 400000, MS / 2, false, 64), 20);
	/* beyond the slack: the rule, here pulling back */
	assert_int_equal(uplimit_next(20, 30000, 900000, MS / 2, true, 64), 10);
}

static uint64_t model_rtt(unsigned limit, unsigned cores, uint64_t service_ns)
{
	return limit <= cores ? service_ns : service_ns * limit / cores;
}

static void test_converges_on_a_model_upstream(void **state)
{
	(void)state;
	const unsigned cores[] = { 1, 2, 4, 8 };
	const unsigned starts[] = { 1, 64 };

	for (size_t i = 0; i < sizeof(cores) / sizeof(cores[0]); i++) {
		for (size_t j = 0; j < sizeof(starts) / sizeof(starts[0]); j++) {
			unsigned limit = starts[j];

			for (int tick = 0; tick < 100; tick++)
				limit = uplimit_next(limit, MS, model_rtt(limit, cores[i], MS),
						     0, true, 64);
			assert_int_equal(limit, cores[i] + 1);
			/* and it stays */
			for (int tick = 0; tick < 10; tick++) {
				unsigned next = uplimit_next(limit, MS,
							     model_rtt(limit, cores[i], MS),
							     0, true, 64);

				assert_int_equal(next, limit);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_sample_keeps_the_limit),
		cmocka_unit_test(test_grows_by_one_while_requests_wait),
		cmocka_unit_test(test_no_wind_up_without_demand),
		cmocka_unit_test(test_holds_with_about_one_inside),
		cmocka_unit_test(test_queueing_pulls_back_at_most_by_half),
		cmocka_unit_test(test_one_in_flight_grows_when_slow_but_not_queueing),
		cmocka_unit_test(test_bounded_by_max),
		cmocka_unit_test(test_slack_grows_past_wakeup_noise),
		cmocka_unit_test(test_converges_on_a_model_upstream),
	};

	return cmocka_run_group_tests_name("sluiced uplimit", tests, NULL, NULL);
}
