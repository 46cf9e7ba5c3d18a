// SPDX-License-Identifier: MIT
/*
 * The proxy's rewriting of request and response heads (http_forward.h):
 * hop-by-hop fields, X-Forwarded-For, framing.
 */
#include "http_forward.h"

#include <errno.h>
#include <string.h>

#include "http_token.h"

static bool name_in_list(const char *buf, struct http_span name, const char *const *list)
{
	for (; *list; list++)
		if (http_span_eq_nocase(buf, name, *list))
			return true;
	return false;
}

/* A hop-by-hop field: one of RFC 9110 7.6.1's, or named by a Connection
 * field of the same message. */
static bool hop_by_hop(const char *buf, const struct http_header *hs, uint32_t n,
		       struct http_span name)
{
	static const char *const hop[] = { "connection", "keep-alive", "proxy-connection",
					   "te", "transfer-encoding", "upgrade", NULL };

	if (name_in_list(buf, name, hop))
		return true;
	if (http_span_eq_nocase(buf, name, "host"))
		return false;
	for (uint32_t i = 0; i < n; i++) {
		const char *v = buf + hs[i].value.off, *t;
		size_t pos = 0, tlen;

		if (!http_span_eq_nocase(buf, hs[i].name, "connection"))
			continue;
		while ((t = http_list_next(v, hs[i].value.len, &pos, &tlen)))
			if (tlen == name.len && http_mem_eq_nocase(t, buf + name.off, tlen))
				return true;
	}
	return false;
}

static int add_span(struct http_buf *out, const char *buf, struct http_span s)
{
	return http_buf_add(out, buf + s.off, s.len);
}

static int add_field(struct http_buf *out, const char *buf, const struct http_header *h)
{
	int err = add_span(out, buf, h->name);

	if (!err)
		err = http_buf_add(out, ": ", 2);
	if (!err)
		err = add_span(out, buf, h->value);
	if (!err)
		err = http_buf_add(out, "\r\n", 2);
	return err;
}

/* name: v1, v2, ... of every field called name (RFC 9110 5.3 lets a
 * recipient combine them), then `last` if not NULL; nothing when both are
 * empty. */
static int add_combined(struct http_buf *out, const char *buf, const struct http_header *hs,
			uint32_t n, const char *name, const char *last)
{
	bool first = true;
	int err = 0;

	for (uint32_t i = 0; !err && i <= n; i++) {
		const char *v;
		size_t len;

		if (i < n) {
			if (!http_span_eq_nocase(buf, hs[i].name, name) || !hs[i].value.len)
				continue;
			v = buf + hs[i].value.off;
			len = hs[i].value.len;
		} else {
			if (!last)
				break;
			v = last;
			len = strlen(last);
		}
		if (first) {
			err = http_buf_adds(out, name);
			if (!err)
				err = http_buf_add(out, ": ", 2);
		} else {
			err = http_buf_add(out, ", ", 2);
		}
		first = false;
		if (!err)
			err = http_buf_add(out, v, len);
	}
	if (!err && !first)
		err = http_buf_add(out, "\r\n", 2);
	return err;
}

static bool carries_body(enum http_method m)
{
	return m == HTTP_M_POST || m == HTTP_M_PUT || m == HTTP_M_PATCH;
}

int http_forward_request(struct http_buf *out, const struct http_request *req,
			 const char *in, const struct http_forward_req *fwd)
{
	static const char *const dropped[] = { "proxy-authorization", "expect",
					       "content-length", NULL };
	static const char *const forwarded[] = { "x-forwarded-for", "forwarded", NULL };
	int err;

	err = add_span(out, in, req->method_name);
	if (!err)
		err = http_buf_add(out, " ", 1);
	if (!err)
		err = add_span(out, in, req->target);
	if (!err)
		err = http_buf_adds(out, " HTTP/1.1\r\n");
	for (uint32_t i = 0; !err && i < req->n_headers; i++) {
		const struct http_header *h = &req->headers[i];

		if (hop_by_hop(in, req->headers, req->n_headers, h->name) ||
		    name_in_list(in, h->name, dropped))
			continue;
		if (name_in_list(in, h->name, forwarded)) {
			/* Forwarded is kept from a trusted proxy; X-Forwarded-For
			 * is combined into one field below. */
			if (fwd->peer_trusted && http_span_eq_nocase(in, h->name, "forwarded"))
				err = add_field(out, in, h);
			continue;
		}
		err = add_field(out, in, h);
	}
	if (!err && fwd->host && !http_header_find(req, in, "host")) {
		err = http_buf_adds(out, "Host: ");
		if (!err)
			err = http_buf_adds(out, fwd->host);
		if (!err)
			err = http_buf_add(out, "\r\n", 2);
	}
	if (!err)
		err = add_combined(out, in, req->headers,
				   fwd->peer_trusted ? req->n_headers : 0,
				   "X-Forwarded-For", fwd->client_addr);
	if (!err && (fwd->body_len || carries_body(req->method))) {
		err = http_buf_adds(out, "Content-Length: ");
		if (!err)
			err = http_buf_addu(out, fwd->body_len);
		if (!err)
			err = http_buf_add(out, "\r\n", 2);
	}
	if (!err)
		err = http_buf_add(out, "\r\n", 2);
	return err;
}

static bool has_field(const char *buf, const struct http_resp *r, const char *name)
{
	for (uint32_t i = 0; i < r->n_headers; i++)
		if (http_span_eq_nocase(buf, r->headers[i].name, name))
			return true;
	return false;
}

int http_forward_response(struct http_buf *out, const struct http_resp *r,
			  const char *buf, struct http_forward_resp *fwd)
{
	bool has_te = has_field(buf, r, "transfer-encoding");
	/* Content-Length goes with a length-framed body and, as information,
	 * with HEAD and 304; never with 1xx or 204 (RFC 9110 8.6), nor when
	 * Transfer-Encoding framed the body (RFC 9112 6.3). */
	bool keep_cl = r->status >= 200 && r->status != 204 && r->framing != HTTP_RF_CHUNKED &&
		       !(r->framing == HTTP_RF_CLOSE && has_te);
	int err;

	fwd->body = HTTP_CB_RAW;
	fwd->close_after = r->framing == HTTP_RF_CLOSE;
	if (has_te && r->framing != HTTP_RF_NONE && fwd->client_http10) {
		/* HTTP/1.0 has no Transfer-Encoding: only a plain chunked body
		 * can be decoded for it without losing a coding. */
		if (r->framing != HTTP_RF_CHUNKED || !r->te_only_chunked)
			return -ENOTSUP;
		fwd->body = HTTP_CB_DECHUNK;
		fwd->close_after = true;
	}
	err = http_buf_adds(out, "HTTP/1.1 ");
	if (!err)
		err = http_buf_addu(out, (uint64_t)r->status);
	if (!err)
		err = http_buf_add(out, " ", 1);
	if (!err)
		err = add_span(out, buf, r->reason);
	if (!err)
		err = http_buf_add(out, "\r\n", 2);
	for (uint32_t i = 0; !err && i < r->n_headers; i++) {
		const struct http_header *h = &r->headers[i];

		if (hop_by_hop(buf, r->headers, r->n_headers, h->name))
			continue;
		if (!keep_cl && http_span_eq_nocase(buf, h->name, "content-length"))
			continue;
		err = add_field(out, buf, h);
	}
	/* The codings as they came: a chunked body is passed on chunked (and
	 * a HEAD answer says what the GET would have had). */
	if (!err && has_te && !fwd->client_http10 && r->status >= 200 && r->status != 204)
		err = add_combined(out, buf, r->headers, r->n_headers, "Transfer-Encoding", NULL);
	if (!err && r->status >= 200 && (fwd->close || fwd->close_after))
		err = http_buf_adds(out, "Connection: close\r\n");
	if (!err)
		err = http_buf_add(out, "\r\n", 2);
	return err;
}
