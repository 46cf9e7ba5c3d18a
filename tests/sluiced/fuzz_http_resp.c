// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the upstream response parser, its body framing
 * and the response head rewriting (http_resp_parse.h, http_forward.h).
 * Oracles besides the sanitizers: the head fed whole, byte at a time and
 * cut at a fuzzer-chosen point gives the same result and framing; spans
 * lie inside the head; no-body statuses are never framed with a body; the
 * rewritten head never carries a Content-Length on 1xx/204 and always
 * ends in a blank line; the body feed never claims more bytes than given.
 * Build: make fuzz-sluiced (clang).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_forward.h"
#include "http_resp_parse.h"

#define MAX_HEAD 4096

static struct http_resp_parser whole, bytes, cut;

static void check_same(const struct http_resp_parser *a, int ra,
		       const struct http_resp_parser *b, int rb)
{
	if (ra != rb)
		abort();
	if (ra == 0 && (a->resp.head_len != b->resp.head_len ||
			a->resp.status != b->resp.status ||
			a->resp.framing != b->resp.framing ||
			a->resp.keep_alive != b->resp.keep_alive ||
			a->resp.content_length != b->resp.content_length ||
			a->resp.n_headers != b->resp.n_headers))
		abort();
}

static void check_head(const struct http_resp *r, const char *buf, bool head_req)
{
	struct http_forward_resp f = { .client_http10 = head_req };
	struct http_buf out = HTTP_BUF_INIT(1 << 20);
	int err;

	if (r->head_len > MAX_HEAD)
		abort();
	for (uint32_t i = 0; i < r->n_headers; i++)
		if (r->headers[i].value.off + r->headers[i].value.len > r->head_len)
			abort();
	if ((head_req || r->status < 200 || r->status == 204 || r->status == 304) &&
	    r->framing != HTTP_RF_NONE)
		abort();
	if (r->framing == HTTP_RF_CLOSE && r->keep_alive)
		abort();
	err = http_forward_response(&out, r, buf, &f);
	if (err && err != -ENOTSUP)
		abort();
	if (!err) {
		if (out.len < 4 || memcmp(out.p + out.len - 4, "\r\n\r\n", 4) != 0)
			abort();
		if ((r->status < 200 || r->status == 204) &&
		    memmem(out.p, out.len, "\r\nContent-Length:", 17))
			abort();
	}
	http_buf_free(&out);
}

static void check_body(const struct http_resp *r, const char *raw, size_t n, size_t cut_at)
{
	struct http_resp_body b;
	char *scratch = malloc(n ? n : 1);
	size_t used, data, u2 = 0, d2 = 0;
	int rc;

	http_resp_body_init(&b, r);
	rc = http_resp_body_feed(&b, raw, cut_at, scratch, &used, &data);
	if (used > cut_at || data > used)
		abort();
	if (rc == -EAGAIN && cut_at < n) {
		rc = http_resp_body_feed(&b, raw + cut_at, n - cut_at, scratch, &u2, &d2);
		if (u2 > n - cut_at || d2 > u2)
			abort();
	}
	if (rc != 0 && rc != -EAGAIN && rc != -EPROTO)
		abort();
	free(scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	bool head_req;
	size_t at;
	int rw, rb = -EAGAIN, rc;

	if (size < 2)
		return 0;
	head_req = data[0] & 1;
	at = data[1] % size;
	buf += 2;
	size -= 2;
	if (at > size)
		at = size;

	http_resp_parser_init(&whole, MAX_HEAD, head_req);
	rw = http_resp_parse(&whole, buf, size);
	if (rw != 0 && rw != -EAGAIN && rw != -EPROTO)
		abort();
	http_resp_parser_init(&bytes, MAX_HEAD, head_req);
	for (size_t i = 1; i <= size && rb == -EAGAIN; i++)
		rb = http_resp_parse(&bytes, buf, i);
	check_same(&whole, rw, &bytes, rb);
	http_resp_parser_init(&cut, MAX_HEAD, head_req);
	rc = http_resp_parse(&cut, buf, at);
	if (rc == -EAGAIN)
		rc = http_resp_parse(&cut, buf, size);
	check_same(&whole, rw, &cut, rc);
	if (rw == 0) {
		size_t hl = whole.resp.head_len, rest = size - hl;

		check_head(&whole.resp, buf, head_req);
		check_body(&whole.resp, buf + hl, rest, at < rest ? at : rest);
	}
	return 0;
}
