// SPDX-License-Identifier: MIT
/*
 * The proxy's queue in front of the upstream. A request whose head its
 * IO loop has read waits here, in arrival order, for one of `limit`
 * places in flight; the loop that ends an exchange starts the next
 * request (on that request's own loop: handed over if it is another), so
 * an exchange starts only when a place opens. uplimit.h says how the
 * limit moves and why there is one.
 *
 * What the controller reads each tick (sld_upq_tick):
 *   - the share of the places in flight in use over the tick (busy);
 *   - the queueing delay: the smallest wait of the requests that left the
 *     queue in the tick (counted from when their head was read, plus what
 *     their first bytes waited in the kernel before that: server.c),
 *     and the age of the oldest one still waiting; the law treats them as
 *     it treats the pool's own (control.c);
 *   - the upstream's round trip: the mean of the tick and the floor.
 *     Any lower sample lowers the floor at once; to let it rise again (a
 *     slower upstream), every PROBE_EVERY_NS the limit drops to one for
 *     PROBE_SAMPLES exchanges that ran alone, as Envoy's adaptive
 *     concurrency filter re-measures its minimum RTT, and their minimum
 *     becomes the floor.
 *
 * A request whose queueing (queueing(): the kernel's, this queue's and
 * the upstream's) passed the deadline when it leaves is answered 503
 * while the queue stands (handlers.c, standing.h), like one that waited
 * too long in the pool; and so that no request waits here unbounded while
 * every place in flight is taken by a slow exchange, each tick also looks
 * at the head of the queue and answers 503 those whose wait passed the
 * deadline once that has lasted long enough to stand. The queue's depth counts
 * in sld.queued, held to --queue-bound at the loop's door.
 *
 * Where the limit starts: at START_LIMIT, and it grows in slow start, as
 * TCP's window does (RFC 5681), clocked by the upstream's answers: each
 * exchange that ends within the slack of the floor (uplimit.h: no queue
 * inside the upstream) while requests wait for a place adds one, so the
 * limit doubles every round trip while the upstream keeps up. Slow start
 * ends at the ceiling (--upstream-concurrency), after SLOW_START_LATE
 * round trips in a row above the slack (the upstream queues: one late
 * answer on a busy host is noise), or when the tick's rule pulls the
 * limit down; from there the tick's rule alone moves it. Started at the
 * ceiling instead, a fresh proxy put 64 requests into the Go service of
 * bench-overload at once at 10x (one core: each then took ~64 service
 * times), and their round trips set the run's p99 (28 ms against a bound
 * of 8) while the rule halved the limit tick by tick; started at one and
 * doubled once a tick, it held a fast upstream to a few requests for its
 * first ticks and what queued behind them passed the deadline.
 *
 * What the deadline drop spares: a wait that is the measurement's, not
 * the upstream's load. While the limit is in its first slow start (for
 * at most START_SPARE_NS from the first request: an upstream that does
 * not answer ends no slow start), a request waits because the proxy has
 * not learnt yet what the upstream takes: against a slow upstream that
 * takes a burst at once, its first round trips (0.2 s each in
 * test_proxy.sh) would otherwise turn the burst into 503s. Against an
 * upstream that queues, slow start ends within a few answers. While the
 * floor's probe holds the limit at one (bounded by PROBE_MAX_NS), a
 * request waits for the probe. Neither is dropped at the deadline.
 *
 * Locking: one mutex for all of it, taken twice per request by the IO
 * loops and by the controller once a tick.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>

#include "conn.h"
#include "sluiced.h"
#include "uplimit.h"

#define PROBE_EVERY_NS 30000000000ull	/* 30 s */
#define PROBE_SAMPLES 8
#define PROBE_MAX_NS 200000000ull	/* give up a probe after 200 ms */
#define START_LIMIT 2		/* before any round trip is known */
#define SLOW_START_LATE 4	/* round trips above the slack in a row end it */
#define START_SPARE_NS 1000000000ull	/* the first slow start's waits spared: 1 s */

static struct {
	pthread_mutex_t lock;
	struct sld *d;
	struct conn *head, *tail;
	unsigned queued, inflight, limit, max;
	bool waited;		/* a request found no place this tick */
	bool slow_start;	/* the limit grows by one for each on-time answer */
	unsigned late_run;	/* answers above the slack in a row, in slow start */
	uint64_t spare_until_ns;	/* the first slow start's waits are spared
					 * until then; 0: no request yet */
	uint64_t wait_min_ns;	/* this tick; UINT64_MAX: none left the queue */
	uint64_t rtt_sum_ns;	/* this tick's completed exchanges */
	unsigned rtt_n;
	uint64_t floor_ns;	/* UINT64_MAX: no exchange yet */
	uint64_t busy_ns;	/* this tick: places in flight in use x time */
	uint64_t busy_since_ns, tick_start_ns;
	/* the floor's re-measurement */
	bool probing;
	unsigned probe_n, probe_saved_limit;
	uint64_t probe_min_ns, probe_end_ns, next_probe_ns;
} Q = { .lock = PTHREAD_MUTEX_INITIALIZER };

void sld_upq_init(struct sld *d)
{
	pthread_mutex_lock(&Q.lock);
	Q.d = d;
	Q.max = d->cfg.upstream_concurrency;
	Q.limit = Q.max < START_LIMIT ? Q.max : START_LIMIT;
	Q.slow_start = Q.limit < Q.max;
	Q.wait_min_ns = Q.floor_ns = UINT64_MAX;
	Q.busy_since_ns = Q.tick_start_ns = sld_now_ns();
	Q.next_probe_ns = Q.tick_start_ns + PROBE_EVERY_NS;
	pthread_mutex_unlock(&Q.lock);
}

/* Under the lock, before the number in flight changes. */
static void account_locked(uint64_t now)
{
	Q.busy_ns += Q.inflight * (now - Q.busy_since_ns);
	Q.busy_since_ns = now;
}

/*
 * What the deadline drop holds c's wait to. In overload (the data plane
 * sheds: standing.h) its whole queueing, not only this queue's: the wait
 * in the kernel before its loop read it, the wait here, and what it is
 * about to wait inside the upstream, its round trip above its floor as
 * the last tick measured it (the controller's upstream excess). The proxy
 * shares the service's core: on top of this queue's 5 ms an admitted
 * request paid the upstream's queue and the kernel's (the blind spot), and
 * its p99 sat far above the bar's 2 x unloaded p99 + target
 * (bench-overload, 07:40: 28-36 ms); held to this, it is the target plus
 * one service time, as when sluiced serves the work itself. Below
 * saturation, the wait here alone: a closed loop of 64 keep-alive clients
 * keeps 64 exchanges in flight on one loop, whose round trips (~1 ms on an
 * idle host, more on a busy one) are the loop's turn, not a queue inside
 * the upstream.
 */
static uint64_t queueing(const struct conn *c, uint64_t now)
{
	uint64_t wait = now - c->wait_since_ns;

	if (now < atomic_load_explicit(&Q.d->shedding_until_ns, memory_order_relaxed))
		wait += c->kernel_wait_ns +
			atomic_load_explicit(&Q.d->view.upstream_excess_ns, memory_order_relaxed);
	return wait;
}

/* Under the lock: the head of the queue, which takes a place in flight. */
static struct conn *pop_locked(uint64_t now)
{
	struct conn *c = Q.head;
	/* the signal counts the wait in the kernel before its loop read it */
	uint64_t wait = now - c->wait_since_ns + c->kernel_wait_ns;

	Q.head = c->up_next;
	if (!Q.head)
		Q.tail = NULL;
	Q.queued--;
	account_locked(now);
	Q.inflight++;
	c->up_alone = Q.inflight == 1;
	if (wait < Q.wait_min_ns)
		Q.wait_min_ns = wait;
	return c;
}

/* The slack of uplimit.h: a round trip this close to its floor shows no
 * queue inside the upstream. */
static uint64_t slack_ns(void)
{
	return atomic_load_explicit(&Q.d->view.target_ns, memory_order_relaxed) / 10;
}

/* Under the lock, the floor updated: slow start's step for an answer
 * that took rtt (see the top). */
static void slow_start_locked(uint64_t rtt)
{
	if (rtt - Q.floor_ns >= slack_ns()) {
		if (++Q.late_run >= SLOW_START_LATE)
			Q.slow_start = false;
		return;
	}
	Q.late_run = 0;
	if (Q.head && ++Q.limit >= Q.max) {
		Q.limit = Q.max;
		Q.slow_start = false;
	}
}

/* Under the lock: a completed exchange's round trip (0: it failed). */
static void note_rtt_locked(uint64_t rtt, bool alone)
{
	if (!rtt)
		return;
	Q.rtt_sum_ns += rtt;
	Q.rtt_n++;
	if (rtt < Q.floor_ns)
		Q.floor_ns = rtt;
	if (Q.slow_start && !Q.probing)
		slow_start_locked(rtt);
	if (Q.probing && alone) {
		Q.probe_n++;
		if (rtt < Q.probe_min_ns)
			Q.probe_min_ns = rtt;
	}
}

/* Under the lock: is a wait now the measurement's (see the top)? */
static bool spared_locked(uint64_t now)
{
	if (!Q.spare_until_ns)
		Q.spare_until_ns = now + START_SPARE_NS;
	if (Q.slow_start && now < Q.spare_until_ns)
		return true;
	return Q.probing;
}

/* Give free places to waiting requests, each started on its own loop;
 * one that waited past the deadline is answered 503 and its place goes
 * to the next. */
static void dispatch(void)
{
	pthread_mutex_lock(&Q.lock);
	while (Q.head && Q.inflight < Q.limit) {
		uint64_t now = sld_now_ns();
		struct conn *c = pop_locked(now);
		bool spared = spared_locked(now);

		pthread_mutex_unlock(&Q.lock);
		atomic_fetch_sub_explicit(&Q.d->queued, 1, memory_order_relaxed);
		if (sld_request_admit(Q.d, c, queueing(c, now), !spared)) {
			sld_loop_launch(c);
			pthread_mutex_lock(&Q.lock);
			continue;
		}
		pthread_mutex_lock(&Q.lock);
		account_locked(sld_now_ns());
		Q.inflight--;
	}
	if (Q.head)
		Q.waited = true;
	pthread_mutex_unlock(&Q.lock);
}

void sld_upq_done(uint64_t rtt, bool alone)
{
	pthread_mutex_lock(&Q.lock);
	note_rtt_locked(rtt, alone);
	account_locked(sld_now_ns());
	Q.inflight--;
	pthread_mutex_unlock(&Q.lock);
	dispatch();
}

void sld_upq_submit(struct conn *c, uint64_t since_ns)
{
	c->wait_since_ns = since_ns;
	c->up_next = NULL;
	pthread_mutex_lock(&Q.lock);
	if (Q.tail)
		Q.tail->up_next = c;
	else
		Q.head = c;
	Q.tail = c;
	Q.queued++;
	pthread_mutex_unlock(&Q.lock);
	dispatch();
}

static uint64_t or_zero(uint64_t v)
{
	return v == UINT64_MAX ? 0 : v;
}

/* Under the lock: the mean round trip of the tick, 0 if none completed. */
static uint64_t rtt_mean_locked(void)
{
	return Q.rtt_n ? Q.rtt_sum_ns / Q.rtt_n : 0;
}

/* Under the lock: the limit for the next tick. */
static void next_limit_locked(uint64_t now)
{
	if (Q.probing) {
		if (Q.probe_n < PROBE_SAMPLES && now < Q.probe_end_ns)
			return;
		if (Q.probe_n)
			Q.floor_ns = Q.probe_min_ns;
		Q.probing = false;
		Q.limit = Q.probe_saved_limit;
		return;
	}
	if (now >= Q.next_probe_ns && Q.floor_ns != UINT64_MAX) {
		Q.probing = true;
		Q.probe_n = 0;
		Q.probe_min_ns = UINT64_MAX;
		Q.probe_end_ns = now + PROBE_MAX_NS;
		Q.next_probe_ns = now + PROBE_EVERY_NS;
		Q.probe_saved_limit = Q.limit;
		Q.limit = 1;
		return;
	}
	unsigned next = uplimit_next(Q.limit, or_zero(Q.floor_ns), rtt_mean_locked(),
				     slack_ns(), Q.waited, Q.max);

	if (next < Q.limit)
		Q.slow_start = false;
	Q.limit = next;
}

/* Under the lock: unlinks the requests that waited past the deadline
 * while the queue stands (the queue is in arrival order: they are at its
 * head). The head is seen even if it stays: a queue behind slow exchanges
 * stands with nothing leaving it (standing.h). */
static struct conn *expire_locked(uint64_t now)
{
	struct conn *list = NULL, **tail = &list;

	while (Q.head && sld_deadline_drop(Q.d, now, queueing(Q.head, now))) {
		struct conn *c = Q.head;

		Q.head = c->up_next;
		if (!Q.head)
			Q.tail = NULL;
		Q.queued--;
		c->up_next = NULL;
		*tail = c;
		tail = &c->up_next;
	}
	return list;
}

void sld_upq_tick(uint64_t now, struct sld_upq_signals *s)
{
	struct conn *expired;

	pthread_mutex_lock(&Q.lock);
	account_locked(now);
	s->busy = now > Q.tick_start_ns
		? (double)Q.busy_ns / ((double)Q.limit * (double)(now - Q.tick_start_ns)) : 0;
	if (s->busy > 1)
		s->busy = 1;	/* more in flight than the limit: it just fell */
	Q.busy_ns = 0;
	Q.tick_start_ns = now;
	s->wait_min_ns = or_zero(Q.wait_min_ns);
	s->head_age_ns = Q.head ? now - Q.head->wait_since_ns + Q.head->kernel_wait_ns : 0;
	/* After the oldest age: the expired still count as a wait seen. */
	expired = Q.head && spared_locked(now) ? NULL : expire_locked(now);
	s->rtt_ns = rtt_mean_locked();
	s->floor_ns = or_zero(Q.floor_ns);
	next_limit_locked(now);
	s->limit = Q.limit;
	s->inflight = Q.inflight;
	s->queued = Q.queued;
	Q.waited = false;
	Q.wait_min_ns = UINT64_MAX;
	Q.rtt_sum_ns = 0;
	Q.rtt_n = 0;
	pthread_mutex_unlock(&Q.lock);
	while (expired) {
		struct conn *c = expired;

		expired = c->up_next;
		atomic_fetch_sub_explicit(&Q.d->queued, 1, memory_order_relaxed);
		sld_task_shed(Q.d, c, SLD_FAST_expired);
	}
	dispatch();	/* places the new limit opened */
}
