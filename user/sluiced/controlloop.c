// SPDX-License-Identifier: MIT
/*
 * The controller thread: every tick, read the load signals (the pool's
 * queue delay, depth, busy fraction and completions; the accept backlog;
 * CPU pressure; for the proxy, its upstream queue and the upstream's
 * latency above its floor),
 * run the law (control.c), and write the admission rate and level to the
 * kernel in one map update with a heartbeat. A thread of its own on an
 * absolute clock, so neither a busy IO thread nor a slow metrics scrape
 * delays a heartbeat.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "sluiced.h"
#include "state.h"

#define RPC_ALPHA 0.1		/* EWMA weight of a tick's requests per connection */
#define REFRESH_TICKS 100	/* re-read the service entry (its mark) this often */
#define RETRY_AFTER_MAX 30
/* Without a data plane the acceptor applies the rate only this long
 * after an overloaded tick (server.c says why). */
#define ENGAGED_NS 1000000000ull
/* Goodput over the last GOODPUT_TICKS ticks: a 1000/s service completes
 * ~10 requests in a 10 ms tick, so one tick's count is +-10% noise, and
 * the law anchors its decrease to goodput. 5 ticks cut that to a few %
 * at a lag of 2-3 ticks. */
#define GOODPUT_TICKS 3
/*
 * The floor of the rate: half the best goodput of the last 10-20 s. The
 * law keeps the rate within headroom of demand, so after a quiet spell it
 * sits at rate_min and a burst would find it at a trickle, climbing 5% a
 * tick for a second. A service that just completed N/s can take N/2 at
 * once; the floor forgets a capacity that is gone within 20 s.
 */
#define PEAK_WINDOW_NS 10000000000ull
#define PEAK_SHARE 0.5

struct loop {
	struct sld *d;
	struct ctl ctl;
	struct sld_psi_reader psi;
	struct pool_stats prev, cur;
	struct sl_stats kprev;
	bool have_kprev;
	uint64_t worked, admitted, requests, fast_rate;
	uint64_t gp_done[GOODPUT_TICKS], gp_ns[GOODPUT_TICKS], gp_busy[GOODPUT_TICKS];
	unsigned gp_i;
	double peak, peak_prev, rate_min;
	uint64_t peak_start;
	uint32_t backlog_prev;
	double rpc;
	uint32_t gen;
	uint64_t stale_after_ns;
	uint32_t stale_policy;
	unsigned ticks;
	bool map_error_logged;
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
	l->stale_after_ns = (uint64_t)d->cfg.stale_after_s * 1000000000ull;
	l->stale_policy = d->cfg.stale_policy;
	pthread_mutex_unlock(&d->cfg_lock);
	if (ctl_params_validate(&p, &why)) {
		pr_err("controller parameters: %s; keeping the previous ones", why);
		return;
	}
	/* The law's state (rate, level, hold timers) carries over a reload. */
	l->ctl.p = p;
	l->rate_min = p.rate_min;
	atomic_store_explicit(&d->view.target_ns, p.target_delay_ns, memory_order_relaxed);
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
 * jump).
 */
static void upstream_signals(struct sld *d, struct ctl_signals *s)
{
	struct sld_upq_signals u;
	uint64_t excess;

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
}

static void tick(struct loop *l)
{
	struct sld *d = l->d;
	struct ctl_signals s = { 0 };
	struct ctl_output o;
	struct pool_interval iv;
	struct sld_backlog bl = { 0 };
	struct sld_psi psi;
	struct sl_stats k;
	uint64_t w, a, r, dw, da, dr;
	double dt;
	int err;

	if (pool_stats(d->pool, &l->cur))
		return;
	pool_stats_interval(&l->prev, &l->cur, &iv);
	l->prev = l->cur;
	dt = (double)iv.ns / 1e9;
	if (dt <= 0)
		return;

	w = atomic_load_explicit(&d->c.worked, memory_order_relaxed);
	a = atomic_load_explicit(&d->conns_admitted, memory_order_relaxed);
	r = atomic_load_explicit(&d->c.dispatched, memory_order_relaxed);
	dw = diff(l->worked, w);
	da = diff(l->admitted, a);
	dr = diff(l->requests, r);
	l->worked = w, l->admitted = a, l->requests = r;
	/* The kernel counts connections; with keep-alive a connection
	 * carries several requests: goodput in connections per second. */
	if (da > 0)
		l->rpc += RPC_ALPHA * ((double)dr / (double)da - l->rpc);
	if (l->rpc < 1)
		l->rpc = 1;

	s.now_ns = l->cur.now_ns;
	s.delay_min_ns = iv.min_delay_ns;
	s.oldest_age_ns = l->cur.oldest_wait_ns;
	s.depth = (uint32_t)l->cur.depth;
	s.busy = iv.busy;
	/* A proxy's workers only hand requests on: its busy fraction is the
	 * upstream's places in flight in use. */
	if (d->proxy)
		upstream_signals(d, &s);
	{
		uint64_t done = 0, ns = 0, busy = 0;

		l->gp_done[l->gp_i] = dw;
		l->gp_ns[l->gp_i] = iv.ns;
		l->gp_busy[l->gp_i] = (uint64_t)(s.busy * (double)iv.ns);
		l->gp_i = (l->gp_i + 1) % GOODPUT_TICKS;
		for (int i = 0; i < GOODPUT_TICKS; i++)
			done += l->gp_done[i], ns += l->gp_ns[i], busy += l->gp_busy[i];
		s.goodput = (double)done / ((double)ns / 1e9) / l->rpc;
		s.busy = (double)busy / (double)ns;
	}

	if (sld_dataplane_stats(d, &k) == 0) {
		if (l->have_kprev) {
			s.admitted = (double)diff(l->kprev.admitted, k.admitted) / dt;
			s.shed_rate = (double)diff(l->kprev.svc_bucket, k.svc_bucket) / dt;
			s.shed_level = (double)diff(l->kprev.shed_level, k.shed_level) / dt;
		}
		l->kprev = k;
		l->have_kprev = true;
	} else {
		/* No data plane: the acceptor enforces the rate (server.c);
		 * what it admitted and what it shed for the rate are the
		 * demand. */
		uint64_t f = atomic_load_explicit(&d->c.fast[SLD_FAST_rate],
						  memory_order_relaxed);

		s.admitted = (double)da / dt;
		s.shed_rate = (double)diff(l->fast_rate, f) / dt;
		l->fast_rate = f;
	}
	/* A connection caught between its arrival and our accept() is not a
	 * queue: count only what stayed across two ticks (CoDel's minimum). */
	int lfd = atomic_load_explicit(&d->listen_fd, memory_order_relaxed);

	if (lfd >= 0 && sld_accept_backlog(lfd, &bl) == 0) {
		s.backlog = bl.queued < l->backlog_prev ? bl.queued : l->backlog_prev;
		l->backlog_prev = bl.queued;
	}
	if (l->cur.now_ns - l->peak_start > PEAK_WINDOW_NS) {
		l->peak_prev = l->peak;
		l->peak = 0;
		l->peak_start = l->cur.now_ns;
	}
	if (s.goodput > l->peak)
		l->peak = s.goodput;
	{
		double floor = PEAK_SHARE * (l->peak > l->peak_prev ? l->peak : l->peak_prev);

		l->ctl.p.rate_min = floor > l->rate_min ? floor : l->rate_min;
		if (l->ctl.p.rate_min > l->ctl.p.rate_max)
			l->ctl.p.rate_min = l->ctl.p.rate_max;
	}
	if (sld_psi_read(&l->psi, &psi) == 0 && psi.valid) {
		s.psi_valid = true;
		s.psi_some_avg10 = psi.some.avg10;
	}

	ctl_tick(&l->ctl, &s, &o);
	err = sld_dataplane_write(d, &o, l->stale_after_ns, l->stale_policy);
	if (err) {
		atomic_fetch_add_explicit(&d->view.map_errors, 1, memory_order_relaxed);
		if (!l->map_error_logged)
			pr_err("cannot write %s: %s (logged once)", SL_MAP_ADMISSION,
			       strerror(-err));
		l->map_error_logged = true;
	} else if (sld_dataplane_claimed(d)) {
		atomic_fetch_add_explicit(&d->view.map_writes, 1, memory_order_relaxed);
	}

	/* Retry-After: when the shed would fit. Demand at k x the rate
	 * spreads its retries over k seconds. */
	double demand = s.admitted + s.shed_rate;
	double ra = o.rate_cap ? ceil(demand / o.rate_cap) : 1;

	ra = ra < 1 ? 1 : ra > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : ra;
	atomic_store_explicit(&d->view.retry_after_s, (uint32_t)ra, memory_order_relaxed);
	atomic_store_explicit(&d->view.rate_cap, o.rate_cap, memory_order_relaxed);
	atomic_store_explicit(&d->view.level, o.level, memory_order_relaxed);
	atomic_store_explicit(&d->view.delay_ns, o.delay_ns, memory_order_relaxed);
	atomic_store_explicit(&d->view.overloaded, o.overloaded, memory_order_relaxed);
	if (o.overloaded)
		atomic_store_explicit(&d->view.engaged_until_ns, s.now_ns + ENGAGED_NS,
				      memory_order_relaxed);
	atomic_store_explicit(&d->view.backlog, s.backlog, memory_order_relaxed);
	atomic_store_explicit(&d->view.psi_milli,
			      s.psi_valid ? (uint32_t)(s.psi_some_avg10 * 1000) : UINT32_MAX,
			      memory_order_relaxed);
	atomic_store_explicit(&d->view.goodput_milli, (uint64_t)(s.goodput * 1000),
			      memory_order_relaxed);
	atomic_store_explicit(&d->view.demand_milli, (uint64_t)(demand * 1000),
			      memory_order_relaxed);
	atomic_store_explicit(&d->view.req_per_conn_milli, (uint64_t)(l->rpc * 1000),
			      memory_order_relaxed);
	atomic_store_explicit(&d->view.busy_milli, (uint64_t)(s.busy * 1000),
			      memory_order_relaxed);
	atomic_store_explicit(&d->view.depth, s.depth, memory_order_relaxed);
	atomic_store_explicit(&d->view.oldest_ns, s.oldest_age_ns, memory_order_relaxed);
	atomic_store_explicit(&d->view.min_delay_ns, iv.min_delay_ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&d->view.ticks, 1, memory_order_relaxed);
	pr_debug("tick: delay %.2f ms goodput %.0f/s (%" PRIu64 " done, busy %.2f, %.2f req/conn) "
		 "demand %.0f/s backlog %u -> rate %u level %u",
		 (double)o.delay_ns / 1e6, s.goodput, dw, s.busy, l->rpc, demand, s.backlog,
		 o.rate_cap, o.level);
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

static void *ctl_main(void *arg)
{
	struct loop *l = arg;
	struct sld *d = l->d;
	struct timespec next;

	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!atomic_load_explicit(&d->ctl_stop, memory_order_relaxed)) {
		uint32_t gen = atomic_load_explicit(&d->cfg_gen, memory_order_acquire);
		struct timespec now;

		if (gen != l->gen) {
			l->gen = gen;
			load_config(l);
		}
		timespec_add_ns(&next, l->ctl.p.tick_ns);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > next.tv_sec + 1)
			next = now;	/* far behind (suspended): do not race to catch up */
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
		tick(l);
		if (++l->ticks % REFRESH_TICKS == 0)
			sld_dataplane_refresh(d);
	}
	return NULL;
}

static struct loop the_loop;

int sld_control_start(struct sld *d)
{
	struct loop *l = &the_loop;
	struct ctl_output o;
	int err;

	memset(l, 0, sizeof(*l));
	l->d = d;
	l->rpc = 1;
	l->gen = atomic_load_explicit(&d->cfg_gen, memory_order_acquire);
	load_config(l);
	{
		struct ctl_params p = l->ctl.p;	/* ctl_init clears l->ctl */

		ctl_init(&l->ctl, &p);
	}
	err = sld_psi_open(&l->psi, NULL);
	if (err)
		pr_warn("cannot open %s: %s; running without CPU pressure",
			SLD_PSI_CPU_PATH, strerror(-err));
	if (l->psi.fd < 0)
		pr_info("no CPU pressure information (PSI) here");
	pool_stats(d->pool, &l->prev);
	l->worked = atomic_load(&d->c.worked);
	l->admitted = atomic_load(&d->conns_admitted);
	l->requests = atomic_load(&d->c.dispatched);
	if (d->dp.adopted) {
		/* Carry on from the limits in force: starting open would let a
		 * burst in while the first ticks measure (a gap in enforcement). */
		l->ctl.rate = d->dp.adopted_adm.rate_cap ? d->dp.adopted_adm.rate_cap
							 : l->ctl.p.rate_max;
		l->ctl.level = d->dp.adopted_adm.level;
		l->ctl.demand_seen = d->dp.adopted_adm.rate_cap != 0;
		o = (struct ctl_output){ .rate_cap = (uint32_t)l->ctl.rate,
					 .level = l->ctl.level };
		if (sld_dataplane_write(d, &o, l->stale_after_ns, l->stale_policy))
			pr_warn("cannot refresh the adopted limits' heartbeat");
	}
	err = pthread_create(&d->ctl_thread, NULL, ctl_main, l);
	if (err) {
		pr_err("cannot start the controller thread: %s", strerror(err));
		return -err;
	}
	return 0;
}

void sld_control_stop(struct sld *d)
{
	atomic_store(&d->ctl_stop, true);
	pthread_join(d->ctl_thread, NULL);
	sld_psi_close(&the_loop.psi);
}
