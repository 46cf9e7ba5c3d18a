// SPDX-License-Identifier: MIT
/*
 * Reverse proxy to --upstream, so that sluice can stand in front of an
 * existing service written in anything: its HTTP side, and the upstream's
 * address. The exchange itself runs without blocking on the IO loop that
 * owns the client connection (upstream.c), once the upstream queue
 * (upqueue.c) gives it a place in flight. The HTTP it speaks is in pure
 * functions: the request head for the upstream and the response head for
 * the client (http_forward.c), the response parser and its framing
 * (http_resp_parse.c); this file drives them for one exchange.
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
 * send, the head and the body, a retry included; upstream.c), so a
 * trickling upstream is cut at the same time as a silent one (504); the
 * response is buffered whole, at most SLD_MAX_RESPONSE, and it counts in
 * the daemon's held-response budget until the client has read it
 * (sld_resp_hold). Failures are 502 (connect, protocol, too large) or 504
 * (timeout).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stddef.h>
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
#include "proxy.h"
#include "sluiced.h"

#define RESP_HEAD_MAX 32768	/* upstream response head, as a request's */

static struct {
	pthread_mutex_t lock;
	struct sld_up_target t;
	/* copies the loops read per request without the lock */
	_Atomic uint64_t gen;
	_Atomic uint32_t timeout_s;
} P = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Resolves next->upstream (may block: never on an IO loop) and, only if
 * that works, makes it the upstream, with next's timeout and trusted
 * proxies. The loops close their idle connections to an old upstream when
 * they next reach for one (the generation changed). */
int sld_proxy_configure(const struct sld_config *next)
{
	char host[SLD_ADDR_MAX], portstr[8];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	struct sld_up_target t = { 0 };
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
	for (struct addrinfo *a = ai; a && t.n_addr < SLD_UP_MAX_ADDRS; a = a->ai_next) {
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
	atomic_store_explicit(&P.gen, t.gen, memory_order_relaxed);
	atomic_store_explicit(&P.timeout_s, t.timeout_s, memory_order_relaxed);
	pthread_mutex_unlock(&P.lock);
	pr_info("proxying to %s", next->upstream);
	return 0;
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

/* RFC 9110 9.2.2: the methods a client may repeat without a new effect. */
bool sld_proxy_idempotent(enum http_method m)
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

int sld_proxy_request(const struct conn *c, struct http_buf *req)
{
	struct sld_up_target tt, *t = &tt;
	char addr[INET6_ADDRSTRLEN];
	struct http_forward_req f = {
		.client_addr = addr,
		.body_len = c->body_len,
		.host = t->hostport,
	};
	int err;

	sld_proxy_target(&tt);
	f.peer_trusted = sld_trusted_match(&t->trusted, (const struct sockaddr *)&c->peer);
	peer_text(&c->peer, addr, sizeof(addr));
	err = http_forward_request(req, &c->parser.req, c->in, &f);
	if (!err)
		err = http_buf_add(req, c->body, c->body_len);
	return err;
}

void sld_proxy_target(struct sld_up_target *t)
{
	pthread_mutex_lock(&P.lock);
	*t = P.t;
	pthread_mutex_unlock(&P.lock);
}

uint64_t sld_proxy_gen(void)
{
	return atomic_load_explicit(&P.gen, memory_order_relaxed);
}

uint32_t sld_proxy_timeout_s(void)
{
	return atomic_load_explicit(&P.timeout_s, memory_order_relaxed);
}

void sld_up_resp_init(struct sld_up_resp *r, const struct conn *c)
{
	/* The parser (first) is cleared by its own init below. */
	memset(&r->body, 0, sizeof(*r) - offsetof(struct sld_up_resp, body));
	r->head_req = c->parser.req.method == HTTP_M_HEAD;
	r->client_http11 = c->parser.req.version_minor == 1;
	r->f = (struct http_forward_resp){ .client_http10 = !r->client_http11,
					   .close = c->close_after };
	r->out = HTTP_BUF_INIT(SLD_MAX_RESPONSE + 2 * RESP_HEAD_MAX);
	http_resp_parser_init(&r->p, RESP_HEAD_MAX, r->head_req);
}

void sld_up_resp_free(struct sld_up_resp *r)
{
	http_buf_free(&r->out);
}

/* Heads until the final one: 1xx are passed on to an HTTP/1.1 client
 * (103 Early Hints and the like), except 100 Continue, which answered our
 * own request and not the client's (we sent no Expect). 0 with the final
 * head parsed and raw[0, *have) holding it and what followed. */
static int take_heads(struct sld_up_resp *r, char *raw, size_t *have, bool eof)
{
	for (;;) {
		int rc = http_resp_parse(&r->p, raw, *have);

		if (rc == -EAGAIN) {
			if (eof)
				return -EPIPE;	/* a retry may go ahead if nothing came */
			return *have >= SLD_UP_READ_CHUNK ? -EPROTO : -EAGAIN;
		}
		if (rc)
			return rc;
		if (r->p.resp.status >= 200)
			return 0;
		if (r->p.resp.status != 100 && r->client_http11) {
			struct http_forward_resp f = { 0 };

			rc = http_forward_response(&r->out, &r->p.resp, raw, &f);
			if (rc)
				return rc;
		}
		*have -= r->p.resp.head_len;
		memmove(raw, raw + r->p.resp.head_len, *have);
		http_resp_parser_init(&r->p, RESP_HEAD_MAX, r->head_req);
	}
}

int sld_up_resp_feed(struct sld_up_resp *r, char *raw, size_t *have, bool eof,
		     char *scratch)
{
	size_t off = 0, used, data;
	int rc, err;

	if (!r->have_head) {
		rc = take_heads(r, raw, have, eof);
		if (rc)
			return rc;
		r->status = r->p.resp.status;
		err = http_forward_response(&r->out, &r->p.resp, raw, &r->f);
		if (err)
			return err == -ENOTSUP ? -EPROTO : err;
		http_resp_body_init(&r->body, &r->p.resp);
		r->have_head = true;
		off = r->p.resp.head_len;
	}
	rc = http_resp_body_feed(&r->body, raw + off, *have - off, scratch, &used, &data);
	if (rc == -EPROTO)
		return -EPROTO;
	err = r->f.body == HTTP_CB_DECHUNK ? http_buf_add(&r->out, scratch, data)
					   : http_buf_add(&r->out, raw + off, used);
	if (!err && rc == 0)
		r->extra = used < *have - off;	/* more than the answer: do not reuse */
	*have = 0;	/* all of it is in out now */
	if (err)
		return err;
	if (rc == 0)
		return 0;
	if (eof)	/* the end of a close-delimited body, or one cut short */
		return r->p.resp.framing == HTTP_RF_CLOSE ? 0 : -EPROTO;
	return -EAGAIN;
}

bool sld_up_resp_reusable(const struct sld_up_resp *r)
{
	return r->p.resp.keep_alive && !r->extra;
}

/* c's response from r, counted in the held-response budget; past it, a
 * 503 on the fast path (c's loop writes either). */
int sld_proxy_answer(struct conn *c, struct sld_up_resp *r)
{
	struct sld *d = c->d;
	size_t len = r->out.len;

	if (sld_resp_hold(d, c, len)) {
		/* Slow readers hold the budget: refuse rather than grow. */
		int n = sld_fast_answer(c->out_inline, sizeof(c->out_inline), d,
					SLD_FAST_memory, false);

		sld_conn_set_out_inline(c, n, 503, true);
		return -ENOBUFS;
	}
	sld_conn_set_out_heap(c, http_buf_take(&r->out), len, r->status, r->f.close_after);
	return 0;
}
