// SPDX-License-Identifier: MIT
/*
 * Unit tests for user/common/parse.c: integers, rates with suffixes, ports,
 * PROTO/PORT, CIDRs (v4, v6, host bits), actions, and that every error
 * message names the bad value.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "parse.h"

#define assert_msg_has(needle) \
	assert_non_null(strstr(sl_parse_errmsg(), (needle)))

static void test_u64(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(sl_parse_u64("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(sl_parse_u64("0x10", 0, 100, &v), 0);
	assert_int_equal(v, 16);
	assert_int_equal(sl_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(sl_parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(sl_parse_u64("101", 0, 100, &v), -ERANGE);
	assert_msg_has("'101'");
	assert_msg_has("0..100");
	assert_int_equal(sl_parse_u64("-1", 0, 100, &v), -EINVAL);
	assert_msg_has("'-1'");
	assert_int_equal(sl_parse_u64("12abc", 0, 100, &v), -EINVAL);
	assert_int_equal(sl_parse_u64("", 0, 100, &v), -EINVAL);
	assert_int_equal(sl_parse_u64(" 1", 0, 100, &v), -EINVAL);
	assert_int_equal(sl_parse_u64("0x", 0, 100, &v), -EINVAL);
}

static void test_u32(void **state)
{
	uint32_t v;

	(void)state;
	assert_int_equal(sl_parse_u32("4294967295", 0, UINT32_MAX, &v), 0);
	assert_true(v == UINT32_MAX);
	assert_int_equal(sl_parse_u32("4294967296", 0, UINT32_MAX, &v), -ERANGE);
	assert_int_equal(sl_parse_u32("0", 1, 7, &v), -ERANGE);
	assert_msg_has("1..7");
}

static void test_rate(void **state)
{
	uint32_t v;

	(void)state;
	assert_int_equal(sl_parse_rate("1000", 1, 100000000, &v), 0);
	assert_int_equal(v, 1000);
	assert_int_equal(sl_parse_rate("10k", 1, 100000000, &v), 0);
	assert_int_equal(v, 10000);
	assert_int_equal(sl_parse_rate("10K", 1, 100000000, &v), 0);
	assert_int_equal(v, 10000);
	assert_int_equal(sl_parse_rate("2M", 1, 100000000, &v), 0);
	assert_int_equal(v, 2000000);
	assert_int_equal(sl_parse_rate("100M", 1, 100000000, &v), 0);
	assert_int_equal(sl_parse_rate("101M", 1, 100000000, &v), -ERANGE);
	assert_msg_has("'101M'");
	assert_int_equal(sl_parse_rate("0", 1, 100000000, &v), -ERANGE);
	assert_msg_has("1..100000000");
	assert_int_equal(sl_parse_rate("10m", 1, 100000000, &v), -EINVAL);
	assert_msg_has("'10m'");
	assert_int_equal(sl_parse_rate("10kk", 1, 100000000, &v), -EINVAL);
	assert_int_equal(sl_parse_rate("k", 1, 100000000, &v), -EINVAL);
	assert_int_equal(sl_parse_rate("1.5k", 1, 100000000, &v), -EINVAL);
	assert_int_equal(sl_parse_rate("99999999999999999999", 1, 100, &v), -ERANGE);
	assert_int_equal(sl_parse_rate("18446744073709551615M", 1, 100, &v), -ERANGE);
	assert_int_equal(sl_parse_rate("", 1, 100, &v), -EINVAL);
}

static void test_port(void **state)
{
	uint16_t p;

	(void)state;
	assert_int_equal(sl_parse_port("1", &p), 0);
	assert_int_equal(p, 1);
	assert_int_equal(sl_parse_port("65535", &p), 0);
	assert_int_equal(p, 65535);
	assert_int_equal(sl_parse_port("0", &p), -ERANGE);
	assert_msg_has("'0'");
	assert_msg_has("1..65535");
	assert_int_equal(sl_parse_port("65536", &p), -ERANGE);
	assert_int_equal(sl_parse_port("99999999999999999999999", &p), -ERANGE);
	assert_int_equal(sl_parse_port("http", &p), -EINVAL);
	assert_int_equal(sl_parse_port("0x50", &p), -EINVAL);
	assert_int_equal(sl_parse_port("-1", &p), -EINVAL);
	assert_int_equal(sl_parse_port("80 ", &p), -EINVAL);
}

static void test_proto_port(void **state)
{
	enum sl_proto proto;
	uint16_t port;

	(void)state;
	assert_int_equal(sl_parse_proto_port("tcp/8080", &proto, &port), 0);
	assert_int_equal(proto, SL_PROTO_TCP);
	assert_int_equal(port, 8080);
	assert_int_equal(sl_parse_proto_port("udp/53", &proto, &port), 0);
	assert_int_equal(proto, SL_PROTO_UDP);
	assert_int_equal(sl_parse_proto_port("TCP/80", &proto, &port), 0);
	assert_int_equal(proto, SL_PROTO_TCP);
	assert_int_equal(sl_parse_proto_port("sctp/80", &proto, &port), -EINVAL);
	assert_msg_has("'sctp'");
	assert_msg_has("tcp or udp");
	assert_int_equal(sl_parse_proto_port("tcp/0", &proto, &port), -ERANGE);
	assert_msg_has("'tcp/0'");
	assert_int_equal(sl_parse_proto_port("tcp/65536", &proto, &port), -ERANGE);
	assert_int_equal(sl_parse_proto_port("tcp", &proto, &port), -EINVAL);
	assert_msg_has("PROTO/PORT");
	assert_int_equal(sl_parse_proto_port("/80", &proto, &port), -EINVAL);
	assert_int_equal(sl_parse_proto_port("tcp/", &proto, &port), -EINVAL);
	assert_int_equal(sl_parse_proto_port("averyverylongproto/80", &proto, &port), -EINVAL);
}

static void test_cidr_v4(void **state)
{
	struct sl_cidr c;
	char buf[SL_CIDR_STRLEN];

	(void)state;
	assert_int_equal(sl_parse_cidr("198.18.0.0/15", &c), 0);
	assert_int_equal(c.family, 4);
	assert_int_equal(c.prefixlen, 15);
	assert_int_equal(c.addr[0], 198);
	assert_int_equal(c.addr[1], 18);
	assert_int_equal(sl_format_cidr(&c, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "198.18.0.0/15");

	assert_int_equal(sl_parse_cidr("198.18.0.7", &c), 0);
	assert_int_equal(c.prefixlen, 32);
	assert_int_equal(sl_parse_cidr("0.0.0.0/0", &c), 0);
	assert_int_equal(c.prefixlen, 0);

	/* host bits set: an error that proposes the network */
	assert_int_equal(sl_parse_cidr("198.18.0.1/24", &c), -EINVAL);
	assert_msg_has("'198.18.0.1/24'");
	assert_msg_has("198.18.0.0/24");
	assert_int_equal(sl_parse_cidr("198.19.0.0/15", &c), -EINVAL);
	assert_msg_has("198.18.0.0/15");

	assert_int_equal(sl_parse_cidr("198.18.0.0/33", &c), -ERANGE);
	assert_msg_has("0..32");
	assert_int_equal(sl_parse_cidr("198.18.0.0/", &c), -EINVAL);
	assert_int_equal(sl_parse_cidr("198.18.0.0/a", &c), -EINVAL);
	assert_int_equal(sl_parse_cidr("198.18.0.0/08", &c), -EINVAL);
	assert_int_equal(sl_parse_cidr("198.18.0/16", &c), -EINVAL);
	assert_int_equal(sl_parse_cidr("256.0.0.0/8", &c), -EINVAL);
	assert_msg_has("'256.0.0.0/8'");
	assert_int_equal(sl_parse_cidr("", &c), -EINVAL);
	assert_int_equal(sl_parse_cidr("/8", &c), -EINVAL);
}

static void test_cidr_v6(void **state)
{
	struct sl_cidr c;
	char buf[SL_CIDR_STRLEN];

	(void)state;
	assert_int_equal(sl_parse_cidr("2001:db8::/32", &c), 0);
	assert_int_equal(c.family, 6);
	assert_int_equal(c.prefixlen, 32);
	assert_int_equal(c.addr[0], 0x20);
	assert_int_equal(c.addr[3], 0xb8);
	assert_int_equal(sl_format_cidr(&c, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2001:db8::/32");
	assert_int_equal(sl_parse_cidr("2001:db8::1", &c), 0);
	assert_int_equal(c.prefixlen, 128);
	assert_int_equal(sl_parse_cidr("2001:db8:0:1::/63", &c), -EINVAL);
	assert_msg_has("2001:db8::/63");
	assert_int_equal(sl_parse_cidr("2001:db8::/129", &c), -ERANGE);
	assert_msg_has("0..128");
	assert_int_equal(sl_parse_cidr("2001:db8:::/32", &c), -EINVAL);
	assert_int_equal(sl_parse_cidr("::/0", &c), 0);
	assert_int_equal(sl_parse_cidr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", &c), 0);
	assert_int_equal(sl_format_cidr(&c, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
}

static void test_action(void **state)
{
	enum sl_action a;

	(void)state;
	assert_int_equal(sl_parse_action("drop", &a), 0);
	assert_int_equal(a, SL_ACT_DROP);
	assert_int_equal(sl_parse_action("reject", &a), 0);
	assert_int_equal(a, SL_ACT_REJECT);
	assert_int_equal(sl_parse_action("mark", &a), 0);
	assert_int_equal(a, SL_ACT_MARK);
	assert_int_equal(sl_parse_action("block", &a), -EINVAL);
	assert_msg_has("'block'");
	assert_msg_has("drop, reject or mark");
	assert_string_equal(sl_action_name(SL_ACT_REJECT), "reject");
}

static void test_format_service(void **state)
{
	char buf[SL_SERVICE_STRLEN];

	(void)state;
	assert_int_equal(sl_format_service(SL_PROTO_UDP, 65535, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "udp/65535");
	assert_int_equal(sl_format_service(SL_PROTO_TCP, 80, buf, 4), -ENOSPC);
	assert_string_equal(sl_proto_name(SL_PROTO_TCP), "tcp");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_u32),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_port),
		cmocka_unit_test(test_proto_port),
		cmocka_unit_test(test_cidr_v4),
		cmocka_unit_test(test_cidr_v6),
		cmocka_unit_test(test_action),
		cmocka_unit_test(test_format_service),
	};

	return cmocka_run_group_tests_name("parse", tests, NULL, NULL);
}
