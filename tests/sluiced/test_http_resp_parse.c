// SPDX-License-Identifier: MIT
/*
 * Unit tests of the upstream response parser and its framing decision
 * (RFC 9112 6.3): HEAD, 1xx then the final response, 204, 304,
 * Content-Length, chunked (with its end found in a stream), close-
 * delimited, whether the connection can be reused, and the malformed
 * heads a proxy must refuse. Every head is also fed a byte at a time.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "http_resp_parse.h"

static struct http_resp_parser P, B;

/* Parses s whole, then a byte at a time, and checks both agree. */
static int parse(const char *s, bool head_req)
{
	size_t len = strlen(s);
	int rw, rb = -EAGAIN;

	http_resp_parser_init(&P, 32768, head_req);
	rw = http_resp_parse(&P, s, len);
	http_resp_parser_init(&B, 32768, head_req);
	for (size_t i = 1; i <= len && rb == -EAGAIN; i++)
		rb = http_resp_parse(&B, s, i);
	assert_int_equal(rw, rb);
	if (rw == 0) {
		assert_int_equal(P.resp.head_len, B.resp.head_len);
		assert_int_equal(P.resp.framing, B.resp.framing);
		assert_int_equal(P.resp.keep_alive, B.resp.keep_alive);
	}
	return rw;
}

static void test_content_length(void **state)
{
	(void)state;
	const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

	assert_int_equal(parse(s, false), 0);
	assert_int_equal(P.resp.status, 200);
	assert_int_equal(P.resp.framing, HTTP_RF_LENGTH);
	assert_int_equal(P.resp.content_length, 5);
	assert_int_equal(P.resp.head_len, strlen(s) - 5);
	assert_true(P.resp.keep_alive);
	assert_memory_equal(s + P.resp.reason.off, "OK", 2);
}

static void test_no_body_cases(void **state)
{
	(void)state;
	/* HEAD: the length describes the GET's body; nothing follows */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", true), 0);
	assert_int_equal(P.resp.framing, HTTP_RF_NONE);
	assert_true(P.resp.keep_alive);
	assert_int_equal(parse("HTTP/1.1 204 No Content\r\n\r\n", false), 0);
	assert_int_equal(P.resp.framing, HTTP_RF_NONE);
	assert_true(P.resp.keep_alive);
	assert_int_equal(parse("HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n", false), 0);
	assert_int_equal(P.resp.framing, HTTP_RF_NONE);
	/* a HEAD answer with chunked: still no body */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true), 0);
	assert_int_equal(P.resp.framing, HTTP_RF_NONE);
}

static void test_interim_then_final(void **state)
{
	(void)state;
	const char *s = "HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n"
			"HTTP/1.1 100 Continue\r\n\r\n"
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	size_t off = 0;
	int seen[3], n = 0;

	for (;;) {
		http_resp_parser_init(&P, 32768, false);
		assert_int_equal(http_resp_parse(&P, s + off, strlen(s) - off), 0);
		seen[n++] = P.resp.status;
		off += P.resp.head_len;
		if (P.resp.status >= 200)
			break;
		assert_int_equal(P.resp.framing, HTTP_RF_NONE);
	}
	assert_int_equal(n, 3);
	assert_int_equal(seen[0], 103);
	assert_int_equal(seen[1], 100);
	assert_int_equal(seen[2], 200);
	assert_int_equal(strlen(s) - off, 2);
	assert_int_equal(parse("HTTP/1.1 101 Switching Protocols\r\n\r\n", false), -EPROTO);
}

static void test_close_delimited_and_keep_alive(void **state)
{
	(void)state;
	assert_int_equal(parse("HTTP/1.1 200 OK\r\n\r\nrest", false), 0);
	assert_int_equal(P.resp.framing, HTTP_RF_CLOSE);
	assert_false(P.resp.keep_alive);
	assert_int_equal(parse("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false), 0);
	assert_false(P.resp.keep_alive);
	assert_int_equal(parse("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n"
			       "Connection: Keep-Alive\r\n\r\n", false), 0);
	assert_true(P.resp.keep_alive);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
			       "Connection: x, close\r\n\r\n", false), 0);
	assert_false(P.resp.keep_alive);
	/* a coding other than chunked last: until close */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false), 0);
	assert_int_equal(P.resp.framing, HTTP_RF_CLOSE);
}

static void test_chunked(void **state)
{
	(void)state;
	const char *s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
	const char *body = "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nNEXT";
	struct http_resp_body b;
	char scratch[64], got[64];
	size_t used, data, total_used = 0, total_data = 0;
	int rc = -EAGAIN;

	assert_int_equal(parse(s, false), 0);
	assert_int_equal(P.resp.framing, HTTP_RF_CHUNKED);
	assert_false(P.resp.te_only_chunked);
	assert_true(P.resp.keep_alive);
	http_resp_body_init(&b, &P.resp);
	/* two bytes at a time, as a trickling upstream sends them */
	for (size_t i = 0; rc == -EAGAIN && i < strlen(body); i += 2) {
		size_t n = strlen(body) - i < 2 ? strlen(body) - i : 2;

		rc = http_resp_body_feed(&b, body + i, n, scratch, &used, &data);
		memcpy(got + total_data, scratch, data);
		total_used += used;
		total_data += data;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(total_used, strlen(body) - 4);
	assert_memory_equal(got, "abcde", 5);
	assert_int_equal(total_data, 5);
	/* both: chunked wins, and the connection is not reused */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n", false), 0);
	assert_int_equal(P.resp.framing, HTTP_RF_CHUNKED);
	assert_true(P.resp.te_only_chunked);
	assert_false(P.resp.keep_alive);
}

static void test_length_body_feed(void **state)
{
	(void)state;
	struct http_resp_body b;
	size_t used, data;

	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false), 0);
	http_resp_body_init(&b, &P.resp);
	assert_int_equal(http_resp_body_feed(&b, "hel", 3, NULL, &used, &data), -EAGAIN);
	assert_int_equal(used, 3);
	assert_int_equal(http_resp_body_feed(&b, "loEXTRA", 7, NULL, &used, &data), 0);
	assert_int_equal(used, 2);
}

static void test_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"HTTP/1.1 200 OK\nContent-Length: 1\r\n\r\n",		/* bare LF */
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n Folded\r\n\r\n",	/* obs-fold */
		"HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\n",	/* space before colon */
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/2.0 200 OK\r\n\r\n",
		"HTTP/1.1 099 x\r\n\r\n",
		"ICY 200 OK\r\n\r\n",
		"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i], false), -EPROTO);
	}
	/* equal repeated lengths are one length; an empty reason is fine */
	assert_int_equal(parse("HTTP/1.1 200\r\nContent-Length: 4, 4\r\n\r\n", false), 0);
	assert_int_equal(P.resp.content_length, 4);
}

static void test_head_bound(void **state)
{
	(void)state;
	char big[200];

	memset(big, 'a', sizeof(big));
	memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
	http_resp_parser_init(&P, 100, false);
	assert_int_equal(http_resp_parse(&P, big, sizeof(big)), -EPROTO);
	http_resp_parser_init(&P, 100, false);
	assert_int_equal(http_resp_parse(&P, big, 99), -EAGAIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_no_body_cases),
		cmocka_unit_test(test_interim_then_final),
		cmocka_unit_test(test_close_delimited_and_keep_alive),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_length_body_feed),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_head_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
