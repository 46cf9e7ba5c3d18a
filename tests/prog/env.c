// SPDX-License-Identifier: MIT
/*
 * Loads the real data plane (build/sluice.skel.h) for tests and benchmarks,
 * without pinning anything, and drives its maps.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "env.h"
#include "loader.h"

struct sluice_bpf *env_skel;
int env_xdp_fd = -1, env_tc_fd = -1;
bool env_coarse_clock;
__u32 env_src_entries = SL_SOURCES_DEFAULT;
static int ncpus;

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* Warnings only (verifier logs come through here on a failed load). */
	if (level > LIBBPF_WARN || getenv("SLUICE_TEST_QUIET"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int env_open(__u32 src_entries, char *why, size_t whylen)
{
	/* Any pin that slipped through would land here and fail, never in
	 * the real /sys/fs/bpf/sluice. */
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = "/nonexistent/sluice-test");
	struct bpf_map *map;
	int err;

	libbpf_set_print(quiet_print);
	if (geteuid() != 0) {
		snprintf(why, whylen, "not root: BPF_PROG_TEST_RUN needs CAP_BPF/CAP_NET_ADMIN");
		return -EPERM;
	}
	env_skel = sluice_bpf__open_opts(&oo);
	if (!env_skel) {
		err = -errno;
		snprintf(why, whylen, "cannot open the BPF object: %s", strerror(-err));
		return err;
	}
	bpf_object__for_each_map(map, env_skel->obj) {
		err = bpf_map__set_pin_path(map, NULL);
		if (err)
			goto fail;
	}
	/* What the loader does for maps made with --clock coarse. */
	if (env_coarse_clock) {
		env_skel->rodata->sl_clock_coarse = true;
		env_skel->rodata->sl_clock_slack_ns = sl_clock_slack_ns(SL_CLOCK_COARSE);
	}
	env_skel->rodata->sl_clock_tick_ns = sl_clock_tick_ns();
	env_skel->rodata->sl_ncpus = libbpf_num_possible_cpus() > 0 ? libbpf_num_possible_cpus() : 1;
	env_src_entries = src_entries ? src_entries : SL_SOURCES_DEFAULT;
	err = sluice_bpf__load(env_skel);
	if (err) {
		snprintf(why, whylen, "the data plane does not load: %s (see the verifier log above)",
			 strerror(err < 0 ? -err : err));
		sluice_bpf__destroy(env_skel);
		env_skel = NULL;
		/* A kernel without BPF is a reason to skip; a verifier
		 * rejection is a bug, and the caller fails on it. */
		return err == -EPERM || err == -ENOSYS || err == -EOPNOTSUPP ? -EPERM : -ENOEXEC;
	}
	env_xdp_fd = bpf_program__fd(env_skel->progs.sluice_xdp);
	env_tc_fd = bpf_program__fd(env_skel->progs.sluice_tc);
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0) {
		err = -EINVAL;
		goto fail;
	}
	return 0;
fail:
	snprintf(why, whylen, "cannot load the data plane: %s (BPF unavailable?)",
		 strerror(err < 0 ? -err : err));
	sluice_bpf__destroy(env_skel);
	env_skel = NULL;
	return err;
}

void env_close(void)
{
	sluice_bpf__destroy(env_skel);
	env_skel = NULL;
}

static int mfd(struct bpf_map *m)
{
	return bpf_map__fd(m);
}

/* A table of the service in an outer map, unless it has one. */
static int table_ensure(struct bpf_map *outer, __u32 slot, enum bpf_map_type type, __u32 key_size,
			__u32 value_size, __u32 entries)
{
	int fd, err;
	__u32 id;

	if (bpf_map_lookup_elem(mfd(outer), &slot, &id) == 0)
		return 0;
	fd = bpf_map_create(type, "sl_src_test", key_size, value_size, entries, NULL);
	if (fd < 0)
		return -errno;
	err = bpf_map_update_elem(mfd(outer), &slot, &fd, BPF_ANY) ? -errno : 0;
	close(fd);
	return err;
}

/* What sluicectl does for a per-source rate: the service's own tables,
 * in sl_sources and sl_src_fast, and (ipv6_long) sl_sources6 (abi.h). */
static int src_table_ensure(__u32 slot, bool ipv6_long)
{
	if (ipv6_long)
		return table_ensure(env_skel->maps.sl_sources6, slot, BPF_MAP_TYPE_LRU_HASH,
				    sizeof(struct sl_src_bkey6), sizeof(struct sl_src_bucket),
				    env_src_entries);
	return table_ensure(env_skel->maps.sl_sources, slot, BPF_MAP_TYPE_LRU_HASH,
			    sizeof(struct sl_src_bkey), sizeof(struct sl_src_bucket),
			    env_src_entries) ?:
	       table_ensure(env_skel->maps.sl_src_fast, slot, BPF_MAP_TYPE_ARRAY, 4,
			    sizeof(struct sl_src_slot), SL_SRC_FAST_SLOTS);
}

static int inner_fd(struct bpf_map *outer, __u32 slot)
{
	__u32 id;
	int fd;

	if (bpf_map_lookup_elem(mfd(outer), &slot, &id))
		return -errno;
	fd = bpf_map_get_fd_by_id(id);
	return fd < 0 ? -errno : fd;
}

int env_src_table_fd(__u32 slot)
{
	return inner_fd(env_skel->maps.sl_sources, slot);
}

int env_src_fast_fd(__u32 slot)
{
	return inner_fd(env_skel->maps.sl_src_fast, slot);
}

/* What every writer of sl_services or sl_admission does next (abi.h). */
static int gen_bump(void)
{
	static __u64 gen;
	__u32 zero = 0;

	gen++;
	return bpf_map_update_elem(mfd(env_skel->maps.sl_gen), &zero, &gen, BPF_ANY);
}

int env_set_service(__u32 slot, const struct sl_service *svc)
{
	__u32 key = sl_port_key(svc->proto, svc->port);
	int err = 0;

	if (svc->src_rate)
		err = src_table_ensure(slot, false);
	if (!err && svc->src_rate && sl_src_prefix6_long(svc->src_prefix6))
		err = src_table_ensure(slot, true);
	if (!err)
		err = bpf_map_update_elem(mfd(env_skel->maps.sl_services), &slot, svc, BPF_ANY);
	if (!err)
		err = gen_bump();
	if (!err)	/* sl_ports is the object's .bss, mapped here (abi.h) */
		env_skel->bss->sl_port_slots[key] = (__u8)slot;
	return err;
}

static int set_prefix(struct bpf_map *m, int af, const char *cidr, int kind, int cls)
{
	struct sl_prefix_rule rule = { .kind = kind, .cls = cls };
	struct { __u32 plen; __u8 addr[16]; } key = { 0 };
	char addr[64];
	const char *slash = strchr(cidr, '/');

	if (!slash || (size_t)(slash - cidr) >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, cidr, slash - cidr);
	addr[slash - cidr] = 0;
	key.plen = atoi(slash + 1);
	if (inet_pton(af, addr, key.addr) != 1)
		return -EINVAL;
	if (bpf_map_update_elem(mfd(m), &key, &rule, BPF_ANY))
		return -errno;
	return gen_bump();	/* what sluicectl does: the rules' memos (abi.h) */
}

int env_set_prefix4(const char *cidr, int kind, int cls)
{
	return set_prefix(env_skel->maps.sl_prefix4, AF_INET, cidr, kind, cls);
}

int env_set_prefix6(const char *cidr, int kind, int cls)
{
	return set_prefix(env_skel->maps.sl_prefix6, AF_INET6, cidr, kind, cls);
}

/* What sluiced does: the entry, and the service flagged as the daemon's. */
int env_set_admission(__u32 slot, const struct sl_admission *adm)
{
	struct sl_service svc;
	int fd = mfd(env_skel->maps.sl_services);

	if (bpf_map_lookup_elem(fd, &slot, &svc))
		return -errno;
	svc.flags |= SL_SVC_DAEMON;
	if (bpf_map_update_elem(fd, &slot, &svc, BPF_EXIST))
		return -errno;
	if (bpf_map_update_elem(mfd(env_skel->maps.sl_admission), &slot, adm, BPF_ANY))
		return -errno;
	return gen_bump();
}

int env_del_admission(__u32 slot)
{
	int err = bpf_map_delete_elem(mfd(env_skel->maps.sl_admission), &slot);

	if (err && errno != ENOENT)
		return err;
	return gen_bump();
}

int env_set_level(__u32 level)
{
	struct sl_config cfg = { .abi_version = SL_ABI_VERSION, .level = level };
	__u32 zero = 0;

	return bpf_map_update_elem(mfd(env_skel->maps.sl_config), &zero, &cfg, BPF_ANY);
}

static int clear_hash(struct bpf_map *m, size_t ksz)
{
	__u8 key[64], next[64];
	int fd = mfd(m);

	if (ksz > sizeof(key))
		return -EINVAL;
	while (bpf_map_get_next_key(fd, NULL, next) == 0)
		if (bpf_map_delete_elem(fd, next))
			return -errno;
	(void)key;
	return 0;
}

int env_clear_prefixes(void)
{
	int err = clear_hash(env_skel->maps.sl_prefix4, sizeof(struct sl_lpm4_key));

	err = err ?: clear_hash(env_skel->maps.sl_prefix6, sizeof(struct sl_lpm6_key));
	return err ?: gen_bump();
}

/* Zero the kernel-owned state: buckets, held counts, stats; per-source tables dropped. */
int env_clear_state(void)
{
	struct sl_bucket b = { 0 };
	struct sl_stats *zero;
	__u32 slot;
	int err = 0;

	zero = calloc(ncpus, sizeof(*zero));
	if (!zero)
		return -ENOMEM;
	for (slot = 0; slot < SL_MAX_SERVICES && !err; slot++) {
		err = bpf_map_update_elem(mfd(env_skel->maps.sl_buckets), &slot, &b, BPF_ANY);
		if (!err)
			err = bpf_map_update_elem(mfd(env_skel->maps.sl_held), &slot,
						  &(struct sl_held){ 0 }, BPF_ANY);
		if (!err)
			err = bpf_map_update_elem(mfd(env_skel->maps.sl_stats), &slot, zero, BPF_ANY);
		if (!err && bpf_map_delete_elem(mfd(env_skel->maps.sl_sources), &slot) &&
		    errno != ENOENT)
			err = -errno;
		if (!err && bpf_map_delete_elem(mfd(env_skel->maps.sl_sources6), &slot) &&
		    errno != ENOENT)
			err = -errno;
		if (!err && bpf_map_delete_elem(mfd(env_skel->maps.sl_src_fast), &slot) &&
		    errno != ENOENT)
			err = -errno;
	}
	free(zero);
	if (!err)
		err = clear_hash(env_skel->maps.sl_src_quota, sizeof(struct sl_src_key));
	if (!err)
		err = clear_hash(env_skel->maps.sl_src_seen, sizeof(struct sl_src_key));
	if (!err)
		err = clear_hash(env_skel->maps.sl_src_conns, sizeof(struct sl_src_key));
	return err;
}

int env_reset(void)
{
	static const struct sl_service svcs[SLOT_USED] = {
		[SLOT_TCP80] = { .port = 80, .proto = SL_PROTO_TCP, .action = SL_ACT_DROP },
		[SLOT_TCP443] = { .port = 443, .proto = SL_PROTO_TCP, .action = SL_ACT_REJECT },
		[SLOT_UDP53] = { .port = 53, .proto = SL_PROTO_UDP, .action = SL_ACT_DROP },
		[SLOT_TCP8080] = { .port = 8080, .proto = SL_PROTO_TCP, .action = SL_ACT_MARK,
				   .mark = TEST_MARK },
		[SLOT_TCP81] = { .port = 81, .proto = SL_PROTO_TCP, .action = SL_ACT_DROP,
				 .flags = SL_SVC_MONITOR },
		[SLOT_TCP82] = { .port = 82, .proto = SL_PROTO_TCP, .action = SL_ACT_DROP },
		[SLOT_UDP54] = { .port = 54, .proto = SL_PROTO_UDP, .action = SL_ACT_REJECT },
	};
	__u32 slot;
	int err;

	err = clear_hash(env_skel->maps.sl_admission, sizeof(__u32));
	err = err ?: gen_bump();
	err = err ?: env_clear_prefixes();
	err = err ?: env_set_level(0);
	for (slot = 1; slot < SLOT_USED && !err; slot++)
		err = env_set_service(slot, &svcs[slot]);
	err = err ?: env_set_prefix4("198.18.1.0/24", SL_RULE_ALLOW, 0);
	err = err ?: env_set_prefix4("198.18.2.0/24", SL_RULE_DENY, 0);
	err = err ?: env_set_prefix4("198.18.3.0/24", SL_RULE_CLASS, 2);
	err = err ?: env_set_prefix4("198.18.4.0/24", SL_RULE_CLASS, 6);
	/* A longer prefix inside a deny: the longest match wins. */
	err = err ?: env_set_prefix4("198.18.2.128/25", SL_RULE_ALLOW, 0);
	err = err ?: env_set_prefix6("2001:db8:1::/48", SL_RULE_ALLOW, 0);
	err = err ?: env_set_prefix6("2001:db8:2::/48", SL_RULE_DENY, 0);
	err = err ?: env_set_prefix6("2001:db8:3::/48", SL_RULE_CLASS, 2);
	err = err ?: env_clear_state();
	return err;
}

int env_stats(__u32 slot, struct sl_stats *out)
{
	struct sl_stats *v = calloc(ncpus, sizeof(*v));
	int i, r, err;

	if (!v)
		return -ENOMEM;
	memset(out, 0, sizeof(*out));
	err = bpf_map_lookup_elem(mfd(env_skel->maps.sl_stats), &slot, v);
	for (i = 0; !err && i < ncpus; i++)
		for (r = 0; r < SL_R__COUNT; r++)
			((__u64 *)out)[r] += ((__u64 *)&v[i])[r];
	free(v);
	return err;
}

static int run(int fd, const void *pkt, __u32 len, int repeat, __u32 gso_segs, __u32 gso_size,
	       struct run_result *res)
{
	struct __sk_buff skb_in = { .gso_segs = gso_segs, .gso_size = gso_size }, skb_out = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o,
		.data_in = pkt,
		.data_size_in = len,
		.data_out = res->out,
		.data_size_out = sizeof(res->out),
		.repeat = repeat,
	);
	int err;

	if (fd == env_tc_fd) {
		o.ctx_in = &skb_in;
		o.ctx_size_in = sizeof(skb_in);
		o.ctx_out = &skb_out;
		o.ctx_size_out = sizeof(skb_out);
	}
	err = bpf_prog_test_run_opts(fd, &o);
	if (err)
		return -errno;
	res->retval = o.retval;
	res->duration = o.duration;
	res->out_len = o.data_size_out;
	res->mark = skb_out.mark;
	return 0;
}

int env_run(int fd, const void *pkt, __u32 len, int repeat, struct run_result *res)
{
	return run(fd, pkt, len, repeat, 0, 0, res);
}

int env_run_tc_gro(const void *pkt, __u32 len, __u32 segs, __u32 size, struct run_result *res)
{
	return run(env_tc_fd, pkt, len, 1, segs, size, res);
}

__u64 env_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}
