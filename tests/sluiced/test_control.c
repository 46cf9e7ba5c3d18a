// SPDX-License-Identifier: MIT
/*
 * Unit tests of the admission controller on synthetic traces. A small
 * simulated server sits in the loop: offered new connections per second,
 * split into priority classes; the kernel sheds classes below the level
 * and caps the rest at the controller's rate; admitted requests join a
 * FIFO queue served at capacity C per second (fluid, 1 ms steps). From it
 * the test derives what the daemon will measure: the minimum queue delay
 * over the tick, the oldest task's age, goodput, admitted and shed rates.
 * Scenarios: step up, step down, noisy load, capacity drop, demand below
 * capacity (no wind-up), steady overload (oscillation), bounds, levels.
 * SLUICE_SIM_TRACE=1 prints every tick.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sluice/abi.h>

#include "control.h"

#define NCLASS (SL_MAX_CLASS + 1)	/* classes 0..7 */

#define TICK_NS 10000000ull
#define SUBSTEPS 10
#define MS 1000000.0

struct sim {
	struct ctl ctl;
	struct ctl_output out;
	double cap;		/* service capacity, requests/s */
	double offered;		/* new connections/s, one request each */
	double share[NCLASS];	/* offered share per class */
	double noise;		/* +- fraction on capacity and arrivals */
	double psi;		/* CPU pressure fed to the controller */
	double queue;		/* requests waiting */
	uint64_t now;
	uint32_t seed;
	int tick;
	/* last tick's observations */
	double goodput, admitted, delay_ms, served_share[NCLASS];
};

/* Deterministic noise in [-1, 1]. */
static double uniform(struct sim *s)
{
	s->seed = s->seed * 1103515245u + 12345u;
	return ((s->seed >> 8) & 0xffff) / 32767.5 - 1.0;
}

static void sim_init(struct sim *s, double cap, double offered)
{
	struct ctl_params p;

	memset(s, 0, sizeof(*s));
	ctl_params_default(&p);
	ctl_init(&s->ctl, &p);
	s->cap = cap;
	s->offered = offered;
	s->share[4] = 1.0;	/* everyone unclassified: class 4 */
	s->seed = 42;
	s->now = 1000 * TICK_NS;
	s->out.rate_cap = (uint32_t)p.rate_max;
}

/* One controller tick: run the server for a tick at the rate and level in
 * force, then hand the measurements to the controller. */
static void sim_tick(struct sim *s)
{
	double dt = 1.0 / 1000;	/* 1 ms substeps */
	double above = 0, served = 0, adm_total = 0, shed_rate = 0, shed_level = 0;
	double dmin = INFINITY;
	bool started = false;

	for (int c = 0; c < NCLASS; c++)
		if (c >= s->out.level)
			above += s->share[c];
	for (int i = 0; i < SUBSTEPS; i++) {
		double off = s->offered * (1 + s->noise * uniform(s));
		double up = off * above;
		double adm = up < s->out.rate_cap ? up : s->out.rate_cap;
		double cap = s->cap * (1 + s->noise * uniform(s));
		double srv;

		shed_level += (off - up) * dt;
		shed_rate += (up - adm) * dt;
		adm_total += adm * dt;
		s->queue += adm * dt;
		srv = s->queue < cap * dt ? s->queue : cap * dt;
		s->queue -= srv;
		served += srv;
		if (srv > 0) {
			/* FIFO: the last request started waited the queue
			 * that was ahead of it, about queue / capacity. */
			double d = s->cap > 0 ? s->queue / s->cap : 0;

			started = true;
			if (d < dmin)
				dmin = d;
		}
	}
	s->now += TICK_NS;
	s->tick++;
	s->goodput = served / (SUBSTEPS * dt);
	s->admitted = adm_total / (SUBSTEPS * dt);
	s->delay_ms = s->cap > 0 ? s->queue / s->cap * 1000 : 0;
	for (int c = 0; c < NCLASS; c++)
		s->served_share[c] = c >= s->out.level && above > 0 ?
					     s->share[c] / above : 0;

	struct ctl_signals sig = {
		.now_ns = s->now,
		.delay_min_ns = started ? (uint64_t)(dmin * 1e9) : 0,
		.oldest_age_ns = s->cap > 0 ? (uint64_t)(s->queue / s->cap * 1e9) :
			       (s->queue > 0 ? (uint64_t)s->tick * TICK_NS : 0),
		.goodput = s->goodput,
		.admitted = s->admitted,
		.shed_rate = shed_rate / (SUBSTEPS * dt),
		.shed_level = shed_level / (SUBSTEPS * dt),
		.psi_valid = s->psi > 0,
		.psi_some_avg10 = s->psi,
	};
	ctl_tick(&s->ctl, &sig, &s->out);
	if (getenv("SLUICE_SIM_TRACE"))
		printf("t=%4d cap=%6.0f off=%7.0f rate=%7u lvl=%u good=%7.0f "
		       "delay=%6.2fms q=%7.1f\n",
		       s->tick, s->cap, s->offered, s->out.rate_cap,
		       s->out.level, s->goodput, s->delay_ms, s->queue);
}

/* Statistics over a run of ticks. */
struct window {
	int n;
	double good, rate_min, rate_max, rate_sum, delay_max;
	double delays[4096];
};

static void window_run(struct sim *s, int ticks, struct window *w)
{
	memset(w, 0, sizeof(*w));
	w->rate_min = INFINITY;
	for (int i = 0; i < ticks; i++) {
		sim_tick(s);
		double r = s->out.rate_cap;

		w->good += s->goodput;
		w->rate_sum += r;
		if (r < w->rate_min)
			w->rate_min = r;
		if (r > w->rate_max)
			w->rate_max = r;
		if (s->delay_ms > w->delay_max)
			w->delay_max = s->delay_ms;
		if (w->n < 4096)
			w->delays[w->n] = s->delay_ms;
		w->n++;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The q quantile of the window's delays (sorts them). */
static double window_delay_quantile(struct window *w, double q)
{
	int n = w->n < 4096 ? w->n : 4096;

	qsort(w->delays, n, sizeof(double), cmp_double);
	return w->delays[(int)(q * (n - 1))];
}

static double window_p99_delay(struct window *w)
{
	return window_delay_quantile(w, 0.99);
}

static double window_goodput(const struct window *w)
{
	return w->good / w->n;
}

/* Ticks until the delay is back under 2x target and stays there for the
 * rest of the `ticks` window; -1 if never. */
static int ticks_to_settle(struct sim *s, int ticks, double bound_ms,
			   double *peak_ms)
{
	int settled = -1;

	*peak_ms = 0;
	for (int i = 0; i < ticks; i++) {
		sim_tick(s);
		if (s->delay_ms > *peak_ms)
			*peak_ms = s->delay_ms;
		if (s->delay_ms > bound_ms)
			settled = -1;
		else if (settled < 0)
			settled = i;
	}
	return settled;
}

#define TARGET_MS 5.0
/*
 * "Within bound": the daemon's bar is p99 latency <= 2 x unloaded p99 +
 * target, so queueing delay may exceed the target by the unloaded p99
 * (2.3 ms for the 1 ms-CPU reference service in REFERENCES.md). The law
 * holds the queue at the target, so we allow it half the target above.
 */
#define BOUND_MS (1.5 * TARGET_MS)

static void test_steady_overload_10x(void **state)
{
	(void)state;
	struct sim s;
	struct window w;

	sim_init(&s, 1000, 10000);
	window_run(&s, 100, &w);	/* converge from a cold start */
	window_run(&s, 1000, &w);
	print_message("10x steady: goodput %.0f/s of 1000, rate %.0f..%.0f, "
		      "p99 delay %.2f ms, max %.2f ms\n", window_goodput(&w),
		      w.rate_min, w.rate_max, window_p99_delay(&w), w.delay_max);
	assert_true(window_goodput(&w) >= 900);
	assert_true(window_p99_delay(&w) <= BOUND_MS);
	/* bounded oscillation: the rate stays within 10% of capacity */
	assert_true(w.rate_min >= 900 && w.rate_max <= 1100);
}

/* The law has no constant in connections per second: the same holds for
 * a 50/s service and a 200k/s one. */
static void test_scale_invariance(void **state)
{
	(void)state;
	const double caps[] = { 50, 1000, 200000 };

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		struct sim s;
		struct window w;
		double c = caps[i];

		sim_init(&s, c, 10 * c);
		window_run(&s, 200, &w);
		window_run(&s, 1000, &w);
		print_message("cap %.0f at 10x: goodput %.1f%%, rate %.0f..%.0f, "
			      "p99 delay %.2f ms\n", c,
			      100 * window_goodput(&w) / c, w.rate_min,
			      w.rate_max, window_p99_delay(&w));
		assert_true(window_goodput(&w) >= 0.9 * c);
		assert_true(window_p99_delay(&w) <= BOUND_MS);
	}
}

static void test_step_up_half_to_10x(void **state)
{
	(void)state;
	struct sim s;
	struct window w;
	double peak;

	sim_init(&s, 1000, 500);
	window_run(&s, 300, &w);
	assert_true(w.delay_max < 1);	/* under capacity: no queue */
	s.offered = 10000;
	int full = -1;

	for (int i = 0; i < 50 && full < 0; i++) {
		sim_tick(&s);
		if (s.goodput >= 900)
			full = i + 1;
	}
	int settle = ticks_to_settle(&s, 300, BOUND_MS, &peak);

	print_message("0.5x -> 10x: goodput >= 90%% after %d ticks; delay "
		      "within bound after %d more, peak %.2f ms\n", full,
		      settle, peak);
	assert_true(full > 0 && full <= 20);	/* 200 ms */
	assert_true(settle == 0);
	assert_true(peak <= BOUND_MS);
	window_run(&s, 500, &w);
	assert_true(window_goodput(&w) >= 900);
	assert_true(window_p99_delay(&w) <= BOUND_MS);
}

/* The same from a cold start straight into 10x, and 1x -> 10x. */
static void test_cold_start_and_1x_to_10x(void **state)
{
	(void)state;
	struct sim s;
	double peak;

	/* Cold, nothing is known: the first tick admits up to rate_max, so
	 * the queue starts 9 ticks deep and drains at half capacity. */
	sim_init(&s, 1000, 10000);
	int settle = ticks_to_settle(&s, 300, BOUND_MS, &peak);

	print_message("cold 10x: settled after %d ticks, peak %.2f ms\n",
		      settle, peak);
	assert_true(settle >= 0 && settle <= 30);

	sim_init(&s, 1000, 1000);
	struct window w;

	window_run(&s, 300, &w);
	s.offered = 10000;
	settle = ticks_to_settle(&s, 300, BOUND_MS, &peak);
	print_message("1x -> 10x: settled after %d ticks, peak %.2f ms\n",
		      settle, peak);
	assert_true(settle >= 0 && settle <= 20);
}

static void test_step_down_10x_to_third(void **state)
{
	(void)state;
	struct sim s;
	struct window w;

	sim_init(&s, 1000, 10000);
	window_run(&s, 300, &w);
	s.offered = 300;
	window_run(&s, 50, &w);
	/* everything offered is served, and the rate comes down to within
	 * the headroom of the demand instead of staying at capacity */
	window_run(&s, 200, &w);
	print_message("10x -> 0.3x: goodput %.0f, rate %.0f..%.0f\n",
		      window_goodput(&w), w.rate_min, w.rate_max);
	assert_true(fabs(window_goodput(&w) - 300) < 3);
	assert_true(w.rate_max <= 1.5 * 300 + 1);
	assert_true(w.delay_max < 1);
}

static void test_no_windup_below_capacity(void **state)
{
	(void)state;
	struct sim s;
	struct window w;

	sim_init(&s, 1000, 400);
	window_run(&s, 2000, &w);	/* 20 s of demand at 40% */
	print_message("0.4x for 20 s: rate %.0f..%.0f (demand 400)\n",
		      w.rate_min, w.rate_max);
	/* after the first tick the rate never strays from the demand */
	window_run(&s, 1000, &w);
	assert_true(w.rate_max <= 1.5 * 400 + 1);
	assert_true(w.rate_min >= 400);	/* and never sheds it */
	assert_true(fabs(window_goodput(&w) - 400) < 1);
}

static void test_noisy_overload(void **state)
{
	(void)state;
	struct sim s;
	struct window w;

	sim_init(&s, 1000, 10000);
	s.noise = 0.3;	/* +-30% per ms on capacity and on arrivals */
	window_run(&s, 200, &w);
	window_run(&s, 2000, &w);
	print_message("noisy 10x: goodput %.0f, rate %.0f..%.0f (mean %.0f), "
		      "p99 delay %.2f ms\n", window_goodput(&w), w.rate_min,
		      w.rate_max, w.rate_sum / w.n, window_p99_delay(&w));
	assert_true(window_goodput(&w) >= 900);
	assert_true(window_p99_delay(&w) <= 2 * TARGET_MS);
	assert_true(w.rate_min >= 500 && w.rate_max <= 1500);
}

static void test_capacity_drop(void **state)
{
	(void)state;
	struct sim s;
	struct window w;
	double peak;

	sim_init(&s, 1000, 10000);
	window_run(&s, 300, &w);
	s.cap = 300;	/* e.g. a noisy neighbour takes 70% of the CPU */
	int settle = ticks_to_settle(&s, 300, BOUND_MS, &peak);

	print_message("capacity 1000 -> 300: settled after %d ticks, peak "
		      "%.2f ms\n", settle, peak);
	assert_true(settle >= 0 && settle <= 20);
	window_run(&s, 500, &w);
	assert_true(window_goodput(&w) >= 0.9 * 300);
	assert_true(w.rate_min >= 0.85 * 300 && w.rate_max <= 1.15 * 300);

	/* and back up: capacity returns, the rate follows */
	s.cap = 1000;
	window_run(&s, 100, &w);
	window_run(&s, 300, &w);
	assert_true(window_goodput(&w) >= 900);
}

/*
 * The recovery floor at half the 1000/s just seen (the daemon's), and
 * the capacity drops to 300: the rate follows it as without a floor
 * (test_capacity_drop), not held at 500 with the queue past the target.
 * The floor still does its own job: after a quiet spell the rate waits
 * at it, not at headroom x nothing, and a returning flood gets it at once.
 */
static void test_floor_follows_capacity_drop(void **state)
{
	(void)state;
	struct sim s;
	struct window w;
	double peak;

	sim_init(&s, 1000, 10000);
	window_run(&s, 300, &w);
	s.ctl.p.rate_floor = 500;
	s.cap = 300;
	int settle = ticks_to_settle(&s, 300, BOUND_MS, &peak);

	print_message("floor 500, capacity 1000 -> 300: settled after %d ticks, peak %.2f ms\n",
		      settle, peak);
	assert_true(settle >= 0 && settle <= 20);
	window_run(&s, 500, &w);
	assert_true(window_goodput(&w) >= 0.9 * 300);
	assert_true(w.rate_min >= 0.85 * 300 && w.rate_max <= 1.15 * 300);
	assert_true(window_p99_delay(&w) <= BOUND_MS);

	s.cap = 1000;
	window_run(&s, 200, &w);
	s.offered = 0;
	window_run(&s, 300, &w);	/* 3 s quiet */
	assert_int_equal(s.out.rate_cap, 500);
	s.offered = 10000;
	window_run(&s, 1, &w);
	assert_true(s.admitted >= 499);
}

static void test_bounds(void **state)
{
	(void)state;
	struct sim s;
	struct window w;

	/* A stuck service (nothing completes): the rate falls to the floor
	 * and stays there, never to 0 (which would mean "no cap"). */
	sim_init(&s, 1000, 10000);
	window_run(&s, 100, &w);
	s.cap = 0;
	window_run(&s, 100, &w);
	assert_int_equal(s.out.rate_cap, 10);
	assert_true(w.rate_min >= 10);

	/* A huge service with huge demand: never above rate_max. */
	sim_init(&s, 1e8, 5e7);
	window_run(&s, 500, &w);
	assert_true(w.rate_max <= 1000000);
	assert_int_equal(s.out.rate_cap, 1000000);

	/* No demand ever: nothing is known, so no cap (rate_max), not the
	 * floor, and never 0. */
	sim_init(&s, 1000, 0);
	window_run(&s, 10, &w);
	assert_int_equal(s.out.rate_cap, 1000000);
}

/* A cold controller (started, idle) meets a normal load: all of it is
 * admitted from the first tick, none refused at a floor. */
static void test_cold_start_serves_normal_load(void **state)
{
	(void)state;
	struct sim s;
	struct window w;

	sim_init(&s, 1000, 0);
	window_run(&s, 100, &w);	/* 1 s idle after start */
	assert_int_equal(s.out.rate_cap, 1000000);
	s.offered = 900;
	window_run(&s, 1, &w);
	print_message("cold, idle, then 0.9x: first tick admitted %.0f/s of 900, rate -> %u\n",
		      s.admitted, s.out.rate_cap);
	assert_true(s.admitted >= 899);
	window_run(&s, 300, &w);	/* 3 s */
	print_message("cold, idle, then 0.9x: 3 s goodput %.0f/s, rate %.0f..%.0f\n",
		      window_goodput(&w), w.rate_min, w.rate_max);
	assert_true(window_goodput(&w) >= 0.99 * 900);
	assert_true(w.rate_min >= 900);
	/* and the no-wind-up bound holds from the second tick with demand */
	assert_true(w.rate_max <= 1.5 * 900 + 1);
}

/* A burst of connects that a tick boundary cuts (a pool opening 64 at
 * once): the cold start's cap waits for the second tick in a row with
 * arrivals, so it is not 1.5x the part the first one saw; an overloaded
 * tick ends the cold start at once. */
static void test_cold_start_burst(void **state)
{
	(void)state;
	struct ctl c;
	struct ctl_params p;
	struct ctl_output o;
	struct ctl_signals s = { 0 };
	uint64_t t = 0;

	ctl_params_default(&p);
	ctl_init(&c, &p);
	s.now_ns = t += TICK_NS;
	s.admitted = 2000;	/* 20 of the burst in the tick */
	ctl_tick(&c, &s, &o);
	assert_int_equal(o.rate_cap, (uint32_t)p.rate_max);
	s.now_ns = t += TICK_NS;
	s.admitted = 0;		/* a tick without: the start again */
	ctl_tick(&c, &s, &o);
	s.now_ns = t += TICK_NS;
	s.admitted = 2000;
	ctl_tick(&c, &s, &o);
	assert_int_equal(o.rate_cap, (uint32_t)p.rate_max);
	s.now_ns = t += TICK_NS;
	s.admitted = 4400;	/* the other 44, all admitted */
	ctl_tick(&c, &s, &o);
	assert_true(fabs(o.rate_cap - 1.5 * 4400) <= 1);

	ctl_init(&c, &p);
	s.now_ns = t += TICK_NS;
	s.admitted = 10000;
	s.goodput = 1000;
	s.delay_min_ns = 2 * p.target_delay_ns;
	ctl_tick(&c, &s, &o);
	assert_true(o.overloaded);
	assert_true(o.rate_cap <= 1000);
}

static void test_psi_holds_increase(void **state)
{
	(void)state;
	struct sim s;
	struct window w;

	sim_init(&s, 1000, 300);
	window_run(&s, 100, &w);
	uint32_t before = s.out.rate_cap;

	s.psi = 95;
	s.offered = 10000;	/* demand jumps while the CPU is contended */
	window_run(&s, 100, &w);
	assert_true(w.rate_max <= before);
	s.psi = 10;
	window_run(&s, 100, &w);
	assert_true(s.out.rate_cap > before);
}

/* Guard mode's law takes no hold from the pressure (control.c): the same
 * jump in demand at 95% grows the rate. */
static void test_guard_takes_no_psi_hold(void **state)
{
	(void)state;
	struct sim s;
	struct window w;
	const char *why;

	sim_init(&s, 1000, 300);
	ctl_params_guard(&s.ctl.p);
	assert_int_equal(ctl_params_validate(&s.ctl.p, &why), 0);
	window_run(&s, 100, &w);
	uint32_t before = s.out.rate_cap;

	s.psi = 95;
	s.offered = 10000;
	window_run(&s, 100, &w);
	assert_true(w.rate_max > before);
	assert_true(window_goodput(&w) > 900);
}

static void test_backlog_counts_as_delay(void **state)
{
	(void)state;
	struct ctl c;
	struct ctl_params p;
	struct ctl_output out;
	struct ctl_signals sig = { .now_ns = TICK_NS, .goodput = 1000,
				   .admitted = 1000 };

	ctl_params_default(&p);
	ctl_init(&c, &p);
	ctl_tick(&c, &sig, &out);
	assert_false(out.overloaded);
	/* 20 connections waiting for accept at 1000/s is 20 ms of delay */
	sig.now_ns += TICK_NS;
	sig.backlog = 20;
	ctl_tick(&c, &sig, &out);
	assert_true(out.overloaded);
	assert_int_equal(out.delay_ns, 20000000);
	assert_true(out.rate_cap < 1000);

	/* the oldest task's age counts at half weight: 4 ms is 2 ms, under
	 * the law's aim (half the 5 ms target) */
	sig.now_ns += TICK_NS;
	sig.backlog = 0;
	sig.oldest_age_ns = 4000000;
	ctl_tick(&c, &sig, &out);
	assert_int_equal(out.delay_ns, 2000000);
	assert_false(out.overloaded);
}

/*
 * The rate law holds the queue at aim x target, below the target where
 * the daemon's deadline drop answers 503 (control.c): at 2x, the delay
 * sits near half the target, its p99 under the target, with the service
 * kept busy (the queue never empties). With the aim at the target the
 * same load sits at the target, where half of what is admitted would
 * pass the deadline.
 */
static void test_aims_below_target(void **state)
{
	(void)state;
	struct sim s;
	struct window w;
	double med, p99;

	sim_init(&s, 1000, 2000);
	s.noise = 0.1;
	window_run(&s, 200, &w);
	window_run(&s, 1000, &w);
	p99 = window_p99_delay(&w);
	med = window_delay_quantile(&w, 0.5);
	print_message("2x, aim %.2f: goodput %.0f/s of 1000, delay median %.2f ms, "
		      "p99 %.2f ms\n", s.ctl.p.aim, window_goodput(&w), med, p99);
	assert_true(window_goodput(&w) >= 950);
	assert_true(med >= 0.25 * TARGET_MS && med <= 0.75 * TARGET_MS);
	assert_true(p99 <= TARGET_MS);

	sim_init(&s, 1000, 2000);
	s.noise = 0.1;
	s.ctl.p.aim = 1;
	window_run(&s, 200, &w);
	window_run(&s, 1000, &w);
	med = window_delay_quantile(&w, 0.5);
	print_message("2x, aim 1: delay median %.2f ms\n", med);
	assert_true(med > 0.75 * TARGET_MS);
}

/* Classes: 50% class 2, 30% class 4 (default), 20% class 6, at 10x. The
 * level must rise until classes 2 and 4 are shed and class 6 alone
 * (2000/s) is capped at capacity; it must not sit at 7 (shedding class 6
 * too, which would leave nothing). */
static void test_level_sheds_low_classes_first(void **state)
{
	(void)state;
	struct sim s;
	struct window w;
	int at7 = 0;

	sim_init(&s, 1000, 10000);
	s.share[4] = 0.3;
	s.share[2] = 0.5;
	s.share[6] = 0.2;
	window_run(&s, 300, &w);	/* 3 s */
	print_message("classes: level %u after 3 s\n", s.out.level);
	assert_true(s.out.level >= 5 && s.out.level <= 6);
	double good = 0, high = 0;

	for (int i = 0; i < 2000; i++) {	/* 20 s */
		sim_tick(&s);
		good += s.goodput;
		high += s.goodput * s.served_share[6];
		at7 += s.out.level >= 7;
	}
	print_message("classes: over 20 s, %d ticks at level 7, goodput %.0f, "
		      "class 6 share of it %.2f\n", at7, good / 2000,
		      high / good);
	assert_true(at7 < 2000 / 20);	/* under 5% of the time */
	assert_true(good / 2000 >= 900);
	assert_true(high / good >= 0.95);
}

/* 90% default class, 10% class 6 at exactly capacity: shed class 4 and
 * hold there without flapping. */
static void test_level_holds_steady(void **state)
{
	(void)state;
	struct sim s;
	struct window w;
	int moves = 0;
	uint8_t last;

	sim_init(&s, 1000, 10000);
	s.share[4] = 0.9;
	s.share[6] = 0.1;
	window_run(&s, 300, &w);
	last = s.out.level;
	assert_int_equal(last, 5);
	for (int i = 0; i < 2000; i++) {
		sim_tick(&s);
		moves += s.out.level != last;
		last = s.out.level;
	}
	print_message("steady classes: %d level moves in 20 s\n", moves);
	assert_true(moves <= 8);	/* at most a probe per block period */
	assert_true(last >= 5);
}

static void test_level_returns_to_zero(void **state)
{
	(void)state;
	struct sim s;
	struct window w;

	sim_init(&s, 1000, 10000);
	s.share[4] = 0.5;
	s.share[2] = 0.5;
	window_run(&s, 300, &w);
	assert_true(s.out.level >= 3);
	s.offered = 300;
	window_run(&s, 300, &w);	/* 3 s: a step down per 0.5 s */
	assert_int_equal(s.out.level, 0);
	window_run(&s, 100, &w);
	assert_true(fabs(window_goodput(&w) - 300) < 30);
}

static void test_level_never_above_max(void **state)
{
	(void)state;
	struct sim s;
	struct window w;
	struct ctl_params p;

	sim_init(&s, 1000, 100000);
	ctl_params_default(&p);
	p.level_max = 5;
	ctl_init(&s.ctl, &p);
	s.share[4] = 0.5;
	s.share[7] = 0.5;	/* 50000/s of class 7: level can't help */
	for (int i = 0; i < 1000; i++) {
		sim_tick(&s);
		assert_true(s.out.level <= 5);
	}
	window_run(&s, 100, &w);
	assert_true(window_goodput(&w) >= 900);
}

static void test_params_validate(void **state)
{
	(void)state;
	struct ctl_params p;
	const char *why;

	ctl_params_default(&p);
	assert_int_equal(ctl_params_validate(&p, &why), 0);
	assert_null(why);
	p.rate_min = 0;
	assert_int_equal(ctl_params_validate(&p, &why), -EINVAL);
	assert_non_null(why);
	ctl_params_default(&p);
	p.rate_max = 5;
	assert_int_equal(ctl_params_validate(&p, &why), -EINVAL);
	ctl_params_default(&p);
	p.fill_lo = 2;
	assert_int_equal(ctl_params_validate(&p, &why), -EINVAL);
	ctl_params_default(&p);
	p.drain_ns = p.tick_ns - 1;
	assert_int_equal(ctl_params_validate(&p, &why), -EINVAL);
	ctl_params_default(&p);
	p.level_max = SL_MAX_CLASS + 2;
	assert_int_equal(ctl_params_validate(&p, &why), -EINVAL);
	ctl_params_default(&p);
	p.target_delay_ns = 0;
	assert_int_equal(ctl_params_validate(&p, &why), -EINVAL);
	ctl_params_default(&p);
	p.aim = 0;
	assert_int_equal(ctl_params_validate(&p, &why), -EINVAL);
	p.aim = 1.5;
	assert_int_equal(ctl_params_validate(&p, &why), -EINVAL);
}

/* Same inputs, same outputs: no hidden clock or state. */
static void test_deterministic(void **state)
{
	(void)state;
	struct sim a, b;

	sim_init(&a, 1000, 10000);
	sim_init(&b, 1000, 10000);
	a.noise = b.noise = 0.3;
	for (int i = 0; i < 500; i++) {
		sim_tick(&a);
		sim_tick(&b);
		assert_int_equal(a.out.rate_cap, b.out.rate_cap);
		assert_int_equal(a.out.level, b.out.level);
	}
}

/* A tick arriving late (or a clock that did not move) does not make the
 * increase jump, and a repeated timestamp does not divide by zero. */
static void test_irregular_ticks(void **state)
{
	(void)state;
	struct ctl c;
	struct ctl_params p;
	struct ctl_output out;
	struct ctl_signals sig = { .now_ns = TICK_NS, .goodput = 500,
				   .admitted = 1000, .shed_rate = 5000 };

	ctl_params_default(&p);
	ctl_init(&c, &p);
	ctl_tick(&c, &sig, &out);	/* the cold start's first tick with demand */
	sig.now_ns += TICK_NS;
	ctl_tick(&c, &sig, &out);
	uint32_t r0 = out.rate_cap;

	ctl_tick(&c, &sig, &out);	/* same timestamp: no increase */
	assert_int_equal(out.rate_cap, r0);
	sig.now_ns += 1000 * TICK_NS;	/* 10 s late: at most 2 ticks' worth */
	ctl_tick(&c, &sig, &out);
	assert_true(out.rate_cap <= r0 + 2 * 0.05 * r0 + 1);
}

/* A started controller at 200/s, past its cold start, whose last tick was
 * one tick before now. */
static void rate_200_a_tick_ago(struct ctl *c, const struct ctl_params *p, uint64_t now)
{
	ctl_init(c, p);
	c->rate = 200;
	c->started = true;
	c->demand_seen = true;
	c->last_ns = now - TICK_NS;
}

/* Well under target with the pool a quarter busy: the rate jumps to 0.9 x
 * goodput / busy (the workers' capacity) instead of climbing 5% a tick;
 * with busy unknown (0) it climbs; a busy fraction near 0 counts as 0.1. */
static void test_busy_jump(void **state)
{
	(void)state;
	struct ctl_params p;
	struct ctl c;
	struct ctl_output o;
	struct ctl_signals sg = { .now_ns = 1000 * TICK_NS, .goodput = 200,
				  .admitted = 200, .shed_rate = 4800, .busy = 0.25 };

	ctl_params_default(&p);
	rate_200_a_tick_ago(&c, &p, sg.now_ns);
	ctl_tick(&c, &sg, &o);
	assert_true(o.rate_cap >= 700 && o.rate_cap <= 740);

	rate_200_a_tick_ago(&c, &p, sg.now_ns);
	sg.busy = 0;
	ctl_tick(&c, &sg, &o);
	assert_true(o.rate_cap <= 215);

	/* overloaded: no jump, whatever busy says */
	rate_200_a_tick_ago(&c, &p, sg.now_ns);
	sg.busy = 0.25;
	sg.delay_min_ns = p.target_delay_ns;	/* d = T: not under T/2 */
	ctl_tick(&c, &sg, &o);
	assert_true(o.rate_cap <= 215);

	/* a busy fraction of 0.1% (one exchange caught at a tick's edge) is
	 * read as a tenth: 10 x goodput at most, not 1000 x */
	rate_200_a_tick_ago(&c, &p, sg.now_ns);
	sg.delay_min_ns = 0;
	sg.goodput = 34;
	sg.busy = 0.001;
	ctl_tick(&c, &sg, &o);
	assert_true(o.rate_cap >= 300 && o.rate_cap <= 310);
}

/* The goodput cap on the increase: served, it holds the climb one step
 * above goodput at any delay; guarded, only from half the target. */
static void test_goodput_cap_in_guard_mode(void **state)
{
	(void)state;
	struct ctl c, g;
	struct ctl_params p;
	struct ctl_output o;
	const char *why;
	/* 2 ms of delay, goodput 10% under the rate, demand far above it */
	struct ctl_signals s = { .delay_min_ns = 2000000, .goodput = 540, .admitted = 600,
				 .shed_rate = 8000 };

	ctl_params_default(&p);
	ctl_init(&c, &p);
	ctl_params_guard(&p);
	assert_int_equal(ctl_params_validate(&p, &why), 0);
	ctl_init(&g, &p);
	c.rate = g.rate = 600;
	c.demand_seen = g.demand_seen = true;
	for (int i = 1; i <= 5; i++) {
		s.now_ns = (uint64_t)i * TICK_NS;
		ctl_tick(&c, &s, &o);
		ctl_tick(&g, &s, &o);
	}
	assert_true(c.rate < 600.5);	/* held at max(rate, 1.05 x 540) */
	assert_true(g.rate > 650);	/* +3% a tick: 5% x (1 - 2/5) */
	/* near the target the cap acts in guard mode too */
	s.delay_min_ns = 4000000;
	g.rate = 600;
	for (int i = 6; i <= 10; i++) {
		s.now_ns = (uint64_t)i * TICK_NS;
		ctl_tick(&g, &s, &o);
	}
	assert_true(g.rate < 600.5);
	p.ahead_from = 1.5;
	assert_int_equal(ctl_params_validate(&p, &why), -EINVAL);
}

/* Calm: a steady demand far under capacity, the rate a full headroom
 * above it; any sign of load (delay from half the target, a refusal, a
 * backlog, a stuck service, a level, demand past rate / headroom) is not
 * calm, nor a rate still climbing to its headroom. */
static void test_calm(void **state)
{
	(void)state;
	struct ctl c, k;
	struct ctl_params p;
	struct ctl_output o;
	struct ctl_signals s = { .delay_min_ns = 1000000, .goodput = 480, .admitted = 480,
				 .busy = 0.5 };
	uint64_t t = 0;

	ctl_params_default(&p);
	ctl_params_guard(&p);
	ctl_init(&c, &p);
	s.now_ns = t += TICK_NS;
	ctl_tick(&c, &s, &o);
	/* the first tick with demand: no cap yet (the cold start) */
	assert_true(c.rate == p.rate_max);
	s.now_ns = t += TICK_NS;
	ctl_tick(&c, &s, &o);
	/* the second: the cap, 1.5 x 480: a cut, whose refusals only the
	 * next tick sees, so not calm (a fresh guard's first cap) */
	assert_true(fabs(c.rate - 720) < 1);
	assert_false(ctl_calm(&c, &s, &o));
	s.now_ns = t += TICK_NS;
	ctl_tick(&c, &s, &o);
	assert_true(ctl_calm(&c, &s, &o));
	assert_true(fabs(c.rate - 720) < 1);
	k = c;
#define NOT_CALM(field, value)                                  \
	do {                                                    \
		struct ctl_signals x = s;                       \
		c = k;                                          \
		x.field = value;                                \
		x.now_ns = t + TICK_NS;                         \
		ctl_tick(&c, &x, &o);                           \
		assert_false(ctl_calm(&c, &x, &o));             \
	} while (0)
	NOT_CALM(delay_min_ns, p.target_delay_ns / 2 + 1000);
	NOT_CALM(shed_rate, 1);
	NOT_CALM(shed_level, 1);
	NOT_CALM(backlog, 1);
	NOT_CALM(oldest_age_ns, 1);
	/* demand past the rate's headroom: the cap follows it up to 1.5 x the
	 * old demand at once, not the full headroom above the new one */
	NOT_CALM(admitted, 1000);
#undef NOT_CALM
	/* demand and goodput fell: the cap follows them down, a cut */
	{
		struct ctl_signals x = s;

		c = k;
		x.admitted = x.goodput = 300;
		x.now_ns = t + TICK_NS;
		ctl_tick(&c, &x, &o);
		assert_true(c.rate < 720);
		assert_false(ctl_calm(&c, &x, &o));
	}
	/* a level in force */
	c = k;
	c.level = 2;
	s.now_ns = t + TICK_NS;
	ctl_tick(&c, &s, &o);
	assert_false(ctl_calm(&c, &s, &o));
	/* the rate under its headroom (after a cut), climbing: not calm
	 * until it is back there */
	c = k;
	c.rate = 500;
	s.now_ns = t += TICK_NS;
	ctl_tick(&c, &s, &o);
	assert_false(ctl_calm(&c, &s, &o));
	for (int i = 0; i < 100 && !ctl_calm(&c, &s, &o); i++) {
		s.now_ns = t += TICK_NS;
		ctl_tick(&c, &s, &o);
	}
	assert_true(ctl_calm(&c, &s, &o));
	assert_true(fabs(c.rate - 720) < 1);
	/* a keep-alive load: no new connection, the delay between half the
	 * target and the target: calm (nothing the tick sets judges
	 * anything before a connection comes); past the target, not (the
	 * rate at its minimum already: no cut to make it so) */
	{
		struct ctl_signals x = s;

		c = k;
		x.admitted = 0;
		x.delay_min_ns = p.target_delay_ns * 9 / 10;
		x.now_ns = t + TICK_NS;
		ctl_tick(&c, &x, &o);
		assert_false(c.cut);
		assert_true(ctl_calm(&c, &x, &o));
		c = k;
		c.rate = p.rate_min;
		x.goodput = 0;
		x.delay_min_ns = p.target_delay_ns + 1000;
		ctl_tick(&c, &x, &o);
		assert_false(c.cut);
		assert_false(ctl_calm(&c, &x, &o));
	}
}

/* Goodput over the last three ticks with demand or completions: a quiet
 * tick empties the window, so the load that follows is not read at a
 * third of its rate (its first tick's decrease would anchor there). */
static void test_goodput_window(void **state)
{
	(void)state;
	struct ctl_goodput g = { 0 };
	double gp, busy;

	ctl_goodput_tick(&g, 9, TICK_NS, 0.9, true, &gp, &busy);
	assert_true(fabs(gp - 900) < 1e-6);
	ctl_goodput_tick(&g, 12, TICK_NS, 1.0, true, &gp, &busy);
	ctl_goodput_tick(&g, 6, TICK_NS, 0.5, true, &gp, &busy);
	assert_true(fabs(gp - 900) < 1e-6);	/* (9 + 12 + 6) / 30 ms */
	assert_true(fabs(busy - 0.8) < 1e-6);
	ctl_goodput_tick(&g, 3, TICK_NS, 0.3, true, &gp, &busy);
	assert_true(fabs(gp - 700) < 1e-6);	/* the oldest left: (12 + 6 + 3) / 30 ms */
	/* completions without new connections (keep-alive): not quiet */
	ctl_goodput_tick(&g, 6, TICK_NS, 0.6, false, &gp, &busy);
	assert_true(fabs(gp - 500) < 1e-6);
	/* long requests in progress, none done, none new: not quiet */
	ctl_goodput_tick(&g, 0, TICK_NS, 1.0, false, &gp, &busy);
	assert_true(fabs(gp - 300) < 1e-6);	/* (3 + 6 + 0) / 30 ms */
	/* quiet: nothing offered, nothing done, nothing worked on */
	ctl_goodput_tick(&g, 0, TICK_NS, 0.01, false, &gp, &busy);
	assert_true(gp == 0);
	ctl_goodput_tick(&g, 0, TICK_NS, 0, false, &gp, &busy);
	/* the load comes back: read from its own tick, not averaged with the quiet ones */
	ctl_goodput_tick(&g, 8, TICK_NS, 0.9, true, &gp, &busy);
	assert_true(fabs(gp - 800) < 1e-6);
	assert_true(fabs(busy - 0.9) < 1e-6);
	ctl_goodput_tick(&g, 10, 2 * TICK_NS, 1.0, true, &gp, &busy);
	assert_true(fabs(gp - 600) < 1e-6);	/* 18 in 30 ms */
}

/* The recovery floor: half the best goodput of the last 10-20 s. */
static void test_peak_floor(void **state)
{
	(void)state;
	uint64_t t = 1000 * TICK_NS;
	struct ctl_peak pk = { .start_ns = t };	/* a window begins at t */

	assert_true(fabs(ctl_peak_floor(&pk, t, 800) - 400) < 1e-9);
	assert_true(fabs(ctl_peak_floor(&pk, t + TICK_NS, 100) - 400) < 1e-9);
	/* a window on (10 s): the last window's best still holds */
	assert_true(fabs(ctl_peak_floor(&pk, t + 1001 * TICK_NS, 50) - 400) < 1e-9);
	assert_true(fabs(ctl_peak_floor(&pk, t + 1002 * TICK_NS, 600) - 400) < 1e-9);
	/* two windows on: only the newer one's best, 600 */
	assert_true(fabs(ctl_peak_floor(&pk, t + 2003 * TICK_NS, 10) - 300) < 1e-9);
	/* three: nothing but this window's */
	assert_true(fabs(ctl_peak_floor(&pk, t + 3004 * TICK_NS, 10) - 5) < 1e-9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_steady_overload_10x),
		cmocka_unit_test(test_scale_invariance),
		cmocka_unit_test(test_step_up_half_to_10x),
		cmocka_unit_test(test_cold_start_and_1x_to_10x),
		cmocka_unit_test(test_cold_start_burst),
		cmocka_unit_test(test_step_down_10x_to_third),
		cmocka_unit_test(test_no_windup_below_capacity),
		cmocka_unit_test(test_noisy_overload),
		cmocka_unit_test(test_capacity_drop),
		cmocka_unit_test(test_floor_follows_capacity_drop),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_cold_start_serves_normal_load),
		cmocka_unit_test(test_psi_holds_increase),
		cmocka_unit_test(test_guard_takes_no_psi_hold),
		cmocka_unit_test(test_backlog_counts_as_delay),
		cmocka_unit_test(test_aims_below_target),
		cmocka_unit_test(test_level_sheds_low_classes_first),
		cmocka_unit_test(test_level_holds_steady),
		cmocka_unit_test(test_level_returns_to_zero),
		cmocka_unit_test(test_level_never_above_max),
		cmocka_unit_test(test_params_validate),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_irregular_ticks),
		cmocka_unit_test(test_busy_jump),
		cmocka_unit_test(test_goodput_window),
		cmocka_unit_test(test_goodput_cap_in_guard_mode),
		cmocka_unit_test(test_peak_floor),
		cmocka_unit_test(test_calm),
	};

	return cmocka_run_group_tests_name("control", tests, NULL, NULL);
}
