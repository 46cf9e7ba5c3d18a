// SPDX-License-Identifier: MIT
/*
 * Unit tests of the HTTP/1.1 request parser: well-formed requests, every
 * error status it answers, request-smuggling cases, pipelining, input cut
 * into pieces (byte at a time, and every two-piece split), the chunked
 * body decoder and the /work query parameters.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http_parse.h"

static struct http_parser P;

/* Parses a whole request at once. */
static int parse(const char *s)
{
	http_parser_init(&P, NULL);
	return http_parse_head(&P, s, strlen(s));
}

/* Feeds s one byte more on each call, as a slow client would. */
static int parse_bytewise(struct http_parser *p, const char *s, size_t len)
{
	int rc = -EAGAIN;

	http_parser_init(p, NULL);
	for (size_t i = 1; i <= len && rc == -EAGAIN; i++)
		rc = http_parse_head(p, s, i);
	return rc;
}

static void expect_status(const char *s, int status)
{
	int rc = parse(s);

	if (rc != -EPROTO || P.status != status)
		fail_msg("request %.60s: rc %d status %d, expected status %d",
			 s, rc, P.status, status);
	/* The same answer whichever way the bytes arrive. */
	struct http_parser q;

	rc = parse_bytewise(&q, s, strlen(s));
	if (rc != -EPROTO || q.status != status)
		fail_msg("bytewise %.60s: rc %d status %d, expected %d", s, rc,
			 q.status, status);
}

static void test_simple_get(void **state)
{
	(void)state;
	const char *s = "GET /health HTTP/1.1\r\nHost: a\r\n\r\n";

	assert_int_equal(parse(s), 0);
	assert_int_equal(P.req.method, HTTP_M_GET);
	assert_true(http_span_eq(s, P.req.path, "/health"));
	assert_int_equal(P.req.query.len, 0);
	assert_int_equal(P.req.version_minor, 1);
	assert_true(P.req.keep_alive);
	assert_int_equal(P.req.body, HTTP_BODY_NONE);
	assert_int_equal(P.req.head_len, strlen(s));
	assert_int_equal(P.req.n_headers, 1);
	assert_true(http_span_eq(s, P.req.headers[0].name, "Host"));
	assert_true(http_span_eq(s, P.req.headers[0].value, "a"));
}

static void test_need_more_then_complete(void **state)
{
	(void)state;
	const char *s = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";

	http_parser_init(&P, NULL);
	assert_int_equal(http_parse_head(&P, s, 5), -EAGAIN);
	assert_int_equal(http_parse_head(&P, s, strlen(s) - 1), -EAGAIN);
	assert_int_equal(http_parse_head(&P, s, strlen(s)), 0);
	/* Calling again after completion is harmless. */
	assert_int_equal(http_parse_head(&P, s, strlen(s)), 0);
}

static void test_query_and_headers(void **state)
{
	(void)state;
	const char *s = "GET /work?cpu_us=250&sleep_us=1000 HTTP/1.1\r\n"
			"hOsT:   example.org  \r\n"
			"X-Empty:\r\n"
			"User-Agent: t\t\r\n\r\n";
	struct http_work_params w;

	assert_int_equal(parse(s), 0);
	assert_true(http_span_eq(s, P.req.path, "/work"));
	assert_true(http_span_eq(s, P.req.query, "cpu_us=250&sleep_us=1000"));
	const struct http_header *h = http_header_find(&P.req, s, "HOST");

	assert_non_null(h);
	assert_true(http_span_eq(s, h->value, "example.org"));
	h = http_header_find(&P.req, s, "x-empty");
	assert_non_null(h);
	assert_int_equal(h->value.len, 0);
	h = http_header_find(&P.req, s, "user-agent");
	assert_true(http_span_eq(s, h->value, "t"));
	assert_null(http_header_find(&P.req, s, "absent"));
	assert_int_equal(http_work_params_parse(s, &P.req, &w), 0);
	assert_int_equal(w.cpu_us, 250);
	assert_int_equal(w.sleep_us, 1000);
}

static void test_work_params(void **state)
{
	(void)state;
	static const struct {
		const char *target;
		int err;
		uint64_t cpu, sleep;
	} cases[] = {
		{ "/work", 0, 0, 0 },
		{ "/work?", 0, 0, 0 },
		{ "/work?cpu_us=7", 0, 7, 0 },
		{ "/work?sleep_us=9&other=x", 0, 0, 9 },
		{ "/work?cpu_us=1000000", 0, 1000000, 0 },
		{ "/work?cpu_us=1000001", -ERANGE, 0, 0 },
		{ "/work?cpu_us=99999999999999999999999", -ERANGE, 0, 0 },
		{ "/work?cpu_us=", -EINVAL, 0, 0 },
		{ "/work?cpu_us", -EINVAL, 0, 0 },
		{ "/work?cpu_us=-1", -EINVAL, 0, 0 },
		{ "/work?cpu_us=+1", -EINVAL, 0, 0 },
		{ "/work?cpu_us=1x", -EINVAL, 0, 0 },
		{ "/work?cpu_us=1&cpu_us=2", -EINVAL, 0, 0 },
		{ "/work?xcpu_us=5", 0, 0, 0 },
	};
	char req[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_work_params w = { 42, 42 };

		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: a\r\n\r\n",
			 cases[i].target);
		assert_int_equal(parse(req), 0);
		int err = http_work_params_parse(req, &P.req, &w);

		if (err != cases[i].err)
			fail_msg("%s: %d, expected %d", cases[i].target, err,
				 cases[i].err);
		if (!err) {
			assert_int_equal(w.cpu_us, cases[i].cpu);
			assert_int_equal(w.sleep_us, cases[i].sleep);
		}
	}
}

static void test_keep_alive_semantics(void **state)
{
	(void)state;
	static const struct {
		const char *req;
		bool keep_alive;
	} cases[] = {
		{ "GET / HTTP/1.1\r\nHost: a\r\n\r\n", true },
		{ "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n", true },
		{ "GET / HTTP/1.0\r\n\r\n", false },
		{ "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false },
		{ "GET / HTTP/1.0\r\nConnection: closed\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n", true },
		/* 1.2 is read as 1.1 */
		{ "GET / HTTP/1.2\r\nHost: a\r\n\r\n", true },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(cases[i].req), 0);
		if (P.req.keep_alive != cases[i].keep_alive)
			fail_msg("%s: keep_alive %d", cases[i].req,
				 P.req.keep_alive);
	}
}

static void test_methods_and_targets(void **state)
{
	(void)state;
	const char *s;

	s = "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n";
	assert_int_equal(parse(s), 0);
	assert_int_equal(P.req.method, HTTP_M_OPTIONS);
	assert_true(http_span_eq(s, P.req.path, "*"));

	s = "GET http://example.org:8080/work?cpu_us=1 HTTP/1.1\r\nHost: x\r\n\r\n";
	assert_int_equal(parse(s), 0);
	assert_true(http_span_eq(s, P.req.path, "/work"));
	assert_true(http_span_eq(s, P.req.query, "cpu_us=1"));

	s = "GET HTTP://example.org HTTP/1.1\r\nHost: x\r\n\r\n";
	assert_int_equal(parse(s), 0);
	assert_int_equal(P.req.path.len, 0);	/* empty path means "/" */

	s = "DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n";
	assert_int_equal(parse(s), 0);
	assert_int_equal(P.req.method, HTTP_M_DELETE);
	assert_true(http_span_eq(s, P.req.method_name, "DELETE"));
}

static void test_bad_request_line(void **state)
{
	(void)state;
	expect_status("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_status("GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_status(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400);
	expect_status("GET /\r\n\r\n", 400);	/* HTTP/0.9 */
	expect_status("GET / http/1.1\r\nHost: a\r\n\r\n", 400);
	expect_status("GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400);
	expect_status("GET / HTTP/11\r\nHost: a\r\n\r\n", 400);
	expect_status("GET x HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_status("GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_status("GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_status("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_status("GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_status("GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_status("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_status("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		      400);
}

static void test_leading_blank_line_tolerated(void **state)
{
	(void)state;
	const char *s = "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";

	assert_int_equal(parse(s), 0);
	assert_int_equal(P.req.head_len, strlen(s));
}

static void test_unknown_method_501_and_version_505(void **state)
{
	(void)state;
	expect_status("BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n", 501);
	expect_status("get / HTTP/1.1\r\nHost: a\r\n\r\n", 501);
	expect_status("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 501);
	expect_status("GETGETGETGETGETGETGETGET / HTTP/1.1\r\n\r\n", 501);
	expect_status("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
	expect_status("GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505);
	expect_status("BREW / HTTP/3.0\r\n\r\n", 505);
}

static void test_bad_headers(void **state)
{
	(void)state;
	/* obs-fold */
	expect_status("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n  2\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400);
	/* whitespace before the colon */
	expect_status("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400);
	/* no colon, empty name, bad name character */
	expect_status("GET / HTTP/1.1\r\nHost a\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a\r\nX(y): 1\r\n\r\n", 400);
	/* control characters in a value; bare CR; bare LF */
	expect_status("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\nHost: a\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a\r\n\n", 400);
	/* Host: missing or twice in 1.1; twice in 1.0 */
	expect_status("GET / HTTP/1.1\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
	expect_status("GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n", 400);
}

static void test_nul_in_value(void **state)
{
	(void)state;
	static const char s[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";

	http_parser_init(&P, NULL);
	assert_int_equal(http_parse_head(&P, s, sizeof(s) - 1), -EPROTO);
	assert_int_equal(P.status, 400);
}

static void test_obs_text_value_accepted(void **state)
{
	(void)state;
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n"),
			 0);
}

static void test_content_length(void **state)
{
	(void)state;
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"), 0);
	assert_int_equal(P.req.body, HTTP_BODY_LENGTH);
	assert_int_equal(P.req.content_length, 5);
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"), 0);
	assert_int_equal(P.req.body, HTTP_BODY_NONE);
	/* identical duplicates, as headers or as a list, are one value */
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
			       "content-length: 5\r\n\r\n"), 0);
	assert_int_equal(P.req.content_length, 5);
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 , 5\r\n\r\n"), 0);
	assert_int_equal(P.req.content_length, 5);
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n"), 0);
	assert_int_equal(P.req.content_length, 7);

	/* differing duplicates: the classic smuggling case */
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
		      "Content-Length: 6\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ,\r\n\r\n", 400);
	/* too large: 413, including values beyond 64 bits */
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n", 413);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
		      "99999999999999999999999999\r\n\r\n", 413);
}

static void test_transfer_encoding(void **state)
{
	(void)state;
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: a\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n"), 0);
	assert_int_equal(P.req.body, HTTP_BODY_CHUNKED);
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: a\r\n"
			       "Transfer-Encoding: , CHUNKED \r\n\r\n"), 0);
	assert_int_equal(P.req.body, HTTP_BODY_CHUNKED);

	/* CL and TE together: smuggling, 400 (whatever the order) */
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
		      "Transfer-Encoding: chunked\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
		      "Content-Length: 3\r\n\r\n", 400);
	/* TE in HTTP/1.0 */
	expect_status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
	/* chunked twice; empty coding list */
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
		      "Transfer-Encoding: chunked\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
		      400);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", 400);
	/* codings we do not implement */
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		      501);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n",
		      501);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
		      501);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
		      501);
}

static void test_expect_continue(void **state)
{
	(void)state;
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n"
			       "Content-Length: 1\r\n\r\n"), 0);
	assert_true(P.req.expect_continue);
}

static void test_oversized(void **state)
{
	(void)state;
	static char big[40000];

	/* target over 8 KiB: 414, early (no line end needed) */
	int n = snprintf(big, sizeof(big), "GET /");
	memset(big + n, 'a', 8300);
	big[n + 8300] = '\0';
	http_parser_init(&P, NULL);
	assert_int_equal(http_parse_head(&P, big, strlen(big)), -EPROTO);
	assert_int_equal(P.status, 414);
	strcat(big, " HTTP/1.1\r\nHost: a\r\n\r\n");
	expect_status(big, 414);

	/* a header line beyond 8 KiB: 431, also before the line is complete */
	n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: a\r\nX: ");
	memset(big + n, 'b', 9000);
	big[n + 9000] = '\0';
	http_parser_init(&P, NULL);
	assert_int_equal(http_parse_head(&P, big, strlen(big)), -EPROTO);
	assert_int_equal(P.status, 431);
	strcat(big, "\r\n\r\n");
	expect_status(big, 431);

	/* nginx's defaults: a 6,000-byte target and a 7,000-byte cookie
	 * pass; four 7,000-byte lines (over 32 KiB in all) are 431 */
	n = snprintf(big, sizeof(big), "GET /");
	memset(big + n, 'u', 6000);
	n += 6000;
	n += snprintf(big + n, sizeof(big) - n, " HTTP/1.1\r\nHost: a\r\nCookie: ");
	memset(big + n, 'c', 7000);
	n += 7000;
	snprintf(big + n, sizeof(big) - n, "\r\n\r\n");
	assert_int_equal(parse(big), 0);
	n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < 5; i++) {
		n += snprintf(big + n, sizeof(big) - n, "X-%d: ", i);
		memset(big + n, 'c', 7000);
		n += 7000;
		n += snprintf(big + n, sizeof(big) - n, "\r\n");
	}
	snprintf(big + n, sizeof(big) - n, "\r\n");
	expect_status(big, 431);

	/* too many header lines: 431 */
	n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < 70; i++)
		n += snprintf(big + n, sizeof(big) - n, "X-%d: %d\r\n", i, i);
	snprintf(big + n, sizeof(big) - n, "\r\n");
	expect_status(big, 431);

	/* a long method name: 501 before the line ends */
	expect_status("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 501);
}

static void test_exact_limits_accepted(void **state)
{
	(void)state;
	struct http_limits lim = { .max_head = 64, .max_target = 8,
				   .max_headers = 2, .max_body = 10 };
	const char *ok = "GET /1234567 HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n";
	const char *tl = "GET /12345678 HTTP/1.1\r\nHost: a\r\n\r\n";
	const char *hd = "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\n\r\n";
	const char *cl = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n";

	http_parser_init(&P, &lim);
	assert_int_equal(http_parse_head(&P, ok, strlen(ok)), 0);
	http_parser_init(&P, &lim);
	assert_int_equal(http_parse_head(&P, tl, strlen(tl)), -EPROTO);
	assert_int_equal(P.status, 414);
	http_parser_init(&P, &lim);
	assert_int_equal(http_parse_head(&P, hd, strlen(hd)), -EPROTO);
	assert_int_equal(P.status, 431);
	http_parser_init(&P, &lim);
	assert_int_equal(http_parse_head(&P, cl, strlen(cl)), -EPROTO);
	assert_int_equal(P.status, 413);

	/* head of exactly max_head bytes is fine; one more is 431 */
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\nX: ");
	int pad = 64 - n - 4;

	memset(buf + n, 'z', pad);
	strcpy(buf + n + pad, "\r\n\r\n");
	assert_int_equal(strlen(buf), 64);
	http_parser_init(&P, &lim);
	assert_int_equal(http_parse_head(&P, buf, 64), 0);
	memset(buf + n, 'z', pad + 1);
	strcpy(buf + n + pad + 1, "\r\n\r\n");
	http_parser_init(&P, &lim);
	assert_int_equal(http_parse_head(&P, buf, strlen(buf)), -EPROTO);
	assert_int_equal(P.status, 431);
}

static void test_pipelined(void **state)
{
	(void)state;
	const char *s = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
			"POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz"
			"GET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
	size_t off = 0, len = strlen(s);
	const char *paths[] = { "/a", "/b", "/c" };

	for (int i = 0; i < 3; i++) {
		http_parser_init(&P, NULL);
		assert_int_equal(http_parse_head(&P, s + off, len - off), 0);
		assert_true(http_span_eq(s + off, P.req.path, paths[i]));
		off += P.req.head_len;
		if (P.req.body == HTTP_BODY_LENGTH)
			off += P.req.content_length;
		assert_int_equal(P.req.keep_alive, i < 2);
	}
	assert_int_equal(off, len);
}

/* A head followed in the same buffer by a body far larger than max_head:
 * the parser looks no further than the head. */
static void test_head_then_large_body(void **state)
{
	(void)state;
	const char *head = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n";
	size_t hl = strlen(head), len = hl + 100000;
	char *buf = malloc(len);

	memcpy(buf, head, hl);
	memset(buf + hl, '\n', 100000);	/* LFs: would be bare-LF errors if scanned */
	assert_int_equal(parse_bytewise(&P, buf, hl), 0);
	http_parser_init(&P, NULL);
	assert_int_equal(http_parse_head(&P, buf, len), 0);
	assert_int_equal(P.req.head_len, hl);
	assert_int_equal(P.req.content_length, 100000);
	free(buf);
}

/* Every split of a request into two reads gives the whole-request result. */
static void test_every_split_point(void **state)
{
	(void)state;
	const char *reqs[] = {
		"GET /work?cpu_us=5 HTTP/1.1\r\nHost: a\r\nX-A:  b \r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n y\r\n\r\n",
		"GET / HTTP/3.1\r\n\r\n",
		/* found by the fuzzer: a method past 16 bytes with a control
		 * character in it, then a space, was 400 whole but 501 byte
		 * at a time */
		"1\r\x16\x16\x16\x16\x16\x16\x16\x16\x16\x16\x16\x16\x16"
		"\x16\x16\x16\x16\x16\x16oqr *T c",
		"AAAAAAAAAAAAAAAAAAAAAAAA\n",
		"\r\r\n",
	};

	for (size_t r = 0; r < sizeof(reqs) / sizeof(reqs[0]); r++) {
		const char *s = reqs[r];
		size_t len = strlen(s);
		struct http_parser whole, split;
		int rw, rs;

		http_parser_init(&whole, NULL);
		rw = http_parse_head(&whole, s, len);
		for (size_t cut = 1; cut < len; cut++) {
			http_parser_init(&split, NULL);
			rs = http_parse_head(&split, s, cut);
			if (rs == -EAGAIN)
				rs = http_parse_head(&split, s, len);
			assert_int_equal(rs, rw);
			assert_int_equal(split.status, whole.status);
			assert_int_equal(split.req.head_len, whole.req.head_len);
			assert_int_equal(split.req.n_headers, whole.req.n_headers);
		}
		struct http_parser bw;

		assert_int_equal(parse_bytewise(&bw, s, len), rw);
	}
}

/* A target too long is 414 whether or not the rest of the line came in
 * the same read. */
static void test_long_target_any_split(void **state)
{
	(void)state;
	char req[8500];
	int n = snprintf(req, sizeof(req), "GET /");

	memset(req + n, 'a', 8300);
	strcpy(req + n + 8300, " HTTP/1.1\r\nHost: a\r\n\r\n");
	for (size_t cut = 1; cut < strlen(req); cut += 97) {
		struct http_parser p;
		int rc;

		http_parser_init(&p, NULL);
		rc = http_parse_head(&p, req, cut);
		if (rc == -EAGAIN)
			rc = http_parse_head(&p, req, strlen(req));
		assert_int_equal(rc, -EPROTO);
		assert_int_equal(p.status, 414);
	}
}

static void test_bytewise_keeps_fields(void **state)
{
	(void)state;
	const char *s = "PUT /x?y=1 HTTP/1.0\r\nConnection: keep-alive\r\n"
			"Content-Length: 12\r\n\r\n";
	struct http_parser bw;

	assert_int_equal(parse_bytewise(&bw, s, strlen(s)), 0);
	assert_int_equal(bw.req.method, HTTP_M_PUT);
	assert_true(http_span_eq(s, bw.req.query, "y=1"));
	assert_int_equal(bw.req.version_minor, 0);
	assert_true(bw.req.keep_alive);
	assert_int_equal(bw.req.content_length, 12);
	assert_int_equal(bw.req.head_len, strlen(s));
}

static void test_error_is_sticky(void **state)
{
	(void)state;
	const char *s = "GET / HTTP/1.1\nHost: a\r\n\r\n";

	http_parser_init(&P, NULL);
	assert_int_equal(http_parse_head(&P, s, strlen(s)), -EPROTO);
	assert_int_equal(http_parse_head(&P, s, strlen(s)), -EPROTO);
	assert_false(P.req.keep_alive);
}

/* Decodes a chunked body given whole, and byte at a time. */
static int chunked(const char *in, uint64_t max, char *out, size_t *outlen,
		   size_t *consumed, int *status)
{
	struct http_chunked c;
	char buf[1024];
	size_t len = strlen(in), cons, prod;
	int rc;

	memcpy(buf, in, len);
	http_chunked_init(&c, max);
	rc = http_chunked_decode(&c, buf, len, &cons, &prod);
	memcpy(out, buf, prod);
	*outlen = prod;
	*consumed = cons;
	*status = c.status;

	/* byte at a time must agree */
	struct http_chunked b;
	size_t tot = 0, tcons = 0;
	int rb = -EAGAIN;

	http_chunked_init(&b, max);
	for (size_t i = 0; i < len && rb == -EAGAIN; i++) {
		char one = in[i];

		rb = http_chunked_decode(&b, &one, 1, &cons, &prod);
		tcons += cons;
		if (prod) {
			assert_int_equal(one, out[tot]);
			tot += prod;
		}
	}
	assert_int_equal(rb, rc);
	assert_int_equal(b.status, c.status);
	if (rc == 0) {
		assert_int_equal(tot, *outlen);
		assert_int_equal(tcons, *consumed);
	}
	return rc;
}

static void test_chunked_body(void **state)
{
	(void)state;
	char out[1024];
	size_t olen, cons;
	int st;
	const char *s = "5\r\nhello\r\n7;ext=1;x\r\n, world\r\n0\r\n\r\nGET";

	assert_int_equal(chunked(s, 100, out, &olen, &cons, &st), 0);
	assert_int_equal(olen, 12);
	assert_memory_equal(out, "hello, world", 12);
	assert_int_equal(cons, strlen(s) - 3);	/* "GET" is the next request */

	s = "A\r\n0123456789\r\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\n";
	assert_int_equal(chunked(s, 100, out, &olen, &cons, &st), 0);
	assert_int_equal(olen, 10);
	assert_int_equal(cons, strlen(s));

	assert_int_equal(chunked("5\r\nhel", 100, out, &olen, &cons, &st), -EAGAIN);
	assert_int_equal(olen, 3);
}

static void test_chunked_errors(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int status;
	} cases[] = {
		{ "\r\n", 400 },			/* no size */
		{ "g\r\n", 400 },			/* not hex */
		{ "5 \r\nhello\r\n0\r\n\r\n", 400 },	/* whitespace */
		{ "-5\r\n", 400 },
		{ "5\nhello\r\n", 400 },		/* bare LF */
		{ "5\r\nhelloX\r\n", 400 },		/* data longer than size */
		{ "5\r\nhello\r\r", 400 },
		{ "0\r\n\r\r", 400 },
		{ "0\r\n X: 1\r\n\r\n", 400 },		/* obs-fold trailer */
		{ "0\r\nX: 1\n\r\n", 400 },
		{ "00000000000000001\r\n", 400 },	/* 17 digits */
		{ "65\r\n", 413 },			/* 101 > 100 */
		{ "ffffffffffffffff\r\n", 413 },
		{ "32\r\n", 0 },			/* 50: fine so far */
	};
	char out[1024];
	size_t olen, cons;
	int st;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = chunked(cases[i].in, 100, out, &olen, &cons, &st);

		if (cases[i].status == 0) {
			assert_int_equal(rc, -EAGAIN);
			continue;
		}
		if (rc != -EPROTO || st != cases[i].status)
			fail_msg("case %zu: rc %d status %d, expected %d", i, rc,
				 st, cases[i].status);
	}

	/* total across chunks is bounded too */
	assert_int_equal(chunked("32\r\n", 100, out, &olen, &cons, &st), -EAGAIN);
	char two[256];
	memset(two, 0, sizeof(two));
	strcpy(two, "32\r\n");
	memset(two + 4, 'a', 50);
	strcpy(two + 54, "\r\n33\r\n");
	assert_int_equal(chunked(two, 100, out, &olen, &cons, &st), -EPROTO);
	assert_int_equal(st, 413);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_get),
		cmocka_unit_test(test_need_more_then_complete),
		cmocka_unit_test(test_query_and_headers),
		cmocka_unit_test(test_work_params),
		cmocka_unit_test(test_keep_alive_semantics),
		cmocka_unit_test(test_methods_and_targets),
		cmocka_unit_test(test_bad_request_line),
		cmocka_unit_test(test_leading_blank_line_tolerated),
		cmocka_unit_test(test_unknown_method_501_and_version_505),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_nul_in_value),
		cmocka_unit_test(test_obs_text_value_accepted),
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_transfer_encoding),
		cmocka_unit_test(test_expect_continue),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_exact_limits_accepted),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_head_then_large_body),
		cmocka_unit_test(test_every_split_point),
		cmocka_unit_test(test_long_target_any_split),
		cmocka_unit_test(test_bytewise_keeps_fields),
		cmocka_unit_test(test_error_is_sticky),
		cmocka_unit_test(test_chunked_body),
		cmocka_unit_test(test_chunked_errors),
	};

	return cmocka_run_group_tests_name("http_parse", tests, NULL, NULL);
}
