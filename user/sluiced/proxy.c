// SPDX-License-Identifier: MIT
/*
 * Reverse proxy to --upstream, so that sluice can stand in front of an
 * existing service written in anything: the HTTP side of it and the
 * upstream's address. The exchange itself runs without blocking on the
 * IO loop that owns the client connection (upstream.c), once the upstream
 * queue (upqueue.c) gives it a place in flight.
 *
 * The request goes up as HTTP/1.1 with keep-alive and our framing. The
 * response is gathered whole (at most SLD_MAX_RESPONSE bytes;
 * Content-Length, chunked, or until close), hop-by-hop headers are
 * dropped and it is re-framed with Content-Length. Failures are 502
 * (connect, protocol, too large) or 504 (timeout).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "conn.h"
#include "http_response.h"
#include "log.h"
#include "proxy.h"
#include "sluiced.h"

#define HEAD_MAX 16384		/* upstream response head */

static struct {
	pthread_mutex_t lock;
	struct sld_up_target t;
	/* copies the loops read per request without the lock */
	_Atomic unsigned gen;
	_Atomic uint32_t timeout_s;
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
	/* A new generation: the loops close their idle connections to the
	 * old upstream when they next reach for one. */
	pthread_mutex_lock(&P.lock);
	memcpy(P.t.addr, addr, sizeof(addr));
	memcpy(P.t.addrlen, addrlen, sizeof(addrlen));
	P.t.n_addr = n;
	P.t.timeout_s = timeout_s;
	P.t.gen++;
	atomic_store_explicit(&P.gen, P.t.gen, memory_order_relaxed);
	atomic_store_explicit(&P.timeout_s, timeout_s, memory_order_relaxed);
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

void sld_proxy_target(struct sld_up_target *t)
{
	pthread_mutex_lock(&P.lock);
	*t = P.t;
	pthread_mutex_unlock(&P.lock);
}

unsigned sld_proxy_gen(void)
{
	return atomic_load_explicit(&P.gen, memory_order_relaxed);
}

uint32_t sld_proxy_timeout_s(void)
{
	return atomic_load_explicit(&P.timeout_s, memory_order_relaxed);
}

static int buf_add(struct sld_buf *b, const void *src, size_t n)
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

static int buf_addf(struct sld_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int buf_addf(struct sld_buf *b, const char *fmt, ...)
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
int sld_proxy_request(const struct conn *c, struct sld_buf *out)
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


void sld_up_resp_init(struct sld_up_resp *r, bool head_req)
{
	memset(r, 0, sizeof(*r));
	r->head_req = head_req;
	r->clen = -1;
}

void sld_up_resp_free(struct sld_up_resp *r)
{
	free(r->head.p);
	free(r->body.p);
	r->head = r->body = (struct sld_buf){ 0 };
}

/* The head is raw[0..hlen): keep the status line and the end-to-end
 * headers, note the framing. */
static int parse_head(struct sld_up_resp *r, const char *raw, size_t hlen)
{
	const char *end = raw + hlen - 4, *line, *eol;
	int err;

	if (hlen < 16 || memcmp(raw, "HTTP/1.", 7) != 0 || raw[8] != ' ')
		return -EPROTO;
	r->status = atoi(raw + 9);
	if (r->status < 100 || r->status > 599)
		return -EPROTO;
	if (raw[7] == '0')
		r->close_after = true;
	eol = memmem(raw, hlen, "\r\n", 2);
	/* We answer as HTTP/1.1 whatever the upstream speaks: the response
	 * is re-framed with Content-Length. */
	err = buf_add(&r->head, "HTTP/1.1", 8);
	if (!err)
		err = buf_add(&r->head, raw + 8, (size_t)(eol - raw) - 8 + 2);
	for (line = eol + 2; !err && line < end; line = eol + 2) {
		const char *colon, *v;
		size_t nlen;

		eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
		colon = memchr(line, ':', (size_t)(eol - line));
		if (!colon)
			return -EPROTO;
		nlen = (size_t)(colon - line);
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		if (name_is(line, nlen, "content-length")) {
			char *e;
			long long x = strtoll(v, &e, 10);

			if (e == v || x < 0 || (r->clen >= 0 && x != r->clen))
				return -EPROTO;
			r->clen = x;
		} else if (name_is(line, nlen, "transfer-encoding")) {
			r->chunked = (size_t)(eol - v) >= 7 &&
				     strncasecmp(eol - 7, "chunked", 7) == 0;
			if (!r->chunked)
				r->close_after = true;	/* unknown coding: read to EOF */
		} else if (name_is(line, nlen, "connection")) {
			if ((size_t)(eol - v) == 5 && strncasecmp(v, "close", 5) == 0)
				r->close_after = true;
		}
		if (!hop_by_hop(line, nlen))
			err = buf_add(&r->head, line, (size_t)(eol - line) + 2);
	}
	if (err)
		return err;
	if (r->clen > (int64_t)SLD_MAX_RESPONSE)
		return -EFBIG;
	r->no_body = r->head_req || r->status / 100 == 1 || r->status == 204 ||
		     r->status == 304;
	if (!r->no_body && !r->chunked && r->clen < 0)
		r->close_after = true;	/* delimited by close */
	http_chunked_init(&r->ch, SLD_MAX_RESPONSE);
	r->have_head = true;
	return 0;
}

/* Body bytes raw[0..n), decoded in place when chunked. */
static int take_body(struct sld_up_resp *r, char *raw, size_t n, bool *done)
{
	int err = 0;

	*done = r->no_body || r->clen == 0;
	if (*done || !n)
		return 0;
	if (r->chunked) {
		size_t cons, prod;
		int rc = http_chunked_decode(&r->ch, raw, n, &cons, &prod);

		if (rc == -EPROTO)
			return -EPROTO;
		err = buf_add(&r->body, raw, prod);
		*done = rc == 0;
		if (*done && cons < n)
			r->close_after = true;	/* bytes after the response */
		return err;
	}
	size_t take = n;

	if (r->clen >= 0 && r->body.len + take > (size_t)r->clen) {
		take = (size_t)r->clen - r->body.len;
		r->close_after = true;		/* bytes after the response */
	}
	err = buf_add(&r->body, raw, take);
	*done = r->clen >= 0 && r->body.len == (size_t)r->clen;
	return err;
}

int sld_up_resp_feed(struct sld_up_resp *r, char *raw, size_t *have, bool eof)
{
	bool done = false;
	int err;

	if (!r->have_head) {
		char *end = memmem(raw, *have, "\r\n\r\n", 4);
		size_t hlen;

		if (!end) {
			if (eof)
				return *have ? -EPROTO : -EPIPE;
			return *have >= HEAD_MAX ? -EPROTO : -EAGAIN;
		}
		hlen = (size_t)(end - raw) + 4;
		err = parse_head(r, raw, hlen);
		if (!err)
			err = take_body(r, raw + hlen, *have - hlen, &done);
	} else {
		err = take_body(r, raw, *have, &done);
	}
	/* What was read is in head and body now. */
	*have = 0;
	if (err)
		return err;
	if (done)
		return 0;
	if (eof)	/* the end of a body delimited by close, or a cut one */
		return r->close_after && !r->chunked && r->clen < 0 ? 0 : -EPROTO;
	return -EAGAIN;
}

size_t sld_up_resp_room(void)
{
	return HEAD_MAX;
}

void sld_proxy_error(struct conn *c, int status)
{
	struct http_response r = { .status = status, .content_type = "text/plain",
				   .close = true };
	char body[64];
	int n;

	snprintf(body, sizeof(body), "%d %s (upstream)\n", status, http_reason(status));
	n = http_write_simple(c->out_inline, sizeof(c->out_inline), &r, body);
	sld_conn_set_out_inline(c, n, status, true);
}

int sld_proxy_answer(struct conn *c, const struct sld_up_resp *r)
{
	struct sld_buf out = { 0 };
	int err;

	err = buf_add(&out, r->head.p, r->head.len);
	if (!err)
		err = buf_addf(&out, "Content-Length: %zu\r\n%s\r\n", r->body.len,
			       c->close_after ? "Connection: close\r\n" : "");
	if (!err && !r->head_req)
		err = buf_add(&out, r->body.p, r->body.len);
	if (err) {
		free(out.p);
		sld_proxy_error(c, 502);
		return err;
	}
	sld_conn_set_out_heap(c, out.p, out.len, r->status, false);
	return 0;
}
