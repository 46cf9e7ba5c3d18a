// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Time spent in softirq, per vector, summed over CPUs: the overload bench's
 * measure of the kernel's share of a rejected connection. On a veth pair a
 * packet's receive work runs in softirq on the sending CPU, and this kernel
 * has no IRQ time accounting (/proc/stat samples it at ticks), so the
 * entry and exit of each softirq are timed here instead. Raw tracepoints:
 * they need no tracefs mount.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define NR_VEC 10	/* NR_SOFTIRQS */

/* Softirqs do not nest on one CPU: one start time per CPU is enough. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} irqt_start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NR_VEC);
	__type(key, __u32);
	__type(value, __u64);
} irqt_ns SEC(".maps");

SEC("raw_tracepoint/softirq_entry")
int irqt_entry(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 zero = 0;
	__u64 *t = bpf_map_lookup_elem(&irqt_start, &zero);

	(void)ctx;
	if (t)
		*t = bpf_ktime_get_ns();
	return 0;
}

SEC("raw_tracepoint/softirq_exit")
int irqt_exit(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 zero = 0, vec = (__u32)ctx->args[0];
	__u64 *t = bpf_map_lookup_elem(&irqt_start, &zero), *sum;

	if (!t || !*t)
		return 0;	/* attached in the middle of this softirq */
	if (vec < NR_VEC && (sum = bpf_map_lookup_elem(&irqt_ns, &vec)))
		*sum += bpf_ktime_get_ns() - *t;
	*t = 0;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
