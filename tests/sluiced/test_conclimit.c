// SPDX-License-Identifier: MIT
/*
 * Unit tests of guard mode's concurrency law (conclimit.c): none without
 * a baseline, Little's law at the service's capacity, the decrease
 * anchored to goodput and at most a halving, one more a tick back up,
 * never below 1, and no creep under a steady overload.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "conclimit.h"

#define MS 1000000ull

/* A 1000/s service whose requests take 1 ms, a 5 ms target. */
static struct conc_signals sig(uint64_t delay_ns, double goodput, double busy)
{
	return (struct conc_signals){ .target_ns = 5 * MS, .drain_ns = 40 * MS,
				      .delay_ns = delay_ns, .base_ns = 1 * MS,
				      .goodput = goodput, .busy = busy };
}

/* No baseline, or nothing known of the capacity yet: no limit, the rate
 * law alone. A quiet tick later keeps the limit; a baseline forgotten (a
 * restarted service) drops it. */
static void test_none_until_known(void **state)
{
	struct conc_law c;
	struct conc_signals s = sig(1 * MS, 1000, 1);

	(void)state;
	conc_init(&c);
	s.base_ns = 0;
	assert_int_equal(conc_tick(&c, &s), 0);
	s = sig(1 * MS, 0, 0);
	assert_int_equal(conc_tick(&c, &s), 0);
	s = sig(1 * MS, 2000, 1);
	assert_int_equal(conc_tick(&c, &s), 7);
	s = sig(0, 0, 0);	/* idle */
	assert_int_equal(conc_tick(&c, &s), 7);
	assert_int_equal(conc_tick(&c, &s), 7);
	s.base_ns = 0;
	assert_int_equal(conc_tick(&c, &s), 0);
}

/* Saturated (busy 1) under target: goodput x (T / 2 + base) = 1000 x
 * 3.5 ms. At half load the limit is the saturated service's already
 * (goodput / busy): a service that keeps up is not limited by its load. */
static void test_little_at_capacity(void **state)
{
	struct conc_law c;

	(void)state;
	struct conc_signals s;

	conc_init(&c);
	s = sig(1 * MS, 1000, 1);
	assert_int_equal(conc_tick(&c, &s), 4);
	conc_init(&c);
	s = sig(1 * MS, 500, 0.5);
	assert_int_equal(conc_tick(&c, &s), 4);
	/* busy unknown: goodput is all there is */
	conc_init(&c);
	s = sig(1 * MS, 2000, 0);
	assert_int_equal(conc_tick(&c, &s), 7);
	/* a parallel service: 8000/s of 10 ms requests, 8000 x 12.5 ms */
	conc_init(&c);
	s = sig(1 * MS, 8000, 1);
	s.base_ns = 10 * MS;
	assert_int_equal(conc_tick(&c, &s), 100);
}

/* Over target: the rate law's cut of Little's law (not of the last
 * limit), at most a half, never below 1; compounding ticks of a lagging
 * signal do not take it lower. */
static void test_decrease_anchored(void **state)
{
	struct conc_law c;
	struct conc_signals s;

	(void)state;
	conc_init(&c);
	s = sig(1 * MS, 2000, 1);	/* little = 7 */
	assert_int_equal(conc_tick(&c, &s), 7);
	s = sig(25 * MS, 2000, 1);	/* f = 20 / 40: half of 7 */
	assert_int_equal(conc_tick(&c, &s), 4);
	assert_int_equal(conc_tick(&c, &s), 4);
	assert_int_equal(conc_tick(&c, &s), 4);
	s = sig(500 * MS, 2000, 1);	/* f capped at a half */
	assert_int_equal(conc_tick(&c, &s), 4);
	s = sig(500 * MS, 100, 1);	/* a trickle: never below 2 */
	assert_int_equal(conc_tick(&c, &s), 2);
	s = sig(1 * MS, 370, 1);	/* under target, little 1.3: still 2 */
	assert_int_equal(conc_tick(&c, &s), 2);
}

/* Back under target: one more a tick, up to Little's law at capacity,
 * and never past it however long the overload lasts (no creep). */
static void test_increase_and_no_creep(void **state)
{
	struct conc_law c;
	struct conc_signals over = sig(500 * MS, 2000, 1), under = sig(4 * MS, 2000, 1);

	(void)state;
	conc_init(&c);
	assert_int_equal(conc_tick(&c, &over), 4);	/* 3.5 */
	assert_int_equal(conc_tick(&c, &under), 5);	/* 4.5 */
	assert_int_equal(conc_tick(&c, &under), 6);	/* 5.5 */
	assert_int_equal(conc_tick(&c, &under), 7);	/* 6.5, then the ceiling, 7 */
	for (int i = 0; i < 10000; i++)
		assert_int_equal(conc_tick(&c, &under), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none_until_known),
		cmocka_unit_test(test_little_at_capacity),
		cmocka_unit_test(test_decrease_anchored),
		cmocka_unit_test(test_increase_and_no_creep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
