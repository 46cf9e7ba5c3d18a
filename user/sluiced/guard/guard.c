// SPDX-License-Identifier: MIT
/*
 * Guard mode (--guard tcp/PORT): sluiced serves nothing and protects local
 * TCP services it does not run. Per guarded port, each tick: is a service
 * listening (sock_diag; a port with no listener is not an error, services
 * restart), the kernel's counters of its requests (guardbpf.c), and from
 * them (guardsig.c) the delay signal the controller turns into the port's
 * admission rate and level, which the data plane enforces on new
 * connections. Nothing is in the request path but the data plane.
 *
 * The delay measured is the one every server design shows somewhere
 * between a request's arrival and its answer: a goroutine server or an
 * event loop leaves sockets unread (the socket wait), a thread pool reads
 * at once and queues inside, or runs more requests than it has CPUs for
 * (the sojourn's rise above its level while the service keeps up). Its
 * completions are the connections answered for the first time.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "sluiced.h"
#include "sockdiag.h"

#define LISTENER_TICKS 10

int sld_guard_init(struct sld *d)
{
	const struct sld_config *cfg = &d->cfg;

	d->n_guards = cfg->n_guards;
	sld_sockdiag_init(&d->diag);
	for (uint32_t i = 0; i < cfg->n_guards; i++) {
		struct sld_guard *g = &d->guards[i];

		memset(g, 0, sizeof(*g));
		g->port = cfg->guards[i];
		g->dp.port = g->port;
		snprintf(g->name, sizeof(g->name), "tcp/%u", g->port);
		gsig_init(&g->sig);
		pthread_mutex_init(&g->gv.lock, NULL);
	}
	return 0;
}

int sld_guard_up(struct sld *d)
{
	int held_fd = -1, err;

	/* Every guard's pins are of the one pin dir: any has its sl_held. */
	for (uint32_t i = 0; i < d->n_guards && held_fd < 0; i++)
		if (d->guards[i].dp.have_pins)
			held_fd = d->guards[i].dp.pins.held_fd;
	err = sld_guard_bpf_open(&d->gbpf, held_fd);

	if (err)
		return err;
	for (uint32_t i = 0; i < d->n_guards; i++) {
		err = sld_guard_bpf_port(&d->gbpf, d->guards[i].port, (int)i, 0);
		if (err) {
			pr_err("cannot add %s to the guard's ports: %s", d->guards[i].name,
			       strerror(-err));
			return err;
		}
	}
	return 0;
}

/* Says once when the port's listener goes away or comes (back). */
static bool listener_state(struct sld_guard *g, int err, const struct sld_listener *ls)
{
	bool up = err == 0;
	bool was = atomic_load_explicit(&g->gv.listening, memory_order_relaxed);

	if (up && !was)
		pr_info("%s: a service listens (%u socket%s, backlog %u): guarding it",
			g->name, ls->sockets, ls->sockets == 1 ? "" : "s", ls->limit);
	else if (!up && (was || !g->told_down))
		pr_warn("%s: no service listens%s%s; guarding starts when one does",
			g->name, err == -ENOENT ? "" : ": ",
			err == -ENOENT ? "" : strerror(-err));
	if (!up)
		g->told_down = true;
	atomic_store_explicit(&g->gv.listening, up, memory_order_relaxed);
	return up;
}

/*
 * The service's busy fraction (guardsig.h says how it is measured): it
 * gives the controller's busy jump its capacity estimate, goodput / busy,
 * so that a rate that sank during a quiet spell opens in a tick or two
 * when load returns, instead of climbing 5% a tick while the service
 * idles. The process is found once per listener. 0: unknown.
 */
static double busy_of(struct sld_guard *g, uint32_t inode, uint64_t now)
{
	bool overloaded = atomic_load_explicit(&g->view.overloaded, memory_order_relaxed);
	uint64_t ns;
	double busy;
	pid_t pid;

	if (inode != g->inode) {	/* a new listener: find its process */
		g->inode = inode;
		g->have_cpu = sld_socket_owner(inode, &pid) == 0 &&
			      sld_cpu_open(pid, &g->cpu) == 0 &&
			      sld_cpu_read(&g->cpu, &ns) == 0;
		if (g->have_cpu) {
			gsig_busy_init(&g->busy, g->cpu.cpus, ns, now);
			pr_info("%s: the service is process %d (%u CPU%s)", g->name,
				(int)g->cpu.pid, g->cpu.cpus, g->cpu.cpus == 1 ? "" : "s");
		} else {
			pr_warn("%s: cannot find the service's process: its busy "
				"fraction is unknown", g->name);
		}
		return 0;
	}
	if (!g->have_cpu || sld_cpu_read(&g->cpu, &ns))
		return 0;
	busy = gsig_busy(&g->busy, ns, now, overloaded);
	atomic_store_explicit(&g->gv.sat_cpu_milli, (uint64_t)(g->busy.sat * 1000),
			      memory_order_relaxed);
	return busy;
}

/* Moved by a quarter or more since last said (one bucket of the
 * histograms), or learnt, or forgotten. */
static bool moved(uint64_t now, uint64_t said)
{
	return (now == 0) != (said == 0) || now > said + said / 4 || now < said - said / 4;
}

/*
 * The sojourn's base and its low-load bound, logged (info) when either
 * moves by a quarter: the creep the bound stops would show here first.
 */
static void log_base(struct sld_guard *g, const struct gsig_tick *t)
{
	if (!moved(t->base_ns, g->said_base_ns) && !moved(t->unloaded_ns, g->said_unloaded_ns))
		return;
	g->said_base_ns = t->base_ns;
	g->said_unloaded_ns = t->unloaded_ns;
	pr_info("%s: sojourn base %.2f ms, at low load %.2f ms (window p99 %.2f ms of %" PRIu64
		" answers, busy %.2f%s)", g->name, (double)t->base_ns / 1e6,
		(double)t->unloaded_ns / 1e6, (double)t->sojourn_ns / 1e6, t->samples,
		g->sig.busy, g->shedding ? ", shedding" : "");
}

/*
 * The slot the guard's programs count the service's connections in: the
 * one its service has now (the operator may delete and add it again
 * elsewhere), and with look the count there, for the metrics (a system
 * call: not every tick, see sld_guard_measure).
 */
static void held_follow(struct sld *d, struct sld_guard *g, bool look)
{
	uint32_t slot = atomic_load_explicit(&g->dp.slot, memory_order_relaxed);
	struct sl_held h = { 0 };

	if (!g->dp.have_pins)
		return;
	if (slot != g->held_slot) {
		sld_guard_bpf_slot(&d->gbpf, (int)(g - d->guards), slot);
		g->held_slot = slot;
	}
	if (!look)
		return;
	if (slot)
		bpf_map_lookup_elem(g->dp.pins.held_fd, &slot, &h);
	atomic_store_explicit(&g->gv.held, (int64_t)h.held < 0 ? 0 : h.held,
			      memory_order_relaxed);
}

int sld_guard_measure(struct sld *d, struct sld_guard *g, uint64_t now,
		      struct ctl_signals *s, uint64_t *done, uint64_t *ns)
{
	struct sld_guard_view *v = &g->gv;
	struct sld_listener ls;
	struct sl_guard_stats cur;
	struct gsig_tick t;
	bool slow = g->ls_ticks++ % LISTENER_TICKS == 0;
	int err;

	/* The listener dump walks the kernel's whole listening table twice
	 * (IPv4, IPv6): the largest part of a tick's cost, on the service's
	 * core. Its answers (a service listens; its accept queue) are read
	 * every LISTENER_TICKS: the sojourn already counts a request's time
	 * in the accept queue, and the queue's length only has to catch a
	 * service that stopped accepting, which a tenth of a second does.
	 * The held count, which only the metrics show, is read with it. */
	if (slow)
		g->ls_err = sld_listener_find(&d->diag, g->port, &g->ls);
	ls = g->ls;
	err = g->ls_err;
	if (!listener_state(g, err, &ls)) {
		/* A restarted service starts afresh: no wait spans two lives. */
		gsig_init(&g->sig);
		g->inode = 0;
		if (g->shift && sld_guard_bpf_port(&d->gbpf, g->port, (int)(g - d->guards), 0) == 0)
			g->shift = 0;
		return -EAGAIN;
	}
	err = sld_guard_bpf_read(&d->gbpf, (int)(g - d->guards), &cur);
	if (err)
		return err;
	held_follow(d, g, slow);
	s->busy = busy_of(g, ls.inode, now);
	gsig_tick(&g->sig, now, &cur, ls.queued, g->shedding, s->busy, &t);
	log_base(g, &t);
	if (t.shift != g->shift &&
	    sld_guard_bpf_port(&d->gbpf, g->port, (int)(g - d->guards), t.shift) == 0)
		g->shift = t.shift;

	atomic_store_explicit(&v->listeners, ls.sockets, memory_order_relaxed);
	atomic_store_explicit(&v->accept_queue, ls.queued, memory_order_relaxed);
	atomic_store_explicit(&v->accept_limit, ls.limit, memory_order_relaxed);
	atomic_store_explicit(&v->wait_ns, t.wait_ns, memory_order_relaxed);
	atomic_store_explicit(&v->sojourn_ns, t.sojourn_ns, memory_order_relaxed);
	atomic_store_explicit(&v->base_ns, t.base_ns, memory_order_relaxed);
	atomic_store_explicit(&v->unloaded_ns, t.unloaded_ns, memory_order_relaxed);
	atomic_store_explicit(&v->rise_ns, t.rise_ns, memory_order_relaxed);
	atomic_store_explicit(&v->sojourn_p50_ns, t.p50_ns, memory_order_relaxed);
	atomic_store_explicit(&v->sample_shift, g->shift, memory_order_relaxed);
	atomic_store_explicit(&v->pending, t.pending, memory_order_relaxed);
	atomic_store_explicit(&v->open, t.open, memory_order_relaxed);
	pthread_mutex_lock(&v->lock);
	v->total = cur;
	pthread_mutex_unlock(&v->lock);
	if (!t.interval_ns)
		return -EAGAIN;

	pr_debug("guard %s: wait %.2f ms, sojourn %.2f ms (p50 %.2f, base %.2f, rise %.2f), "
		 "stuck %.2f ms, %" PRIu64 " answers in the window, %" PRIu64 " served, %" PRIu64
		 " waiting, busy %.2f, accept queue %u", g->name, (double)t.wait_ns / 1e6,
		 (double)t.sojourn_ns / 1e6, (double)t.p50_ns / 1e6, (double)t.base_ns / 1e6,
		 (double)t.rise_ns / 1e6, (double)t.stuck_ns / 1e6, t.samples, t.served, t.pending,
		 s->busy, ls.queued);
	/* The law's minimum is here the window's p99 (guardsig.h says why a
	 * tail), and its oldest task a stuck service's age. */
	s->delay_min_ns = t.delay_ns;
	s->oldest_age_ns = t.stuck_ns;
	s->depth = t.pending > UINT32_MAX ? UINT32_MAX : (uint32_t)t.pending;
	*done = t.served;
	*ns = t.interval_ns;
	return 0;
}

int sld_guard_run(struct sld *d, volatile sig_atomic_t *reload, sld_reload_fn *on_reload)
{
	sigset_t none;

	sigemptyset(&none);
	/* The signals are blocked in every thread (main.c): one that arrives
	 * between the test and sigsuspend stays pending until it unblocks
	 * them, so no wake-up is lost. */
	while (!*d->stop) {
		if (*reload) {
			*reload = 0;
			on_reload(d);
			continue;
		}
		sigsuspend(&none);
	}
	return 0;
}

void sld_guard_down(struct sld *d)
{
	sld_guard_bpf_close(&d->gbpf);
	sld_sockdiag_close(&d->diag);
	for (uint32_t i = 0; i < d->n_guards; i++)
		pthread_mutex_destroy(&d->guards[i].gv.lock);
}
