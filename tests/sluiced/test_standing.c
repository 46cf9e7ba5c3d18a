// SPDX-License-Identifier: MIT
/*
 * Unit tests of the deadline drop's rule (standing.c): a late request is
 * dropped only while the queue stands (late observations for an
 * interval), never for a transient; the dropping state ends after an
 * interval without a late observation; the controller's look at a queue
 * that nothing leaves counts; a stall of descheduled workers is excused
 * until the queue stands. Then two models: a closed loop of 64
 * requests whose worker stalls past the deadline now and then (0 drops),
 * and a FIFO queue fed at 10x its service rate (every late request after
 * the first interval dropped, none before).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "standing.h"

#define US 1000ull
#define MS 1000000ull
#define DEADLINE (5 * MS)
#define INTERVAL (20 * MS)
#define T0 (1000 * MS)	/* a monotonic clock is far from 0 */

static bool drop(struct standing *s, uint64_t now, uint64_t waited)
{
	return standing_drop(s, now, waited, DEADLINE, INTERVAL, false);
}

static void test_on_time_is_never_dropped(void **state)
{
	struct standing s = { 0 };

	(void)state;
	for (uint64_t t = 0; t < 100; t++)
		assert_false(drop(&s, T0 + t * MS, DEADLINE));
	assert_false(standing_now(&s, T0 + 100 * MS, INTERVAL));
}

static void test_one_late_request_is_not_dropped(void **state)
{
	struct standing s = { 0 };

	(void)state;
	assert_false(drop(&s, T0, 50 * MS));
	assert_false(standing_now(&s, T0, INTERVAL));
}

static void test_transient_burst_is_served(void **state)
{
	struct standing s = { 0 };
	uint64_t t = T0;

	(void)state;
	/* Late dequeues for almost an interval, then one on time, then
	 * late again for almost an interval: two transients, no drop. */
	for (int round = 0; round < 2; round++) {
		for (uint64_t i = 0; i < 19; i++, t += MS)
			assert_false(drop(&s, t, 8 * MS));
		assert_false(drop(&s, t, 1 * MS));
		t += MS;
	}
	assert_false(standing_now(&s, t, INTERVAL));
}

static void test_standing_queue_drops_every_late_request(void **state)
{
	struct standing s = { 0 };
	uint64_t t = T0;

	(void)state;
	for (; t < T0 + INTERVAL; t += MS)
		assert_false(drop(&s, t, 6 * MS));
	/* stood an interval: late ones dropped, on-time ones served */
	assert_true(drop(&s, t, 6 * MS));
	assert_true(standing_now(&s, t, INTERVAL));
	t += MS;
	assert_false(drop(&s, t, 4 * MS));
	/* an on-time one does not end the state: the next late one goes */
	t += MS;
	assert_true(drop(&s, t, 6 * MS));
	assert_true(standing_now(&s, t, INTERVAL));
}

static void test_state_ends_after_an_interval_without_late(void **state)
{
	struct standing s = { 0 };
	uint64_t t = T0;

	(void)state;
	for (; t <= T0 + INTERVAL; t += MS)
		drop(&s, t, 6 * MS);
	assert_true(standing_now(&s, t - MS, INTERVAL));
	/* on time for a whole interval (or nothing at all) */
	for (uint64_t end = t + INTERVAL; t < end; t += MS)
		assert_false(drop(&s, t, 1 * MS));
	assert_false(standing_now(&s, t, INTERVAL));
	/* a late one now starts a new run: served */
	assert_false(drop(&s, t, 9 * MS));
	/* and so after silence: a late one long after the last run */
	t += 10 * INTERVAL;
	assert_false(drop(&s, t, 9 * MS));
}

static void test_queue_that_nothing_leaves_stands(void **state)
{
	struct standing s = { 0 };
	uint64_t since = T0, t;

	(void)state;
	/* A worker busy with one long request: the controller's tick sees
	 * the request behind it age, every 10 ms; nothing is dequeued. */
	for (t = since + 10 * MS; t - since <= DEADLINE + INTERVAL; t += 10 * MS)
		drop(&s, t, t - since);
	/* when the worker takes it at last, it is dropped */
	assert_true(drop(&s, t, t - since));
}

static void test_stall_is_excused_until_the_queue_stands(void **state)
{
	struct standing s = { 0 };
	uint64_t t = T0;

	(void)state;
	/* A 40 ms stall: the ticks see the oldest request late, and the
	 * workers descheduled for as long as the stall so far (capped at
	 * a tick); then the worker drains its queue late for 1 ms. */
	for (t = T0 + 6 * MS; t < T0 + 40 * MS; t += 10 * MS) {
		standing_excuse(&s, t, t - T0 < 10 * MS ? t - T0 : 10 * MS, INTERVAL);
		assert_false(drop(&s, t, t - T0));
	}
	for (t = T0 + 40 * MS; t <= T0 + 41 * MS; t += 100 * US)
		assert_false(drop(&s, t, t - T0));
	/* A queue that stands is not excused: it keeps dropping. */
	for (t = T0 + 100 * MS; t <= T0 + 100 * MS + INTERVAL; t += MS)
		drop(&s, t, 6 * MS);
	standing_excuse(&s, t, 10 * MS, INTERVAL);
	assert_true(drop(&s, t, 6 * MS));
	/* no run: nothing to excuse */
	struct standing none = { 0 };

	standing_excuse(&none, T0, 10 * MS, INTERVAL);
	assert_int_equal(atomic_load(&none.run_start_ns), 0);
}

static void test_shedding_drops_every_late_request(void **state)
{
	struct standing s = { 0 };

	(void)state;
	/* The controller sheds: the first late request goes, on-time ones
	 * stay. */
	assert_false(standing_drop(&s, T0, 4 * MS, DEADLINE, INTERVAL, true));
	assert_true(standing_drop(&s, T0 + MS, 6 * MS, DEADLINE, INTERVAL, true));
	assert_false(standing_drop(&s, T0 + 2 * MS, 1 * MS, DEADLINE, INTERVAL, true));
	assert_true(standing_drop(&s, T0 + 3 * MS, 6 * MS, DEADLINE, INTERVAL, true));
	/* no longer shedding: a young run again */
	assert_false(drop(&s, T0 + 4 * MS, 6 * MS));
}

static void test_clock_skew_between_threads(void **state)
{
	struct standing s = { 0 };

	(void)state;
	/* another thread stored a later stamp than this one's now */
	assert_false(drop(&s, T0 + MS, 6 * MS));
	assert_false(drop(&s, T0, 6 * MS));
	assert_false(drop(&s, T0, 1 * MS));
	assert_false(standing_now(&s, T0, INTERVAL));
}

/*
 * A closed loop under capacity (wrk with 64 keep-alive connections): 64
 * requests in flight, one worker serving each in 5 us in arrival order.
 * Every 50 ms the worker is descheduled for 12 ms (past the deadline)
 * with the loop's whole batch queued behind it; the controller's tick
 * (every 10 ms) may land in the stall and see the oldest one late. No
 * request is dropped: each stall's late requests drain in 0.3 ms.
 */
static void test_closed_loop_with_stalls_drops_nothing(void **state)
{
	struct standing s = { 0 };
	uint64_t t = T0, sent[64], drops = 0, late = 0, next_tick = T0;

	(void)state;
	for (int i = 0; i < 64; i++)
		sent[i] = t;
	for (int n = 0; n < 200000; n++) {
		int i = n % 64;

		if (n % 10000 == 9999)	/* every 50 ms of requests */
			t += 12 * MS;
		/* the ticks up to now, each seeing the oldest request */
		for (; next_tick <= t; next_tick += 10 * MS)
			drop(&s, next_tick, next_tick > sent[i] ? next_tick - sent[i] : 0);
		late += t - sent[i] > DEADLINE;
		drops += drop(&s, t, t - sent[i]);
		t += 5 * US;
		sent[i] = t;	/* answered: the client sends the next */
	}
	assert_true(late > 0);	/* the stalls did make requests late */
	assert_int_equal(drops, 0);
}

/*
 * Open loop at 10x: arrivals every 100 us, service 1 ms, FIFO. Requests
 * go late once the queue holds 5 ms of work; after an interval of late
 * ones, every late request is dropped (which holds the queue at the
 * deadline), and none was dropped before.
 */
static void test_overload_drops_after_an_interval(void **state)
{
	struct standing s = { 0 };
	static uint64_t arrival[20000];
	uint64_t t = T0, first_late = 0, last_served_late = 0;
	unsigned head = 0, served = 0, dropped = 0;

	(void)state;
	for (unsigned i = 0; i < 20000; i++)
		arrival[i] = T0 + i * 100 * US;
	while (head < 20000 && arrival[head] <= T0 + 1000 * MS) {
		uint64_t waited;

		if (arrival[head] > t)
			t = arrival[head];
		waited = t - arrival[head];
		if (waited > DEADLINE && !first_late)
			first_late = t;
		if (drop(&s, t, waited)) {
			dropped++;
			assert_true(t - first_late >= INTERVAL);
		} else {
			assert_true(waited <= DEADLINE || t - first_late < INTERVAL);
			if (waited > DEADLINE)
				last_served_late = t;
			served++;
			t += 1 * MS;
		}
		head++;
	}
	assert_true(first_late > 0);
	assert_true(last_served_late - first_late < INTERVAL);
	assert_true(dropped > served);	/* 10x: most of it */
	assert_true(standing_now(&s, t, INTERVAL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_on_time_is_never_dropped),
		cmocka_unit_test(test_one_late_request_is_not_dropped),
		cmocka_unit_test(test_transient_burst_is_served),
		cmocka_unit_test(test_standing_queue_drops_every_late_request),
		cmocka_unit_test(test_state_ends_after_an_interval_without_late),
		cmocka_unit_test(test_queue_that_nothing_leaves_stands),
		cmocka_unit_test(test_stall_is_excused_until_the_queue_stands),
		cmocka_unit_test(test_shedding_drops_every_late_request),
		cmocka_unit_test(test_clock_skew_between_threads),
		cmocka_unit_test(test_closed_loop_with_stalls_drops_nothing),
		cmocka_unit_test(test_overload_drops_after_an_interval),
	};

	return cmocka_run_group_tests_name("sluiced standing", tests, NULL, NULL);
}
