// SPDX-License-Identifier: MIT
/*
 * Reverse proxy to --upstream, so that sluice can stand in front of an
 * existing service written in anything. The exchange runs on a blocking
 * thread of the pool, taken from the upstream queue (upqueue.c), so the
 * CPU workers never wait on the network. The HTTP it speaks is in pure
 * functions any IO design can call: the request head for the upstream
 * and the response head for the client (http_forward.c), the response
 * parser and its framing (http_resp_parse.c); this file is the sockets.
 *
 * Upstream connections are kept alive in a small LIFO pool, each tagged
 * with the generation of the upstream it was opened to, so a reload that
 * changes the upstream sends the very next request to the new one.
 *
 * Retries (RFC 9110 9.2.2; nginx's proxy_next_upstream with
 * non_idempotent off, HAProxy's retry-on conn-failure): an attempt that
 * failed before any byte of the answer came back is retried once, on a
 * new connection, only if the upstream cannot have acted on it: nothing
 * of the request was written yet, or the request is idempotent and went
 * out on a reused connection (the upstream may have closed it idle at the
 * moment we reused it). A POST the upstream read and then reset is never
 * sent twice: it is answered 502.
 *
 * Bounds: one deadline for the whole exchange (--request-timeout: connect,
 * send, the head and the body, a retry included), not one per recv, so a
 * trickling upstream is cut at the same time as a silent one (504); the
 * response is buffered whole, at most SLD_MAX_RESPONSE, and it counts in
 * the daemon's held-response budget until the client has read it
 * (sld_resp_hold). Failures are 502 (connect, protocol, too large) or 504
 * (timeout).
 *
 * The upstream's latency is a load signal: sld_proxy_exchange returns it
 * to the queue, which keeps its floor and the mean of each tick.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "conn.h"
#include "http_forward.h"
#include "http_resp_parse.h"
#include "http_response.h"
#include "log.h"
#include "sluiced.h"

#define IDLE_MAX 64		/* idle upstream connections kept */
#define RESP_HEAD_MAX 32768	/* upstream response head, as a request's */
#define READ_CHUNK 65536	/* one recv; a head must fit in it */
#define CONNECT_MS 1000
#define MAX_ADDRS 4

struct up_target {
	struct sockaddr_storage addr[MAX_ADDRS];	/* as resolved, tried in order */
	socklen_t addrlen[MAX_ADDRS];
	unsigned n_addr;
	uint32_t timeout_s;
	struct sld_trusted trusted;
	char hostport[SLD_ADDR_MAX];	/* as configured: the Host of a request without one */
	uint64_t gen;		/* bumped by each change of the upstream */
};

static struct {
	pthread_mutex_t lock;
	struct up_target t;
	struct {
		int fd;
		uint64_t gen;
	} idle[IDLE_MAX];
	unsigned n_idle;
} P = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Resolves next->upstream (may block: never on the IO thread) and, only
 * if that works, makes it the upstream, with next's timeout and trusted
 * proxies. Idle connections to an old upstream are closed. */
int sld_proxy_configure(const struct sld_config *next)
{
	char host[SLD_ADDR_MAX], portstr[8];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	struct up_target t = { 0 };
	bool same;
	uint16_t port;
	int rc;

	if (sld_parse_hostport(next->upstream, true, host, sizeof(host), &port))
		return -EINVAL;
	snprintf(portstr, sizeof(portstr), "%u", port);
	rc = getaddrinfo(host, portstr, &hints, &ai);
	if (rc) {
		pr_err("upstream %s: cannot resolve: %s", next->upstream, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	for (struct addrinfo *a = ai; a && t.n_addr < MAX_ADDRS; a = a->ai_next) {
		memcpy(&t.addr[t.n_addr], a->ai_addr, a->ai_addrlen);
		t.addrlen[t.n_addr++] = a->ai_addrlen;
	}
	freeaddrinfo(ai);
	t.timeout_s = next->request_timeout_s;
	snprintf(t.hostport, sizeof(t.hostport), "%s", next->upstream);
	t.trusted = next->trusted;
	pthread_mutex_lock(&P.lock);
	same = P.t.n_addr == t.n_addr &&
	       memcmp(P.t.addr, t.addr, sizeof(t.addr)) == 0;
	t.gen = P.t.gen + !same;
	P.t = t;
	while (!same && P.n_idle)
		close(P.idle[--P.n_idle].fd);
	pthread_mutex_unlock(&P.lock);
	pr_info("proxying to %s", next->upstream);
	return 0;
}

void sld_proxy_fini(void)
{
	pthread_mutex_lock(&P.lock);
	while (P.n_idle)
		close(P.idle[--P.n_idle].fd);
	pthread_mutex_unlock(&P.lock);
}

/* Waits until fd is ready for ev or the deadline passes (-ETIMEDOUT).
 * An error or hang-up counts as ready: the next call reports it. */
static int wait_io(int fd, short ev, uint64_t deadline)
{
	for (;;) {
		uint64_t now = sld_now_ns();
		struct pollfd p = { .fd = fd, .events = ev };
		uint64_t ms;
		int n;

		if (now >= deadline)
			return -ETIMEDOUT;
		ms = (deadline - now + 999999) / 1000000;
		n = poll(&p, 1, ms > INT_MAX ? INT_MAX : (int)ms);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int up_connect_one(const struct sockaddr_storage *addr, socklen_t addrlen,
			  uint64_t deadline)
{
	uint64_t cdl = sld_now_ns() + CONNECT_MS * 1000000ull;
	int fd, one = 1, err = 0;
	socklen_t el = sizeof(err);

	fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)addr, addrlen) < 0 && errno != EINPROGRESS) {
		err = -errno;
		goto fail;
	}
	err = wait_io(fd, POLLOUT, cdl < deadline ? cdl : deadline);
	if (err)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
		err = err ? -err : -errno;
		goto fail;
	}
	/* Non-blocking from here on: every wait is a poll to the deadline. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
fail:
	close(fd);
	return err ? err : -EIO;
}

static int up_connect(const struct up_target *t, uint64_t deadline)
{
	int fd = -EHOSTUNREACH;

	for (unsigned i = 0; i < t->n_addr; i++) {
		fd = up_connect_one(&t->addr[i], t->addrlen[i], deadline);
		if (fd >= 0 || fd == -ETIMEDOUT)
			break;
	}
	return fd;
}

/* An idle connection to the current upstream, else a new one. One the
 * upstream closed meanwhile reads as EOF (or data it should not have
 * sent): dropped. */
static int up_get(const struct up_target *t, bool *reused, uint64_t deadline)
{
	char b;

	pthread_mutex_lock(&P.lock);
	while (P.n_idle) {
		int fd = P.idle[--P.n_idle].fd;
		ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			pthread_mutex_unlock(&P.lock);
			*reused = true;
			return fd;
		}
		close(fd);
	}
	pthread_mutex_unlock(&P.lock);
	*reused = false;
	return up_connect(t, deadline);
}

static void up_put(int fd, uint64_t gen)
{
	pthread_mutex_lock(&P.lock);
	if (P.n_idle < IDLE_MAX && gen == P.t.gen) {
		P.idle[P.n_idle].fd = fd;
		P.idle[P.n_idle++].gen = gen;
		fd = -1;
	}
	pthread_mutex_unlock(&P.lock);
	if (fd >= 0)
		close(fd);
}

/* What one attempt did, for the retry decision. */
struct attempt {
	int fd;
	uint64_t deadline;
	bool sent_any;		/* a byte of the request was written */
	bool got_any;		/* a byte of the answer came back */
};

static int send_all(struct attempt *a, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(a->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		int err;

		if (w > 0) {
			a->sent_any = true;
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		err = wait_io(a->fd, POLLOUT, a->deadline);
		if (err)
			return err;
	}
	return 0;
}

/* Bytes read (> 0), 0 at EOF, or -errno (-ETIMEDOUT at the deadline). */
static ssize_t recv_some(struct attempt *a, char *p, size_t n)
{
	for (;;) {
		ssize_t r = recv(a->fd, p, n, MSG_DONTWAIT);
		int err;

		if (r > 0)
			a->got_any = true;
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		err = wait_io(a->fd, POLLIN, a->deadline);
		if (err)
			return err;
	}
}

/* The response, as the client gets it. */
struct up_resp {
	struct http_buf out;	/* 1xx heads passed on, the head, the body */
	int status;
	bool reusable;		/* the upstream connection may carry another */
	bool close_client;	/* close-delimited to the client */
};

/* Reads heads until the final one: 1xx are passed on to an HTTP/1.1
 * client (103 Early Hints and the like), except 100 Continue, which
 * answered our own request and not the client's (we sent no Expect).
 * On return the final head is parsed in p and raw[0, *have) holds it and
 * what followed. */
static int read_heads(struct attempt *a, struct conn *c, char *raw, size_t *have,
		      struct http_resp_parser *p, struct up_resp *r)
{
	const struct http_request *req = &c->parser.req;

	for (;;) {
		int rc;

		http_resp_parser_init(p, RESP_HEAD_MAX, req->method == HTTP_M_HEAD);
		while ((rc = http_resp_parse(p, raw, *have)) == -EAGAIN) {
			ssize_t n = recv_some(a, raw + *have, READ_CHUNK - *have);

			if (n == 0 || n == -ECONNRESET)
				return -EPIPE;	/* a retry may go ahead if got_any is false */
			if (n < 0)
				return (int)n;
			*have += (size_t)n;
		}
		if (rc)
			return rc;
		if (p->resp.status >= 200)
			return 0;
		if (p->resp.status != 100 && req->version_minor == 1) {
			struct http_forward_resp f = { 0 };

			rc = http_forward_response(&r->out, &p->resp, raw, &f);
			if (rc)
				return rc;
		}
		*have -= p->resp.head_len;
		memmove(raw, raw + p->resp.head_len, *have);
	}
}

/* Reads one response from the attempt's connection into r. -EPIPE: the
 * connection ended before the whole answer (got_any says whether any of
 * it came); -ETIMEDOUT; -EPROTO; -EFBIG. */
static int read_response(struct attempt *a, struct conn *c, struct up_resp *r)
{
	struct http_resp_parser *p = malloc(sizeof(*p));
	char *raw = malloc(READ_CHUNK), *scratch = NULL;
	struct http_forward_resp f = { .client_http10 = c->parser.req.version_minor == 0,
				       .close = c->close_after };
	struct http_resp_body body;
	size_t have = 0, rest_off, nrest;
	bool extra = false;
	int err;

	if (!p || !raw) {
		err = -ENOMEM;
		goto out;
	}
	err = read_heads(a, c, raw, &have, p, r);
	if (err)
		goto out;
	r->status = p->resp.status;
	err = http_forward_response(&r->out, &p->resp, raw, &f);
	if (err == -ENOTSUP)
		err = -EPROTO;
	if (err)
		goto out;
	if (p->resp.framing == HTTP_RF_CHUNKED && !(scratch = malloc(READ_CHUNK))) {
		err = -ENOMEM;
		goto out;
	}
	http_resp_body_init(&body, &p->resp);
	rest_off = p->resp.head_len;
	nrest = have - rest_off;
	for (;;) {
		size_t used, data;
		int rc = http_resp_body_feed(&body, raw + rest_off, nrest, scratch, &used, &data);
		ssize_t n;

		if (rc == -EPROTO) {
			err = -EPROTO;
			goto out;
		}
		err = f.body == HTTP_CB_DECHUNK ? http_buf_add(&r->out, scratch, data)
						: http_buf_add(&r->out, raw + rest_off, used);
		if (err)
			goto out;
		if (rc == 0) {
			extra = used < nrest;	/* more than the answer: do not reuse */
			break;
		}
		n = recv_some(a, raw, READ_CHUNK);
		if (n == 0 && p->resp.framing == HTTP_RF_CLOSE)
			break;
		if (n <= 0) {
			err = n == 0 ? -EPROTO : (int)n;	/* cut short */
			goto out;
		}
		rest_off = 0;
		nrest = (size_t)n;
	}
	r->reusable = p->resp.keep_alive && !extra;
	r->close_client = f.close_after;
out:
	free(p);
	free(raw);
	free(scratch);
	return err;
}

static void note_latency(struct sld *d, uint64_t ns)
{
	atomic_fetch_add_explicit(&d->c.upstream_requests, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&d->c.upstream_lat_ns, ns, memory_order_relaxed);
}

static void answer_error(struct conn *c, int status)
{
	struct http_response r = { .status = status, .content_type = "text/plain",
				   .close = true };
	char body[64];
	int n;

	snprintf(body, sizeof(body), "%d %s (upstream)\n", status, http_reason(status));
	n = http_write_simple(c->out_inline, sizeof(c->out_inline), &r, body);
	sld_conn_set_out_inline(c, n, status, true);
}

/* RFC 9110 9.2.2: the methods a client may repeat without a new effect. */
static bool idempotent(enum http_method m)
{
	return m == HTTP_M_GET || m == HTTP_M_HEAD || m == HTTP_M_PUT ||
	       m == HTTP_M_DELETE || m == HTTP_M_OPTIONS || m == HTTP_M_TRACE;
}

static void peer_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const void *a = ss->ss_family == AF_INET6
		? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
		: (const void *)&((const struct sockaddr_in *)ss)->sin_addr;

	if (!inet_ntop(ss->ss_family, a, buf, (socklen_t)len))
		snprintf(buf, len, "unknown");
}

/* The request as the upstream gets it. */
static int build_request(struct conn *c, const struct up_target *t, struct http_buf *req)
{
	char addr[INET6_ADDRSTRLEN];
	struct http_forward_req f = {
		.client_addr = addr,
		.peer_trusted = sld_trusted_match(&t->trusted, (const struct sockaddr *)&c->peer),
		.body_len = c->body_len,
		.host = t->hostport,
	};
	int err;

	peer_text(&c->peer, addr, sizeof(addr));
	err = http_forward_request(req, &c->parser.req, c->in, &f);
	if (!err)
		err = http_buf_add(req, c->body, c->body_len);
	return err;
}

/* One exchange, a retry included; the connection is closed or kept. */
static int exchange(struct conn *c, const struct up_target *t, const struct http_buf *req,
		    struct up_resp *r, uint64_t *rtt)
{
	bool idem = idempotent(c->parser.req.method);
	uint64_t deadline = sld_now_ns() + t->timeout_s * 1000000000ull;
	int err = -EIO;

	for (int attempt = 0; attempt < 2; attempt++) {
		struct attempt a = { .deadline = deadline };
		bool reused;
		uint64_t t0 = sld_now_ns();

		a.fd = up_get(t, &reused, deadline);
		if (a.fd < 0)
			return a.fd;
		err = send_all(&a, req->p, req->len);
		if (!err)
			err = read_response(&a, c, r);
		if (!err) {
			*rtt = sld_now_ns() - t0;
			if (r->reusable)
				up_put(a.fd, t->gen);
			else
				close(a.fd);
			return 0;
		}
		close(a.fd);
		http_buf_free(&r->out);
		/* Only what the upstream cannot have acted on. */
		if (err == -ETIMEDOUT || a.got_any || (a.sent_any && !(reused && idem)))
			break;
		pr_debug("upstream: %s on a %s connection; retrying on a new one",
			 strerror(-err), reused ? "reused" : "new");
	}
	return err;
}

uint64_t sld_proxy_exchange(struct conn *c)
{
	struct sld *d = c->d;
	struct up_target t;
	struct http_buf req = HTTP_BUF_INIT(SIZE_MAX);
	struct up_resp r = { .out = HTTP_BUF_INIT(SLD_MAX_RESPONSE + 2 * RESP_HEAD_MAX) };
	uint64_t rtt = 0;
	int err;

	/* A reload may change the upstream: this exchange uses a copy. */
	pthread_mutex_lock(&P.lock);
	t = P.t;
	pthread_mutex_unlock(&P.lock);
	err = build_request(c, &t, &req);
	if (!err)
		err = exchange(c, &t, &req, &r, &rtt);
	if (!err && sld_resp_hold(d, c, r.out.len))
		err = -ENOBUFS;
	if (err) {
		atomic_fetch_add_explicit(&d->c.upstream_errors, 1, memory_order_relaxed);
		pr_debug("upstream: %s", strerror(-err));
		http_buf_free(&r.out);
		if (err == -ENOBUFS)
			sld_task_shed(d, c, SLD_FAST_memory);
		else
			answer_error(c, err == -ETIMEDOUT ? 504 : 502);
		goto out;
	}
	note_latency(d, rtt);
	size_t len = r.out.len;

	sld_conn_set_out_heap(c, http_buf_take(&r.out), len, r.status, r.close_client);
	atomic_fetch_add_explicit(&d->c.worked, 1, memory_order_relaxed);
out:
	http_buf_free(&req);
	if (err == -ENOBUFS)
		return rtt;	/* sld_task_shed handed the connection back */
	sld_conn_try_write(c);
	sld_conn_done(d, c);
	return rtt;
}
