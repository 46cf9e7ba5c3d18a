// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Three ways to update one token bucket from several CPUs, measured
 * against each other to choose the data plane's mechanism (gcra.bpf.h):
 *   lc_cas   GCRA, compare-and-exchange (what sluice uses);
 *   lc_lock  GCRA under a bpf_spin_lock;
 *   lc_plain GCRA with a plain read-modify-write (racy, for reference).
 * Each counts admitted/refused per CPU; rate and burst are rodata knobs.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "gcra.bpf.h"

const volatile __u64 lc_interval = 1000000;	/* ns between tokens */
const volatile __u64 lc_tolerance = 1000000;	/* burst x interval */

struct lock_bucket {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 tat;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lc_tat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lock_bucket);
} lc_locked SEC(".maps");

/* [0] admitted, [1] refused */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} lc_count SEC(".maps");

static __always_inline int lc_verdict(bool ok)
{
	__u32 k = ok ? 0 : 1;
	__u64 *c = bpf_map_lookup_elem(&lc_count, &k);

	if (c)
		(*c)++;
	return ok ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int lc_cas(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *tat = bpf_map_lookup_elem(&lc_tat, &zero);

	(void)ctx;
	if (!tat)
		return XDP_PASS;
	return lc_verdict(sl_gcra(tat, bpf_ktime_get_ns(), lc_interval, lc_tolerance, false, 1, 0));
}

SEC("xdp")
int lc_lock(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct lock_bucket *b = bpf_map_lookup_elem(&lc_locked, &zero);
	__u64 now, next;
	bool ok;

	(void)ctx;
	if (!b)
		return XDP_PASS;
	now = bpf_ktime_get_ns();
	bpf_spin_lock(&b->lock);
	next = (b->tat > now ? b->tat : now) + lc_interval;
	ok = next - now <= lc_tolerance;
	if (ok)
		b->tat = next;
	bpf_spin_unlock(&b->lock);
	return lc_verdict(ok);
}

SEC("xdp")
int lc_plain(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *tat = bpf_map_lookup_elem(&lc_tat, &zero);
	__u64 now, next;
	bool ok;

	(void)ctx;
	if (!tat)
		return XDP_PASS;
	now = bpf_ktime_get_ns();
	next = (*tat > now ? *tat : now) + lc_interval;
	ok = next - now <= lc_tolerance;
	if (ok)
		*tat = next;
	return lc_verdict(ok);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
