// SPDX-License-Identifier: MIT
/*
 * sluiced: start (options, the data plane, the pool, the controller, the
 * metrics endpoint), serve until SIGTERM, then drain; SIGHUP rereads the
 * options, on a thread of its own: reading the file and resolving the
 * upstream's name may block, and the IO loops must not. In guard mode
 * (--guard) there is no listener and no pool: the guard's BPF object, the
 * data plane, the controller and the metrics, until SIGTERM. Exit status:
 * 0 success, 1 runtime failure, 2 usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "memory.h"
#include "sluiced.h"

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t reload_flag;
static int g_argc;
static char **g_argv;

/* The reload thread: one at a time; a SIGHUP during a reload runs another
 * once it ends (the file may have changed again). */
static struct {
	pthread_mutex_t lock;
	pthread_t thread;
	bool started, running, again;
} R = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_flag = 1;
	else
		stop_flag = 1;
}

static enum sl_log_level log_level(uint32_t l)
{
	static const enum sl_log_level map[] = { SL_LOG_ERR, SL_LOG_WARN,
						 SL_LOG_INFO, SL_LOG_DEBUG };

	return l < 4 ? map[l] : SL_LOG_INFO;
}

static uint64_t deadline_ns(const struct sld_config *c)
{
	/* Breakwater and CoDel drop at twice the target; we drop at the
	 * target: with a 2x deadline the worked requests' p99 can sit at
	 * 2x the target (+ service), above the bar of 2 x unloaded p99 +
	 * target; at 1x it is bounded by construction. The controller aims
	 * at half the target (control.c), so that the drop answers few of
	 * what it admits (~1% at 2x to 10x). */
	uint64_t ms = c->deadline_ms ? c->deadline_ms : c->target_delay_ms;

	return ms * 1000000ull;
}

/* How long a queue holds late requests before the deadline drop acts on
 * them (standing.h): CoDel's interval is the time its control loop needs
 * to react, and ours reacts within a tick or two; at least the target, so
 * that a generous target is not undercut by a short tick. With the
 * defaults 20 ms: a stall of a few ms is a transient, and a 10x step is
 * still back within its bound well inside 200 ms. */
static uint64_t standing_interval_ns(const struct sld_config *c)
{
	uint64_t ms = 2ull * c->tick_ms;

	if (ms < c->target_delay_ms)
		ms = c->target_delay_ms;
	return ms * 1000000ull;
}

static void apply_hot(struct sld *d)
{
	atomic_store(&d->deadline_ns, deadline_ns(&d->cfg));
	atomic_store(&d->standing_interval_ns, standing_interval_ns(&d->cfg));
	atomic_store(&d->max_connections, d->cfg.max_connections);
	atomic_store(&d->max_header_line, d->cfg.max_header_line);
	atomic_store(&d->max_header_size, d->cfg.max_header_size);
	sl_log_set_level(log_level(d->cfg.log_level));
}

static void reload_now(struct sld *d)
{
	struct sld_config next;
	struct sld_config_err err;

	if (sld_config_load(&next, g_argc, g_argv, &err)) {
		pr_err("reload refused, keeping the running options: %s", err.msg);
		return;
	}
	if (sld_config_check_reload(&d->cfg, &next, &err)) {
		pr_err("reload refused, keeping the running options: %s", err.msg);
		return;
	}
	/* The upstream first: if the new one does not resolve, nothing
	 * changes (never half-applied). Resolved again on every reload, so
	 * a name that now points elsewhere is followed too. The upstream
	 * queue is always set up, so a proxy added here serves at once. */
	if (next.upstream[0] && sld_proxy_configure(&next)) {
		pr_err("reload refused, keeping the running options: upstream %s "
		       "does not resolve", next.upstream);
		return;
	}
	atomic_store(&d->proxy, next.upstream[0] != '\0');
	pthread_mutex_lock(&d->cfg_lock);
	d->cfg = next;
	pthread_mutex_unlock(&d->cfg_lock);
	apply_hot(d);
	/* Release: the controller that sees the new generation sees d->cfg
	 * (it also takes cfg_lock to read it). */
	atomic_fetch_add_explicit(&d->cfg_gen, 1, memory_order_release);
	pr_info("reloaded %s", next.config_path[0] ? next.config_path : "options");
}

static void *reload_main(void *arg)
{
	struct sld *d = arg;
	bool again;

	do {
		reload_now(d);
		pthread_mutex_lock(&R.lock);
		again = R.again;
		R.again = false;
		R.running = again;
		pthread_mutex_unlock(&R.lock);
	} while (again);
	return NULL;
}

/* On the main thread (sld_server_run's on_reload): never blocks (the
 * previous reload thread, if any, has ended when it is joined here). */
static void reload(struct sld *d)
{
	int err;

	pthread_mutex_lock(&R.lock);
	if (R.running) {
		R.again = true;
		pthread_mutex_unlock(&R.lock);
		return;
	}
	if (R.started)
		pthread_join(R.thread, NULL);
	R.started = R.running = false;
	err = pthread_create(&R.thread, NULL, reload_main, d);
	if (err)
		pr_err("reload: cannot start a thread: %s", strerror(err));
	else {
		pthread_setname_np(R.thread, "sld-reload");
		R.started = R.running = true;
	}
	pthread_mutex_unlock(&R.lock);
}

static void reload_wait(void)
{
	pthread_mutex_lock(&R.lock);
	R.again = false;
	pthread_mutex_unlock(&R.lock);
	if (R.started)
		pthread_join(R.thread, NULL);
	R.started = false;
}

/* One descriptor per connection, plus the daemon's own and the proxy's
 * upstream connections: raise the soft limit as far as the hard one lets. */
static void raise_nofile(uint32_t max_conns)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)max_conns + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur >= want)
		return;
	pr_warn("open files limited to %llu, below max-connections %u + 256: accepts "
		"pause when descriptors run out", (unsigned long long)rl.rlim_cur, max_conns);
}

static int install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t set;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL) ||
	    sigaction(SIGHUP, &sa, NULL))
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	/* Blocked everywhere (threads inherit it) except in the main thread's
	 * wait (sld_server_run, sld_guard_run), so a flag is never set between
	 * its check and a wait. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	return -pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* Guard mode: every check before anything is attached, then run. */
static int guard_main(struct sld *d)
{
	bool ctl_up = false, fleet_up = false;
	int rc = 1;

	sld_guard_init(d);
	if (sld_guard_bpf_check())
		return 1;
	if (sld_dataplane_up(d))
		goto out;
	if (sld_guard_up(d))
		goto out;
	if (sld_control_start(d))
		goto out;
	ctl_up = true;
	if (sld_fleet_start(d))	/* fleet quotas apply to guarded services too */
		goto out;
	fleet_up = true;
	if (sld_metrics_start(d))
		goto out;
	for (uint32_t i = 0; i < d->n_guards; i++)
		pr_info("guarding %s: target delay %u ms, tick %u ms", d->guards[i].name,
			d->cfg.target_delay_ms, d->cfg.tick_ms);
	if (sld_guard_run(d, &reload_flag, reload) == 0)
		rc = 0;
	reload_wait();
out:
	sld_metrics_stop();
	if (fleet_up)
		sld_fleet_stop();
	if (ctl_up)
		sld_control_stop(d);
	sld_dataplane_down(d, d->cfg.detach_on_exit);
	sld_guard_down(d);
	pr_info("exiting (%s)", rc ? "failure" : "clean");
	return rc;
}

int main(int argc, char **argv)
{
	static struct sld sld;	/* large (counters); one per process */
	struct sld *d = &sld;
	struct sld_config_err cerr;
	struct pool_opts po = { 0 };
	int err, rc = 1;
	bool pool_up = false, ctl_up = false, fleet_up = false;

	/* before any thread: they would get malloc arenas of their own */
	if (sld_memory_init())
		fprintf(stderr, "sluiced: warning: cannot limit malloc to one arena; "
			"the RSS will keep the largest burst's pages\n");
	g_argc = argc;
	g_argv = argv;
	if (sld_config_load(&d->cfg, argc, argv, &cerr)) {
		fprintf(stderr, "sluiced: %s\n", cerr.msg);
		return 2;
	}
	if (d->cfg.help) {
		sld_config_usage(stdout, "sluiced");
		return 0;
	}
	pthread_mutex_init(&d->cfg_lock, NULL);
	d->listen_fd = -1;
	d->stop = &stop_flag;
	d->queue_bound = d->cfg.queue_bound;
	d->kernel_wait_min_ns = UINT64_MAX;
	d->proxy = d->cfg.upstream[0] != '\0';
	apply_hot(d);
	sl_log_route_libbpf();
	if (install_signals()) {
		pr_err("cannot install signal handlers: %s", strerror(errno));
		goto out;
	}
	if (d->cfg.n_guards)
		return guard_main(d);
	raise_nofile(d->cfg.max_connections);
	if (sld_server_bind(d))
		goto out;
	if (sld_dataplane_up(d))
		goto out;
	if (sld_server_listen(d))
		goto out;
	po.workers = d->cfg.workers;
	if (sld_server_init(d, &po.workers, &po.driver)) {
		pr_err("cannot set up the IO loops");
		goto out;
	}
	po.queue_bound = d->cfg.queue_bound;
	d->resp_budget = (uint64_t)d->cfg.upstream_concurrency * SLD_MAX_RESPONSE;
	po.name = "sluiced";
	err = pool_create(&d->pool, &po);
	if (err) {
		pr_err("cannot start the pool (%u workers, queue bound %u): %s",
		       po.workers, po.queue_bound, strerror(-err));
		goto out;
	}
	pool_up = true;
	/* The queue also when not proxying: a reload may set --upstream. */
	sld_upq_init(d);
	if (d->proxy && sld_proxy_configure(&d->cfg))
		goto out;
	if (sld_control_start(d))
		goto out;
	ctl_up = true;
	if (sld_fleet_start(d))
		goto out;
	fleet_up = true;
	if (sld_metrics_start(d))
		goto out;
	pr_info("running: target delay %u ms, deadline %.1f ms, tick %u ms, "
		"max %u connections, queue bound %u, memory bound %.1f MiB",
		d->cfg.target_delay_ms, (double)atomic_load(&d->deadline_ns) / 1e6,
		d->cfg.tick_ms, d->cfg.max_connections, d->cfg.queue_bound,
		(double)sld_memory_bound(d) / (1 << 20));
	if (sld_server_run(d, &reload_flag, reload) == 0)
		rc = 0;
out:
	reload_wait();
	if (pool_up) {
		/* Drain: in-flight tasks finish; the server loop has already
		 * waited for their connections. */
		pool_shutdown(d->pool, POOL_DRAIN, NULL, NULL);
	}
	sld_metrics_stop();
	if (fleet_up)
		sld_fleet_stop();
	if (ctl_up)
		sld_control_stop(d);
	sld_dataplane_down(d, d->cfg.detach_on_exit);
	if (pool_up)
		pool_destroy(d->pool);
	if (d->listen_fd >= 0)
		close(d->listen_fd);
	pr_info("exiting (%s)", rc ? "failure" : "clean");
	return rc;
}
