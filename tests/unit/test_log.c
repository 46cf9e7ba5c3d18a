// SPDX-License-Identifier: MIT
/*
 * Unit tests for user/common/log.c: level filtering, the handler, and
 * libbpf's messages arriving one level down.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <bpf/libbpf.h>

#include "log.h"

static char last[256];
static enum sl_log_level last_level;
static int calls;

static void capture(enum sl_log_level level, const char *msg)
{
	snprintf(last, sizeof(last), "%s", msg);
	last_level = level;
	calls++;
}

static int setup(void **state)
{
	(void)state;
	last[0] = '\0';
	calls = 0;
	sl_log_set_handler(capture);
	sl_log_set_level(SL_LOG_WARN);
	return 0;
}

static void test_levels(void **state)
{
	(void)state;
	pr_err("bad value '%s', expected %d..%d", "x", 1, 7);
	assert_int_equal(calls, 1);
	assert_int_equal(last_level, SL_LOG_ERR);
	assert_string_equal(last, "bad value 'x', expected 1..7");
	pr_info("hidden");
	pr_debug("hidden");
	assert_int_equal(calls, 1);
	sl_log_set_level(SL_LOG_DEBUG);
	pr_debug("shown\n\n");
	assert_int_equal(calls, 2);
	assert_string_equal(last, "shown");	/* trailing newlines trimmed */
	assert_int_equal(sl_log_get_level(), SL_LOG_DEBUG);
	assert_string_equal(sl_log_level_name(SL_LOG_WARN), "warning");
}

static int call_print(libbpf_print_fn_t fn, enum libbpf_print_level level, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = fn(level, fmt, ap);
	va_end(ap);
	return ret;
}

static void test_libbpf_one_level_down(void **state)
{
	libbpf_print_fn_t fn;

	(void)state;
	sl_log_route_libbpf();
	fn = libbpf_set_print(NULL);	/* returns ours */
	assert_non_null(fn);

	call_print(fn, LIBBPF_WARN, "libbpf: %s\n", "warned");
	assert_int_equal(calls, 0);		/* warn -> info: hidden by default */
	sl_log_set_level(SL_LOG_INFO);
	call_print(fn, LIBBPF_WARN, "libbpf: %s\n", "warned");
	assert_int_equal(calls, 1);
	assert_int_equal(last_level, SL_LOG_INFO);
	assert_string_equal(last, "libbpf: warned");
	call_print(fn, LIBBPF_INFO, "libbpf: info\n");
	assert_int_equal(calls, 1);		/* info -> debug */
	sl_log_set_level(SL_LOG_TRACE);
	call_print(fn, LIBBPF_DEBUG, "libbpf: debug\n");
	assert_int_equal(calls, 2);
	assert_int_equal(last_level, SL_LOG_TRACE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_levels, setup),
		cmocka_unit_test_setup(test_libbpf_one_level_down, setup),
	};

	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
