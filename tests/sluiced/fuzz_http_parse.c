// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the HTTP request parser and the chunked decoder.
 * Besides crashes and sanitizer reports, it checks the parser's promise of
 * incrementality as an oracle: the input fed whole, byte at a time, and cut
 * at a fuzzer-chosen point must give the same result, status and fields;
 * spans must lie inside the head. Build: make fuzz-sluiced (clang).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

static void check_same(const struct http_parser *a, int ra,
		       const struct http_parser *b, int rb)
{
	if (ra != rb || a->status != b->status)
		abort();
	if (ra != 0)
		return;
	if (a->req.head_len != b->req.head_len ||
	    a->req.n_headers != b->req.n_headers ||
	    a->req.keep_alive != b->req.keep_alive ||
	    a->req.body != b->req.body ||
	    a->req.content_length != b->req.content_length ||
	    memcmp(&a->req.path, &b->req.path, sizeof(a->req.path)) ||
	    memcmp(&a->req.query, &b->req.query, sizeof(a->req.query)))
		abort();
}

static void check_spans(const struct http_parser *p)
{
	const struct http_request *r = &p->req;

	if (r->head_len > p->limits.max_head)
		abort();
	for (uint32_t i = 0; i < r->n_headers; i++)
		if (r->headers[i].value.off + r->headers[i].value.len > r->head_len)
			abort();
	if (r->query.off + r->query.len > r->head_len ||
	    r->path.off + r->path.len > r->head_len)
		abort();
}

static void fuzz_chunked(const uint8_t *data, size_t size, size_t cut)
{
	char *whole = malloc(size ? size : 1), *parts = malloc(size ? size : 1);
	struct http_chunked a, b;
	size_t ca, pa, cb1, pb1, cb2 = 0, pb2 = 0;
	int ra, rb;

	memcpy(whole, data, size);
	memcpy(parts, data, size);
	http_chunked_init(&a, 4096);
	ra = http_chunked_decode(&a, whole, size, &ca, &pa);
	http_chunked_init(&b, 4096);
	rb = http_chunked_decode(&b, parts, cut, &cb1, &pb1);
	if (rb == -EAGAIN) {
		/* the rest, starting where the first call stopped */
		memmove(parts + pb1, parts + cut, size - cut);
		rb = http_chunked_decode(&b, parts + pb1, size - cut, &cb2, &pb2);
	}
	if (ra != rb || a.status != b.status)
		abort();
	if (ra == 0 && (ca != cb1 + cb2 || pa != pb1 + pb2 ||
			memcmp(whole, parts, pa) != 0))
		abort();
	if (pa > ca || a.total > 4096)
		abort();
	free(whole);
	free(parts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_parser whole, bytes, cut;
	const char *buf = (const char *)data;
	size_t at;
	int rw, rb = -EAGAIN, rc;

	if (size < 1)
		return 0;
	at = size > 1 ? data[0] % size : 0;
	buf++;
	size--;
	if (at > size)
		at = size;

	http_parser_init(&whole, NULL);
	rw = http_parse_head(&whole, buf, size);
	if (rw != 0 && rw != -EAGAIN && rw != -EPROTO)
		abort();
	if (rw == -EPROTO && (whole.status < 400 || whole.status > 505))
		abort();

	http_parser_init(&bytes, NULL);
	for (size_t i = 1; i <= size && rb == -EAGAIN; i++)
		rb = http_parse_head(&bytes, buf, i);
	check_same(&whole, rw, &bytes, rb);

	http_parser_init(&cut, NULL);
	rc = http_parse_head(&cut, buf, at);
	if (rc == -EAGAIN)
		rc = http_parse_head(&cut, buf, size);
	check_same(&whole, rw, &cut, rc);

	if (rw == 0) {
		struct http_work_params w;

		check_spans(&whole);
		if (http_work_params_parse(buf, &whole.req, &w) == 0 &&
		    (w.cpu_us > HTTP_WORK_MAX_US || w.sleep_us > HTTP_WORK_MAX_US))
			abort();
	}
	fuzz_chunked((const uint8_t *)buf, size, at);
	return 0;
}
