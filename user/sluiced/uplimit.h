/* SPDX-License-Identifier: MIT */
/*
 * How many requests the proxy keeps in flight to the upstream: a gradient
 * rule in the manner of TCP Vegas and Netflix's concurrency-limits. Pure:
 * the caller measures, this decides. upqueue.c applies it once a tick.
 *
 * Why a limit at all: an upstream that takes every request at once (Go's
 * net/http starts a goroutine per connection) shares its CPU among them,
 * so beyond its parallelism each extra request in flight only adds
 * latency, and that queue is inside the upstream, where sluiced cannot see
 * its depth or order it. Holding the excess in sluiced's own queue keeps
 * it measurable (the controller's delay signal) and first-come first-served.
 *
 * The rule: with `limit` in flight, the upstream's round trip grows from
 * its floor (nothing queued inside it) to rtt, so it runs about
 * limit * floor / rtt requests in parallel. Keep one more than that in
 * flight, so the upstream never idles during a round trip:
 *
 *   next = limit * floor / rtt + 1      (integer division)
 *
 * rtt is the minimum of the tick (the least noisy sample, and never below
 * the floor, so the gradient is at most 1): with an upstream that is not
 * queueing, next = limit + 1, an additive increase; one that queues pulls
 * the limit straight back to its parallelism + 1. The limit grows only
 * while requests had to wait for it (demand above the limit), so an idle
 * proxy does not wind it up. Bounds: 1..max.
 */
#ifndef SLUICED_UPLIMIT_H
#define SLUICED_UPLIMIT_H

#include <stdbool.h>
#include <stdint.h>

/* floor_ns, rtt_min_ns: 0 when unknown (no exchange completed): the limit
 * stays. waited: a request found no free place since the last call. */
unsigned uplimit_next(unsigned limit, uint64_t floor_ns, uint64_t rtt_min_ns,
		      bool waited, unsigned max);

#endif /* SLUICED_UPLIMIT_H */
