/* SPDX-License-Identifier: MIT */
/*
 * Guard mode's signal math: from the kernel's cumulative counters of one
 * guarded port (struct sl_guard_stats, summed over CPUs), once a tick, the
 * queueing delay the controller takes (control.h). Pure: no clock reads,
 * no I/O; time comes in as an argument.
 *
 * Two measures of each answered request (guard_abi.h): its socket wait
 * (arrival to the service's first read) and its sojourn (arrival to the
 * first write of the answer). Their p99 (GSIG_Q) over the last GSIG_WINDOW ticks:
 *
 *   wait_ns      the socket wait: queueing alone, no baseline needed. It
 *                sees a service whose queue is its unread sockets: an
 *                event loop, goroutines waiting for the CPU, a pool
 *                whose threads are all busy.
 *   rise_ns      the sojourn above base_ns, its level while the service
 *                kept up. It also sees a queue inside the process, after
 *                the read: an executor's queue, threads sharing a CPU
 *                (the JDK HttpServer reads at once and then waits there).
 *   delay_ns     the larger of the two: the controller's signal.
 *
 * The baseline (Gradient2's long-term RTT, Vegas's base RTT), and the
 * pitfalls users met with such baselines:
 *   - it is the same quantile as the signal, not a minimum, so a service
 *     whose requests differ in cost (p99 well above p5) reads no queue,
 *     and a cheap health check among real requests cannot fake a low one;
 *     a window with fewer than BASE_MIN_SAMPLES answers (an idle spell
 *     with only health checks) does not move it;
 *   - it is never probed (no concurrency pinned to measure it, Envoy's
 *     minRTT trap): it follows the service passively, down at once-ish
 *     (BASE_DOWN a tick), up slowly (BASE_UP of the gap, and at most of
 *     itself) and only in ticks where the data plane shed nothing, so
 *     that under steady overload the queue
 *     the controller holds is never learnt as the service's own time (the
 *     limit creeping up, concurrency-limits #134);
 *   - after BASE_STALE_NS of shedding without a break it may rise again,
 *     to the window's fastest answer plus the spread the service showed
 *     while keeping up: a service whose work got slower must not be held
 *     to its old speed (starved of the rate it could serve), while the
 *     queue the law holds lifts the fastest answer only by what never
 *     drains; the socket wait has no baseline and bounds the rest;
 *   - it never exceeds unloaded_ns, the sojourn's p99 at low load (the
 *     service's busy fraction over the window at most UNLOADED_BUSY and
 *     at most LOW_PENDING requests in it at each tick, with or without
 *     shedding), learnt the same way (down fast, up slowly, by at most
 *     1% of itself a tick).
 *     "Nothing shed" alone let it creep: a cap that rose above demand
 *     (the rise read nothing, so the rate grew) shed nothing, and the
 *     base learnt the queue it let in, 1.6 -> 88 ms in one JDK run.
 *     At half its CPU a service holds no queue worth the name, shed or
 *     not; a service whose work got slower under an overload that never
 *     ends is over-read until the law's cuts bring it there, then
 *     re-learnt. Unknown busy (the process not found): no bound.
 *
 * Stuck: no answer in the tick while work waits (measured requests not
 * answered, or connections in the accept queue): stuck_ns is the age of
 * the oldest at least, since the later of the last answer and the last
 * tick that saw nothing waiting. Unanswered requests count only for a
 * service that has answered since we started: one that never answers
 * (a sink) has no request-response signal at all, not a stuck one.
 * No answer and nothing waiting is an idle service: 0, not a delay.
 *
 * Sampling (guard_abi.h): shift, the keep-alive requests measured one in
 * 2^shift, rises while a window holds more than SAMPLES_HI sojourns (in
 * one step, as far as the last tick's count says) and falls a step a tick
 * below SAMPLES_LO: enough for a tail quantile each window, no more.
 *
 * API:
 *   gsig_init(st)
 *   gsig_tick(st, now, cur, backlog, shedding, busy, out)   one tick; the
 *                                           first only primes. shedding: the
 *                                           data plane refused connections
 *                                           last tick; busy: the service's
 *                                           busy fraction (0: unknown).
 *   gsig_quantile(hist, n, q)               q-quantile (0..1) of bucket counts,
 *                                           in ns (read within its bucket by rank); 0 if n is 0
 *   gsig_busy_init(b, cpus, cpu_ns, now)    the service's CPU clock at start
 *   gsig_busy(b, cpu_ns, now, overloaded)   its busy fraction since the last
 *                                           call, 0..1 (0: unknown)
 *
 * The busy fraction: the service's CPU time over the interval against
 * what it uses when saturated. That is not its CPU count: a Node.js event
 * loop, or Go with GOMAXPROCS=1, uses one CPU of many, and against all of
 * them it reads half as busy as it is. So it is learnt: in an interval the
 * controller found overloaded the service was saturated, and its CPU rate
 * then is what saturation costs (an EWMA). Until the first overload, the
 * CPUs it may run on stand in (an estimate that errs high).
 */
#ifndef SLUICED_GUARDSIG_H
#define SLUICED_GUARDSIG_H

#include <stdbool.h>
#include <stdint.h>

#include <sluice/guard_abi.h>

#define GSIG_WINDOW 4		/* ticks the quantiles span */

struct gsig_state {
	struct sl_guard_stats snap[GSIG_WINDOW];	/* counters at the last ticks */
	unsigned next, filled;	/* ring of snap: next written, how many valid */
	bool primed;
	bool answering;		/* the service answered since we started */
	uint64_t prev_ns;
	uint64_t last_answer_ns;	/* last tick in which a request was answered */
	uint64_t clear_ns;	/* last tick that saw nothing waiting */
	uint64_t keepup_ns;	/* last tick the data plane shed nothing */
	uint64_t base_ns;	/* the sojourn's p99 while keeping up (0: not yet) */
	uint64_t unloaded_ns;	/* its p99 at low load, base_ns's bound (0: not yet) */
	int64_t spread_ns;	/* its distance from the fastest answer then */
	double busy;		/* the busy fraction over about a window (0: unknown) */
	unsigned calm;		/* ticks in a row with at most LOW_PENDING waiting */
	uint32_t shift;		/* keep-alive sampling */
};

struct gsig_tick {
	uint64_t interval_ns;	/* since the previous tick (0: first tick) */
	uint64_t delay_ns;	/* max(wait_ns, rise_ns): the signal */
	uint64_t wait_ns;	/* the window's p99 socket wait */
	uint64_t sojourn_ns;	/* the window's p99 sojourn */
	uint64_t base_ns;	/* the sojourn's p99 while keeping up (0: unknown) */
	uint64_t unloaded_ns;	/* its p99 at low load, base_ns's bound (0: unknown) */
	uint64_t rise_ns;	/* sojourn_ns above base_ns */
	uint64_t stuck_ns;	/* no answer, work waiting: its age at least */
	uint64_t samples;	/* sojourns in the window */
	uint64_t p50_ns;	/* the window's median sojourn (0: none) */
	uint64_t answered;	/* requests answered in the tick (measured ones) */
	uint64_t served;	/* connections answered for the first time */
	uint64_t conns;		/* connections established */
	uint64_t abandoned;	/* closed unanswered */
	uint64_t pending;	/* measured requests unanswered now */
	uint64_t open;		/* established connections open now */
	uint32_t shift;		/* keep-alive sampling shift to set */
};

struct gsig_busy {
	uint64_t cpu_ns, at_ns;	/* the service's CPU time at the last call, and when */
	double sat;		/* CPUs it keeps busy when saturated */
};

void gsig_init(struct gsig_state *st);
void gsig_tick(struct gsig_state *st, uint64_t now, const struct sl_guard_stats *cur,
	       uint32_t backlog, bool shedding, double busy, struct gsig_tick *out);
uint64_t gsig_quantile(const uint64_t *hist, uint64_t n, double q);
void gsig_busy_init(struct gsig_busy *b, unsigned cpus, uint64_t cpu_ns, uint64_t now);
double gsig_busy(struct gsig_busy *b, uint64_t cpu_ns, uint64_t now, bool overloaded);

#endif /* SLUICED_GUARDSIG_H */
