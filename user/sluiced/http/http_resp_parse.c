// SPDX-License-Identifier: MIT
/*
 * The upstream response head parser and the body framing of
 * http_resp_parse.h. The head is read line by line as the request parser
 * reads its own (http_parse.c); the framing decision is RFC 9112 6.3's.
 */
#include "http_resp_parse.h"

#include <errno.h>
#include <string.h>

#include "http_token.h"

enum resp_state {
	RS_STATUS_LINE = 0,
	RS_HEADERS,
	RS_DONE,
	RS_ERROR,
};

void http_resp_parser_init(struct http_resp_parser *p, uint32_t max_head,
			   bool head_request)
{
	memset(p, 0, sizeof(*p));
	p->max_head = max_head;
	p->head_request = head_request;
	p->state = RS_STATUS_LINE;
}

static int fail(struct http_resp_parser *p)
{
	p->state = RS_ERROR;
	p->resp.keep_alive = false;
	return -EPROTO;
}

static struct http_span span(size_t off, size_t len)
{
	return (struct http_span){ .off = (uint32_t)off, .len = (uint32_t)len };
}

/* HTTP/1.x SP 3DIGIT [SP reason]; some servers omit the SP of an empty
 * reason, which costs nothing to accept. */
static int parse_status_line(struct http_resp_parser *p, const char *buf,
			     size_t off, size_t len)
{
	const char *l = buf + off;
	struct http_resp *r = &p->resp;

	if (len < 12 || memcmp(l, "HTTP/1.", 7) != 0 || !http_is_digit(l[7]) ||
	    l[8] != ' ' || !http_is_digit(l[9]) || !http_is_digit(l[10]) ||
	    !http_is_digit(l[11]))
		return fail(p);
	if (len > 12 && l[12] != ' ')
		return fail(p);
	for (size_t i = 13; i < len; i++)
		if (!http_is_field_vchar(l[i]) && l[i] != ' ' && l[i] != '\t')
			return fail(p);
	r->version_minor = l[7] == '0' ? 0 : 1;
	r->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	if (r->status < 100 || r->status == 101)
		return fail(p);	/* 101: we never ask for an upgrade */
	r->reason = len > 13 ? span(off + 13, len - 13) : span(off + len, 0);
	return 0;
}

static int content_length(struct http_resp_parser *p, const char *v, size_t len)
{
	size_t pos = 0, tlen;
	const char *t;
	bool any = false;

	while ((t = http_list_next(v, len, &pos, &tlen))) {
		uint64_t n = 0;

		if (tlen > 19)
			return fail(p);	/* beyond any response we would buffer */
		for (size_t i = 0; i < tlen; i++) {
			if (!http_is_digit(t[i]))
				return fail(p);
			n = n * 10 + (uint64_t)(t[i] - '0');
		}
		if ((p->has_cl || any) && n != p->resp.content_length)
			return fail(p);	/* differing lengths: response splitting */
		p->resp.content_length = n;
		any = true;
	}
	if (!any)
		return fail(p);
	p->has_cl = true;
	return 0;
}

static int field_semantics(struct http_resp_parser *p, const char *buf,
			   const struct http_header *h)
{
	const char *v = buf + h->value.off;
	size_t pos = 0, tlen;
	const char *t;

	if (http_span_eq_nocase(buf, h->name, "content-length"))
		return content_length(p, v, h->value.len);
	if (http_span_eq_nocase(buf, h->name, "transfer-encoding")) {
		p->has_te = true;
		/* Only the last coding of all the fields counts for framing. */
		while ((t = http_list_next(v, h->value.len, &pos, &tlen))) {
			p->n_te_codings++;
			p->te_chunked_last = tlen == 7 && http_mem_eq_nocase(t, "chunked", 7);
		}
		return 0;
	}
	if (http_span_eq_nocase(buf, h->name, "connection")) {
		while ((t = http_list_next(v, h->value.len, &pos, &tlen))) {
			if (tlen == 5 && http_mem_eq_nocase(t, "close", 5))
				p->conn_close = true;
			else if (tlen == 10 && http_mem_eq_nocase(t, "keep-alive", 10))
				p->conn_keep_alive = true;
		}
	}
	return 0;
}

static int parse_field_line(struct http_resp_parser *p, const char *buf,
			    size_t off, size_t len)
{
	struct http_resp *r = &p->resp;
	size_t nlen, vs, ve;

	/* obs-fold too: a proxy rejects or rewrites it (RFC 9112 5.2) */
	if (!http_field_split(buf + off, len, &nlen, &vs, &ve))
		return fail(p);
	if (r->n_headers >= HTTP_MAX_HEADERS_CAP)
		return fail(p);
	struct http_header *h = &r->headers[r->n_headers++];

	h->name = span(off, nlen);
	h->value = span(off + vs, ve - vs);
	return field_semantics(p, buf, h);
}

/* The blank line: RFC 9112 6.3, in its order. */
static int finish_head(struct http_resp_parser *p, size_t head_len)
{
	struct http_resp *r = &p->resp;

	r->keep_alive = r->version_minor ? !p->conn_close
					 : p->conn_keep_alive && !p->conn_close;
	r->te_only_chunked = p->has_te && p->n_te_codings == 1 && p->te_chunked_last;
	if (p->head_request || r->status < 200 || r->status == 204 ||
	    r->status == 304) {
		r->framing = HTTP_RF_NONE;
	} else if (p->has_te) {
		if (r->version_minor == 0)
			return fail(p);	/* 6.1: Transfer-Encoding in 1.0 is faulty */
		r->framing = p->te_chunked_last ? HTTP_RF_CHUNKED : HTTP_RF_CLOSE;
		if (p->has_cl || !p->te_chunked_last)
			r->keep_alive = false;
	} else if (p->has_cl) {
		r->framing = HTTP_RF_LENGTH;
	} else {
		r->framing = HTTP_RF_CLOSE;
	}
	if (r->framing == HTTP_RF_CLOSE)
		r->keep_alive = false;
	if (r->status < 200)
		r->keep_alive = true;	/* interim: the final response decides */
	r->head_len = (uint32_t)head_len;
	p->state = RS_DONE;
	return 0;
}

int http_resp_parse(struct http_resp_parser *p, const char *buf, size_t len)
{
	if (p->state == RS_DONE)
		return 0;
	if (p->state == RS_ERROR)
		return -EPROTO;
	if (len > (size_t)p->max_head)
		len = p->max_head;	/* a head past max_head is refused below */

	for (;;) {
		const char *lf = memchr(buf + p->scan, '\n', len - p->scan);
		size_t end, line, llen;
		int err;

		if (!lf) {
			p->scan = (uint32_t)len;
			return len >= p->max_head ? fail(p) : -EAGAIN;
		}
		end = (size_t)(lf - buf);
		line = p->line;
		p->scan = (uint32_t)(end + 1);
		if (end == line || buf[end - 1] != '\r')
			return fail(p);	/* bare LF */
		llen = end - 1 - line;
		if (p->state == RS_STATUS_LINE) {
			err = parse_status_line(p, buf, line, llen);
			p->state = RS_HEADERS;
		} else if (llen == 0) {
			return finish_head(p, end + 1);
		} else {
			err = parse_field_line(p, buf, line, llen);
		}
		if (err)
			return err;
		p->line = (uint32_t)(end + 1);
	}
}

void http_resp_body_init(struct http_resp_body *b, const struct http_resp *resp)
{
	memset(b, 0, sizeof(*b));
	b->framing = resp->framing;
	b->left = resp->content_length;
	/* The decoder's bound is the caller's buffer, not the decoder's. */
	http_chunked_init(&b->chunk, UINT64_MAX);
}

int http_resp_body_feed(struct http_resp_body *b, const char *raw, size_t n,
			char *scratch, size_t *used, size_t *data)
{
	int rc;

	switch (b->framing) {
	case HTTP_RF_NONE:
		*used = *data = 0;
		return 0;
	case HTTP_RF_LENGTH:
		*used = *data = n < b->left ? n : (size_t)b->left;
		b->left -= *used;
		return b->left ? -EAGAIN : 0;
	case HTTP_RF_CHUNKED:
		memcpy(scratch, raw, n);
		rc = http_chunked_decode(&b->chunk, scratch, n, used, data);
		return rc == -EAGAIN || rc == 0 ? rc : -EPROTO;
	case HTTP_RF_CLOSE:
	default:
		*used = *data = n;
		return -EAGAIN;
	}
}
