// SPDX-License-Identifier: MIT
/*
 * Guard mode's concurrency limit (conclimit.h states the law).
 */
#include "conclimit.h"

#include <math.h>

#define NS_PER_S 1e9
/* Below this busy fraction goodput / busy is a guess from a trickle:
 * the capacity estimate uses at most goodput / BUSY_MIN (as the rate
 * law's busy jump does, control.c). */
#define BUSY_MIN 0.25
/* The most a tick's decrease takes off: Breakwater's "at most halve". */
#define CUT_MAX 0.5
/*
 * The queue the limit lets stand, as a share of the target: the rate law
 * aims its p99 signal at T, and the limit leaves half of that to what no
 * bound on the queue prevents: a service that stops (its core taken, a
 * collection) keeps the requests it holds for the stop's length on top
 * of their wait. Simulated (test_control_guard, stops every ~900 answers
 * of 4-8 ms), the Node model at 10x: the rate law alone p99 10.7 ms; a
 * limit at the whole target 6.8-7.9 ms (bound 7.9-10.1); at half of it
 * 5.4-6.7 ms, goodput 97-99% either way.
 */
#define QUEUE_AIM 0.5
/*
 * The fewest connections the limit lets a service hold: one answered and
 * one waiting. A limit of 1 refuses every arrival that overlaps another,
 * which a load the service keeps up with does often: by Erlang's loss
 * formula a third of a random load that keeps it half busy (2: 8%, while
 * the rate law, not this one, sheds the rest). It was reached at half the
 * capacity: the JDK service's collector and compiler took its core for
 * half a second (busy 1.00 at 370 answers/s), goodput / busy read the
 * capacity as 370/s, Little's law gave 1.48, and the limit of 1 refused
 * 16 of 1,891 requests in 0.4 s with the delay under the target
 * (bench-guard, 6 Dec 23:14: 0.5x answered 99.2%, the bar 99%).
 */
#define LIMIT_MIN 2

void conc_init(struct conc_law *c)
{
	c->limit = 0;
}

uint32_t conc_tick(struct conc_law *c, const struct conc_signals *s)
{
	double T = (double)s->target_ns, own = (double)s->base_ns;
	double little, ceiling, busy;

	/* No baseline (a service that has not answered enough, or started
	 * afresh): no limit, the rate law alone. */
	if (!s->base_ns) {
		c->limit = 0;
		return 0;
	}
	/* A quiet tick says nothing of the capacity: the limit stays, so
	 * that a burst after an idle spell finds it in force. */
	if (!(s->goodput > 0))
		return (uint32_t)lround(c->limit);
	little = s->goodput * (QUEUE_AIM * T + own) / NS_PER_S;
	busy = s->busy > BUSY_MIN ? s->busy : BUSY_MIN;
	/* Unknown busy (the process not found): goodput is all we know. */
	ceiling = s->busy > 0 ? little / busy : little;
	if (ceiling < little)
		ceiling = little;
	if ((double)s->delay_ns > T) {
		/* Over target: anchored to what the service completes, as the
		 * rate law's decrease is (control.c): the signal lags a tick
		 * or two, and compounding L x (1 - f) each of them would cut
		 * far below what keeps the service busy. */
		double f = s->drain_ns ? ((double)s->delay_ns - T) / (double)s->drain_ns : CUT_MAX;

		c->limit = little * (1 - (f < CUT_MAX ? f : CUT_MAX));
	} else {
		/* At or under target: one more a tick (a ramp from 1 to the
		 * ceiling of a 1000/s, 1 ms service takes 50 ms), never past
		 * what Little's law gives the capacity: no creep under a
		 * steady moderate overload, where goodput is the capacity. */
		c->limit = c->limit > 0 ? c->limit + 1 : ceiling;
		if (c->limit > ceiling)
			c->limit = ceiling;
	}
	if (c->limit < LIMIT_MIN)
		c->limit = LIMIT_MIN;
	return (uint32_t)lround(c->limit);
}
