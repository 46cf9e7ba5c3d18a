// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The baseline of scripts/bench-conns.sh: a program on the same BTF
 * tracepoint as sluice's connection counter that does nothing, attached
 * beside it, so that it sees the same events and the statistics' own cost
 * per run is measured in the same run.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct sock;

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(empty_tp, struct sock *sk, int oldstate, int newstate)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
