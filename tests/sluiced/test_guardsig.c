// SPDX-License-Identifier: MIT
/*
 * Unit tests of guard mode's signal math (guardsig.c) and of the time
 * buckets the BPF object and user space share (guard_abi.h); and of the
 * listener lookup (sockdiag.c) on a real loopback listener with
 * connections left unaccepted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "guardsig.h"
#include "sockdiag.h"

#define MS 1000000ull
#define US 1000ull

/* Every wait falls in the bucket whose bounds hold it; buckets increase. */
static void test_bucket_bounds(void **state)
{
	(void)state;
	uint32_t prev = 0;

	for (uint64_t ns = 0; ns < 20000000000ull; ns = ns * 9 / 8 + 97) {
		uint32_t b = sl_guard_bucket(ns);

		assert_true(b < SL_GUARD_BUCKETS);
		assert_true(b >= prev);
		prev = b;
		assert_true(sl_guard_bucket_lo_ns(b) <= ns);
		if (b + 1 < SL_GUARD_BUCKETS)
			assert_true(ns < sl_guard_bucket_lo_ns(b + 1));
	}
	assert_int_equal(sl_guard_bucket(UINT64_MAX), SL_GUARD_BUCKETS - 1);
	/* Four buckets an octave: neighbours within 25% of each other. */
	for (uint32_t b = 8; b + 1 < SL_GUARD_BUCKETS; b++) {
		double r = (double)sl_guard_bucket_lo_ns(b + 1) / (double)sl_guard_bucket_lo_ns(b);

		assert_true(r > 1.0 && r <= 1.25 + 1e-9);
	}
}

/* A request measured and answered: it waited wait unread, and was
 * answered sojourn after its arrival. */
static void answer(struct sl_guard_stats *s, uint64_t wait, uint64_t sojourn, bool new_conn)
{
	s->started++;
	s->answered++;
	s->sojourn_ns += sojourn;
	s->hist[sl_guard_bucket(sojourn)]++;
	s->whist[sl_guard_bucket(wait)]++;
	if (new_conn) {
		s->conns++;
		s->served++;
	}
}

/* n requests on new connections in one tick of 10 ms ending at *now,
 * the service busy that fraction of it (0: unknown). */
static void tick_busy(struct gsig_state *st, struct sl_guard_stats *s, uint64_t *now, int n,
		      uint64_t wait, uint64_t sojourn, bool shedding, double busy,
		      struct gsig_tick *t)
{
	for (int i = 0; i < n; i++)
		answer(s, wait, sojourn, true);
	*now += 10 * MS;
	gsig_tick(st, *now, s, 0, shedding, busy, t);
}

static void tick_of(struct gsig_state *st, struct sl_guard_stats *s, uint64_t *now, int n,
		    uint64_t wait, uint64_t sojourn, bool shedding, struct gsig_tick *t)
{
	tick_busy(st, s, now, n, wait, sojourn, shedding, 0, t);
}

static bool near(uint64_t v, uint64_t want)	/* within a bucket's width */
{
	return v >= want * 4 / 5 && v <= want * 5 / 4;
}

static void test_quantile(void **state)
{
	(void)state;
	uint64_t h[SL_GUARD_BUCKETS] = { 0 };
	uint64_t q;

	assert_int_equal(gsig_quantile(h, 0, 0.5), 0);
	h[sl_guard_bucket(50 * US)] = 90;
	h[sl_guard_bucket(20 * MS)] = 10;
	q = gsig_quantile(h, 100, 0);
	assert_true(q >= 40 * US && q <= 60 * US);
	q = gsig_quantile(h, 100, 0.5);
	assert_true(q >= 40 * US && q <= 60 * US);
	q = gsig_quantile(h, 100, 0.99);
	assert_true(q >= 16 * MS && q <= 24 * MS);
	q = gsig_quantile(h, 100, 1);
	assert_true(q >= 16 * MS && q <= 24 * MS);
}

/* Within a bucket the quantile moves with the rank: near a 5 ms target,
 * a bucket spans 4.19-5.24 ms, and its middle alone read 4.72 ms for a
 * tail at 4.2 and at 5.2 alike. */
static void test_quantile_interpolates(void **state)
{
	(void)state;
	uint64_t h[SL_GUARD_BUCKETS] = { 0 };
	uint32_t b = sl_guard_bucket(5 * MS);
	uint64_t lo = sl_guard_bucket_lo_ns(b), hi = sl_guard_bucket_lo_ns(b + 1), prev = 0;

	h[sl_guard_bucket(MS)] = 90;
	h[b] = 10;	/* the tail: one bucket */
	for (int k = 1; k <= 10; k++) {
		uint64_t q = gsig_quantile(h, 100, 0.9 + k / 100.0);

		assert_true(q >= lo && q <= hi);
		assert_true(q > prev);
		prev = q;
	}
	/* the p95: half of the tail's count into its bucket, half across */
	assert_true(gsig_quantile(h, 100, 0.95) >= lo + (hi - lo) * 4 / 10);
	assert_true(gsig_quantile(h, 100, 0.95) <= lo + (hi - lo) * 6 / 10);
}

/* An answer beyond the buckets' range (30 s and more) does not make the
 * tail: the other answers of the window do. */
static void test_out_of_range_answer(void **state)
{
	(void)state;
	struct gsig_state st;
	struct sl_guard_stats s = { 0 };
	struct gsig_tick t;
	uint64_t now = 0;

	gsig_init(&st);
	gsig_tick(&st, now, &s, 0, false, 0, &t);
	for (int i = 0; i < 10; i++)
		tick_of(&st, &s, &now, 5, 100 * US, MS, false, &t);
	answer(&s, 40000 * MS, 40000 * MS, true);
	tick_of(&st, &s, &now, 4, 100 * US, MS, false, &t);
	assert_true(t.wait_ns < MS);
	assert_true(t.sojourn_ns < 2 * MS);
	assert_true(t.delay_ns < MS);
	assert_int_equal(t.served, 5);	/* it was served all the same */
}

/* The first tick only primes; the next ones see what came since. */
static void test_tick_differences(void **state)
{
	(void)state;
	struct gsig_state st;
	struct sl_guard_stats s = { 0 };
	struct gsig_tick t;

	gsig_init(&st);
	for (int i = 0; i < 100; i++)
		answer(&s, 100 * MS, 200 * MS, true);	/* history before we started */
	gsig_tick(&st, 1000 * MS, &s, 0, false, 0, &t);
	assert_int_equal(t.interval_ns, 0);
	assert_int_equal(t.delay_ns, 0);

	for (int i = 0; i < 10; i++)	/* waits 1..10 ms, sojourns 2..20 ms */
		answer(&s, (uint64_t)(i + 1) * MS, (uint64_t)(i + 1) * 2 * MS, true);
	gsig_tick(&st, 1010 * MS, &s, 0, false, 0, &t);
	assert_int_equal(t.interval_ns, 10 * MS);
	assert_int_equal(t.answered, 10);
	assert_int_equal(t.served, 10);
	assert_int_equal(t.conns, 10);
	assert_int_equal(t.samples, 10);
	/* the p99s, within a bucket's width: of waits up to 10 ms and of
	 * sojourns up to 20 ms */
	assert_true(near(t.wait_ns, 9 * MS));
	assert_true(near(t.sojourn_ns, 18 * MS));
	assert_true(near(t.sojourn_ns, 20 * MS));
	/* the first window with enough answers sets the base: no rise yet,
	 * the wait carries the signal alone */
	assert_int_equal(t.base_ns, t.sojourn_ns);
	assert_int_equal(t.rise_ns, 0);
	assert_int_equal(t.delay_ns, t.wait_ns);
	assert_int_equal(t.pending, 0);
}

/* A tick's answers count for GSIG_WINDOW ticks, then leave the window. */
static void test_window(void **state)
{
	(void)state;
	struct gsig_state st;
	struct sl_guard_stats s = { 0 };
	struct gsig_tick t;
	uint64_t now = 0;

	gsig_init(&st);
	gsig_tick(&st, now, &s, 0, false, 0, &t);
	tick_of(&st, &s, &now, 20, 30 * MS, 31 * MS, false, &t);
	for (int i = 1; i < GSIG_WINDOW; i++) {
		tick_of(&st, &s, &now, 0, 0, 0, false, &t);
		assert_int_equal(t.samples, 20);
		assert_true(near(t.wait_ns, 30 * MS));
	}
	tick_of(&st, &s, &now, 0, 0, 0, false, &t);
	assert_int_equal(t.samples, 0);
	assert_int_equal(t.wait_ns, 0);
	assert_int_equal(t.delay_ns, 0);
}

/*
 * A thread-pool service that reads at once and queues inside: no socket
 * wait, a sojourn of 1 ms while it keeps up. Overloaded (the data plane
 * sheds), its sojourn grows to 8 ms: the rise is the queue, 7 ms, and the
 * base does not learn it however long the overload lasts (no creep), up
 * to the stale time, after which a service that stays slower is re-learnt.
 */
static void test_base_rise_and_no_creep(void **state)
{
	(void)state;
	struct gsig_state st;
	struct sl_guard_stats s = { 0 };
	struct gsig_tick t;
	uint64_t now = 0;

	gsig_init(&st);
	gsig_tick(&st, now, &s, 0, false, 0, &t);
	for (int i = 0; i < 100; i++)
		tick_of(&st, &s, &now, 10, 20 * US, MS, false, &t);
	assert_true(near(t.base_ns, MS));
	assert_int_equal(t.rise_ns, 0);
	assert_true(t.delay_ns < 100 * US);

	for (int i = 0; i < 500; i++) {	/* 5 s of overload */
		tick_of(&st, &s, &now, 10, 20 * US, 8 * MS, true, &t);
		assert_true(near(t.base_ns, MS));
	}
	assert_true(near(t.rise_ns, 7 * MS));
	assert_int_equal(t.delay_ns, t.rise_ns);

	for (int i = 0; i < 600; i++)	/* past the stale time (10 s) */
		tick_of(&st, &s, &now, 10, 20 * US, 8 * MS, true, &t);
	assert_true(t.base_ns > 2 * MS);
	assert_true(t.rise_ns < 6 * MS);
}

/*
 * Steady overload for longer than the stale time, with the queue the law
 * holds spreading the answers over 2..8 ms (the service's own time stays
 * 1 ms, its spread while keeping up nil): the base re-learns from the
 * fastest answer (2 ms), not from the tail, so the limit does not creep
 * up with the queue; the rise still reads the queue.
 */
static void test_stale_base_does_not_follow_the_queue(void **state)
{
	(void)state;
	struct gsig_state st;
	struct sl_guard_stats s = { 0 };
	struct gsig_tick t;
	uint64_t now = 0;

	gsig_init(&st);
	gsig_tick(&st, now, &s, 0, false, 0, &t);
	for (int i = 0; i < 100; i++)
		tick_of(&st, &s, &now, 10, 0, MS, false, &t);
	for (int i = 0; i < 3000; i++) {	/* 30 s */
		for (int k = 0; k < 10; k++)
			answer(&s, 0, 2 * MS + (uint64_t)k * 6 * MS / 9, true);
		tick_of(&st, &s, &now, 0, 0, 0, true, &t);
	}
	assert_true(near(t.base_ns, 2 * MS));
	assert_true(t.rise_ns > 5 * MS);
}

/* The same service keeping up at a higher load (no shedding) whose p90
 * sojourn grows: the base follows, slowly; a faster service pulls it
 * down within a few ticks. */
static void test_base_follows_when_keeping_up(void **state)
{
	(void)state;
	struct gsig_state st;
	struct sl_guard_stats s = { 0 };
	struct gsig_tick t;
	uint64_t now = 0;

	gsig_init(&st);
	gsig_tick(&st, now, &s, 0, false, 0, &t);
	tick_of(&st, &s, &now, 10, 0, MS, false, &t);
	for (int i = 0; i < 10; i++)
		tick_of(&st, &s, &now, 10, 0, 2 * MS, false, &t);
	/* a tenth of a second in: the base moved a little, not all the way */
	assert_true(t.base_ns > MS + 50 * US && t.base_ns < 3 * MS / 2);
	for (int i = 0; i < 500; i++)
		tick_of(&st, &s, &now, 10, 0, 2 * MS, false, &t);
	assert_true(near(t.base_ns, 2 * MS));
	for (int i = 0; i < 60; i++)
		tick_of(&st, &s, &now, 10, 0, MS, false, &t);
	assert_true(near(t.base_ns, MS));
}

/*
 * The creep the low-load bound stops: a thread-pool service, 1 ms at a
 * third of its CPU, then a cap above demand (nothing shed) lets a queue
 * in: 20 ms sojourns at 90% busy for 10 s. "Nothing shed" would have the
 * base follow it (test_base_follows_when_keeping_up, busy unknown); held
 * by the sojourn at low load it stays at 1 ms and the rise reads the
 * queue. When the service's own work gets slower (3 ms at 40% busy) the
 * bound and the base follow it.
 */
static void test_base_bounded_by_low_load(void **state)
{
	(void)state;
	struct gsig_state st;
	struct sl_guard_stats s = { 0 };
	struct gsig_tick t;
	uint64_t now = 0;

	gsig_init(&st);
	gsig_tick(&st, now, &s, 0, false, 0, &t);
	for (int i = 0; i < 100; i++)
		tick_busy(&st, &s, &now, 10, 20 * US, MS, false, 0.3, &t);
	assert_true(near(t.unloaded_ns, MS));
	assert_true(near(t.base_ns, MS));
	for (int i = 0; i < 1000; i++) {
		tick_busy(&st, &s, &now, 10, 20 * US, 20 * MS, false, 0.9, &t);
		assert_true(t.base_ns <= t.unloaded_ns);
	}
	assert_true(near(t.unloaded_ns, MS));
	assert_true(near(t.rise_ns, 19 * MS));
	assert_int_equal(t.delay_ns, t.rise_ns);
	for (int i = 0; i < 600; i++)
		tick_busy(&st, &s, &now, 10, 20 * US, 3 * MS, false, 0.4, &t);
	assert_true(near(t.unloaded_ns, 3 * MS));
	assert_true(near(t.base_ns, 3 * MS));
	assert_true(t.rise_ns < MS);
}

/* The window's busy fraction: a tick that does not know it (0) forgets
 * it, so a service at low load then unknown learns nothing more. */
static void test_unknown_busy_learns_no_bound(void **state)
{
	(void)state;
	struct gsig_state st;
	struct sl_guard_stats s = { 0 };
	struct gsig_tick t;
	uint64_t now = 0;

	gsig_init(&st);
	gsig_tick(&st, now, &s, 0, false, 0, &t);
	for (int i = 0; i < 100; i++)
		tick_busy(&st, &s, &now, 10, 0, MS, false, 0, &t);
	assert_int_equal(t.unloaded_ns, 0);
	tick_busy(&st, &s, &now, 10, 0, MS, false, 0.2, &t);
	assert_true(near(t.unloaded_ns, MS));
	for (int i = 0; i < 300; i++)	/* busy unknown: 2 ms is not low load */
		tick_busy(&st, &s, &now, 10, 0, 2 * MS, false, 0, &t);
	assert_true(near(t.unloaded_ns, MS));
	assert_true(near(t.base_ns, MS));	/* still the bound: it is known */
}

/* A service starved of its CPU by others reads little busy with a queue
 * in it: not low load. 30 requests waiting at each tick, their answers
 * 40 ms: the bound learnt at 1 ms stays. */
static void test_starved_service_is_not_low_load(void **state)
{
	(void)state;
	struct gsig_state st;
	struct sl_guard_stats s = { 0 };
	struct gsig_tick t;
	uint64_t now = 0;

	gsig_init(&st);
	gsig_tick(&st, now, &s, 0, false, 0, &t);
	for (int i = 0; i < 100; i++)
		tick_busy(&st, &s, &now, 10, 20 * US, MS, false, 0.3, &t);
	assert_true(near(t.unloaded_ns, MS));
	s.started += 30;	/* arrived, not answered */
	for (int i = 0; i < 500; i++) {
		tick_busy(&st, &s, &now, 10, 20 * US, 40 * MS, false, 0.3, &t);
		assert_int_equal(t.pending, 30);
	}
	assert_true(near(t.unloaded_ns, MS));
	assert_true(near(t.base_ns, MS));
	assert_true(near(t.rise_ns, 39 * MS));
}

/* Health checks: a cheap one among real requests does not move the p90,
 * and an idle spell with only health checks (a few answers a window) does
 * not move the base at all. */
static void test_health_checks_do_not_fake_the_base(void **state)
{
	(void)state;
	struct gsig_state st;
	struct sl_guard_stats s = { 0 };
	struct gsig_tick t;
	uint64_t now = 0;

	gsig_init(&st);
	gsig_tick(&st, now, &s, 0, false, 0, &t);
	for (int i = 0; i < 100; i++) {
		answer(&s, 0, 50 * US, true);	/* a health check a tick */
		tick_of(&st, &s, &now, 10, 0, 5 * MS, false, &t);
	}
	assert_true(near(t.base_ns, 5 * MS));
	for (int i = 0; i < 1000; i++) {	/* 10 s idle but for the checks */
		answer(&s, 0, 50 * US, true);
		tick_of(&st, &s, &now, 0, 0, 0, false, &t);
	}
	assert_true(near(t.base_ns, 5 * MS));
}

/* No read and nothing waiting is an idle service: no delay at all. */
static void test_idle_is_not_delay(void **state)
{
	(void)state;
	struct gsig_state st;
	struct sl_guard_stats s = { 0 };
	struct gsig_tick t;

	gsig_init(&st);
	gsig_tick(&st, 0, &s, 0, false, 0, &t);
	for (uint64_t now = 10 * MS; now < 5000 * MS; now += 10 * MS) {
		gsig_tick(&st, now, &s, 0, false, 0, &t);
		assert_int_equal(t.delay_ns, 0);
		assert_int_equal(t.stuck_ns, 0);
	}
}

/* Requests waiting and none answered: the oldest waited at least since
 * the later of the last answer and the last tick that saw nothing
 * waiting. */
static void test_stuck_service(void **state)
{
	(void)state;
	struct gsig_state st;
	struct sl_guard_stats s = { 0 };
	struct gsig_tick t;
	uint64_t now = 0;

	gsig_init(&st);
	gsig_tick(&st, now, &s, 0, false, 0, &t);
	tick_of(&st, &s, &now, 10, 0, MS, false, &t);	/* it answers */
	/* a long idle spell, then requests that are never answered */
	for (int i = 0; i < 300; i++)
		tick_of(&st, &s, &now, 0, 0, 0, false, &t);
	s.started += 5;
	gsig_tick(&st, now, &s, 0, false, 0, &t);
	assert_int_equal(t.pending, 5);
	assert_int_equal(t.stuck_ns, 0);	/* no time has passed */
	now += 10 * MS;
	gsig_tick(&st, now, &s, 0, false, 0, &t);
	assert_int_equal(t.stuck_ns, 10 * MS);	/* not the idle 3 s */
	now += 190 * MS;
	gsig_tick(&st, now, &s, 0, false, 0, &t);
	assert_int_equal(t.stuck_ns, 200 * MS);

	/* answers resume: they carry the signal */
	for (int i = 0; i < 5; i++) {
		s.started--;	/* the same 5 requests */
		answer(&s, 150 * MS, 210 * MS, false);
	}
	now += 10 * MS;
	gsig_tick(&st, now, &s, 0, false, 0, &t);
	assert_int_equal(t.stuck_ns, 0);
	assert_int_equal(t.pending, 0);
	assert_true(near(t.wait_ns, 150 * MS));
	assert_true(near(t.rise_ns, 209 * MS));
	assert_true(near(t.delay_ns, 209 * MS));
}

/* A service that takes requests and never answers (a sink) is not stuck:
 * it has no request-response signal at all. */
static void test_sink_is_not_stuck(void **state)
{
	(void)state;
	struct gsig_state st;
	struct sl_guard_stats s = { 0 };
	struct gsig_tick t;
	uint64_t now = 0;

	gsig_init(&st);
	gsig_tick(&st, now, &s, 0, false, 0, &t);
	for (int i = 0; i < 100; i++) {
		s.started += 3;
		s.conns += 3;
		now += 10 * MS;
		gsig_tick(&st, now, &s, 0, false, 0, &t);
		assert_int_equal(t.stuck_ns, 0);
		assert_int_equal(t.delay_ns, 0);
	}
	assert_int_equal(t.pending, 300);
}

/* Connections in the accept queue are waiting work too, and ones closed
 * unanswered stop counting as waiting. */
static void test_backlog_and_abandoned(void **state)
{
	(void)state;
	struct gsig_state st;
	struct sl_guard_stats s = { 0 };
	struct gsig_tick t;

	gsig_init(&st);
	gsig_tick(&st, 0, &s, 0, false, 0, &t);
	gsig_tick(&st, 10 * MS, &s, 3, false, 0, &t);
	assert_int_equal(t.stuck_ns, 10 * MS);
	s.conns += 2;
	s.started += 2;
	s.abandoned += 2;
	gsig_tick(&st, 20 * MS, &s, 0, false, 0, &t);
	assert_int_equal(t.pending, 0);
	assert_int_equal(t.abandoned, 2);
	assert_int_equal(t.stuck_ns, 0);
	/* open connections: established minus those that left */
	s.closed = 1;
	gsig_tick(&st, 30 * MS, &s, 0, false, 0, &t);
	assert_int_equal(t.open, 1);
}

/* Keep-alive sampling: measured one in 2^shift, the shift rising while a
 * window holds more sojourns than a p90 needs (at once as far as the last
 * tick says), falling when it holds too few, within SL_GUARD_SHIFT_MAX. */
static void test_sampling_shift(void **state)
{
	(void)state;
	struct gsig_state st;
	struct sl_guard_stats s = { 0 };
	struct gsig_tick t;
	uint64_t now = 0;
	uint32_t shift = 0;

	gsig_init(&st);
	gsig_tick(&st, now, &s, 0, false, 0, &t);
	assert_int_equal(t.shift, 0);
	/* 100k requests/s measured one in 2^shift: ~1000 a tick at shift 0;
	 * the first loaded tick sets the shift a window of such ticks needs
	 * (1000 x 4 / 2^4 = 250), the next ones hold it */
	tick_of(&st, &s, &now, 1000, 0, MS, false, &t);
	assert_int_equal(t.shift, 4);
	for (int i = 0; i < 100; i++) {
		shift = t.shift;
		tick_of(&st, &s, &now, (int)(1000 >> shift), 0, MS, false, &t);
		assert_true(t.shift >= 4);
	}
	shift = t.shift;
	/* settled where a window of 4 ticks holds 64..256 sojourns */
	assert_true(shift >= 4 && shift <= 6);
	/* the service idles: back to measuring every request */
	for (int i = 0; i < 100; i++)
		tick_of(&st, &s, &now, 1, 0, MS, false, &t);
	assert_int_equal(t.shift, 0);
	/* never beyond the maximum */
	for (int i = 0; i < 100; i++)
		tick_of(&st, &s, &now, 5000, 0, MS, false, &t);
	assert_int_equal(t.shift, SL_GUARD_SHIFT_MAX);
}

/* A one-thread service on 2 CPUs: half the CPUs while saturated is busy 1
 * once an overload taught it; before, it reads half (the CPU count). */
static void test_busy_learns_saturation(void **state)
{
	(void)state;
	struct gsig_busy b;
	uint64_t now = 0, cpu = 0;
	double busy;

	gsig_busy_init(&b, 2, cpu, now);
	now += 10 * MS, cpu += 10 * MS;	/* one CPU for the whole tick */
	busy = gsig_busy(&b, cpu, now, false);
	assert_true(busy > 0.49 && busy < 0.51);
	for (int i = 0; i < 200; i++) {	/* two seconds overloaded */
		now += 10 * MS, cpu += 10 * MS;
		busy = gsig_busy(&b, cpu, now, true);
	}
	assert_true(b.sat > 0.99 && b.sat < 1.01);
	assert_true(busy > 0.99);
	now += 10 * MS, cpu += 3 * MS;	/* then 30% of its CPU */
	busy = gsig_busy(&b, cpu, now, false);
	assert_true(busy > 0.29 && busy < 0.31);
	/* a clock that did not move, or went back: unknown */
	assert_true(gsig_busy(&b, cpu, now, false) == 0);
	assert_true(gsig_busy(&b, cpu - 1, now + MS, false) == 0);
}

/* The listener lookup on a real loopback listener of our own. */
static void test_listener_find(void **state)
{
	(void)state;
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	struct sld_listener l;
	struct sld_sockdiag sd;
	int lfd = socket(AF_INET, SOCK_STREAM, 0), c[3];
	uint16_t port;

	sld_sockdiag_init(&sd);

	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 7), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	for (int i = 0; i < 3; i++) {
		c[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_int_equal(connect(c[i], (struct sockaddr *)&a, sizeof(a)), 0);
	}
	/* the handshakes complete in the kernel: poll for the queue */
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(sld_listener_find(&sd, port, &l), 0);
		if (l.queued == 3)
			break;
		usleep(1000);
	}
	assert_int_equal(l.sockets, 1);
	assert_int_equal(l.queued, 3);
	assert_int_equal(l.limit, 7);
	for (int i = 0; i < 3; i++)
		close(c[i]);
	close(lfd);
	assert_int_equal(sld_listener_find(&sd, port, &l), -ENOENT);
	/* one socket for every dump, kept open between them */
	assert_true(sd.fd >= 0);
	sld_sockdiag_close(&sd);
	assert_int_equal(sd.fd, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_bounds),
		cmocka_unit_test(test_quantile),
		cmocka_unit_test(test_quantile_interpolates),
		cmocka_unit_test(test_out_of_range_answer),
		cmocka_unit_test(test_tick_differences),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_base_rise_and_no_creep),
		cmocka_unit_test(test_stale_base_does_not_follow_the_queue),
		cmocka_unit_test(test_base_follows_when_keeping_up),
		cmocka_unit_test(test_base_bounded_by_low_load),
		cmocka_unit_test(test_unknown_busy_learns_no_bound),
		cmocka_unit_test(test_starved_service_is_not_low_load),
		cmocka_unit_test(test_health_checks_do_not_fake_the_base),
		cmocka_unit_test(test_idle_is_not_delay),
		cmocka_unit_test(test_stuck_service),
		cmocka_unit_test(test_sink_is_not_stuck),
		cmocka_unit_test(test_backlog_and_abandoned),
		cmocka_unit_test(test_sampling_shift),
		cmocka_unit_test(test_busy_learns_saturation),
		cmocka_unit_test(test_listener_find),
	};

	return cmocka_run_group_tests_name("guardsig", tests, NULL, NULL);
}
