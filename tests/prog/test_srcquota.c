// SPDX-License-Identifier: MIT
/*
 * Data-plane tests of the per-source exceptions (sl_src_quota) and counts
 * (sl_src_seen) of fleet quotas, on the real XDP and TC programs
 * (BPF_PROG_TEST_RUN): they apply only while a daemon with SL_ADM_FLEET
 * has a fresh heartbeat; a source is counted once per judged SYN; an
 * exception refuses outright (rate 0) or admits its burst at its own rate
 * (1/s: nothing refills within the test), under reason src_quota, and
 * takes nothing from the service's bucket; other sources are untouched.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/pkt_cls.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "env.h"
#include "pkt.h"

#ifndef XDP_PASS
#define XDP_DROP 1
#define XDP_PASS 2
#endif

static char skip_why[256];
static bool load_failed;

struct progsel {
	const char *name;
	int *fd;
	int pass, drop;
};
static const struct progsel progs[] = {
	{ "xdp", &env_xdp_fd, XDP_PASS, XDP_DROP },
	{ "tc", &env_tc_fd, TC_ACT_UNSPEC, TC_ACT_SHOT },
};

#define HEAVY "198.18.0.10"
#define LIGHT "198.18.0.11"

static int setup(void **state)
{
	(void)state;
	if (!env_skel) {
		if (load_failed)
			fail_msg("%s", skip_why);
		print_message("skipped: %s\n", skip_why);
		skip();
	}
	return env_reset();
}

static struct sl_src_key key4(const char *src)
{
	struct sl_src_key k = { .slot = SLOT_TCP82, .family = 4, .prefixlen = 32 };

	assert_int_equal(inet_pton(AF_INET, src, k.addr), 1);
	return k;
}

/* The service on TCP 82 with a daemon: fresh heartbeat, fleet flag or not. */
static void daemon_on(bool fleet, bool fresh)
{
	struct sl_service s = { .port = 82, .proto = SL_PROTO_TCP, .action = SL_ACT_DROP,
				.rate = 1, .burst = 100 };
	struct sl_admission a = { .heartbeat_ns = fresh ? env_now_ns() : 1,
				  .stale_after_ns = fresh ? 600ull * 1000000000ull : 1,
				  .flags = fleet ? SL_ADM_FLEET : 0 };

	assert_int_equal(env_set_service(SLOT_TCP82, &s), 0);
	assert_int_equal(env_set_admission(SLOT_TCP82, &a), 0);
}

static void set_quota(const char *src, __u32 rate_milli, __u32 burst)
{
	struct sl_src_key k = key4(src);
	struct sl_src_quota q = { .rate_milli = rate_milli, .burst = burst };

	assert_int_equal(bpf_map_update_elem(bpf_map__fd(env_skel->maps.sl_src_quota), &k, &q,
					     BPF_ANY), 0);
}

static __u64 seen(const char *src)
{
	struct sl_src_key k = key4(src);
	struct sl_src_seen v = { 0 };

	bpf_map_lookup_elem(bpf_map__fd(env_skel->maps.sl_src_seen), &k, &v);
	return v.count;
}

static __u64 svc_tat(void)
{
	struct sl_bucket b = { 0 };
	__u32 slot = SLOT_TCP82;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(env_skel->maps.sl_buckets), &slot, &b),
			 0);
	return b.tat_ns;
}

/* Runs `repeat` SYNs from src; checks the last verdict and returns the
 * stats delta of the slot. */
static struct sl_stats syns(const struct progsel *ps, const char *src, int repeat, int expect)
{
	struct sl_stats before, after, d;
	struct run_result res;
	__u8 pkt[256];
	int len = pkt_build(&(struct pkt){ .dport = 82, .src = src }, pkt, sizeof(pkt), NULL);

	assert_int_equal(env_stats(SLOT_TCP82, &before), 0);
	assert_int_equal(env_run(*ps->fd, pkt, len, repeat, &res), 0);
	if ((int)res.retval != expect)
		fail_msg("%s from %s [%s]: verdict %d, expected %d", "SYNs", src, ps->name,
			 res.retval, expect);
	assert_int_equal(env_stats(SLOT_TCP82, &after), 0);
	for (int r = 0; r < SL_R__COUNT; r++)
		((__u64 *)&d)[r] = ((__u64 *)&after)[r] - ((__u64 *)&before)[r];
	return d;
}

static void test_no_fleet_flag_no_effect(void **state)
{
	(void)state;
	for (int k = 0; k < 2; k++) {
		struct sl_stats d;

		assert_int_equal(env_reset(), 0);
		daemon_on(false, true);
		set_quota(HEAVY, 0, 0);
		d = syns(&progs[k], HEAVY, 5, progs[k].pass);
		assert_int_equal(d.admitted, 5);
		assert_int_equal(d.src_quota, 0);
		assert_int_equal(seen(HEAVY), 0);	/* not counted either */
	}
}

static void test_stale_daemon_exceptions_lapse(void **state)
{
	(void)state;
	for (int k = 0; k < 2; k++) {
		struct sl_stats d;

		assert_int_equal(env_reset(), 0);
		daemon_on(true, false);
		set_quota(HEAVY, 0, 0);
		d = syns(&progs[k], HEAVY, 5, progs[k].pass);
		assert_int_equal(d.admitted, 5);
		assert_int_equal(d.stale, 5);
		assert_int_equal(d.src_quota, 0);
	}
}

static void test_counts_each_judged_source(void **state)
{
	(void)state;
	for (int k = 0; k < 2; k++) {
		assert_int_equal(env_reset(), 0);
		daemon_on(true, true);
		syns(&progs[k], HEAVY, 7, progs[k].pass);
		syns(&progs[k], LIGHT, 2, progs[k].pass);
		assert_int_equal(seen(HEAVY), 7);
		assert_int_equal(seen(LIGHT), 2);
	}
}

static void test_refused_outright(void **state)
{
	(void)state;
	for (int k = 0; k < 2; k++) {
		struct sl_stats d;
		__u64 tat;

		assert_int_equal(env_reset(), 0);
		daemon_on(true, true);
		set_quota(HEAVY, 0, 0);
		tat = svc_tat();
		d = syns(&progs[k], HEAVY, 4, progs[k].drop);
		assert_int_equal(d.src_quota, 4);
		assert_int_equal(d.dropped, 4);
		assert_int_equal(d.admitted, 0);
		assert_int_equal(seen(HEAVY), 4);	/* refused, still demand */
		assert_true(svc_tat() == tat);		/* no service token taken */
		d = syns(&progs[k], LIGHT, 3, progs[k].pass);
		assert_int_equal(d.admitted, 3);
	}
}

static void test_own_rate_and_burst(void **state)
{
	(void)state;
	for (int k = 0; k < 2; k++) {
		struct sl_stats d;

		assert_int_equal(env_reset(), 0);
		daemon_on(true, true);
		set_quota(HEAVY, 1000, 3);	/* 1/s, burst 3 */
		d = syns(&progs[k], HEAVY, 10, progs[k].drop);
		assert_int_equal(d.admitted, 3);
		assert_int_equal(d.src_quota, 7);
		assert_int_equal(d.dropped, 7);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_no_fleet_flag_no_effect, setup),
		cmocka_unit_test_setup(test_stale_daemon_exceptions_lapse, setup),
		cmocka_unit_test_setup(test_counts_each_judged_source, setup),
		cmocka_unit_test_setup(test_refused_outright, setup),
		cmocka_unit_test_setup(test_own_rate_and_burst, setup),
	};
	int rc;

	rc = env_open(1024, skip_why, sizeof(skip_why));
	if (rc == -ENOEXEC)
		load_failed = true;
	else if (rc)
		fprintf(stderr, "test_srcquota: skipping: %s\n", skip_why);
	rc = cmocka_run_group_tests_name("srcquota", tests, NULL, NULL);
	env_close();
	return rc;
}
