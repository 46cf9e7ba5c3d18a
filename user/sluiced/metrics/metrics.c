// SPDX-License-Identifier: MIT
/*
 * The Prometheus endpoint: GET /metrics on --metrics (127.0.0.1:9464 by
 * default, so the numbers do not leave the host unless asked), served by a
 * thread of its own, one scrape at a time, so a scrape never competes with
 * the IO loops for the service's clients. Every wait is bounded: a
 * scrape's request must arrive within READ_MS and its answer be taken
 * within WRITE_MS (a trickling or stalled scraper is cut, the next one
 * served), and out of descriptors the thread waits PAUSE_MS before
 * accepting again instead of spinning on a listener that stays readable.
 * The page is built whole into a buffer (prom.h) and refused whole if it
 * does not fit.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "http_response.h"
#include "log.h"
#include "prom.h"
#include "proxy.h"
#include "sluiced.h"
#include "state.h"
#include "upstream.h"

#define PAGE_CAP (128u << 10)
#define READ_MS 1000
#define WRITE_MS 2000
#define PAUSE_MS 100
#define SLD_MEM_BASE (48ull << 20)	/* code, libbpf, thread stacks touched,
					 * the metrics page, the controller */

static struct {
	struct sld *d;
	int fd;
	int stop_pipe[2];
	pthread_t thread;
	bool running;
	char *page;
} M = { .fd = -1, .stop_pipe = { -1, -1 } };

#define SLD_EXCHANGE_EXTRA (1ull << 20)	/* an exchange's buffers besides the
						 * response: the request, a head
						 * read in part, its share of its
						 * loop's read and scratch buffers */

/*
 * Connections (each with its head buffer at its largest and a body), the
 * queue, and with a proxy: the exchanges in flight (a response being read
 * each), plus the responses handed to clients that have not read them yet,
 * which sld_resp_hold keeps within resp_budget (beyond it a response is
 * answered 503 instead of held: a slow reader cannot push the daemon past
 * this number).
 */
uint64_t sld_memory_bound(struct sld *d)
{
	uint64_t per_conn = sizeof(struct conn) + SLD_MAX_BODY +
			    atomic_load_explicit(&d->max_header_size, memory_order_relaxed);
	uint64_t bound = SLD_MEM_BASE +
			 (uint64_t)atomic_load_explicit(&d->max_connections,
							 memory_order_relaxed) * per_conn +
			 (uint64_t)d->queue_bound * 2 * sizeof(void *);

	if (d->proxy)
		bound += (uint64_t)d->cfg.upstream_concurrency *
				 (SLD_MAX_RESPONSE + SLD_EXCHANGE_EXTRA) + d->resp_budget;
	return bound;
}

static double ld(_Atomic uint64_t *v)
{
	return (double)atomic_load_explicit(v, memory_order_relaxed);
}

static double ld32(_Atomic uint32_t *v)
{
	return (double)atomic_load_explicit(v, memory_order_relaxed);
}

#define GAUGE(b, name, help, v)                                                \
	do {                                                                   \
		prom_family(b, name, help, PROM_GAUGE);                        \
		prom_sample(b, name, NULL, 0, v);                              \
	} while (0)
#define COUNTER(b, name, help, v)                                              \
	do {                                                                   \
		prom_family(b, name, help, PROM_COUNTER);                      \
		prom_sample(b, name, NULL, 0, v);                              \
	} while (0)

/* The controller's published values, one family each; a sample per view,
 * labelled by service when there are names (guard mode). */
static void ctl_metrics(struct prom_buf *b, struct sld_ctl_view *const *views,
			const char *const *names, unsigned n)
{
	static const struct {
		const char *name, *help;
		enum prom_type type;
		size_t off;
		bool wide;	/* a uint64_t, else a uint32_t */
		double scale;
	} f[] = {
#define V(field) offsetof(struct sld_ctl_view, field)
		{ "sluiced_controller_rate",
		  "Admission rate cap written to the kernel, new connections/s.",
		  PROM_GAUGE, V(rate_cap), false, 1 },
		{ "sluiced_controller_level", "Admission level written to the kernel.",
		  PROM_GAUGE, V(level), false, 1 },
		{ "sluiced_controller_target_delay_seconds", "Queueing-delay target.",
		  PROM_GAUGE, V(target_ns), true, 1e-9 },
		{ "sluiced_controller_delay_seconds", "Delay signal of the last tick.",
		  PROM_GAUGE, V(delay_ns), true, 1e-9 },
		{ "sluiced_controller_overloaded",
		  "1 if the delay was above the controller's aim "
		  "(half the target; guard mode: the target).",
		  PROM_GAUGE, V(overloaded), false, 1 },
		{ "sluiced_controller_goodput", "Completed requests per second, in connections.",
		  PROM_GAUGE, V(goodput_milli), true, 1e-3 },
		{ "sluiced_controller_demand", "New connections per second past the level.",
		  PROM_GAUGE, V(demand_milli), true, 1e-3 },
		{ "sluiced_controller_requests_per_connection",
		  "Requests per admitted connection (EWMA).",
		  PROM_GAUGE, V(req_per_conn_milli), true, 1e-3 },
		{ "sluiced_controller_retry_after_seconds", "Retry-After of a 503 now.",
		  PROM_GAUGE, V(retry_after_s), false, 1 },
		{ "sluiced_accept_backlog", "Connections waiting for accept().",
		  PROM_GAUGE, V(backlog), false, 1 },
		{ "sluiced_controller_ticks_total", "Controller ticks.",
		  PROM_COUNTER, V(ticks), true, 1 },
		{ "sluiced_admission_writes_total", "Heartbeats written to sl_admission.",
		  PROM_COUNTER, V(map_writes), true, 1 },
		{ "sluiced_admission_write_errors_total", "Failed sl_admission writes.",
		  PROM_COUNTER, V(map_errors), true, 1 },
#undef V
	};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		prom_family(b, f[i].name, f[i].help, f[i].type);
		for (unsigned j = 0; j < n; j++) {
			char *p = (char *)views[j] + f[i].off;
			double val = f[i].wide ? ld((_Atomic uint64_t *)p)
					       : ld32((_Atomic uint32_t *)p);
			struct prom_label l = { "service", names ? names[j] : "" };

			prom_sample(b, f[i].name, names ? &l : NULL, names ? 1 : 0,
				    val * f[i].scale);
		}
	}
	if (atomic_load(&views[0]->psi_milli) != UINT32_MAX)
		GAUGE(b, "sluiced_cpu_pressure_some_avg10", "CPU PSI some avg10, percent.",
		      ld32(&views[0]->psi_milli) / 1000);
}

/* One gauge family over the guarded ports. */
#define GUARD_GAUGE(b, d, names, fname, help, field, scale)                     \
	do {                                                                   \
		prom_family(b, fname, help, PROM_GAUGE);                       \
		for (unsigned i_ = 0; i_ < (d)->n_guards; i_++) {              \
			struct prom_label l_ = { "service", names[i_] };       \
			double v_ = (double)atomic_load_explicit(              \
				&(d)->guards[i_].gv.field, memory_order_relaxed); \
			prom_sample(b, fname, &l_, 1, v_ * (scale));           \
		}                                                              \
	} while (0)

/* Guard mode's page: per guarded port, the controller and the kernel's
 * measurements of the service's sockets. */
static int guard_page(struct sld *d, char *mem, size_t cap)
{
	static const char *const cn[] = { "sluiced_guard_requests_measured_total",
					  "sluiced_guard_requests_answered_total",
					  "sluiced_guard_sojourn_seconds_total",
					  "sluiced_guard_connections_total",
					  "sluiced_guard_served_total",
					  "sluiced_guard_abandoned_total" };
	static const char *const ch[] = {
		"Requests measured: arrivals on a socket with none in progress (sampled).",
		"Of those, answered by the service.",
		"Their sojourns (arrival to the first write of the answer), summed.",
		"Connections established (handshake done).",
		"Connections answered for the first time.",
		"Connections closed with a measured request unanswered.",
	};
	struct sld_ctl_view *views[SLD_MAX_GUARDS];
	const char *names[SLD_MAX_GUARDS];
	struct sl_guard_stats t[SLD_MAX_GUARDS];
	struct prom_buf b;
	unsigned n = d->n_guards;

	prom_init(&b, mem, cap);
	for (unsigned i = 0; i < n; i++) {
		views[i] = &d->guards[i].view;
		names[i] = d->guards[i].name;
		pthread_mutex_lock(&d->guards[i].gv.lock);
		t[i] = d->guards[i].gv.total;
		pthread_mutex_unlock(&d->guards[i].gv.lock);
	}
	ctl_metrics(&b, views, names, n);
	GUARD_GAUGE(&b, d, names, "sluiced_guard_listening",
		    "1 if a service listens on the port.", listening, 1);
	GUARD_GAUGE(&b, d, names, "sluiced_guard_accept_queue",
		    "Connections waiting for the service's accept().", accept_queue, 1);
	GUARD_GAUGE(&b, d, names, "sluiced_guard_accept_limit",
		    "The service's listen() backlog.", accept_limit, 1);
	GUARD_GAUGE(&b, d, names, "sluiced_guard_wait_seconds",
		    "p99 of the requests' socket wait (arrival to first read), last window.",
		    wait_ns, 1e-9);
	GUARD_GAUGE(&b, d, names, "sluiced_guard_sojourn_seconds",
		    "p99 of the requests' sojourn (arrival to first write), last window.",
		    sojourn_ns, 1e-9);
	GUARD_GAUGE(&b, d, names, "sluiced_guard_sojourn_base_seconds",
		    "The sojourn's p99 while the service keeps up (learnt; 0: not yet).",
		    base_ns, 1e-9);
	GUARD_GAUGE(&b, d, names, "sluiced_guard_sojourn_unloaded_seconds",
		    "The sojourn's p99 at low load, the base's bound (learnt; 0: not yet).",
		    unloaded_ns, 1e-9);
	GUARD_GAUGE(&b, d, names, "sluiced_guard_sojourn_rise_seconds",
		    "The sojourn's p99 above its base: queueing the socket wait may not see.",
		    rise_ns, 1e-9);
	GUARD_GAUGE(&b, d, names, "sluiced_guard_sojourn_p50_seconds",
		    "Median sojourn, last window.", sojourn_p50_ns, 1e-9);
	GUARD_GAUGE(&b, d, names, "sluiced_guard_sample_shift",
		    "Keep-alive requests are measured one in 2^this.", sample_shift, 1);
	GUARD_GAUGE(&b, d, names, "sluiced_guard_waiting",
		    "Measured requests not answered yet.", pending, 1);
	GUARD_GAUGE(&b, d, names, "sluiced_guard_connections_open",
		    "Established connections open now.", open, 1);
	GUARD_GAUGE(&b, d, names, "sluiced_guard_held",
		    "Connections the service holds: admitted, not yet answered (sl_held).",
		    held, 1);
	GUARD_GAUGE(&b, d, names, "sluiced_guard_concurrency_limit",
		    "The most connections it may hold before new ones are refused (0: none).",
		    conc_limit, 1);
	GUARD_GAUGE(&b, d, names, "sluiced_guard_saturated_cpus",
		    "CPUs the service keeps busy when saturated (learnt; its busy fraction's unit).",
		    sat_cpu_milli, 1e-3);
	for (unsigned c = 0; c < sizeof(cn) / sizeof(cn[0]); c++) {
		prom_family(&b, cn[c], ch[c], PROM_COUNTER);
		for (unsigned i = 0; i < n; i++) {
			struct prom_label l = { "service", names[i] };
			const uint64_t val[] = { t[i].started, t[i].answered, 0, t[i].conns,
						 t[i].served, t[i].abandoned };

			if (c == 2)	/* seconds, not a count */
				prom_sample(&b, cn[c], &l, 1, (double)t[i].sojourn_ns / 1e9);
			else
				prom_sample_u64(&b, cn[c], &l, 1, val[c]);
		}
	}
	prom_family(&b, "sluice_kernel_decisions_total",
		    "Data-plane decisions for the service, by reason, summed over CPUs.",
		    PROM_COUNTER);
	for (unsigned i = 0; i < n; i++) {
		struct sl_stats k;

		if (sld_dataplane_stats(&d->guards[i].dp, &k))
			continue;
		for (unsigned r = 0; r < SL_R__COUNT; r++) {
			struct prom_label l[2] = { { "service", names[i] },
						   { "reason", sl_reason_name(r) } };

			prom_sample_u64(&b, "sluice_kernel_decisions_total", l, 2,
					sl_stats_field(&k, r));
		}
	}
	sld_fleet_metrics(&b);
	return prom_finish(&b);
}

static int build_page(struct sld *d, char *mem, size_t cap)
{
	struct prom_buf b;
	struct pool_stats ps;
	struct sl_stats k;
	struct sld_ctl_view *v = &d->view;
	char code[8];
	uint64_t lat[SLD_N_LAT + 1], now;

	if (d->n_guards)
		return guard_page(d, mem, cap);
	prom_init(&b, mem, cap);

	/* pool */
	if (pool_stats(d->pool, &ps) == 0) {
		static const double qs[] = { 0.5, 0.99, 0.999 };
		static const char *const qn[] = { "0.5", "0.99", "0.999" };

		GAUGE(&b, "sluiced_pool_workers", "CPU worker threads.", ps.workers);
		GAUGE(&b, "sluiced_pool_queue_depth", "Tasks waiting now.", (double)ps.depth);
		GAUGE(&b, "sluiced_pool_oldest_wait_seconds",
		      "Age of the oldest waiting task.", (double)ps.oldest_wait_ns / 1e9);
		COUNTER(&b, "sluiced_pool_completed_total", "Tasks run to completion.",
			(double)ps.completed);
		COUNTER(&b, "sluiced_pool_rejected_total",
			"Submissions refused at the queue bound.", (double)ps.rejected);
		COUNTER(&b, "sluiced_pool_busy_seconds_total",
			"Time the workers spent running tasks.", (double)ps.busy_ns / 1e9);
		prom_family(&b, "sluiced_pool_queue_delay_seconds",
			    "Queue delay of started tasks since start, quantiles.",
			    PROM_GAUGE);
		for (int i = 0; i < 3; i++) {
			struct prom_label l = { "quantile", qn[i] };

			prom_sample(&b, "sluiced_pool_queue_delay_seconds", &l, 1,
				    (double)pool_hist_quantile(ps.delay_hist, qs[i]) / 1e9);
		}
	}
	GAUGE(&b, "sluiced_pool_busy_ratio", "Workers' busy fraction, last tick.",
	      ld(&v->busy_milli) / 1000);
	GAUGE(&b, "sluiced_pool_min_delay_seconds",
	      "Smallest queue delay of the tasks started in the last tick.",
	      ld(&v->min_delay_ns) / 1e9);
	GAUGE(&b, "sluiced_kernel_wait_min_seconds",
	      "Smallest wait of a request's first bytes in the kernel (accept queue, "
	      "socket buffer) before sluiced read them, last tick; part of the delay signal.",
	      ld(&v->kernel_wait_min_ns) / 1e9);

	/* controller */
	ctl_metrics(&b, (struct sld_ctl_view *const[]){ v }, NULL, 1);
	if (d->proxy) {
		GAUGE(&b, "sluiced_upstream_excess_seconds",
		      "Upstream latency above its floor, last tick.",
		      ld(&v->upstream_excess_ns) / 1e9);
		GAUGE(&b, "sluiced_upstream_floor_seconds",
		      "Upstream latency with nothing queued in it (0: unknown).",
		      ld(&v->upstream_floor_ns) / 1e9);
		GAUGE(&b, "sluiced_upstream_limit",
		      "Requests allowed in flight to the upstream, last tick.",
		      ld32(&v->upstream_limit));
		GAUGE(&b, "sluiced_upstream_inflight",
		      "Requests in flight to the upstream, last tick.",
		      ld32(&v->upstream_inflight));
		GAUGE(&b, "sluiced_upstream_queued",
		      "Requests waiting for a place in flight, last tick.",
		      ld32(&v->upstream_queued));
	}

	/* fast path */
	prom_family(&b, "sluiced_fastpath_total",
		    "Requests answered 503 without being worked, by reason.", PROM_COUNTER);
	for (unsigned i = 0; i < SLD_FAST__COUNT; i++) {
		struct prom_label l = { "reason", sld_fast_name(i) };

		prom_sample(&b, "sluiced_fastpath_total", &l, 1, ld(&d->c.fast[i]));
	}

	/* kernel */
	if (sld_dataplane_stats(&d->dp, &k) == 0) {
		prom_family(&b, "sluice_kernel_decisions_total",
			    "Data-plane decisions for the service, by reason, summed over CPUs.",
			    PROM_COUNTER);
		for (unsigned i = 0; i < SL_R__COUNT; i++) {
			struct prom_label l = { "reason", sl_reason_name(i) };

			prom_sample_u64(&b, "sluice_kernel_decisions_total", &l, 1,
					sl_stats_field(&k, i));
		}
	}

	/* HTTP */
	prom_family(&b, "sluiced_http_responses_total", "Responses, by status code.",
		    PROM_COUNTER);
	for (unsigned i = 0; i < SLD_N_STATUS; i++) {
		struct prom_label l = { "code", code };

		if (i < SLD_N_STATUS - 1)
			snprintf(code, sizeof(code), "%d", sld_status_codes[i]);
		else
			snprintf(code, sizeof(code), "other");
		prom_sample(&b, "sluiced_http_responses_total", &l, 1, ld(&d->c.status[i]));
	}
	for (unsigned i = 0; i <= SLD_N_LAT; i++)
		lat[i] = atomic_load_explicit(&d->c.lat[i], memory_order_relaxed);
	prom_family(&b, "sluiced_request_duration_seconds",
		    "Request head received to response written.", PROM_HISTOGRAM);
	prom_histogram(&b, "sluiced_request_duration_seconds", NULL, 0,
		       &(struct prom_histogram){ .bounds = sld_lat_bounds,
						 .n_bounds = SLD_N_LAT,
						 .counts = lat,
						 .sum = ld(&d->c.lat_sum_ns) / 1e9 });
	COUNTER(&b, "sluiced_requests_total", "Request heads received.", ld(&d->c.requests));
	COUNTER(&b, "sluiced_http_responses_unsent_total",
		"Responses not written: the client had gone, or stopped reading.",
		ld(&d->c.unsent));
	COUNTER(&b, "sluiced_worked_total", "Requests a handler completed.", ld(&d->c.worked));
	GAUGE(&b, "sluiced_worked_wait_max_seconds",
	      "Longest queue wait of a request that was worked.",
	      ld(&d->c.worked_wait_max_ns) / 1e9);
	GAUGE(&b, "sluiced_deadline_seconds",
	      "Queue wait past which a request is answered 503 while the queue stands.",
	      ld(&d->deadline_ns) / 1e9);
	GAUGE(&b, "sluiced_deadline_interval_seconds",
	      "How long late requests last before the queue stands.",
	      ld(&d->standing_interval_ns) / 1e9);
	now = sld_now_ns();
	GAUGE(&b, "sluiced_deadline_standing",
	      "1 while the queue stands (late for an interval, or the controller sheds): "
	      "requests past the deadline are answered 503.",
	      standing_now(&d->standing, now, ld(&d->standing_interval_ns)) ||
		      now < ld(&d->shedding_until_ns));
	COUNTER(&b, "sluiced_late_worked_total",
		"Requests worked past the deadline: a transient, the queue did not stand.",
		ld(&d->c.late_worked));
	COUNTER(&b, "sluiced_connections_accepted_total", "Connections accepted.",
		ld(&d->c.accepted));
	GAUGE(&b, "sluiced_connections_open", "Connections open now.", ld32(&d->open_conns));
	GAUGE(&b, "sluiced_connections_max", "max-connections.", ld32(&d->max_connections));
	COUNTER(&b, "sluiced_timeouts_total", "Connections ended by a timeout.",
		ld(&d->c.timeouts));
	COUNTER(&b, "sluiced_accept_paused_total", "Times accepting paused at max-connections.",
		ld(&d->c.at_max));
	GAUGE(&b, "sluiced_connection_bytes", "Memory of one connection, without a body.",
	      (double)sizeof(struct conn));
	GAUGE(&b, "sluiced_upstream_held_bytes",
	      "Proxied responses written but not yet read by their clients.",
	      ld(&d->resp_held));
	GAUGE(&b, "sluiced_upstream_held_budget_bytes",
	      "Bound on held responses; beyond it a response is answered 503.",
	      (double)d->resp_budget);
	GAUGE(&b, "sluiced_memory_bound_bytes",
	      "Bound on the daemon's memory: connections, bodies, queue, base.",
	      (double)sld_memory_bound(d));
	if (d->proxy) {
		COUNTER(&b, "sluiced_upstream_requests_total", "Requests sent upstream.",
			ld(&d->c.upstream_requests));
		GAUGE(&b, "sluiced_upstream_connections",
		      "Connections to the upstream open now, idle or in use.",
		      (double)sld_up_open());
		COUNTER(&b, "sluiced_upstream_errors_total",
			"Upstream failures (answered 502/504).", ld(&d->c.upstream_errors));
		COUNTER(&b, "sluiced_upstream_latency_seconds_total",
			"Sum of upstream latencies.", ld(&d->c.upstream_lat_ns) / 1e9);
	}
	sld_fleet_metrics(&b);
	return prom_finish(&b);
}

/* Waits for ev on fd until deadline; false when it passed (or an error). */
static bool ready_by(int fd, short ev, uint64_t deadline)
{
	for (;;) {
		uint64_t now = sld_now_ns();
		struct pollfd p = { .fd = fd, .events = ev };
		int n;

		if (now >= deadline)
			return false;
		n = poll(&p, 1, (int)((deadline - now) / 1000000) + 1);
		if (n > 0)
			return true;
		if (n < 0 && errno != EINTR)
			return false;
	}
}

static void write_all(int fd, const char *p, size_t n, uint64_t deadline)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!ready_by(fd, POLLOUT, deadline))
				return;
			continue;
		}
		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void serve_one(int fd)
{
	uint64_t deadline = sld_now_ns() + READ_MS * 1000000ull;
	char req[2048], head[256];
	size_t len = 0;
	int n, status = 200;
	const char *body = M.page;

	while (len < sizeof(req) - 1) {
		ssize_t r;

		if (!ready_by(fd, POLLIN, deadline))
			return;
		r = recv(fd, req + len, sizeof(req) - 1 - len, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			return;
		len += (size_t)r;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	if (strncmp(req, "GET /metrics ", 13) != 0 && strncmp(req, "GET / ", 6) != 0) {
		status = 404;
		body = "GET /metrics\n";
		n = (int)strlen(body);
	} else {
		n = build_page(M.d, M.page, PAGE_CAP);
		if (n < 0) {
			status = 500;
			body = "metrics page did not fit\n";
			n = (int)strlen(body);
			pr_warn("metrics page: %s", strerror(-n));
		}
	}
	struct http_response r = { .status = status, .content_length = (uint64_t)n,
				   .content_type = "text/plain; version=0.0.4",
				   .close = true };
	int h = http_write_head(head, sizeof(head), &r);

	if (h > 0) {
		deadline = sld_now_ns() + WRITE_MS * 1000000ull;
		write_all(fd, head, (size_t)h, deadline);
		write_all(fd, body, (size_t)n, deadline);
	}
}

static void *metrics_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p[2] = { { .fd = M.fd, .events = POLLIN },
				       { .fd = M.stop_pipe[0], .events = POLLIN } };
		int fd;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		fd = accept4(M.fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* The listener stays readable: pause (a stop
				 * still ends the wait). */
				struct pollfd s = { .fd = M.stop_pipe[0], .events = POLLIN };

				if (poll(&s, 1, PAUSE_MS) > 0)
					break;
			}
			continue;
		}
		serve_one(fd);
		close(fd);
	}
	return NULL;
}

int sld_metrics_start(struct sld *d)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, err;

	if (strcmp(d->cfg.metrics, "none") == 0)
		return 0;
	err = sld_listen_addr(d->cfg.metrics, &ss, &len);
	if (err) {
		pr_err("metrics %s: expected HOST:PORT", d->cfg.metrics);
		return err;
	}
	M.d = d;
	M.page = malloc(PAGE_CAP);
	M.fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!M.page || M.fd < 0 || pipe2(M.stop_pipe, O_CLOEXEC) < 0) {
		err = -errno;
		pr_err("metrics: %s", strerror(errno));
		goto out;
	}
	setsockopt(M.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(M.fd, (struct sockaddr *)&ss, len) < 0 || listen(M.fd, 16) < 0) {
		err = -errno;
		pr_err("cannot serve metrics on %s: %s", d->cfg.metrics, strerror(errno));
		goto out;
	}
	err = -pthread_create(&M.thread, NULL, metrics_main, NULL);
	if (err) {
		pr_err("cannot start the metrics thread: %s", strerror(-err));
		goto out;
	}
	pthread_setname_np(M.thread, "sld-metrics");
	M.running = true;
	pr_info("metrics on http://%s/metrics", d->cfg.metrics);
	return 0;
out:
	sld_metrics_stop();
	return err;
}

void sld_metrics_stop(void)
{
	if (M.running) {
		if (write(M.stop_pipe[1], "x", 1) < 0)
			pr_warn("metrics stop: %s", strerror(errno));
		pthread_join(M.thread, NULL);
		M.running = false;
	}
	for (int i = 0; i < 2; i++)
		if (M.stop_pipe[i] >= 0)
			close(M.stop_pipe[i]);
	if (M.fd >= 0)
		close(M.fd);
	M.fd = M.stop_pipe[0] = M.stop_pipe[1] = -1;
	free(M.page);
	M.page = NULL;
}
