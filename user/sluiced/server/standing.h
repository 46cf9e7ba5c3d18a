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
 * place upstream taken by slow exchanges) while others wait behind it. A
 * descheduled worker is a transient only while the rest of the process
 * runs too seldom to see it, which is what a stall of a few ms is; one
 * that the controller watches stay late for an interval is the service
 * not keeping up, whatever the reason, and is dropped.
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
 * without a late observation ends it.
 */
bool standing_drop(struct standing *s, uint64_t now, uint64_t waited,
		   uint64_t deadline_ns, uint64_t interval_ns);

/* True while the queue stands, as of now (metrics). */
bool standing_now(struct standing *s, uint64_t now, uint64_t interval_ns);

#endif /* SLUICED_STANDING_H */
