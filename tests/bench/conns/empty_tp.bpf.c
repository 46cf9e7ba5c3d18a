// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The baselines of scripts/bench-conns.sh and scripts/bench-guard.sh: a
 * program that does nothing on each socket tracepoint sluice hooks (the
 * connection counter's inet_sock_set_state, guard mode's four), attached
 * beside the real ones, so that each sees the same events and the BPF
 * statistics' own cost per run (two clock reads) is measured in the same
 * run.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct sock;

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(empty_state, struct sock *sk, int oldstate, int newstate)
{
	return 0;
}

SEC("tp_btf/sk_data_ready")
int BPF_PROG(empty_ready, struct sock *sk)
{
	return 0;
}

SEC("tp_btf/tcp_rcv_space_adjust")
int BPF_PROG(empty_recv, struct sock *sk)
{
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(empty_send, struct sock *sk, int ret, int flags)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
