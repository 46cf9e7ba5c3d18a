/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Every map of the data plane, in one place. Layouts and meanings are in
 * include/sluice/abi.h; each map is pinned by name so that every attached
 * interface, sluicectl and sluiced share one set.
 */
#ifndef SLUICE_MAPS_BPF_H
#define SLUICE_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <sluice/abi.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_config SEC(".maps");

/*
 * sl_ports (abi.h): the service slot of each (proto, port), indexed by
 * sl_port_key(). A global, so the object's .bss map, which the loader pins
 * as sl_ports: the program reads it with one load at a constant address
 * plus the port, where a map lookup costs a key stored to the stack, a
 * bounds check and a NULL test, and the registers saved around it (the
 * first look of every packet reads it; see parse.bpf.h). The only .bss
 * variable: the pin is the whole .bss, and the loader checks its size.
 */
__u8 sl_port_slots[SL_PORT_KEYS];

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct sl_service);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct sl_admission);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_admission SEC(".maps");

/* Changes with every write to sl_services or sl_admission (abi.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_gen SEC(".maps");

/*
 * A CPU's copy of a service, its daemon entry and its buckets' intervals,
 * made at sl_gen's value gen (view.bpf.h). Private to the program: not
 * pinned, not part of the ABI; each load starts with none filled.
 */
struct sl_view {
	__u64 gen;		/* sl_gen when filled */
	__u32 filled;		/* 0 while (or until) written */
	__u32 has_adm;		/* adm holds the daemon's entry */
	struct sl_service svc;
	struct sl_admission adm;
	__u32 capped_rate;	/* min(svc.rate, adm.rate_cap), the rate while the
				 * heartbeat is fresh (0: neither) */
	__u32 pad0;
	__u64 interval;		/* 1e9 / svc.rate (0 without a rate) */
	__u64 capped_interval;	/* 1e9 / capped_rate */
	__u64 src_interval;	/* 1e9 / svc.src_rate */
	/* The per-source bucket's arithmetic, done once (limit.bpf.h,
	 * sl_view_limits): */
	__u64 src_tolerance;	/* sl_tolerance(src_interval, svc.src_burst) */
	__u64 src_debt;		/* sl_debt(&svc, src_interval) */
	__u64 src_mask6;	/* IPv6, a prefix of 64 or less: the mask of the
				 * first 64 bits (big-endian) */
	__be32 src_mask4;	/* IPv4: the prefix's mask */
	__u32 pad2;
	/* The coarse clock as this CPU reckons it from jiffies (limit.bpf.h,
	 * sl_coarse_now); kept when the copy is filled again. */
	__u64 clk_offset;	/* coarse ns - jiffies x tick, at the last reading */
	__u64 clk_next;		/* jiffies at which to read the clock again */
	/* Service tokens this CPU took ahead in one go (limit.bpf.h,
	 * sl_stash_take); kept when the copy is filled again. */
	__u64 stash_tick;	/* jiffies when taken: spent in that tick only */
	__u64 stash_interval;	/* the interval they were taken at */
	__u32 stash_left;	/* taken and not spent */
	__u32 pad1;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct sl_view);
} sl_views SEC(".maps");

/*
 * A CPU's memory of its last prefix-rule lookups, one per source hash
 * (limit.bpf.h, sl_source_rule): what the tries answered for a source at
 * sl_gen's value gen. Private to the program, like sl_views.
 */
#define SL_RULE_MEMO_BITS 8
struct sl_rule_memo {
	__u64 gen;		/* sl_gen when the tries were asked */
	__be32 addr[4];		/* the source; IPv4 in [0], the rest 0 */
	__u8 family;		/* 4 or 6; 0: empty */
	__u8 kind;		/* the rule's (enum sl_rule_kind), 0: none matched */
	__u8 cls;
	__u8 pad0[5];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1 << SL_RULE_MEMO_BITS);
	__type(key, __u32);
	__type(value, struct sl_rule_memo);
} sl_rule_memos SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct sl_bucket);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_buckets SEC(".maps");

/*
 * Tables of per-source buckets per service (abi.h): the inner maps are
 * made by user space, each like its template (its max_entries is
 * sl_config.src_entries; the kernel checks type, key, value and flags).
 */
struct sl_src_table {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_SOURCES_DEFAULT);
	__type(key, struct sl_src_bkey);
	__type(value, struct sl_src_bucket);
};

struct sl_src_table6 {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_SOURCES_DEFAULT);
	__type(key, struct sl_src_bkey6);
	__type(value, struct sl_src_bucket);
};

/*
 * clang emits the types a nested map definition points to as forward
 * declarations only, and libbpf then cannot size the template's key and
 * value. A variable of each, in a section libbpf skips, puts them in the
 * object's BTF whole.
 */
struct sl_src_fast_table {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_SRC_FAST_SLOTS);
	__type(key, __u32);
	__type(value, struct sl_src_slot);
};

struct sl_src_bkey sl_btf_src_bkey SEC(".btf_emit");
struct sl_src_slot sl_btf_src_slot SEC(".btf_emit");
struct sl_src_bkey6 sl_btf_src_bkey6 SEC(".btf_emit");
struct sl_src_bucket sl_btf_src_bucket SEC(".btf_emit");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, SL_MAX_SERVICES);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct sl_src_table);	/* last: a flexible array */
} sl_sources SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, SL_MAX_SERVICES);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct sl_src_table6);
} sl_sources6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, SL_MAX_SERVICES);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct sl_src_fast_table);
} sl_src_fast SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* the kernel requires it for LPM tries */
	__type(key, struct sl_lpm4_key);
	__type(value, struct sl_prefix_rule);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_prefix4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sl_lpm6_key);
	__type(value, struct sl_prefix_rule);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_prefix6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct sl_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_SRC_QUOTA_MAX);
	__type(key, struct sl_src_key);
	__type(value, struct sl_src_quota);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_src_quota SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_SRC_SEEN_MAX);
	__type(key, struct sl_src_key);
	__type(value, struct sl_src_seen);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_src_seen SEC(".maps");

/*
 * Open connections per source prefix (abi.h), written only by the counting
 * program (conns.bpf.h), so only completed handshakes make entries: a
 * flood of spoofed SYNs cannot fill it. Not preallocated: an entry freed
 * at 0 waits out an RCU grace period before its memory is reused, so a
 * reader still holding it never sees another key's count.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_SRC_CONNS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sl_src_key);
	__type(value, struct sl_src_conns);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_src_conns SEC(".maps");

/*
 * Connections each guarded service holds (abi.h), written only by a
 * sluiced --guard's programs (bpf/guard.bpf.c, which reuse this pin),
 * with atomic adds; the data plane reads it for a service whose daemon
 * set a concurrency limit. An array: one inlined lookup.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct sl_held);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_held SEC(".maps");

/* On each counted socket, the key it was counted under (abi.h). Pinned so
 * that every attachment's counting program shares it: the first to count
 * a socket marks it, the others see the mark. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* the kernel requires it */
	__type(key, int);
	__type(value, struct sl_conn_sk);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_conn_sk SEC(".maps");

#endif /* SLUICE_MAPS_BPF_H */
