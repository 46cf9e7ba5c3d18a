// SPDX-License-Identifier: MIT
/*
 * The controller thread: every tick, read the load signals (the pool's
 * queue delay, depth, busy fraction and completions; the accept backlog;
 * CPU pressure; for the proxy, its upstream queue and the upstream's
 * latency above its floor; in guard mode, each guarded port's waits in
 * the kernel instead of the pool's, guard.c),
 * run the law (control.c), and write the admission rate and level to the
 * kernel in one map update with a heartbeat. A thread of its own on an
 * absolute clock, so neither a busy IO loop nor a slow metrics scrape
 * delays a heartbeat. One loop (law and state) per controlled service:
 * the served one, or each guarded port.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "conclimit.h"
#include "heartbeat.h"
#include "log.h"
#include "sluiced.h"
#include "state.h"

#define RPC_ALPHA 0.1		/* EWMA weight of a tick's requests per connection */
#define REFRESH_TICKS 100	/* re-read the service entry (its mark) this often */
/* Re-read CPU pressure this often: the kernel moves its averages every 2 s
 * (PSI_FREQ), and a read each tick, on the core a guard shares with the
 * service it guards, read the same numbers 200 times. */
#define PSI_TICKS 10
#define RETRY_AFTER_MAX 30
/* Without a data plane the acceptor applies the rate only this long
 * after an overloaded tick (server.c says why). */
#define ENGAGED_NS 1000000000ull

struct loop {
	struct sld *d;
	struct sld_dataplane *dp;	/* the service's entry */
	struct sld_ctl_view *view;	/* what the loop publishes */
	struct sld_guard *g;		/* guard mode: the port; NULL: served */
	struct ctl ctl;
	struct conc_law conc;	/* guard mode's concurrency limit (conclimit.h) */
	struct pool_stats prev, cur;
	struct sl_stats kprev;
	bool have_kprev;
	uint64_t worked, admitted, requests, fast_rate;
	struct ctl_goodput gp;
	struct ctl_peak peak;	/* the recovery floor's memory */
	uint32_t backlog_prev;
	uint64_t task_ns;	/* the pool's mean task time, last tick with completions */
	double rpc;
	uint32_t gen;
	uint64_t stale_after_ns;
	uint32_t stale_policy;
	bool map_error_logged;
	bool calm;		/* guard mode: the last tick was calm (ctl_calm) */
};

void sld_ctl_params_from(const struct sld_config *cfg, struct ctl_params *p)
{
	uint64_t tick = (uint64_t)cfg->tick_ms * 1000000ull;

	ctl_params_default(p);
	p->tick_ns = tick;
	p->target_delay_ns = (uint64_t)cfg->target_delay_ms * 1000000ull;
	p->level_max = (uint8_t)cfg->level_max;
	if (p->drain_ns < 4 * tick)
		p->drain_ns = 4 * tick;
}

static uint64_t diff(uint64_t a, uint64_t b)
{
	return b > a ? b - a : 0;
}

static void load_config(struct loop *l)
{
	struct sld *d = l->d;
	struct ctl_params p;
	const char *why = NULL;

	pthread_mutex_lock(&d->cfg_lock);
	sld_ctl_params_from(&d->cfg, &p);
	if (l->g)
		ctl_params_guard(&p);
	l->stale_after_ns = (uint64_t)d->cfg.stale_after_s * 1000000000ull;
	l->stale_policy = d->cfg.stale_policy;
	pthread_mutex_unlock(&d->cfg_lock);
	if (ctl_params_validate(&p, &why)) {
		pr_err("controller parameters: %s; keeping the previous ones", why);
		return;
	}
	/* The law's state (rate, level, hold timers) carries over a reload. */
	l->ctl.p = p;
	atomic_store_explicit(&l->view->target_ns, p.target_delay_ns, memory_order_relaxed);
}

/*
 * The proxy's part of the delay: the wait in the upstream queue (which
 * began in the pool's queue), its minimum over the tick as for the pool,
 * plus the queue inside the upstream, its mean round trip above its floor
 * (the mean because the upstream need not serve in order; uplimit.h). The
 * limit on requests in flight holds that inner queue near one request, so
 * it takes about one service time of the target and the wait the rest:
 * an admitted request pays both. The oldest waiting request stands in for
 * the pool's oldest task, and the share of the places in flight in use for
 * the workers' busy fraction: goodput / busy is then limit / round trip,
 * what the upstream completes with every place taken (control.c's busy
 * jump). Returns how long the queue would take to drain at the round
 * trip of the tick (the deadline drop's excuse, standing.h).
 */
static uint64_t upstream_signals(struct sld *d, struct ctl_signals *s)
{
	struct sld_upq_signals u;
	uint64_t excess, rtt;

	sld_upq_tick(s->now_ns, &u);
	excess = u.floor_ns && u.rtt_ns > u.floor_ns ? u.rtt_ns - u.floor_ns : 0;
	if (u.wait_min_ns + excess > s->delay_min_ns)
		s->delay_min_ns = u.wait_min_ns + excess;
	if (u.head_age_ns > s->oldest_age_ns)
		s->oldest_age_ns = u.head_age_ns;
	s->busy = u.busy;
	atomic_store_explicit(&d->view.upstream_excess_ns, excess, memory_order_relaxed);
	atomic_store_explicit(&d->view.upstream_floor_ns, u.floor_ns, memory_order_relaxed);
	atomic_store_explicit(&d->view.upstream_limit, u.limit, memory_order_relaxed);
	atomic_store_explicit(&d->view.upstream_inflight, u.inflight, memory_order_relaxed);
	atomic_store_explicit(&d->view.upstream_queued, u.queued, memory_order_relaxed);
	pr_debug("upstream: wait %.2f ms, oldest %.2f ms, rtt %.2f ms (floor %.2f), "
		 "in flight %u of %u, %u waiting",
		 (double)u.wait_min_ns / 1e6, (double)u.head_age_ns / 1e6,
		 (double)u.rtt_ns / 1e6, (double)u.floor_ns / 1e6, u.inflight, u.limit,
		 u.queued);
	rtt = u.rtt_ns ? u.rtt_ns : u.floor_ns;
	return u.limit ? u.queued * rtt / u.limit : 0;
}

/*
 * The deadline drop's look at the queue each tick (standing.h). First the
 * stall of descheduled workers seen so far (at most the tick's) is not the
 * queue's, but only while what is queued would drain within the deadline
 * once they run (drain_ns: a closed loop's few cheap requests), not when
 * they lose the CPU to the service they front while its queue holds more
 * than that (the proxy on the Go service's core): that is load. Then the
 * oldest queued request (oldest_ns, 0: none), as a queue stands even when
 * nothing leaves it; the proxy's own queue looks at its head itself
 * (upqueue.c).
 */
static void deadline_look(struct sld *d, uint64_t now, uint64_t tick_ns, uint64_t drain_ns,
			  uint64_t oldest_ns)
{
	uint64_t stalled = sld_server_starved_ns(now);

	if (stalled && drain_ns < atomic_load_explicit(&d->deadline_ns, memory_order_relaxed))
		standing_excuse(&d->standing, now, stalled < tick_ns ? stalled : tick_ns,
				atomic_load_explicit(&d->standing_interval_ns,
						     memory_order_relaxed));
	if (oldest_ns)
		sld_deadline_drop(d, now, oldest_ns);
}

/* One tick's completions, their interval, and the accept queue now. */
struct measure {
	uint64_t done;		/* completions (requests; connections in guard mode) */
	uint64_t ns;		/* interval they were counted over */
	uint64_t conns;		/* connections admitted by the acceptor (served mode) */
	uint32_t backlog;	/* accept queue now */
	bool have_backlog;
};

/* The served service: the pool's queue, the proxy's upstream queue. */
static bool pool_measure(struct loop *l, struct ctl_signals *s, struct measure *m)
{
	struct sld *d = l->d;
	struct pool_interval iv;
	struct sld_backlog bl = { 0 };
	uint64_t w, a, r, dr, kwait, drain;

	if (pool_stats(d->pool, &l->cur))
		return false;
	pool_stats_interval(&l->prev, &l->cur, &iv);
	l->prev = l->cur;
	if (iv.ns == 0)
		return false;
	w = atomic_load_explicit(&d->c.worked, memory_order_relaxed);
	a = atomic_load_explicit(&d->conns_admitted, memory_order_relaxed);
	r = atomic_load_explicit(&d->c.dispatched, memory_order_relaxed);
	m->done = diff(l->worked, w);
	m->conns = diff(l->admitted, a);
	dr = diff(l->requests, r);
	m->ns = iv.ns;
	l->worked = w, l->admitted = a, l->requests = r;
	/* The kernel counts connections; with keep-alive a connection
	 * carries several requests: goodput in connections per second. */
	if (m->conns > 0)
		l->rpc += RPC_ALPHA * ((double)dr / (double)m->conns - l->rpc);
	if (l->rpc < 1)
		l->rpc = 1;

	s->now_ns = l->cur.now_ns;
	s->delay_min_ns = iv.min_delay_ns;
	/* The blind spot (server.c, recv_first): the wait in the kernel
	 * before a loop read the request. Every request of the tick waited
	 * at least the smallest of it plus the smallest in the pool, so the
	 * sum is still a floor, as CoDel's minimum is. A proxied request's
	 * wait in the upstream queue counts it already (upqueue.c). */
	kwait = atomic_exchange_explicit(&d->kernel_wait_min_ns, UINT64_MAX,
					 memory_order_relaxed);
	kwait = kwait == UINT64_MAX ? 0 : kwait;
	atomic_store_explicit(&d->view.kernel_wait_min_ns, kwait, memory_order_relaxed);
	if (!d->proxy)
		s->delay_min_ns += kwait;
	s->oldest_age_ns = l->cur.oldest_wait_ns;
	s->depth = (uint32_t)l->cur.depth;
	s->busy = iv.busy;
	if (iv.completed) {
		/* The pool's mean task time. A worker descheduled inside a
		 * task counts as busy: one tick's can be a stall's, so it
		 * falls at once and rises by a sixteenth a tick. */
		uint64_t t = (uint64_t)(iv.busy * (double)iv.ns * (double)l->cur.workers /
					(double)iv.completed);

		l->task_ns = !l->task_ns || t < l->task_ns ? t : l->task_ns + (t - l->task_ns) / 16;
	}
	drain = l->cur.workers ? l->cur.depth * l->task_ns / l->cur.workers : 0;
	/* A proxy's workers only hand requests on: its busy fraction is the
	 * upstream's places in flight in use. */
	if (d->proxy)
		drain = upstream_signals(d, s);
	deadline_look(d, s->now_ns, iv.ns, drain, d->proxy ? 0 : l->cur.oldest_wait_ns);
	atomic_store_explicit(&l->view->min_delay_ns, iv.min_delay_ns, memory_order_relaxed);

	int lfd = atomic_load_explicit(&d->listen_fd, memory_order_relaxed);

	if (lfd >= 0 && sld_accept_backlog(lfd, &bl) == 0) {
		m->backlog = bl.queued;
		m->have_backlog = true;
	}
	return true;
}

/*
 * A guarded port: its waits in the kernel (guard.c). Its accept queue is
 * not the law's backlog term: a request's socket wait runs from its
 * arrival, in the accept queue or not, so the queue is in the signal
 * already, and a service that stopped accepting is the signal's stuck
 * case (guardsig.h). Counted again, as backlog / goodput from a read of
 * the listener every tenth tick held until the next, it added 4-7 ms to
 * ten ticks each time an event loop had a few connections waiting there
 * behind a pause: the Node.js service at 10x was cut from 930/s to 470/s
 * by one such read, and spent half its ticks with it (81% of capacity).
 */
static bool guard_measure(struct loop *l, struct ctl_signals *s, struct measure *m)
{
	s->now_ns = sld_now_ns();
	if (sld_guard_measure(l->d, l->g, s->now_ns, s, &m->done, &m->ns))
		return false;
	atomic_store_explicit(&l->view->min_delay_ns, s->delay_min_ns, memory_order_relaxed);
	return m->ns > 0;
}

/*
 * A guarded port's concurrency limit (conclimit.h), from the signals the
 * rate law took: the rate stays the outer bound, the limit bounds the
 * queue inside it.
 */
static void guard_conc(struct loop *l, const struct ctl_signals *s, struct ctl_output *o)
{
	struct conc_signals c = {
		.target_ns = l->ctl.p.target_delay_ns,
		.drain_ns = l->ctl.p.drain_ns,
		.delay_ns = o->delay_ns,
		.base_ns = atomic_load_explicit(&l->g->gv.base_ns, memory_order_relaxed),
		.goodput = s->goodput,
		.busy = s->busy,
	};

	o->conc_limit = conc_tick(&l->conc, &c);
	atomic_store_explicit(&l->g->gv.conc_limit, o->conc_limit, memory_order_relaxed);
}

static void tick(struct loop *l, const struct sld_psi *psi)
{
	struct sld *d = l->d;
	struct sld_ctl_view *v = l->view;
	struct ctl_signals s = { 0 };
	struct ctl_output o = { 0 };	/* conc_limit: guard mode sets it */
	struct measure m = { 0 };
	struct sl_stats k;
	double dt;
	bool arrived;
	int err;

	l->calm = false;
	if (!(l->g ? guard_measure(l, &s, &m) : pool_measure(l, &s, &m)))
		return;
	dt = (double)m.ns / 1e9;

	if (sld_dataplane_stats(l->dp, &k) == 0) {
		if (l->have_kprev) {
			s.admitted = (double)diff(l->kprev.admitted, k.admitted) / dt;
			/* A SYN the concurrency limit refused (guard mode) is
			 * demand turned away like one the rate refused. */
			s.shed_rate = (double)(diff(l->kprev.svc_bucket, k.svc_bucket) +
					       diff(l->kprev.svc_conc, k.svc_conc)) / dt;
			s.shed_level = (double)diff(l->kprev.shed_level, k.shed_level) / dt;
		}
		l->kprev = k;
		l->have_kprev = true;
		/* The data plane shed: the service is overloaded, the queue
		 * stands (the deadline drop, standing.h), for a second, as the
		 * controller's engagement (a tick without a shed within an
		 * overload, the rate a little above the demand for a moment,
		 * must not let late requests through: the p99 is their 1%).
		 * Not the fast path's rate below: it acts only while the
		 * queue stands (server.c), and its 503s close connections
		 * whose clients reconnect into it, so it would hold itself on. */
		if (!l->g && ctl_refused(&s) > 0)
			atomic_store_explicit(&d->shedding_until_ns, s.now_ns + ENGAGED_NS,
					      memory_order_relaxed);
		/* The guard's baseline learns only while nothing is shed
		 * (guardsig.h): next tick's measure reads this one's. */
		if (l->g)
			l->g->shedding = ctl_refused(&s) > 0;
	} else if (!l->g) {
		/* No data plane: the acceptor enforces the rate (server.c);
		 * what it admitted and what it shed for the rate are the
		 * demand. */
		uint64_t f = atomic_load_explicit(&d->c.fast[SLD_FAST_rate],
						  memory_order_relaxed);

		s.admitted = (double)m.conns / dt;
		s.shed_rate = (double)diff(l->fast_rate, f) / dt;
		l->fast_rate = f;
	}
	arrived = ctl_arrivals(&s) > 0;
	ctl_goodput_tick(&l->gp, m.done, m.ns, s.busy, arrived, &s.goodput, &s.busy);
	s.goodput /= l->rpc;
	/* A connection caught between its arrival and the accept() is not a
	 * queue: count only what stayed across two ticks (CoDel's minimum). */
	if (m.have_backlog) {
		s.backlog = m.backlog < l->backlog_prev ? m.backlog : l->backlog_prev;
		l->backlog_prev = m.backlog;
	}
	{
		double floor = ctl_peak_floor(&l->peak, s.now_ns, s.goodput);

		l->ctl.p.rate_floor = floor < l->ctl.p.rate_max ? floor : l->ctl.p.rate_max;
	}
	if (psi->valid) {
		s.psi_valid = true;
		s.psi_some_avg10 = psi->some.avg10;
	}

	ctl_tick(&l->ctl, &s, &o);
	if (l->g) {
		guard_conc(l, &s, &o);
		l->calm = ctl_calm(&l->ctl, &s, &o);
	}
	err = sld_dataplane_write(l->dp, &o, l->stale_after_ns, l->stale_policy, !arrived);
	if (err < 0) {
		atomic_fetch_add_explicit(&v->map_errors, 1, memory_order_relaxed);
		if (!l->map_error_logged)
			pr_err("cannot write %s: %s (logged once)", SL_MAP_ADMISSION,
			       strerror(-err));
		l->map_error_logged = true;
	} else if (err > 0) {
		atomic_fetch_add_explicit(&v->map_writes, 1, memory_order_relaxed);
	}

	/* Retry-After: when the shed would fit. Demand at k x the rate
	 * spreads its retries over k seconds. */
	double demand = s.admitted + s.shed_rate;
	double ra = o.rate_cap ? ceil(demand / o.rate_cap) : 1;

	ra = ra < 1 ? 1 : ra > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : ra;
	atomic_store_explicit(&v->retry_after_s, (uint32_t)ra, memory_order_relaxed);
	atomic_store_explicit(&v->rate_cap, o.rate_cap, memory_order_relaxed);
	atomic_store_explicit(&v->level, o.level, memory_order_relaxed);
	atomic_store_explicit(&v->delay_ns, o.delay_ns, memory_order_relaxed);
	atomic_store_explicit(&v->overloaded, o.overloaded, memory_order_relaxed);
	if (o.overloaded)
		atomic_store_explicit(&v->engaged_until_ns, s.now_ns + ENGAGED_NS,
				      memory_order_relaxed);
	atomic_store_explicit(&v->backlog, s.backlog, memory_order_relaxed);
	atomic_store_explicit(&v->psi_milli,
			      s.psi_valid ? (uint32_t)(s.psi_some_avg10 * 1000) : UINT32_MAX,
			      memory_order_relaxed);
	atomic_store_explicit(&v->goodput_milli, (uint64_t)(s.goodput * 1000),
			      memory_order_relaxed);
	atomic_store_explicit(&v->demand_milli, (uint64_t)(demand * 1000),
			      memory_order_relaxed);
	atomic_store_explicit(&v->req_per_conn_milli, (uint64_t)(l->rpc * 1000),
			      memory_order_relaxed);
	atomic_store_explicit(&v->busy_milli, (uint64_t)(s.busy * 1000),
			      memory_order_relaxed);
	atomic_store_explicit(&v->depth, s.depth, memory_order_relaxed);
	atomic_store_explicit(&v->oldest_ns, s.oldest_age_ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&v->ticks, 1, memory_order_relaxed);
	pr_debug("tick%s%s: delay %.2f ms goodput %.0f/s (%" PRIu64 " done, busy %.2f, "
		 "%.2f req/conn) demand %.0f/s admitted %.0f/s backlog %u psi %.0f%% -> rate %u "
		 "level %u concurrency %u%s%s", l->g ? " " : "", l->g ? l->g->name : "",
		 (double)o.delay_ns / 1e6, s.goodput, m.done, s.busy, l->rpc, demand, s.admitted,
		 s.backlog, s.psi_valid ? s.psi_some_avg10 : -1, o.rate_cap, o.level, o.conc_limit,
		 err > 0 ? ", written" : "", !l->calm ? "" : arrived ? ", calm" : ", calm, idle");
}

static void timespec_add_ns(struct timespec *t, uint64_t ns)
{
	t->tv_nsec += (long)(ns % 1000000000ull);
	t->tv_sec += (time_t)(ns / 1000000000ull);
	if (t->tv_nsec >= 1000000000L) {
		t->tv_nsec -= 1000000000L;
		t->tv_sec++;
	}
}

/* All the loops of the daemon, run by one thread on one clock. */
static struct {
	struct loop loops[SLD_MAX_GUARDS];
	unsigned n;
	struct sld_psi_reader psi;
} C;

/*
 * Until the next tick: a tick, or CTL_CALM_TICKS of them once every loop
 * is calm (guard mode only: a guard shares the core of the service it
 * guards, and each tick's wake-up preempts the service), but never longer
 * than the heartbeat's interval (heartbeat.h), which is written at a
 * tick: a heartbeat is then late by less than that interval. Once every
 * loop is also idle (a keep-alive load, or none: no new connection
 * came), the heartbeat's interval itself: the rate and the level judge
 * only new connections, and the concurrency limit, which bounds what the
 * ones that come meanwhile can queue, is enforced in the kernel. The
 * guard of a Go service at full keep-alive speed used 0.2% of its core
 * at 40 ms, 0.1% at 100 (bench-guard, 6 Dec).
 */
static uint64_t next_tick_ns(void)
{
	const struct loop *l = &C.loops[0];
	uint64_t tick = l->ctl.p.tick_ns, calm = CTL_CALM_TICKS * tick;
	uint64_t beat = sld_heartbeat_every(l->stale_after_ns);
	bool idle = true;

	for (unsigned i = 0; i < C.n; i++) {
		if (!C.loops[i].calm)
			return tick;
		idle = idle && !C.loops[i].ctl.arrived;	/* its last tick's (control.h) */
	}
	if (idle || calm > beat)
		calm = beat > tick ? beat : tick;
	return calm;
}

static void *ctl_main(void *arg)
{
	struct sld *d = arg;
	struct timespec next;
	struct sld_psi psi = { 0 };
	unsigned ticks = 0;

	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!atomic_load_explicit(&d->ctl_stop, memory_order_relaxed)) {
		uint32_t gen = atomic_load_explicit(&d->cfg_gen, memory_order_acquire);
		struct timespec now;

		for (unsigned i = 0; i < C.n; i++) {
			if (gen != C.loops[i].gen) {
				C.loops[i].gen = gen;
				load_config(&C.loops[i]);
			}
		}
		timespec_add_ns(&next, next_tick_ns());
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > next.tv_sec + 1)
			next = now;	/* far behind (suspended): do not race to catch up */
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
		if (ticks % PSI_TICKS == 0 && sld_psi_read(&C.psi, &psi))
			psi.valid = false;
		for (unsigned i = 0; i < C.n; i++)
			tick(&C.loops[i], &psi);
		if (++ticks % REFRESH_TICKS == 0)
			for (unsigned i = 0; i < C.n; i++)
				sld_dataplane_refresh(C.loops[i].dp);
	}
	return NULL;
}

static void loop_init(struct loop *l, struct sld *d, struct sld_dataplane *dp,
		      struct sld_ctl_view *view, struct sld_guard *g)
{
	struct ctl_output o;

	memset(l, 0, sizeof(*l));
	l->d = d;
	l->dp = dp;
	l->view = view;
	l->g = g;
	l->rpc = 1;
	conc_init(&l->conc);
	l->gen = atomic_load_explicit(&d->cfg_gen, memory_order_acquire);
	load_config(l);
	{
		struct ctl_params p = l->ctl.p;	/* ctl_init clears l->ctl */

		ctl_init(&l->ctl, &p);
	}
	if (!g) {
		pool_stats(d->pool, &l->prev);
		l->worked = atomic_load(&d->c.worked);
		l->admitted = atomic_load(&d->conns_admitted);
		l->requests = atomic_load(&d->c.dispatched);
	}
	if (dp->adopted) {
		/* Carry on from the limits in force: starting open would let a
		 * burst in while the first ticks measure (a gap in enforcement). */
		l->ctl.rate = dp->adopted_adm.rate_cap ? dp->adopted_adm.rate_cap
						       : l->ctl.p.rate_max;
		l->ctl.level = dp->adopted_adm.level;
		l->ctl.demand_seen = dp->adopted_adm.rate_cap != 0;
		l->conc.limit = dp->adopted_adm.conc_limit;
		o = (struct ctl_output){ .rate_cap = (uint32_t)l->ctl.rate,
					 .level = l->ctl.level,
					 .conc_limit = dp->adopted_adm.conc_limit };
		if (sld_dataplane_write(dp, &o, l->stale_after_ns, l->stale_policy, false) < 0)
			pr_warn("cannot refresh the adopted limits' heartbeat");
	}
}

int sld_control_start(struct sld *d)
{
	int err;

	memset(&C, 0, sizeof(C));
	if (d->n_guards) {
		for (uint32_t i = 0; i < d->n_guards; i++)
			loop_init(&C.loops[i], d, &d->guards[i].dp, &d->guards[i].view,
				  &d->guards[i]);
		C.n = d->n_guards;
	} else {
		loop_init(&C.loops[0], d, &d->dp, &d->view, NULL);
		C.n = 1;
	}
	err = sld_psi_open(&C.psi, NULL);
	if (err)
		pr_warn("cannot open %s: %s; running without CPU pressure",
			SLD_PSI_CPU_PATH, strerror(-err));
	if (C.psi.fd < 0)
		pr_info("no CPU pressure information (PSI) here");
	err = pthread_create(&d->ctl_thread, NULL, ctl_main, d);
	if (err) {
		pr_err("cannot start the controller thread: %s", strerror(err));
		return -err;
	}
	pthread_setname_np(d->ctl_thread, "sld-control");
	return 0;
}

void sld_control_stop(struct sld *d)
{
	atomic_store(&d->ctl_stop, true);
	pthread_join(d->ctl_thread, NULL);
	sld_psi_close(&C.psi);
}
