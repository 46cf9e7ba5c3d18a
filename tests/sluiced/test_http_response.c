// SPDX-License-Identifier: MIT
/*
 * Unit tests of the response head writers: exact bytes for the common
 * answers (200, 503 with Retry-After and close), and refusal to overflow
 * or to write a malformed head.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "http_response.h"

static void test_ok_keep_alive(void **state)
{
	(void)state;
	char buf[256];
	struct http_response r = { .status = 200, .content_length = 2,
				   .content_type = "text/plain" };
	const char *want = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
			   "Content-Length: 2\r\n\r\n";
	int n = http_write_head(buf, sizeof(buf), &r);

	assert_int_equal(n, strlen(want));
	assert_memory_equal(buf, want, n);
}

static void test_503_retry_after_close(void **state)
{
	(void)state;
	char buf[256];
	struct http_response r = { .status = 503, .retry_after_s = 1,
				   .close = true };
	const char *want = "HTTP/1.1 503 Service Unavailable\r\n"
			   "Content-Length: 9\r\nRetry-After: 1\r\n"
			   "Connection: close\r\n\r\noverload\n";
	int n = http_write_simple(buf, sizeof(buf), &r, "overload\n");

	assert_int_equal(n, strlen(want));
	assert_memory_equal(buf, want, n);
}

static void test_every_error_status_has_reason(void **state)
{
	(void)state;
	int statuses[] = { 400, 408, 413, 414, 431, 501, 503, 505 };

	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		assert_true(strlen(http_reason(statuses[i])) > 0);
	assert_string_equal(http_reason(299), "");
}

static void test_unknown_status_empty_reason(void **state)
{
	(void)state;
	char buf[128];
	struct http_response r = { .status = 299 };
	int n = http_write_head(buf, sizeof(buf), &r);

	assert_true(n > 0);
	assert_memory_equal(buf, "HTTP/1.1 299 \r\n", 15);
}

static void test_no_space(void **state)
{
	(void)state;
	char buf[256];
	struct http_response r = { .status = 503, .retry_after_s = 2,
				   .close = true };
	int full = http_write_simple(buf, sizeof(buf), &r, "busy");

	assert_true(full > 0);
	/* Every capacity short of the full answer fails cleanly. */
	for (int cap = 0; cap < full; cap++)
		assert_int_equal(http_write_simple(buf, cap, &r, "busy"), -ENOSPC);
	assert_int_equal(http_write_simple(buf, full, &r, "busy"), full);
}

static void test_invalid(void **state)
{
	(void)state;
	char buf[256];
	struct http_response r = { .status = 99 };

	assert_int_equal(http_write_head(buf, sizeof(buf), &r), -EINVAL);
	r.status = 600;
	assert_int_equal(http_write_head(buf, sizeof(buf), &r), -EINVAL);
	r.status = 200;
	r.content_type = "text/plain\r\nSet-Cookie: x";
	assert_int_equal(http_write_head(buf, sizeof(buf), &r), -EINVAL);
}

static void test_null_body(void **state)
{
	(void)state;
	char buf[128];
	struct http_response r = { .status = 204 };
	int n = http_write_simple(buf, sizeof(buf), &r, NULL);

	assert_true(n > 0);
	assert_non_null(strstr(buf, "Content-Length: 0\r\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_keep_alive),
		cmocka_unit_test(test_503_retry_after_close),
		cmocka_unit_test(test_every_error_status_has_reason),
		cmocka_unit_test(test_unknown_status_empty_reason),
		cmocka_unit_test(test_no_space),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_null_body),
	};

	return cmocka_run_group_tests_name("http_response", tests, NULL, NULL);
}
