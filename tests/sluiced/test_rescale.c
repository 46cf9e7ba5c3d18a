// SPDX-License-Identifier: MIT
/*
 * Unit tests of the service bucket's rescale on a raise of its rate
 * (rescale.c): a raise changes the rate, never what the bucket holds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "rescale.h"

#define MS 1000000ull
#define NOW (1000 * 1000 * MS)
#define SLACK (12 * MS)	/* the coarse clock's, at HZ=250 */

/* What a bucket of burst b and slack holds at rate r (per second), in
 * connections, with its tat at tat. */
static double held(uint64_t tat, uint32_t r, uint64_t b, uint64_t slack)
{
	uint64_t iv = 1000000000ull / r, tol = iv * b + slack;

	return tat >= NOW + tol ? 0 : (double)(NOW + tol - tat) / (double)iv;
}

/* A flood keeps the bucket empty: raised, it is still empty, on either
 * clock. Scaling the lead handed out slack x (1 - old / new): a jump from
 * 250/s to 900/s gave 8.7 ms of credit, 7-8 connections at once. */
static void test_empty_stays_empty(void **state)
{
	(void)state;
	uint64_t slacks[] = { 0, SLACK };

	for (int i = 0; i < 2; i++) {
		uint64_t s = slacks[i];
		uint64_t tat = NOW + 1000000000ull / 250 * 4 + s;	/* empty at 250/s */
		uint64_t t = sld_rescale_tat(tat, NOW, 250, 900, 4, s);

		assert_true(held(t, 900, 4, s) < 0.01);
		/* and it admits at the new rate: the lead is the new tolerance */
		assert_int_equal(t, NOW + 1000000000ull / 900 * 4 + s);
	}
}

/* Under a flood at 10/s with a burst of 16 the tat sits 1.6 s ahead: a
 * raise to 100/s admits within an interval of the new rate, not after
 * the old 1.6 s. */
static void test_raise_takes_effect_at_once(void **state)
{
	(void)state;
	uint64_t tat = NOW + 16 * 100 * MS;
	uint64_t t = sld_rescale_tat(tat, NOW, 10, 100, 16, 0);

	assert_int_equal(t, NOW + 16 * 10 * MS);
}

/* A bucket holding two connections holds two after the raise. */
static void test_partial_keeps_its_connections(void **state)
{
	(void)state;
	uint64_t tat = NOW + 1000000000ull / 500 * 2 + SLACK;	/* 4 - 2 held at 500/s */
	uint64_t t = sld_rescale_tat(tat, NOW, 500, 1000, 4, SLACK);

	assert_true(held(tat, 500, 4, SLACK) > 1.99 && held(tat, 500, 4, SLACK) < 2.01);
	assert_true(held(t, 1000, 4, SLACK) > 1.99 && held(t, 1000, 4, SLACK) < 2.01);
}

/* Nothing to do: not a raise, a full bucket, no old rate; a lead past the
 * tolerance (state of other limits) holds nothing. */
static void test_nothing_to_rescale(void **state)
{
	(void)state;
	uint64_t tat = NOW + 3 * MS;

	assert_int_equal(sld_rescale_tat(tat, NOW, 900, 800, 4, SLACK), tat);
	assert_int_equal(sld_rescale_tat(tat, NOW, 900, 900, 4, SLACK), tat);
	assert_int_equal(sld_rescale_tat(tat, NOW, 0, 900, 4, SLACK), tat);
	assert_int_equal(sld_rescale_tat(NOW - MS, NOW, 100, 900, 4, SLACK), NOW - MS);
	assert_int_equal(sld_rescale_tat(NOW + 10000 * MS, NOW, 100, 200, 4, 0),
			 NOW + 4 * 5 * MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_stays_empty),
		cmocka_unit_test(test_raise_takes_effect_at_once),
		cmocka_unit_test(test_partial_keeps_its_connections),
		cmocka_unit_test(test_nothing_to_rescale),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
