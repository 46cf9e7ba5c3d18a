/* SPDX-License-Identifier: MIT */
/*
 * Guard mode's concurrency limit: how many connections a guarded service
 * may hold (admitted, not yet answered: sl_held, counted by the guard's
 * programs) before the data plane refuses new ones (abi.h, conc_limit).
 * Pure and deterministic: no clock reads, no I/O. The rate law
 * (control.c) stays the outer bound; this one bounds the queue itself,
 * which a rate cannot: the coarse clock lets a jiffy's worth of
 * connections in at once, and a service that stops for a few ms (Node's
 * event loop taken from its core) is sent a rate x pause of them into
 * the stop. Under a limit of L the wait ahead of any admitted request is
 * at most L - 1 others' service, whatever the clumps and the stops.
 *
 * The law, once a tick, from the signals the rate law has (each term's
 * why beside it; QUEUE_AIM's measurement in conclimit.c):
 *
 *   little = goodput x (T / 2 + base)      Little's law: the requests in a
 *                                          service that completes goodput a
 *                                          second, each in it for its own
 *                                          time (base) plus a queue of T / 2
 *                                          (the other half is for the stops
 *                                          a bound on the queue cannot stop)
 *   d > T:  L' = little x (1 - f), f = min(1/2, (d - T) / drain)
 *                                          the rate law's decrease, anchored
 *                                          to what is completed, not to L
 *   d <= T: L' = min(L + 1, ceiling)       Vegas: one more a tick, up to
 *           ceiling = capacity x (T / 2 + base), capacity = goodput / busy
 *                                          (what the service would complete
 *                                          saturated: at 0.5x the limit is
 *                                          already the saturated one's)
 *   2 <= L' ; written as the nearest integer, 0 (none) until base is known;
 *                                          (LIMIT_MIN, conclimit.c: 1 refuses
 *                                          every arrival that overlaps another)
 *   a tick without completions or demand keeps L (it says nothing of the
 *   capacity: a burst after an idle spell finds the limit in force).
 *
 * base is the guard's baseline (guardsig.h: the sojourn's p99 while the
 * service keeps up, bounded by its p99 at low load): never probed for, so
 * no concurrency is ever pinned to measure it (Envoy's minRTT trap); not
 * learnt while anything is shed, so the queue the limit holds is never
 * taken for the service's own time (the creep of concurrency-limits
 * #134); a tail, so cheap health checks cannot fake a low one (#125).
 *
 * API:
 *   conc_init(c)
 *   conc_tick(c, s) -> the limit to write (0: none)
 */
#ifndef SLUICED_CONCLIMIT_H
#define SLUICED_CONCLIMIT_H

#include <stdint.h>

struct conc_signals {
	uint64_t target_ns;	/* T: the queueing delay aimed at (--target-delay) */
	uint64_t drain_ns;	/* the rate law's drain time (control.h) */
	uint64_t delay_ns;	/* d: the guard's delay signal this tick */
	uint64_t base_ns;	/* the service's own time (0: not known yet) */
	double goodput;		/* connections answered per second (the law's) */
	double busy;		/* the service's busy fraction, 0..1 (0: unknown) */
};

struct conc_law {
	double limit;		/* 0: none yet */
};

void conc_init(struct conc_law *c);
uint32_t conc_tick(struct conc_law *c, const struct conc_signals *s);

#endif /* SLUICED_CONCLIMIT_H */
