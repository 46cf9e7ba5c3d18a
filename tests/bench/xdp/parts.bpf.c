// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The building blocks of a judged SYN, one per program, so the benchmark
 * can show what each costs on its own next to the empty program: the
 * clocks a bucket could run on (bpf_ktime_get_ns and its boot and TAI
 * twins, the coarse clock, jiffies), a 64-bit division (a bucket's
 * interval, 1e9 / rate), an array lookup (as sl_ports,
 * inlined by the verifier), a hash lookup (as sl_services, sl_admission), an LPM lookup in a
 * trie of realistic size (sl_prefix4), a lookup in a full LRU map
 * (sl_sources) and an uncontended compare-and-exchange (a bucket).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <sluice/abi.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct sl_service);
} pt_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sl_lpm4_key);
	__type(value, struct sl_prefix_rule);
} pt_lpm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_SOURCES_DEFAULT);
	__type(key, struct sl_src_bkey);
	__type(value, struct sl_src_bucket);
} pt_lru SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} pt_word SEC(".maps");

/* What the lookups look for; set by the benchmark. */
const volatile __u32 pt_addr4 = 0;
/* A rate not known to the compiler: 1e9 / rate is a real division, as
 * each bucket's interval (limit.bpf.h). */
volatile __u32 pt_rate = 1000;

__u64 pt_sink;

SEC("xdp")
int pt_ktime(struct xdp_md *ctx)
{
	(void)ctx;
	pt_sink += bpf_ktime_get_ns();
	return XDP_PASS;
}

SEC("xdp")
int pt_coarse(struct xdp_md *ctx)
{
	(void)ctx;
	pt_sink += bpf_ktime_get_coarse_ns();
	return XDP_PASS;
}

SEC("xdp")
int pt_boot(struct xdp_md *ctx)
{
	(void)ctx;
	pt_sink += bpf_ktime_get_boot_ns();
	return XDP_PASS;
}

SEC("xdp")
int pt_tai(struct xdp_md *ctx)
{
	(void)ctx;
	pt_sink += bpf_ktime_get_tai_ns();
	return XDP_PASS;
}

SEC("xdp")
int pt_jiffies(struct xdp_md *ctx)
{
	(void)ctx;
	pt_sink += bpf_jiffies64();
	return XDP_PASS;
}

SEC("xdp")
int pt_div(struct xdp_md *ctx)
{
	(void)ctx;
	pt_sink += 1000000000ull / pt_rate;
	return XDP_PASS;
}

SEC("xdp")
int pt_array_lookup(struct xdp_md *ctx)
{
	__u32 zero = 0;

	(void)ctx;
	if (bpf_map_lookup_elem(&pt_word, &zero))
		pt_sink++;
	return XDP_PASS;
}

SEC("xdp")
int pt_hash_lookup(struct xdp_md *ctx)
{
	__u32 key = 6;

	(void)ctx;
	if (bpf_map_lookup_elem(&pt_hash, &key))
		pt_sink++;
	return XDP_PASS;
}

SEC("xdp")
int pt_lpm_lookup(struct xdp_md *ctx)
{
	struct sl_lpm4_key k = { .prefixlen = 32 };

	(void)ctx;
	__builtin_memcpy(k.addr, (const void *)&pt_addr4, 4);
	if (bpf_map_lookup_elem(&pt_lpm, &k))
		pt_sink++;
	return XDP_PASS;
}

SEC("xdp")
int pt_lru_lookup(struct xdp_md *ctx)
{
	struct sl_src_bkey k = { .word = { 0xffffffff, pt_addr4 } };	/* IPv4 (abi.h) */

	(void)ctx;
	if (bpf_map_lookup_elem(&pt_lru, &k))
		pt_sink++;
	return XDP_PASS;
}

SEC("xdp")
int pt_cmpxchg(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *w = bpf_map_lookup_elem(&pt_word, &zero);

	(void)ctx;
	if (w) {
		__u64 old = *(volatile __u64 *)w;

		__sync_val_compare_and_swap(w, old, old + 1);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
