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
 * The rule, after TCP Vegas: with `limit` in flight, the round trip grows
 * from its floor (nothing queued inside the upstream) to rtt, so about
 *
 *   inside = limit * (rtt - floor) / rtt
 *
 * of them wait inside the upstream. Below half a request, the upstream
 * has a place free: add one (only while requests waited for a place, so
 * an idle proxy does not wind the limit up). From a half to one and a
 * half, hold: about one waiting inside keeps the upstream busy across the
 * round trip between two requests, and costs an admitted request one
 * service time. Above, pull back to what it runs in parallel plus one,
 * limit * floor / rtt + 1, but at most halve in one tick, so one slow
 * sample (a GC pause upstream) is not taken for a lasting change.
 *
 * rtt is the mean of the tick, not its minimum: an upstream that does not
 * serve in order (Go's scheduler runs the goroutine readied last first)
 * answers some requests in one service time whatever the number in
 * flight, and only the mean (Little's law: in flight / throughput) shows
 * the queue. One below the floor counts as the floor.
 *
 * Slack: a round trip less than slack_ns above its floor counts as no
 * queue inside, whatever the estimate says. Against a fast upstream
 * (tens of microseconds) on a busy host, the round trip is mostly the
 * wake-ups of two processes, not a queue: held to one or two in flight,
 * the proxy would cap its own throughput at 1 / round trip while the
 * upstream idles, and queue (and shed) what the upstream could take.
 * A round trip within a tenth of the target delay above its floor costs
 * an admitted request nothing that matters. Within the slack the limit
 * doubles while requests wait (TCP's slow start), so a limit that a busy
 * spell pulled down in front of a fast upstream is back at its throughput
 * in a few ticks instead of shedding on its deadline while it climbs by
 * one a tick. (A fresh proxy grows its limit in slow start, an answer at
 * a time: upqueue.c.) Against an upstream of c cores the limit settles at
 * c + 1 or c + 2, from below and from above. Bounds: 1..max.
 */
#ifndef SLUICED_UPLIMIT_H
#define SLUICED_UPLIMIT_H

#include <stdbool.h>
#include <stdint.h>

/* floor_ns, rtt_ns: 0 when unknown (no exchange completed): the limit
 * stays. slack_ns: see above. waited: a request found no free place
 * since the last call. */
unsigned uplimit_next(unsigned limit, uint64_t floor_ns, uint64_t rtt_ns,
		      uint64_t slack_ns, bool waited, unsigned max);

#endif /* SLUICED_UPLIMIT_H */
