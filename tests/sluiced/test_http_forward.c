// SPDX-License-Identifier: MIT
/*
 * Unit tests of the proxy's head rewriting (http_forward.h) and its
 * bounded buffer (http_buf.h): exact request heads for the upstream
 * (hop-by-hop fields, Connection-named fields, Proxy-Authorization,
 * X-Forwarded-For from trusted and untrusted peers, long fields), and
 * response heads for the client (no invented Content-Length, codings
 * kept, 1xx, HTTP/1.0 clients).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http_forward.h"

static struct http_parser P;
static struct http_resp_parser R;

static char *fwd_req(const char *in, const struct http_forward_req *f)
{
	struct http_buf b = HTTP_BUF_INIT(1 << 20);

	http_parser_init(&P, NULL);
	assert_int_equal(http_parse_head(&P, in, strlen(in)), 0);
	assert_int_equal(http_forward_request(&b, &P.req, in, f), 0);
	assert_int_equal(http_buf_add(&b, "", 1), 0);
	return http_buf_take(&b);
}

static void test_request_hop_by_hop(void **state)
{
	(void)state;
	struct http_forward_req f = { .client_addr = "192.0.2.7" };
	char *out = fwd_req("GET /a?b HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Secret\r\n"
			    "X-Secret: s\r\nKeep-Alive: 5\r\nProxy-Authorization: Basic x\r\n"
			    "TE: trailers\r\nUpgrade: h2c\r\nAccept: */*\r\n\r\n", &f);

	assert_string_equal(out, "GET /a?b HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n"
				 "X-Forwarded-For: 192.0.2.7\r\n\r\n");
	free(out);
}

static void test_request_http10_gets_host(void **state)
{
	(void)state;
	struct http_forward_req f = { .client_addr = "192.0.2.7", .host = "app:9000" };
	char *out = fwd_req("GET / HTTP/1.0\r\nAccept: */*\r\n\r\n", &f);

	assert_string_equal(out, "GET / HTTP/1.1\r\nAccept: */*\r\nHost: app:9000\r\n"
				 "X-Forwarded-For: 192.0.2.7\r\n\r\n");
	free(out);
	out = fwd_req("GET / HTTP/1.0\r\nHost: mine\r\n\r\n", &f);
	assert_string_equal(out, "GET / HTTP/1.1\r\nHost: mine\r\n"
				 "X-Forwarded-For: 192.0.2.7\r\n\r\n");
	free(out);
}

static void test_request_xff_untrusted_replaced(void **state)
{
	(void)state;
	struct http_forward_req f = { .client_addr = "192.0.2.7" };
	char *out = fwd_req("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 6.6.6.6\r\n"
			    "Forwarded: for=6.6.6.6\r\n\r\n", &f);

	assert_string_equal(out, "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 192.0.2.7\r\n\r\n");
	free(out);
}

static void test_request_xff_trusted_appended(void **state)
{
	(void)state;
	struct http_forward_req f = { .client_addr = "10.0.0.2", .peer_trusted = true };
	char *out = fwd_req("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 203.0.113.1\r\n"
			    "Forwarded: for=203.0.113.1\r\nX-Forwarded-For: 10.0.0.9\r\n\r\n", &f);

	assert_string_equal(out, "GET / HTTP/1.1\r\nHost: h\r\nForwarded: for=203.0.113.1\r\n"
				 "X-Forwarded-For: 203.0.113.1, 10.0.0.9, 10.0.0.2\r\n\r\n");
	free(out);
}

static void test_request_body_framing(void **state)
{
	(void)state;
	struct http_forward_req f = { .client_addr = "::1", .body_len = 3 };
	char *out = fwd_req("POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
			    "Expect: 100-continue\r\n\r\n", &f);

	assert_string_equal(out, "POST /p HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: ::1\r\n"
				 "Content-Length: 3\r\n\r\n");
	free(out);
	f.body_len = 0;
	out = fwd_req("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", &f);
	assert_non_null(strstr(out, "Content-Length: 0\r\n"));
	free(out);
}

/* A 7,000-byte cookie and a 6,000-byte target: within nginx's 8 KiB a
 * line, and copied whole (the old builder went through 1 KiB). */
static void test_request_long_fields(void **state)
{
	(void)state;
	struct http_forward_req f = { .client_addr = "192.0.2.7" };
	size_t clen = 7000, tlen = 6000;
	char *in = malloc(clen + tlen + 100), *p = in, *out;

	p += sprintf(p, "GET /");
	memset(p, 'u', tlen - 1);
	p += tlen - 1;
	p += sprintf(p, " HTTP/1.1\r\nHost: h\r\nCookie: ");
	memset(p, 'c', clen);
	p += clen;
	sprintf(p, "\r\n\r\n");
	out = fwd_req(in, &f);
	assert_int_equal(strlen(out), strlen(in) + strlen("X-Forwarded-For: 192.0.2.7\r\n"));
	assert_memory_equal(out, in, strlen(in) - 2);
	free(in);
	free(out);
}

static void test_buf_bound(void **state)
{
	(void)state;
	struct http_buf b = HTTP_BUF_INIT(10);

	assert_int_equal(http_buf_adds(&b, "0123456789"), 0);
	assert_int_equal(http_buf_add(&b, "x", 1), -EFBIG);
	assert_int_equal(b.len, 10);
	http_buf_free(&b);
	b = HTTP_BUF_INIT(100);
	assert_int_equal(http_buf_addu(&b, 0), 0);
	assert_int_equal(http_buf_addu(&b, 18446744073709551615ull), 0);
	assert_memory_equal(b.p, "018446744073709551615", b.len);
	http_buf_free(&b);
}

static char *fwd_resp(const char *in, bool head_req, struct http_forward_resp *f, int want)
{
	struct http_buf b = HTTP_BUF_INIT(1 << 20);

	http_resp_parser_init(&R, 32768, head_req);
	assert_int_equal(http_resp_parse(&R, in, strlen(in)), 0);
	assert_int_equal(http_forward_response(&b, &R.resp, in, f), want);
	if (want)
		return http_buf_free(&b), NULL;
	assert_int_equal(http_buf_add(&b, "", 1), 0);
	return http_buf_take(&b);
}

static void test_response_head_keeps_length(void **state)
{
	(void)state;
	struct http_forward_resp f = { 0 };
	char *out = fwd_resp("HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: keep-alive\r\n"
			     "Keep-Alive: timeout=5\r\n\r\n", true, &f, 0);

	assert_string_equal(out, "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n");
	assert_false(f.close_after);
	free(out);
}

static void test_response_204_304_no_invented_length(void **state)
{
	(void)state;
	struct http_forward_resp f = { 0 };
	char *out = fwd_resp("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", false, &f, 0);

	assert_string_equal(out, "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n");
	free(out);
	out = fwd_resp("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", false, &f, 0);
	assert_string_equal(out, "HTTP/1.1 204 No Content\r\n\r\n");
	assert_false(f.close_after);
	free(out);
}

static void test_response_codings_kept(void **state)
{
	(void)state;
	struct http_forward_resp f = { 0 };
	char *out = fwd_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
			     "Transfer-Encoding: chunked\r\nConnection: close, X-Hop\r\n"
			     "X-Hop: 1\r\n\r\n", false, &f, 0);

	/* the upstream's Connection: close is about its own connection */
	assert_string_equal(out, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
	assert_int_equal(f.body, HTTP_CB_RAW);
	free(out);
	/* HTTP/1.0 client: plain chunked is decoded, gzip cannot reach it */
	f = (struct http_forward_resp){ .client_http10 = true };
	out = fwd_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, &f, 0);
	assert_string_equal(out, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
	assert_int_equal(f.body, HTTP_CB_DECHUNK);
	assert_true(f.close_after);
	free(out);
	f = (struct http_forward_resp){ .client_http10 = true };
	fwd_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", false, &f, -ENOTSUP);
}

static void test_response_close_delimited(void **state)
{
	(void)state;
	struct http_forward_resp f = { 0 };
	char *out = fwd_resp("HTTP/1.0 200 OK\r\nServer: s\r\n\r\n", false, &f, 0);

	assert_string_equal(out, "HTTP/1.1 200 OK\r\nServer: s\r\nConnection: close\r\n\r\n");
	assert_true(f.close_after);
	free(out);
}

static void test_response_103(void **state)
{
	(void)state;
	struct http_forward_resp f = { .close = true };
	char *out = fwd_resp("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n",
			     false, &f, 0);

	/* no Connection: close and no length on an interim response */
	assert_string_equal(out, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_hop_by_hop),
		cmocka_unit_test(test_request_http10_gets_host),
		cmocka_unit_test(test_request_xff_untrusted_replaced),
		cmocka_unit_test(test_request_xff_trusted_appended),
		cmocka_unit_test(test_request_body_framing),
		cmocka_unit_test(test_request_long_fields),
		cmocka_unit_test(test_buf_bound),
		cmocka_unit_test(test_response_head_keeps_length),
		cmocka_unit_test(test_response_204_304_no_invented_length),
		cmocka_unit_test(test_response_codings_kept),
		cmocka_unit_test(test_response_close_delimited),
		cmocka_unit_test(test_response_103),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
