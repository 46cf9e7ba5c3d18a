// SPDX-License-Identifier: MIT
/*
 * Reverse proxy to --upstream, so that sluice can stand in front of an
 * existing service written in anything. The exchange runs on a blocking
 * thread of the pool, taken from the upstream queue (upqueue.c), so the
 * CPU workers never wait on the network.
 *
 * Upstream connections are kept alive in a small LIFO pool; a request
 * that fails on a reused connection before any byte of the answer came
 * back is retried once on a new one (the upstream may have closed an idle
 * connection at the moment we reused it). The response is read whole (at
 * most SLD_MAX_RESPONSE bytes; Content-Length, chunked, or until close),
 * hop-by-hop headers are dropped and it is re-framed with Content-Length.
 * Failures are 502 (connect, protocol, too large) or 504 (timeout).
 *
 * The upstream's latency is a load signal: sld_proxy_exchange returns it
 * to the queue, which keeps its floor and the mean of each tick.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "conn.h"
#include "http_response.h"
#include "log.h"
#include "sluiced.h"

#define IDLE_MAX 64		/* idle upstream connections kept */
#define HEAD_MAX 16384		/* upstream response head */
#define CONNECT_MS 1000

static struct {
	pthread_mutex_t lock;
	struct sockaddr_storage addr[4];	/* as resolved, tried in order */
	socklen_t addrlen[4];
	unsigned n_addr;
	char host[SLD_ADDR_MAX];
	int idle[IDLE_MAX];
	unsigned n_idle;
	uint32_t timeout_s;
} P = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Resolves hostport and, only if that works, makes it the upstream (under
 * the lock; idle connections to the old one are closed). */
static int resolve(const char *hostport, uint32_t timeout_s)
{
	char host[SLD_ADDR_MAX], portstr[8];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	struct sockaddr_storage addr[4];
	socklen_t addrlen[4];
	unsigned n = 0;
	uint16_t port;
	int rc;

	if (sld_parse_hostport(hostport, true, host, sizeof(host), &port))
		return -EINVAL;
	snprintf(portstr, sizeof(portstr), "%u", port);
	rc = getaddrinfo(host, portstr, &hints, &ai);
	if (rc) {
		pr_err("upstream %s: cannot resolve: %s", hostport, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	for (struct addrinfo *a = ai; a && n < 4; a = a->ai_next) {
		memcpy(&addr[n], a->ai_addr, a->ai_addrlen);
		addrlen[n++] = a->ai_addrlen;
	}
	freeaddrinfo(ai);
	pthread_mutex_lock(&P.lock);
	memcpy(P.addr, addr, sizeof(addr));
	memcpy(P.addrlen, addrlen, sizeof(addrlen));
	P.n_addr = n;
	P.timeout_s = timeout_s;
	snprintf(P.host, sizeof(P.host), "%s", hostport);
	while (P.n_idle)
		close(P.idle[--P.n_idle]);
	pthread_mutex_unlock(&P.lock);
	return 0;
}

int sld_proxy_init(struct sld *d)
{
	int err = resolve(d->cfg.upstream, d->cfg.request_timeout_s);

	if (!err)
		pr_info("proxying to %s", d->cfg.upstream);
	return err;
}

int sld_proxy_reload(const char *upstream, uint32_t timeout_s)
{
	int err = resolve(upstream, timeout_s);

	if (!err)
		pr_info("proxying to %s", upstream);
	return err;
}

void sld_proxy_fini(void)
{
	pthread_mutex_lock(&P.lock);
	while (P.n_idle)
		close(P.idle[--P.n_idle]);
	pthread_mutex_unlock(&P.lock);
}

static int up_connect_one(const struct sockaddr_storage *addr, socklen_t addrlen,
			  uint32_t timeout_s)
{
	struct timeval tv = { .tv_sec = timeout_s };
	struct pollfd pfd;
	int fd, one = 1, err = 0;
	socklen_t el = sizeof(err);

	fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)addr, addrlen) < 0 && errno != EINPROGRESS) {
		err = -errno;
		goto fail;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&pfd, 1, CONNECT_MS) != 1) {
		err = -ETIMEDOUT;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
		err = err ? -err : -errno;
		goto fail;
	}
	/* Blocking from here on, bounded by the request timeout. */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		err = -errno;
		goto fail;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
fail:
	close(fd);
	return err ? err : -EIO;
}

static int up_connect(void)
{
	struct sockaddr_storage addr[4];
	socklen_t addrlen[4];
	unsigned n;
	uint32_t timeout_s;
	int fd = -EHOSTUNREACH;

	/* A reload may change the upstream: connect to a copy. */
	pthread_mutex_lock(&P.lock);
	n = P.n_addr;
	timeout_s = P.timeout_s;
	memcpy(addr, P.addr, sizeof(addr));
	memcpy(addrlen, P.addrlen, sizeof(addrlen));
	pthread_mutex_unlock(&P.lock);
	for (unsigned i = 0; i < n; i++) {
		fd = up_connect_one(&addr[i], addrlen[i], timeout_s);
		if (fd >= 0)
			break;
	}
	return fd;
}

/* An idle connection, or -1. One the upstream closed meanwhile reads as
 * EOF (or data it should not have sent): dropped. */
static int up_get(bool *reused)
{
	char b;

	pthread_mutex_lock(&P.lock);
	while (P.n_idle) {
		int fd = P.idle[--P.n_idle];
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
	return up_connect();
}

static void up_put(int fd)
{
	pthread_mutex_lock(&P.lock);
	if (P.n_idle < IDLE_MAX) {
		P.idle[P.n_idle++] = fd;
		fd = -1;
	}
	pthread_mutex_unlock(&P.lock);
	if (fd >= 0)
		close(fd);
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A growable byte buffer, bounded. */
struct buf {
	char *p;
	size_t len, cap;
};

static int buf_add(struct buf *b, const void *src, size_t n)
{
	if (b->len + n > SLD_MAX_RESPONSE)
		return -EFBIG;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, src, n);
	b->len += n;
	return 0;
}

static int buf_addf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int buf_addf(struct buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENOSPC;
	return buf_add(b, tmp, (size_t)n);
}

static bool name_is(const char *p, size_t len, const char *name)
{
	return strlen(name) == len && strncasecmp(p, name, len) == 0;
}

static bool hop_by_hop(const char *p, size_t len)
{
	static const char *const hop[] = { "connection", "keep-alive", "proxy-connection",
					   "te", "trailer", "transfer-encoding", "upgrade",
					   "expect", "content-length" };

	for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (name_is(p, len, hop[i]))
			return true;
	return false;
}

/* The request as the upstream gets it: HTTP/1.1, keep-alive, our framing. */
static int build_request(struct conn *c, struct buf *out)
{
	const struct http_request *req = &c->parser.req;
	const char *in = c->in;
	int err;

	err = buf_addf(out, "%.*s %.*s HTTP/1.1\r\n", (int)req->method_name.len,
		       in + req->method_name.off, (int)req->target.len, in + req->target.off);
	for (uint32_t i = 0; !err && i < req->n_headers; i++) {
		const struct http_header *h = &req->headers[i];

		if (hop_by_hop(in + h->name.off, h->name.len))
			continue;
		err = buf_addf(out, "%.*s: %.*s\r\n", (int)h->name.len, in + h->name.off,
			       (int)h->value.len, in + h->value.off);
	}
	if (!err && c->body_len)
		err = buf_addf(out, "Content-Length: %u\r\n", c->body_len);
	if (!err)
		err = buf_addf(out, "Connection: keep-alive\r\n\r\n");
	if (!err && c->body_len)
		err = buf_add(out, c->body, c->body_len);
	return err;
}

struct up_resp {
	int status;
	struct buf head;	/* status line + end-to-end headers, re-framed later */
	struct buf body;
	bool reusable;
};

/* Reads one response from fd. -EPIPE: the connection was dead before
 * any byte came back (retry on a new one); -ETIMEDOUT; -EPROTO; -EFBIG. */
static int read_response(int fd, bool head_req, struct up_resp *r)
{
	char *raw = malloc(HEAD_MAX);
	size_t have = 0, hlen = 0;
	char *end = NULL, *line, *eol;
	int64_t clen = -1;
	bool chunked = false, close_after = false, no_body;
	int err = 0;

	if (!raw)
		return -ENOMEM;
	while (!end) {
		ssize_t n = recv(fd, raw + have, HEAD_MAX - have, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n == 0 || errno == ECONNRESET ? (have ? -EPROTO : -EPIPE)
			    : (errno == EAGAIN || errno == EWOULDBLOCK) ? -ETIMEDOUT : -errno;
			goto out;
		}
		have += (size_t)n;
		end = memmem(raw, have, "\r\n\r\n", 4);
		if (!end && have == HEAD_MAX) {
			err = -EPROTO;
			goto out;
		}
	}
	hlen = (size_t)(end - raw) + 4;
	if (have < 12 || memcmp(raw, "HTTP/1.", 7) != 0 || raw[8] != ' ') {
		err = -EPROTO;
		goto out;
	}
	r->status = atoi(raw + 9);
	if (r->status < 100 || r->status > 599) {
		err = -EPROTO;
		goto out;
	}
	if (raw[7] == '0')
		close_after = true;
	eol = memmem(raw, hlen, "\r\n", 2);
	/* We answer as HTTP/1.1 whatever the upstream speaks: the response
	 * is re-framed with Content-Length below. */
	err = buf_add(&r->head, "HTTP/1.1", 8);
	if (!err)
		err = buf_add(&r->head, raw + 8, (size_t)(eol - raw) - 8 + 2);
	for (line = eol + 2; !err && line < end; line = eol + 2) {
		char *colon, *v;
		size_t nlen;

		eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
		colon = memchr(line, ':', (size_t)(eol - line));
		if (!colon) {
			err = -EPROTO;
			break;
		}
		nlen = (size_t)(colon - line);
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		if (name_is(line, nlen, "content-length")) {
			char *e;
			long long x = strtoll(v, &e, 10);

			if (e == v || x < 0 || (clen >= 0 && x != clen)) {
				err = -EPROTO;
				break;
			}
			clen = x;
		} else if (name_is(line, nlen, "transfer-encoding")) {
			chunked = (size_t)(eol - v) >= 7 &&
				  strncasecmp(eol - 7, "chunked", 7) == 0;
			if (!chunked)
				close_after = true;	/* unknown coding: read to EOF */
		} else if (name_is(line, nlen, "connection")) {
			if ((size_t)(eol - v) == 5 && strncasecmp(v, "close", 5) == 0)
				close_after = true;
		}
		if (!hop_by_hop(line, nlen))
			err = buf_add(&r->head, line, (size_t)(eol - line) + 2);
	}
	if (err)
		goto out;
	if (clen > (int64_t)SLD_MAX_RESPONSE) {
		err = -EFBIG;
		goto out;
	}
	no_body = head_req || r->status / 100 == 1 || r->status == 204 || r->status == 304;
	{
		/* Body bytes that came with the head. */
		char *rest = raw + hlen;
		size_t nrest = have - hlen;
		struct http_chunked ch;
		char tmp[16384];
		bool done = no_body || clen == 0;

		http_chunked_init(&ch, SLD_MAX_RESPONSE);
		for (;;) {
			if (done)
				break;
			if (nrest) {
				if (chunked) {
					size_t cons, prod;
					int rc = http_chunked_decode(&ch, rest, nrest, &cons, &prod);

					if (rc == -EPROTO) {
						err = -EPROTO;
						goto out;
					}
					err = buf_add(&r->body, rest, prod);
					if (rc == 0)
						done = true;
				} else {
					size_t take = nrest;

					if (clen >= 0 && r->body.len + take > (size_t)clen)
						take = (size_t)clen - r->body.len;
					err = buf_add(&r->body, rest, take);
					if (clen >= 0 && r->body.len == (size_t)clen)
						done = true;
				}
				if (err)
					goto out;
				if (done)
					break;
			}
			ssize_t n = recv(fd, tmp, sizeof(tmp), 0);

			if (n < 0 && errno == EINTR) {
				nrest = 0;
				continue;
			}
			if (n == 0 && !chunked && clen < 0) {
				close_after = true;	/* delimited by close */
				break;
			}
			if (n <= 0) {
				err = n == 0 ? -EPROTO
				    : (errno == EAGAIN || errno == EWOULDBLOCK) ? -ETIMEDOUT
				    : -errno;
				goto out;
			}
			rest = tmp;
			nrest = (size_t)n;
		}
		if (!chunked && clen < 0 && !no_body)
			close_after = true;
	}
	r->reusable = !close_after;
out:
	free(raw);
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

uint64_t sld_proxy_exchange(struct conn *c)
{
	struct sld *d = c->d;
	uint64_t rtt = 0;
	struct buf req = { 0 }, out = { 0 };
	struct up_resp r = { 0 };
	bool head_req = c->parser.req.method == HTTP_M_HEAD;
	int err, fd = -1;

	err = build_request(c, &req);
	for (int attempt = 0; !err && attempt < 2; attempt++) {
		bool reused;
		uint64_t t0;

		fd = up_get(&reused);
		if (fd < 0) {
			err = fd;
			break;
		}
		t0 = sld_now_ns();
		err = send_all(fd, req.p, req.len);
		if (!err)
			err = read_response(fd, head_req, &r);
		if (!err) {
			rtt = sld_now_ns() - t0;
			note_latency(d, rtt);
			break;
		}
		close(fd);
		fd = -1;
		free(r.head.p);
		free(r.body.p);
		memset(&r, 0, sizeof(r));
		/* Retry only what the upstream cannot have seen: a reused
		 * connection that gave no byte back. */
		if (!(reused && (err == -EPIPE || err == -ECONNRESET)))
			break;
		err = 0;
		if (attempt == 1)
			err = -EPIPE;
	}
	if (err) {
		atomic_fetch_add_explicit(&d->c.upstream_errors, 1, memory_order_relaxed);
		pr_debug("upstream: %s", strerror(-err));
		answer_error(c, err == -ETIMEDOUT ? 504 : 502);
		goto out;
	}
	if (r.reusable)
		up_put(fd);
	else
		close(fd);
	fd = -1;
	err = buf_add(&out, r.head.p, r.head.len);
	if (!err)
		err = buf_addf(&out, "Content-Length: %zu\r\n%s\r\n", r.body.len,
			       c->close_after ? "Connection: close\r\n" : "");
	if (!err && !head_req)
		err = buf_add(&out, r.body.p, r.body.len);
	if (err) {
		free(out.p);
		answer_error(c, 502);
		goto out;
	}
	sld_conn_set_out_heap(c, out.p, out.len, r.status, false);
	atomic_fetch_add_explicit(&d->c.worked, 1, memory_order_relaxed);
out:
	sld_conn_try_write(c);
	free(req.p);
	free(r.head.p);
	free(r.body.p);
	if (fd >= 0)
		close(fd);
	sld_conn_done(d, c);
	return rtt;
}
