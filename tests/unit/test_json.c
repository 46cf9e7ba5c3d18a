// SPDX-License-Identifier: MIT
/*
 * Unit tests for user/common/json.c: commas and nesting, escaping of
 * quotes, backslashes and control characters, misuse detection.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "json.h"

struct buf {
	char *data;
	size_t len;
	FILE *f;
};

static void buf_open(struct buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->f = open_memstream(&b->data, &b->len);
	assert_non_null(b->f);
}

static void buf_close(struct buf *b)
{
	fclose(b->f);
	free(b->data);
}

static void test_nesting(void **state)
{
	struct sl_json w;
	struct buf b;

	(void)state;
	buf_open(&b);
	sl_json_init(&w, b.f, false);
	sl_json_obj_begin(&w);
	sl_json_key(&w, "services");
	sl_json_arr_begin(&w);
	sl_json_obj_begin(&w);
	sl_json_kv_str(&w, "service", "tcp/8080");
	sl_json_kv_u64(&w, "admitted", 18446744073709551615ull);
	sl_json_kv_i64(&w, "delta", -3);
	sl_json_obj_end(&w);
	sl_json_obj_begin(&w);
	sl_json_obj_end(&w);
	sl_json_arr_end(&w);
	sl_json_key(&w, "empty");
	sl_json_arr_begin(&w);
	sl_json_arr_end(&w);
	sl_json_kv_bool(&w, "ok", true);
	sl_json_key(&w, "none");
	sl_json_null(&w);
	sl_json_obj_end(&w);
	assert_int_equal(sl_json_end(&w), 0);
	assert_string_equal(b.data,
			    "{\"services\":[{\"service\":\"tcp/8080\",\"admitted\":18446744073709551615,"
			    "\"delta\":-3},{}],\"empty\":[],\"ok\":true,\"none\":null}\n");
	buf_close(&b);
}

static void test_pretty(void **state)
{
	struct sl_json w;
	struct buf b;

	(void)state;
	buf_open(&b);
	sl_json_init(&w, b.f, true);
	sl_json_obj_begin(&w);
	sl_json_kv_u64(&w, "a", 1);
	sl_json_key(&w, "b");
	sl_json_arr_begin(&w);
	sl_json_u64(&w, 2);
	sl_json_u64(&w, 3);
	sl_json_arr_end(&w);
	sl_json_obj_end(&w);
	assert_int_equal(sl_json_end(&w), 0);
	assert_string_equal(b.data, "{\n  \"a\": 1,\n  \"b\": [\n    2,\n    3\n  ]\n}\n");
	buf_close(&b);
}

static void test_escaping(void **state)
{
	struct sl_json w;
	struct buf b;

	(void)state;
	buf_open(&b);
	sl_json_init(&w, b.f, false);
	sl_json_obj_begin(&w);
	sl_json_kv_str(&w, "k\"ey", "a\"b\\c\nd\te\r\x01\x1f\x7f\b\f/é");
	sl_json_obj_end(&w);
	assert_int_equal(sl_json_end(&w), 0);
	assert_string_equal(b.data,
			    "{\"k\\\"ey\":\"a\\\"b\\\\c\\nd\\te\\r\\u0001\\u001f\\u007f\\b\\f/é\"}\n");
	buf_close(&b);
}

static void test_escape_buf(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(sl_json_escape("x\"y", out, sizeof(out)), 0);
	assert_string_equal(out, "x\\\"y");
	assert_int_equal(sl_json_escape("\x01\x01\x01", out, sizeof(out)), -ENOSPC);
	assert_int_equal(sl_json_escape("", out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

static void test_misuse(void **state)
{
	struct sl_json w;
	struct buf b;

	(void)state;
	buf_open(&b);
	sl_json_init(&w, b.f, false);
	sl_json_obj_begin(&w);
	assert_int_equal(sl_json_end(&w), -EINVAL);	/* unclosed */
	buf_close(&b);

	buf_open(&b);
	sl_json_init(&w, b.f, false);
	sl_json_arr_end(&w);			/* nothing open */
	assert_int_equal(sl_json_end(&w), -EINVAL);
	buf_close(&b);

	buf_open(&b);
	sl_json_init(&w, b.f, false);
	sl_json_obj_begin(&w);
	sl_json_key(&w, "dangling");
	sl_json_obj_end(&w);			/* key without value */
	assert_int_equal(sl_json_end(&w), -EINVAL);
	buf_close(&b);

	buf_open(&b);
	sl_json_init(&w, b.f, false);
	for (int i = 0; i < SL_JSON_MAX_DEPTH + 1; i++)
		sl_json_arr_begin(&w);
	assert_int_equal(sl_json_end(&w), -EINVAL);	/* too deep */
	buf_close(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_pretty),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_escape_buf),
		cmocka_unit_test(test_misuse),
	};

	return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
