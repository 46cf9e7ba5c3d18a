// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Time spent in softirq, per vector, summed over CPUs: the overload bench's
 * measure of the kernel's share of a rejected connection. On a veth pair a
 * packet's receive work runs in softirq on the sending CPU, and this kernel
 * has no IRQ time accounting (/proc/stat samples it at ticks), so the
 * entry and exit of each softirq are timed here instead. Raw tracepoints:
 * they need no tracefs mount.
 *
 * Softirq time is machine-wide, so it also holds other users' packets. The
 * NAPI poll time of the two veth devices of the test hosts, named before
 * load, is the test's own: a veth polled by NAPI (an XDP program attached,
 * or GRO on) does all receive work of a packet in its poll (XDP, the IP and
 * TCP stacks, nftables, the RSTs they send). The napi_poll tracepoint fires
 * after each poll; the poll began at the softirq's entry or at the end of
 * the poll before it in the same softirq (what net_rx_action does between
 * two polls is counted with the next: a little, for every method alike).
 * Tracepoints, not fentry or kprobes: this kernel allows neither here.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* The fields read, relocated against the kernel's BTF (CO-RE). */
struct net_device {
	char name[16];
} __attribute__((preserve_access_index));

struct napi_struct {
	struct net_device *dev;
} __attribute__((preserve_access_index));

#define IFNAMSIZ 16
const volatile char dev_names[2][IFNAMSIZ] = {};

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

/* The start of the current NAPI poll: the softirq's entry, then the end of
 * the poll before it (see irqt_napi). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} irqt_mark SEC(".maps");

SEC("raw_tracepoint/softirq_entry")
int irqt_entry(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 zero = 0;
	__u64 *t = bpf_map_lookup_elem(&irqt_start, &zero);
	__u64 *m = bpf_map_lookup_elem(&irqt_mark, &zero);
	__u64 now = bpf_ktime_get_ns();

	(void)ctx;
	if (t)
		*t = now;
	if (m)
		*m = now;
	return 0;
}

SEC("raw_tracepoint/softirq_exit")
int irqt_exit(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 zero = 0, vec = (__u32)ctx->args[0];
	__u64 *t = bpf_map_lookup_elem(&irqt_start, &zero), *sum;

	__u64 *m = bpf_map_lookup_elem(&irqt_mark, &zero);

	if (m)
		*m = 0;
	if (!t || !*t)
		return 0;	/* attached in the middle of this softirq */
	if (vec < NR_VEC && (sum = bpf_map_lookup_elem(&irqt_ns, &vec)))
		*sum += bpf_ktime_get_ns() - *t;
	*t = 0;
	return 0;
}

/* Per device of dev_names. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} irqt_veth_ns SEC(".maps");

static __always_inline int dev_index(struct napi_struct *napi)
{
	char name[IFNAMSIZ] = {};

	BPF_CORE_READ_STR_INTO(&name, napi, dev, name);
	for (int d = 0; d < 2; d++) {
		int same = 1;
		for (int i = 0; i < IFNAMSIZ; i++) {
			if (name[i] != dev_names[d][i]) {
				same = 0;
				break;
			}
			if (!name[i])
				break;
		}
		if (same && dev_names[d][0])
			return d;
	}
	return -1;
}

/* napi_poll(struct napi_struct *napi, int work, int budget), after a poll. */
SEC("raw_tracepoint/napi_poll")
int irqt_napi(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 zero = 0;
	__u64 *m = bpf_map_lookup_elem(&irqt_mark, &zero), *sum, now;

	if (!m || !*m)
		return 0;	/* outside a softirq (busy polling), or attached mid-way */
	now = bpf_ktime_get_ns();
	int d = dev_index((struct napi_struct *)ctx->args[0]);
	__u32 key = (__u32)d;
	if (d >= 0 && (sum = bpf_map_lookup_elem(&irqt_veth_ns, &key)))
		*sum += now - *m;
	*m = now;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
