// SPDX-License-Identifier: MIT
/*
 * The HTTP/1.1 request head parser: request line, header fields and the
 * framing decision (none, Content-Length, chunked). See http_parse.h for
 * the API and for why each strict rule is there.
 */
#include "http_parse.h"

#include <errno.h>
#include <string.h>

#include "http_token.h"

enum head_state {
	HS_REQUEST_LINE = 0,
	HS_HEADERS,
	HS_DONE,
	HS_ERROR,
};

/* Longest method we bother to look at: longer than any we know. */
#define MAX_METHOD 16
/* Empty lines tolerated before the request line (RFC 9112 2.2: a client
 * may send a stray CRLF after a body). */
#define MAX_BLANK_LINES 4

void http_parser_init(struct http_parser *p, const struct http_limits *limits)
{
	memset(p, 0, sizeof(*p));
	if (limits) {
		p->limits = *limits;
	} else {
		p->limits.max_head = HTTP_DEFAULT_MAX_HEAD;
		p->limits.max_target = HTTP_DEFAULT_MAX_TARGET;
		p->limits.max_line = HTTP_DEFAULT_MAX_LINE;
		p->limits.max_headers = HTTP_DEFAULT_MAX_HEADERS;
		p->limits.max_body = HTTP_DEFAULT_MAX_BODY;
	}
	if (p->limits.max_line == 0 || p->limits.max_line > p->limits.max_head)
		p->limits.max_line = p->limits.max_head;
	if (p->limits.max_headers > HTTP_MAX_HEADERS_CAP)
		p->limits.max_headers = HTTP_MAX_HEADERS_CAP;
	p->state = HS_REQUEST_LINE;
}

static int fail(struct http_parser *p, int status)
{
	p->state = HS_ERROR;
	p->status = status;
	p->req.keep_alive = false;	/* after an error the connection closes */
	return -EPROTO;
}

static struct http_span span(size_t off, size_t len)
{
	return (struct http_span){ .off = (uint32_t)off, .len = (uint32_t)len };
}

static const struct {
	const char *name;
	enum http_method method;
} methods[] = {
	{ "GET", HTTP_M_GET },         { "HEAD", HTTP_M_HEAD },
	{ "POST", HTTP_M_POST },       { "PUT", HTTP_M_PUT },
	{ "DELETE", HTTP_M_DELETE },   { "OPTIONS", HTTP_M_OPTIONS },
	{ "PATCH", HTTP_M_PATCH },     { "TRACE", HTTP_M_TRACE },
};

/* Methods are case-sensitive (RFC 9110 9.1): "get" is an unknown method. */
static enum http_method method_lookup(const char *s, size_t len)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strlen(methods[i].name) == len &&
		    memcmp(methods[i].name, s, len) == 0)
			return methods[i].method;
	return HTTP_M_UNKNOWN;
}

/*
 * Splits the request-target into path and query. Origin-form ("/p?q") is
 * what clients send to a server; absolute-form ("http://h/p?q") must be
 * accepted too (RFC 9112 3.2.2); asterisk-form only with OPTIONS.
 */
static int split_target(struct http_parser *p, const char *buf, size_t off,
			size_t len)
{
	struct http_request *r = &p->req;
	size_t path = off, end = off + len;

	if (len == 1 && buf[off] == '*') {
		if (r->method != HTTP_M_OPTIONS)
			return fail(p, 400);
		r->path = span(off, 1);
		r->query = span(end, 0);
		return 0;
	}
	if (buf[off] != '/') {
		static const char *const schemes[] = { "http://", "https://" };
		size_t skip = 0;

		for (size_t i = 0; i < 2 && !skip; i++) {
			size_t n = strlen(schemes[i]);

			if (len > n && http_mem_eq_nocase(buf + off, schemes[i], n))
				skip = n;
		}
		if (!skip)
			return fail(p, 400);
		/* The authority ends at the first '/' or '?'; an empty path
		 * is "/" (kept as a zero-length span at the authority's end). */
		path = off + skip;
		if (path < end && (buf[path] == '/' || buf[path] == '?'))
			return fail(p, 400);	/* empty authority */
		while (path < end && buf[path] != '/' && buf[path] != '?')
			path++;
	}
	const char *q = memchr(buf + path, '?', end - path);
	size_t qpos = q ? (size_t)(q - buf) : end;

	r->path = span(path, qpos - path);
	r->query = q ? span(qpos + 1, end - qpos - 1) : span(end, 0);
	return 0;
}

/*
 * The checks on a request line that can be decided before the line ends:
 * the method's characters and length, the target's length. They run on
 * every partial line, and first on the complete one, in the same order,
 * so the answer does not depend on how the bytes were cut into reads (the
 * fuzzer checks this). Each condition, once true for a prefix, stays true
 * for every longer one. `n` counts the bytes of the line so far, CR
 * included; `head` the bytes of the head so far (LF included if any).
 */
static int request_line_prefix(struct http_parser *p, const char *l, size_t n,
			       size_t head)
{
	const char *sp = memchr(l, ' ', n);
	size_t mlen = sp ? (size_t)(sp - l) : n;
	size_t checked = mlen > MAX_METHOD ? MAX_METHOD + 1 : mlen;

	for (size_t i = 0; i < checked; i++)
		if (!http_is_tchar(l[i]))
			return fail(p, 400);
	if (mlen > MAX_METHOD)
		return fail(p, 501);	/* longer than any method we know */
	if (sp) {
		size_t t = mlen + 1;
		const char *sp2 = memchr(l + t, ' ', n - t);
		size_t tlen = sp2 ? (size_t)(sp2 - l) - t : n - t;

		if (tlen > p->limits.max_target)
			return fail(p, 414);
	}
	if (head > p->limits.max_head)
		return fail(p, 414);	/* a request line longer than the head */
	return 0;
}

/* The whole request line, without its CRLF, after request_line_prefix. */
static int parse_request_line(struct http_parser *p, const char *buf,
			      size_t off, size_t len)
{
	struct http_request *r = &p->req;
	const char *l = buf + off;
	const char *sp1 = memchr(l, ' ', len);

	if (!sp1 || sp1 == l)
		return fail(p, 400);
	size_t mlen = sp1 - l;

	r->method_name = span(off, mlen);
	r->method = method_lookup(l, mlen);

	size_t toff = mlen + 1;
	const char *sp2 = memchr(l + toff, ' ', len - toff);

	if (!sp2)
		return fail(p, 400);	/* HTTP/0.9 "GET /" is not served */
	size_t tlen = (size_t)(sp2 - l) - toff;

	if (tlen == 0)
		return fail(p, 400);
	for (size_t i = toff; i < toff + tlen; i++) {
		unsigned char c = (unsigned char)l[i];

		/* Visible ASCII only (clients percent-encode the rest); '#'
		 * never belongs in a request-target. */
		if (c <= 0x20 || c >= 0x7f || c == '#')
			return fail(p, 400);
	}

	const char *v = sp2 + 1;
	size_t vlen = len - (size_t)(v - l);

	if (vlen != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' ||
	    !http_is_digit(v[5]) || !http_is_digit(v[7]))
		return fail(p, 400);
	if (v[5] != '1')
		return fail(p, 505);
	/* 1.2..1.9 are read as 1.1 (RFC 9110 2.5: same major, compatible). */
	r->version_minor = v[7] == '0' ? 0 : 1;

	/* Known-method check after the version so "FOO / HTTP/2.0" is 505
	 * and "FOO / junk" is 400, whatever the method. */
	if (r->method == HTTP_M_UNKNOWN)
		return fail(p, 501);
	r->target = span(off + toff, tlen);
	return split_target(p, buf, off + toff, tlen);
}

/* Content-Length: 1*DIGIT, or a list of identical ones (RFC 9110 8.6). */
static int parse_content_length(struct http_parser *p, const char *v,
				size_t len)
{
	size_t i = 0;
	bool any = false;

	while (i < len) {
		uint64_t n = 0;
		size_t digits = 0;
		bool overflow = false;

		while (i < len && http_is_ows(v[i]))
			i++;
		while (i < len && http_is_digit(v[i])) {
			unsigned d = (unsigned)(v[i] - '0');

			if (n > (UINT64_MAX - d) / 10)
				overflow = true;
			else
				n = n * 10 + d;
			digits++;
			i++;
		}
		while (i < len && http_is_ows(v[i]))
			i++;
		if (digits == 0 || (i < len && v[i] != ','))
			return fail(p, 400);
		i++;	/* past ',' (or past the end) */
		if (overflow)
			n = UINT64_MAX;	/* too large either way: 413 at the end */
		if ((p->has_cl || any) && n != p->req.content_length)
			return fail(p, 400);	/* differing values: smuggling */
		p->req.content_length = n;
		any = true;
	}
	if (!any)
		return fail(p, 400);
	p->has_cl = true;
	return 0;
}

/* Calls fn on each element of a comma-separated list. */
static void for_each_token(const char *v, size_t len,
			   void (*fn)(struct http_parser *, const char *, size_t),
			   struct http_parser *p)
{
	size_t pos = 0, tlen;
	const char *t;

	while ((t = http_list_next(v, len, &pos, &tlen)))
		fn(p, t, tlen);
}

static void te_token(struct http_parser *p, const char *t, size_t len)
{
	if (len == 7 && http_mem_eq_nocase(t, "chunked", 7))
		p->n_te_chunked++;
	else
		p->te_unsupported = true;
}

static void connection_token(struct http_parser *p, const char *t, size_t len)
{
	if (len == 5 && http_mem_eq_nocase(t, "close", 5))
		p->conn_close = true;
	else if (len == 10 && http_mem_eq_nocase(t, "keep-alive", 10))
		p->conn_keep_alive = true;
}

static int header_semantics(struct http_parser *p, const char *buf,
			    const struct http_header *h)
{
	const char *v = buf + h->value.off;

	if (http_span_eq_nocase(buf, h->name, "content-length"))
		return parse_content_length(p, v, h->value.len);
	if (http_span_eq_nocase(buf, h->name, "transfer-encoding")) {
		p->has_te = true;
		for_each_token(v, h->value.len, te_token, p);
		return 0;
	}
	if (http_span_eq_nocase(buf, h->name, "connection")) {
		for_each_token(v, h->value.len, connection_token, p);
		return 0;
	}
	if (http_span_eq_nocase(buf, h->name, "host")) {
		p->n_host++;
		return 0;
	}
	if (http_span_eq_nocase(buf, h->name, "expect")) {
		if (h->value.len == 12 &&
		    http_mem_eq_nocase(v, "100-continue", 12))
			p->req.expect_continue = true;
		return 0;
	}
	return 0;
}

static int parse_header_line(struct http_parser *p, const char *buf,
			     size_t off, size_t len)
{
	struct http_request *r = &p->req;
	size_t nlen, vs, ve;

	if (!http_field_split(buf + off, len, &nlen, &vs, &ve))
		return fail(p, 400);
	if (r->n_headers >= p->limits.max_headers)
		return fail(p, 431);
	struct http_header *h = &r->headers[r->n_headers++];

	h->name = span(off, nlen);
	h->value = span(off + vs, ve - vs);
	return header_semantics(p, buf, h);
}

/* The blank line ended the head: decide framing and keep-alive. */
static int finish_head(struct http_parser *p, size_t head_len)
{
	struct http_request *r = &p->req;

	if (p->has_te && r->version_minor == 0)
		return fail(p, 400);	/* RFC 9112 6.1: faulty framing */
	if (p->has_te && p->has_cl)
		return fail(p, 400);
	if (p->has_te) {
		if (p->te_unsupported)
			return fail(p, 501);
		if (p->n_te_chunked != 1)
			return fail(p, 400);
		r->body = HTTP_BODY_CHUNKED;
	} else if (p->has_cl) {
		if (r->content_length > p->limits.max_body)
			return fail(p, 413);
		r->body = r->content_length ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
	}
	if (r->version_minor == 1 ? p->n_host != 1 : p->n_host > 1)
		return fail(p, 400);	/* RFC 9112 3.2 */

	if (r->version_minor == 1)
		r->keep_alive = !p->conn_close;
	else
		r->keep_alive = p->conn_keep_alive && !p->conn_close;
	r->head_len = (uint32_t)head_len;
	p->state = HS_DONE;
	return 0;
}

/*
 * The line is not complete yet: refuse early what can no longer fit, so a
 * slow or hostile client cannot make us hold max_head bytes for nothing.
 */
static int need_more(struct http_parser *p, const char *buf, size_t len)
{
	size_t n = len - p->line;

	if (p->state == HS_REQUEST_LINE) {
		/* A lone CR may yet be a blank line before the request. */
		if (n == 1 && buf[p->line] == '\r')
			return -EAGAIN;
		int err = request_line_prefix(p, buf + p->line, n, len);

		if (err)
			return err;
	} else if (n > p->limits.max_line) {
		return fail(p, 431);	/* a header line longer than a line may be */
	}
	if (len > p->limits.max_head)
		return fail(p, 431);
	return -EAGAIN;
}

int http_parse_head(struct http_parser *p, const char *buf, size_t len)
{
	if (p->state == HS_DONE)
		return 0;
	if (p->state == HS_ERROR)
		return -EPROTO;
	/* A head never exceeds max_head: bytes past that are a body or the
	 * next request, never ours to scan (and offsets stay 32-bit). */
	if (len > (size_t)p->limits.max_head + 1)
		len = (size_t)p->limits.max_head + 1;

	for (;;) {
		const char *lf = memchr(buf + p->scan, '\n', len - p->scan);

		if (!lf) {
			p->scan = (uint32_t)len;
			return need_more(p, buf, len);
		}
		size_t end = (size_t)(lf - buf);	/* index of the LF */
		size_t line = p->line;
		bool blank = end == line + 1 && buf[line] == '\r';
		int err = 0;

		p->scan = (uint32_t)(end + 1);
		if (p->state == HS_REQUEST_LINE && !blank)
			err = request_line_prefix(p, buf + line, end - line,
						  end + 1);
		else if (p->state == HS_HEADERS && (end + 1 > p->limits.max_head ||
						      end - line > p->limits.max_line))
			err = fail(p, 431);
		if (err)
			return err;
		if (end == line || buf[end - 1] != '\r')
			return fail(p, 400);	/* bare LF */
		size_t llen = end - 1 - line;

		if (p->state == HS_REQUEST_LINE) {
			if (blank) {
				if (++p->blank_lines > MAX_BLANK_LINES)
					return fail(p, 400);
				p->line = (uint32_t)(end + 1);
				continue;
			}
			err = parse_request_line(p, buf, line, llen);
			if (!err)
				p->state = HS_HEADERS;
		} else if (blank) {
			return finish_head(p, end + 1);
		} else {
			err = parse_header_line(p, buf, line, llen);
		}
		if (err)
			return err;
		p->line = (uint32_t)(end + 1);
	}
}
