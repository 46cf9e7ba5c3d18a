/* SPDX-License-Identifier: MIT */
/*
 * When the deadline drop acts: only while the queue stands, CoDel's
 * dropping state, not for one late request. Pure: the callers (the pool's
 * request task, handlers.c; the proxy's queue, upqueue.c; the controller's
 * tick, controlloop.c) say what they saw, this decides.
 *
 * Why: the drop answers 503 a request that waited past the deadline, so
 * that in overload an admitted request's wait stays bounded (the bar:
 * p99 <= 2 x unloaded p99 + target). Applied to every late request, it
 * also fired on a transient: on a busy host a worker descheduled for a
 * few ms while requests sat in its queue made all of them late at once,
 * and a load the service completes (wrk, 64 keep-alive connections: 64
 * requests in flight at most) got dozens of 503s where nginx and HAProxy
 * answered none. Such a queue drains within a fraction of a millisecond
 * once the worker runs again; a standing queue, the one admission did not
 * (yet) remove, does not.
 *
 * The rule, after CoDel (Nichols and Jacobson, RFC 8289): a run is a
 * series of late observations (a request dequeued after waiting past the
 * deadline, or the oldest one still queued seen past it by the
 * controller's tick), not broken by an on-time dequeue before it lasted
 * an interval. Once a run has lasted an interval the queue stands, and
 * every late request is dropped (not CoDel's sqrt schedule: the deadline
 * bounds the admitted p99 by construction) until no late observation
 * came for an interval. An on-time dequeue ends a run only before it
 * stands: in steady overload the controller holds the queue near the
 * target, so on-time and late requests mix, and ending the dropping state
 * on each on-time one would let an interval of late requests through
 * after each.
 *
 * The tick's look at the oldest request counts because a queue can stand
 * with no dequeue at all: a worker busy with a long request (or every
 * place upstream taken by slow exchanges) while others wait behind it.
 *
 * While the controller sheds (the data plane refuses arrivals over its
 * rate or below its level), the service is overloaded: the queue stands by
 * definition, and every late request is dropped, as the drop always did.
 * There the controller holds the queue near the target, so on-time and
 * late requests mix and a run would rarely last an interval: without this
 * the proxy on the Go service's core worked 40% of its requests past the
 * deadline at 10x. Below saturation nothing is shed, and only a run can
 * make the queue stand.
 *
 * Time the workers could not run is not the queue's: when the tick finds
 * every worker neither waiting for work nor seen running for a while
 * (descheduled: another process has the CPU), it excuses that stall, and
 * a run not yet standing starts that much later (standing_excuse). On a
 * busy host the stalls of a closed loop's worker reached 15-60 ms (nice
 * 19, the machine shared): a run's clock that kept going through them
 * stood on requests whose queue drained in a fraction of a millisecond
 * once the worker ran. Only the stall seen so far at a tick is excused,
 * and only while what is queued would drain within the deadline once the
 * workers run (controlloop.c): a proxy that loses the CPU to the service
 * it fronts, on one core, with more queued than that, is overloaded, not
 * stalled.
 *
 * Concurrency: any thread; relaxed atomics, no lock. Two threads that
 * update a run at once may each keep their own start or last time: a run
 * then starts or ends one observation early or late, which the rule
 * tolerates (an interval is thousands of dequeues at the rates where that
 * happens).
 */
#ifndef SLUICED_STANDING_H
#define SLUICED_STANDING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct standing {
	_Atomic uint64_t run_start_ns;	/* first late observation of the run; 0: none */
	_Atomic uint64_t run_last_ns;	/* its latest */
};

/*
 * A request waited `waited` ns, seen at `now` (ns, monotonic, > 0) as it
 * left the queue, or as the oldest still in it. True: it is late while
 * the queue stands, drop it. deadline_ns: the drop's threshold;
 * interval_ns: how long a run lasts before the queue stands, and how long
 * without a late observation ends it; shedding: the controller sheds
 * (the queue stands).
 */
bool standing_drop(struct standing *s, uint64_t now, uint64_t waited,
		   uint64_t deadline_ns, uint64_t interval_ns, bool shedding);

/* The workers were descheduled for the last ns (none ran, none waited
 * for work): a run that does not stand yet starts that much later, at
 * most now. */
void standing_excuse(struct standing *s, uint64_t now, uint64_t ns,
		     uint64_t interval_ns);

/* True while the queue stands, as of now (metrics). */
bool standing_now(struct standing *s, uint64_t now, uint64_t interval_ns);

#endif /* SLUICED_STANDING_H */
