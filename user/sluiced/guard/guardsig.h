/* SPDX-License-Identifier: MIT */
/*
 * Guard mode's signal math: from the kernel's cumulative counters of one
 * guarded port (struct sl_guard_stats, summed over CPUs), once a tick, the
 * queueing-delay signals the controller takes (control.h). Pure: no clock
 * reads, no I/O; time comes in as an argument.
 *
 *   delay_min_ns   the smallest wait that ended in the tick (CoDel's
 *                  minimum: a burst that drained within the tick does not
 *                  count), as its histogram bucket's middle, within ~10%
 *   oldest_age_ns  the tick's p90 wait (the law weighs it by half: a long
 *                  tail behind a small minimum); with no read in the tick
 *                  but work waiting, the service is stuck, and the oldest
 *                  work has waited at least since the later of the last
 *                  read and the last tick that saw nothing waiting. No
 *                  read and nothing waiting is an idle service: 0, not a
 *                  small delay.
 *   served         connections the service read for the first time: its
 *                  completions, in the unit of the kernel's bucket
 *
 * API:
 *   gsig_init(st)
 *   gsig_tick(st, now, cur, backlog, out)   one tick; the first only primes
 *   gsig_quantile(hist, n, q)               q-quantile (0..1) of bucket counts,
 *                                           in ns (bucket middle); 0 if n is 0
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

struct gsig_state {
	struct sl_guard_stats prev;
	bool primed;
	uint64_t prev_ns;
	uint64_t last_read_ns;	/* last tick in which a wait ended */
	uint64_t clear_ns;	/* last tick that saw nothing waiting */
};

struct gsig_tick {
	uint64_t interval_ns;	/* since the previous tick (0: first tick) */
	uint64_t delay_min_ns;
	uint64_t oldest_age_ns;
	uint64_t waits;		/* waits ended in the tick */
	uint64_t served;	/* new connections read for the first time */
	uint64_t conns;		/* connections established */
	uint64_t abandoned;	/* closed unread */
	uint64_t p50_ns, p99_ns;	/* of the tick's waits (0: none) */
	uint64_t pending;	/* work waiting in sockets now (approximate) */
	uint64_t open;		/* established connections open now */
};

struct gsig_busy {
	uint64_t cpu_ns, at_ns;	/* the service's CPU time at the last call, and when */
	double sat;		/* CPUs it keeps busy when saturated */
};

void gsig_init(struct gsig_state *st);
void gsig_tick(struct gsig_state *st, uint64_t now, const struct sl_guard_stats *cur,
	       uint32_t backlog, struct gsig_tick *out);
uint64_t gsig_quantile(const uint64_t *hist, uint64_t n, double q);
void gsig_busy_init(struct gsig_busy *b, unsigned cpus, uint64_t cpu_ns, uint64_t now);
double gsig_busy(struct gsig_busy *b, uint64_t cpu_ns, uint64_t now, bool overloaded);

#endif /* SLUICED_GUARDSIG_H */
