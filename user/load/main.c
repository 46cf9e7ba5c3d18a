// SPDX-License-Identifier: MIT
/*
 * sluice-load: open-loop HTTP load generator (see load.h). One thread, one
 * epoll loop: requests leave on their schedule whether or not earlier ones
 * were answered, each is timed from its scheduled moment, and the loop
 * reports how late it was itself, so a result can be trusted or thrown out.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "load.h"

struct loop {
	const struct load_opts *o;
	struct load_result *r;
	int ep;
	uint64_t start_us;
	struct conn *conns;
	unsigned nconns;
	struct conn **free_conns;	/* new-connection mode: unused slots */
	unsigned nfree;
	bool reuse;			/* keep-alive or closed loop: connections outlive requests */
	struct conn inflight;		/* list head, ordered by deadline */
	uint64_t *pending;		/* keep-alive mode: scheduled times, FIFO */
	unsigned pend_head, pend_len, pend_cap;
};

static void list_append(struct conn *head, struct conn *c)
{
	c->prev = head->prev;
	c->next = head;
	head->prev->next = c;
	head->prev = c;
}

static void list_remove(struct conn *c)
{
	c->prev->next = c->next;
	c->next->prev = c->prev;
	c->prev = c->next = c;
}

static void record(struct loop *l, enum load_outcome o, uint64_t sched_us, uint64_t now)
{
	load_result_record(l->r, o, sched_us - l->start_us, now > sched_us ? now - sched_us : 0);
}

static int watch(struct loop *l, struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
				  .data.ptr = c };
	return epoll_ctl(l->ep, EPOLL_CTL_ADD, c->fd, &ev) ? -errno : 0;
}

/* Keep-alive mode: (re)open connection c, idle until a request comes. */
static void reopen(struct loop *l, struct conn *c)
{
	conn_close(c);
	if (conn_open(c, l->o) == 0 && watch(l, c) == 0)
		return;
	conn_close(c);	/* retried when a request needs it */
}

static void send_on(struct loop *l, struct conn *c, uint64_t sched, uint64_t now)
{
	if (c->state == CONN_CLOSED)
		reopen(l, c);
	if (c->state == CONN_CLOSED) {
		record(l, LOAD_error, sched, now);
		return;
	}
	conn_start(c, sched, sched + l->o->timeout_ms * 1000ull);
	list_append(&l->inflight, c);
	if (c->state == CONN_SENDING) {
		int r = conn_advance(c, l->o);
		if (r != CONN_BUSY) {
			list_remove(c);
			record(l, (enum load_outcome)r, sched, now);
			reopen(l, c);
		}
	}
}

/* Hands queued requests to idle keep-alive connections. */
static void dispatch_pending(struct loop *l, uint64_t now)
{
	for (unsigned i = 0; i < l->nconns && l->pend_len; i++) {
		struct conn *c = &l->conns[i];
		if (c->has_req || (c->state != CONN_IDLE && c->state != CONN_CLOSED))
			continue;
		uint64_t sched = l->pending[l->pend_head];
		l->pend_head = (l->pend_head + 1) % l->pend_cap;
		l->pend_len--;
		send_on(l, c, sched, now);
	}
}

/* Closed loop: every free connection sends its next request at once. */
static void dispatch_closed(struct loop *l, uint64_t now)
{
	for (unsigned i = 0; i < l->nconns; i++) {
		struct conn *c = &l->conns[i];
		if (c->has_req || (c->state != CONN_IDLE && c->state != CONN_CLOSED))
			continue;
		l->r->scheduled++;
		send_on(l, c, now, now);
	}
}

/*
 * The loop's own lateness is counted here, when a request leaves the
 * schedule, in both modes: in keep-alive mode the wait for a free
 * connection that follows is the server's doing and is in the latency.
 */
static void issue(struct loop *l, uint64_t sched, uint64_t now)
{
	l->r->scheduled++;
	hist_record(&l->r->lateness, now - sched);
	/* Already past its timeout (a starved loop far behind its schedule):
	 * late, not sent, and not the server's doing. Sending such a backlog
	 * anyway, at a connect() each, stretched an 8 s run to minutes on a
	 * loaded machine. */
	if (now >= sched + l->o->timeout_ms * 1000ull) {
		record(l, LOAD_late, sched, now);
		return;
	}
	if (l->o->keepalive) {
		if (l->pend_len == l->pend_cap) {
			record(l, LOAD_overflow, sched, now);
			return;
		}
		l->pending[(l->pend_head + l->pend_len) % l->pend_cap] = sched;
		l->pend_len++;
		return;
	}

	if (!l->nfree) {
		record(l, LOAD_overflow, sched, now);
		return;
	}
	struct conn *c = l->free_conns[--l->nfree];
	int err = conn_open(c, l->o);
	if (!err)
		err = watch(l, c);
	if (err) {
		conn_close(c);
		record(l, err == -ECONNREFUSED ? LOAD_refused : LOAD_error, sched, now);
		l->free_conns[l->nfree++] = c;
		return;
	}
	conn_start(c, sched, sched + l->o->timeout_ms * 1000ull);
	list_append(&l->inflight, c);
}

static void complete(struct loop *l, struct conn *c, enum load_outcome o, uint64_t now)
{
	record(l, o, c->sched_us, now);
	if (l->o->trace_path)
		load_trace_add(&l->r->trace, c, o, now);
	list_remove(c);
	if (!l->reuse) {
		conn_close(c);
		l->free_conns[l->nfree++] = c;
		return;
	}
	bool reusable = (o == LOAD_ok || o == LOAD_shed || o == LOAD_other) && c->keep_open;
	/* The closed loop opens no connection it will not use. */
	if (l->o->closed && !reusable) {
		conn_close(c);
		return;
	}
	c->has_req = false;
	if (reusable)
		c->state = CONN_IDLE;
	else
		reopen(l, c);
}

static void expire(struct loop *l, uint64_t now)
{
	while (l->inflight.next != &l->inflight && l->inflight.next->deadline_us <= now)
		complete(l, l->inflight.next, LOAD_timeout, now);
	while (l->pend_len && l->pending[l->pend_head] + l->o->timeout_ms * 1000ull <= now) {
		record(l, LOAD_timeout, l->pending[l->pend_head], now);
		l->pend_head = (l->pend_head + 1) % l->pend_cap;
		l->pend_len--;
	}
}

static void on_event(struct loop *l, struct conn *c, uint64_t now)
{
	if (!c->has_req) {
		/* An idle keep-alive connection: readable means the server
		 * closed it (or it finished connecting, which is fine). */
		char b;
		if (c->state == CONN_CONNECTING) {
			if (conn_advance(c, l->o) != CONN_BUSY)
				conn_close(c);	/* reopened when a request needs it */
		} else if (recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
			reopen(l, c);
		return;
	}
	int r = conn_advance(c, l->o);
	if (r != CONN_BUSY)
		complete(l, c, (enum load_outcome)r, now);
}

/* The offered rate at t_us after the start: --rate, or the step it is in. */
static double rate_at(const struct load_opts *o, double t_us)
{
	double edge = 0;
	for (unsigned i = 0; i < o->nsteps; i++) {
		edge += o->step_s[i] * 1e6;
		if (t_us < edge)
			return o->step_rate[i];
	}
	return o->nsteps ? o->step_rate[o->nsteps - 1] : o->rate;
}

static double next_gap_us(const struct load_opts *o, double t_us, unsigned *seed)
{
	double mean = 1e6 / rate_at(o, t_us);
	if (!o->poisson)
		return mean;
	double u = ((double)rand_r(seed) + 1.0) / ((double)RAND_MAX + 2.0);
	return -log(u) * mean;
}

static int run(const struct load_opts *o, struct load_result *r)
{
	struct loop l = { .o = o, .r = r };
	unsigned seed = o->seed;
	int err = 0;

	l.reuse = o->keepalive || o->closed;
	l.inflight.next = l.inflight.prev = &l.inflight;
	l.nconns = o->closed ? o->closed : o->keepalive ? o->keepalive : o->max_inflight;
	l.conns = calloc(l.nconns, sizeof(*l.conns));
	l.free_conns = calloc(l.nconns, sizeof(*l.free_conns));
	l.pend_cap = o->max_inflight;
	l.pending = calloc(l.pend_cap, sizeof(*l.pending));
	l.ep = epoll_create1(EPOLL_CLOEXEC);
	if (!l.conns || !l.free_conns || !l.pending || l.ep < 0) {
		err = -ENOMEM;
		fprintf(stderr, "sluice-load: cannot set up %u connections\n", l.nconns);
		goto out;
	}
	for (unsigned i = 0; i < l.nconns; i++) {
		l.conns[i].fd = -1;
		l.conns[i].prev = l.conns[i].next = &l.conns[i];
		l.free_conns[l.nfree++] = &l.conns[l.nconns - 1 - i];
	}
	if (l.reuse) {
		l.nfree = 0;
		for (unsigned i = 0; i < l.nconns; i++)
			reopen(&l, &l.conns[i]);
	}

	l.start_us = conn_now_us();
	uint64_t end = l.start_us + (uint64_t)(o->duration_s * 1e6);
	uint64_t hard_end = end + o->timeout_ms * 1000ull + 100000;
	double next = (double)l.start_us;
	struct epoll_event evs[256];

	for (;;) {
		uint64_t now = conn_now_us();
		bool sending;
		if (o->closed) {
			sending = now < end;
			if (sending)
				dispatch_closed(&l, now);
		} else {
			/* The clock is read again for each request: a connect()
			 * costs microseconds, and a batch must not hide them. */
			while ((uint64_t)next <= now && (uint64_t)next < end) {
				issue(&l, (uint64_t)next, now);
				next += next_gap_us(o, next - (double)l.start_us, &seed);
				now = conn_now_us();
			}
			if (o->keepalive)
				dispatch_pending(&l, now);
			sending = (uint64_t)next < end;
		}
		expire(&l, now);

		if ((!sending && l.inflight.next == &l.inflight && !l.pend_len) || now >= hard_end)
			break;

		uint64_t wake = sending && !o->closed ? (uint64_t)next : hard_end;
		if (l.inflight.next != &l.inflight && l.inflight.next->deadline_us < wake)
			wake = l.inflight.next->deadline_us;
		uint64_t wait_us = wake > now ? wake - now : 0;
		struct timespec ts = { .tv_sec = (time_t)(wait_us / 1000000u),
				       .tv_nsec = (long)(wait_us % 1000000u) * 1000 };
		int n = epoll_pwait2(l.ep, evs, 256, &ts, NULL);
		if (n < 0 && errno != EINTR) {
			err = -errno;
			fprintf(stderr, "sluice-load: epoll_pwait2: %s\n", strerror(errno));
			goto out;
		}
		now = conn_now_us();
		for (int i = 0; i < n; i++)
			on_event(&l, evs[i].data.ptr, now);
	}
	r->elapsed_s = (double)(conn_now_us() - l.start_us) / 1e6;

out:
	for (unsigned i = 0; l.conns && i < l.nconns; i++)
		conn_close(&l.conns[i]);
	if (l.ep >= 0)
		close(l.ep);
	free(l.conns);
	free(l.free_conns);
	free(l.pending);
	return err;
}

static void usage(FILE *f)
{
	fputs("Usage: sluice-load [OPTIONS] URL\n"
	      "Open-loop HTTP load: requests leave on schedule whatever the server does,\n"
	      "and latency counts from each request's scheduled time.\n"
	      "\n"
	      "  URL                   http://ADDRESS:PORT/PATH, ADDRESS an IPv4 or [IPv6] literal\n"
	      "  -r, --rate N          requests per second (required)\n"
	      "  -d, --duration S      seconds of load (default 10)\n"
	      "  -S, --steps R:S,...   piecewise-constant rates instead of --rate: R requests/s\n"
	      "                        for S seconds, then the next (at most 16 steps; sets the\n"
	      "                        duration); e.g. a step test 500:3,10000:4,500:3\n"
	      "  -P, --poisson         Poisson arrivals instead of a constant rate\n"
	      "  -k, --keepalive N     reuse N connections (default 0: a new connection per request)\n"
	      "  -c, --closed N        closed loop instead: N connections, each sending its next\n"
	      "                        request when the last is answered (measures capacity)\n"
	      "  -t, --timeout MS      a request not answered this long after its scheduled\n"
	      "                        time counts as timed out; one the loop could not send\n"
	      "                        by then is not sent and counts as late (default 1000)\n"
	      "  -m, --max-inflight N  bound on requests in flight (default 20000)\n"
	      "  -s, --seed N          seed of the Poisson arrivals (default 1)\n"
	      "  -j, --json FILE       write results as JSON to FILE ('-' for stdout)\n"
	      "  -T, --trace FILE      write a line per request to FILE: its scheduled time, when\n"
	      "                        it connected, sent, read the first bytes and ended (us on\n"
	      "                        CLOCK_MONOTONIC), the client's port and the outcome\n"
	      "  -q, --quiet           no summary table\n"
	      "  -h, --help\n"
	      "Exit status: 0 when the run completed, 1 on a runtime error, 2 on a usage error.\n",
	      f);
}

static int parse_url(const char *url, struct load_opts *o)
{
	const char *p = url;
	if (strncmp(p, "http://", 7))
		return -EINVAL;
	p += 7;

	char host[256];
	const char *port_at;
	if (*p == '[') {
		const char *close = strchr(p, ']');
		if (!close || (size_t)(close - p - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, p + 1, (size_t)(close - p - 1));
		host[close - p - 1] = 0;
		port_at = close + 1;
	} else {
		size_t n = strcspn(p, ":/");
		if (n >= sizeof(host))
			return -EINVAL;
		memcpy(host, p, n);
		host[n] = 0;
		port_at = p + n;
	}

	unsigned long port = 80;
	const char *path = port_at;
	if (*port_at == ':') {
		char *stop;
		port = strtoul(port_at + 1, &stop, 10);
		if (stop == port_at + 1 || port == 0 || port > 65535)
			return -EINVAL;
		path = stop;
	}
	if (*path && *path != '/')
		return -EINVAL;
	snprintf(o->path, sizeof(o->path), "%s", *path ? path : "/");
	snprintf(o->host, sizeof(o->host), "%.*s", (int)(path - (url + 7)), url + 7);

	struct sockaddr_in *a4 = (struct sockaddr_in *)&o->addr;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&o->addr;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		o->addrlen = sizeof(*a4);
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		o->addrlen = sizeof(*a6);
	} else {
		return -EINVAL;
	}
	return 0;
}

static int parse_number(const char *name, const char *s, double lo, double hi, double *out)
{
	char *stop;
	errno = 0;
	double v = strtod(s, &stop);
	if (errno || stop == s || *stop || !(v >= lo && v <= hi)) {
		fprintf(stderr, "sluice-load: bad %s '%s': expected a number from %g to %g\n",
			name, s, lo, hi);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* "R:S,R:S,...": each step's rate and length; the duration is their sum. */
static int parse_steps(const char *arg, struct load_opts *o)
{
	char buf[1024];
	double total = 0, reqs = 0;

	snprintf(buf, sizeof(buf), "%s", arg);
	o->nsteps = 0;
	for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		if (!colon || o->nsteps == LOAD_MAX_STEPS) {
			fprintf(stderr, "sluice-load: bad step '%s': expected RATE:SECONDS, "
				"at most %d steps\n", tok, LOAD_MAX_STEPS);
			return -EINVAL;
		}
		*colon = 0;
		double r, d;
		if (parse_number("step rate", tok, 0.001, 10e6, &r) ||
		    parse_number("step seconds", colon + 1, 0.001, 86400, &d))
			return -EINVAL;
		o->step_rate[o->nsteps] = r;
		o->step_s[o->nsteps++] = d;
		total += d;
		reqs += r * d;
	}
	if (!o->nsteps) {
		fprintf(stderr, "sluice-load: --steps needs at least one RATE:SECONDS\n");
		return -EINVAL;
	}
	o->duration_s = total;
	o->rate = reqs / total;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "rate", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 'd' },
		{ "poisson", no_argument, NULL, 'P' },
		{ "steps", required_argument, NULL, 'S' },
		{ "keepalive", required_argument, NULL, 'k' },
		{ "closed", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "max-inflight", required_argument, NULL, 'm' },
		{ "seed", required_argument, NULL, 's' },
		{ "json", required_argument, NULL, 'j' },
		{ "trace", required_argument, NULL, 'T' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct load_opts o = { .duration_s = 10, .timeout_ms = 1000,
			       .max_inflight = 20000, .seed = 1 };
	double v;
	int c;

	while ((c = getopt_long(argc, argv, "r:d:S:Pk:c:t:m:s:j:T:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (parse_number("rate", optarg, 0.001, 10e6, &o.rate))
				return 2;
			break;
		case 'd':
			if (parse_number("duration", optarg, 0.001, 86400, &o.duration_s))
				return 2;
			break;
		case 'P':
			o.poisson = true;
			break;
		case 'S':
			if (parse_steps(optarg, &o))
				return 2;
			break;
		case 'k':
			if (parse_number("keepalive", optarg, 0, 100000, &v))
				return 2;
			o.keepalive = (unsigned)v;
			break;
		case 'c':
			if (parse_number("closed", optarg, 1, 100000, &v))
				return 2;
			o.closed = (unsigned)v;
			break;
		case 't':
			if (parse_number("timeout", optarg, 1, 3600000, &v))
				return 2;
			o.timeout_ms = (unsigned)v;
			break;
		case 'm':
			if (parse_number("max-inflight", optarg, 1, 1000000, &v))
				return 2;
			o.max_inflight = (unsigned)v;
			break;
		case 's':
			if (parse_number("seed", optarg, 0, 4294967295.0, &v))
				return 2;
			o.seed = (unsigned)v;
			break;
		case 'j':
			o.json_path = optarg;
			break;
		case 'T':
			o.trace_path = optarg;
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (o.nsteps && o.closed) {
		fprintf(stderr, "sluice-load: --steps is open loop; it cannot go with --closed\n");
		return 2;
	}
	if (optind != argc - 1 || (!o.rate == !o.closed)) {
		fprintf(stderr, "sluice-load: %s\n", optind != argc - 1 ?
			"expected one URL" : "give either --rate (open loop) or --closed (closed loop)");
		usage(stderr);
		return 2;
	}
	if (parse_url(argv[optind], &o)) {
		fprintf(stderr, "sluice-load: bad URL '%s': expected http://ADDRESS:PORT/PATH "
			"with a numeric IPv4 or [IPv6] address\n", argv[optind]);
		return 2;
	}

	/* Every in-flight request holds a socket. */
	struct rlimit rl;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < o.max_inflight + 64u) {
		rl.rlim_cur = rl.rlim_max < o.max_inflight + 64u ? rl.rlim_max : o.max_inflight + 64u;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < o.max_inflight + 64u)
			o.max_inflight = rl.rlim_cur > 64 ? (unsigned)rl.rlim_cur - 64 : 1;
	}

	struct load_result r = { 0 };
	r.nbins = (unsigned)(o.duration_s * 1e6 / LOAD_BIN_US) + 1;
	r.bins = calloc(r.nbins, sizeof(*r.bins));
	if (!r.bins) {
		fprintf(stderr, "sluice-load: out of memory for %u series bins\n", r.nbins);
		return 1;
	}
	int err = run(&o, &r);
	if (!err && !o.quiet)
		load_report_table(&o, &r);
	if (!err && o.json_path)
		err = load_report_json(&o, &r);
	if (!err && o.trace_path)
		err = load_trace_write(o.trace_path, &r.trace);
	load_trace_free(&r.trace);
	free(r.bins);
	return err ? 1 : 0;
}
