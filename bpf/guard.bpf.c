// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Guard mode's load signal: how long a guarded TCP service leaves work
 * waiting in its sockets before it reads it (include/sluice/guard_abi.h
 * defines the wait and the maps). Three BTF tracepoints, because this
 * kernel refuses fentry/fexit and has no kprobes, and because tracepoints
 * are stable where production kernels forbid kprobes:
 *
 *   guard_state  inet_sock_set_state: a guarded port's child socket
 *                reaching ESTABLISHED starts its first wait; leaving
 *                ESTABLISHED ends an open connection; the close removes
 *                work never read (counted as abandoned)
 *   guard_ready  sk_data_ready: data on an established socket with
 *                nothing waiting starts a wait
 *   guard_recv   sock_recv_length: the application read the socket; the
 *                wait ends and goes into the guard's per-CPU histogram
 *
 * sk_data_ready and sock_recv_length fire for every socket of the
 * machine, so each program first tests the local port in an array (one
 * inlined load) and only then the socket's family, protocol and network
 * namespace: tests of other namespaces using the same port must not count.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <sluice/guard_abi.h>
#include "sock.bpf.h"

/* The daemon's network namespace (inode of /proc/self/ns/net), set before load. */
const volatile __u32 guard_netns = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} guard_ports SEC(".maps");

/* Keyed by the socket's address: valid from handshake to close, and a
 * socket closed without a read is removed by guard_state. LRU so that a
 * socket missed at close (a racing close) ages out instead of filling it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_GUARD_WAITS);
	__type(key, __u64);
	__type(value, struct sl_guard_wait);
} guard_wait SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_GUARD_MAX);
	__type(key, __u32);
	__type(value, struct sl_guard_stats);
} guard_stats SEC(".maps");

/* The guard index of sk, or -1 if sk is not a guarded TCP socket of our
 * namespace. The port first: it rejects nearly every socket at once. */
static __always_inline int guard_of(const struct sock *sk)
{
	__u32 port = sk->__sk_common.skc_num;
	__u32 *g = bpf_map_lookup_elem(&guard_ports, &port);
	unsigned short family;

	if (!g || !*g)
		return -1;
	family = sk->__sk_common.skc_family;
	if ((family != SL_AF_INET && family != SL_AF_INET6) || sk->sk_protocol != SL_IPPROTO_TCP)
		return -1;
	if (sl_sock_netns(sk) != guard_netns)
		return -1;
	return (int)(*g - 1);
}

static __always_inline struct sl_guard_stats *stats_of(__u32 guard)
{
	return bpf_map_lookup_elem(&guard_stats, &guard);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(guard_state, const struct sock *sk, const int oldstate, const int newstate)
{
	__u64 key = (__u64)(unsigned long)sk;
	struct sl_guard_stats *st;
	struct sl_guard_wait *w;
	int waiting;
	int g;

	if (newstate == SL_TCP_CLOSE) {
		/* The port is gone by now (the kernel unhashes the socket
		 * first): only a socket we track has an entry to remove. */
		w = bpf_map_lookup_elem(&guard_wait, &key);
		if (!w)
			return 0;
		st = stats_of(w->guard);
		waiting = w->since_ns != 0;	/* an idle entry had no work waiting */
		if (bpf_map_delete_elem(&guard_wait, &key) == 0 && waiting && st)
			st->abandoned++;
		return 0;
	}
	if (oldstate != SL_TCP_ESTABLISHED && newstate != SL_TCP_ESTABLISHED)
		return 0;
	g = guard_of(sk);
	if (g < 0)
		return 0;
	st = stats_of((__u32)g);
	if (!st)
		return 0;
	if (oldstate == SL_TCP_ESTABLISHED) {
		/* Leaving ESTABLISHED (a FIN sent or received): no longer an
		 * open connection, though its last bytes may still be read. */
		st->closed++;
		return 0;
	}
	if (oldstate == SL_TCP_SYN_RECV) {
		struct sl_guard_wait nw = {
			.since_ns = bpf_ktime_get_ns(),
			.guard = (__u32)g,
			.new_conn = 1,
		};

		bpf_map_update_elem(&guard_wait, &key, &nw, BPF_ANY);
		st->conns++;
	}
	return 0;
}

SEC("tp_btf/sk_data_ready")
int BPF_PROG(guard_ready, const struct sock *sk)
{
	__u64 key = (__u64)(unsigned long)sk;
	struct sl_guard_stats *st;
	struct sl_guard_wait *old, w;
	int g;

	g = guard_of(sk);
	if (g < 0 || sk->__sk_common.skc_state != SL_TCP_ESTABLISHED)
		return 0;
	st = stats_of((__u32)g);
	old = bpf_map_lookup_elem(&guard_wait, &key);
	if (old) {
		/* A new connection the service looked at before its request
		 * came: its wait for service starts now. Work already waiting
		 * keeps its start: the wait is the oldest's. */
		if (old->since_ns == 0) {
			old->since_ns = bpf_ktime_get_ns();
			if (st)
				st->readies++;
		}
		return 0;
	}
	w = (struct sl_guard_wait){ .since_ns = bpf_ktime_get_ns(), .guard = (__u32)g };
	if (bpf_map_update_elem(&guard_wait, &key, &w, BPF_NOEXIST) == 0 && st)
		st->readies++;
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(guard_recv, struct sock *sk, int ret, int flags)
{
	__u64 key = (__u64)(unsigned long)sk;
	struct sl_guard_stats *st;
	struct sl_guard_wait *w;
	__u64 now, wait;
	__u32 b;

	if (guard_of(sk) < 0)
		return 0;
	w = bpf_map_lookup_elem(&guard_wait, &key);
	if (!w || w->since_ns == 0)
		return 0;	/* nothing waiting (a new connection's request not come) */
	now = bpf_ktime_get_ns();
	wait = now > w->since_ns ? now - w->since_ns : 0;
	st = stats_of(w->guard);
	if (st) {
		st->waits++;
		st->wait_ns += wait;
		b = sl_guard_bucket(wait);
		/* The verifier needs the bound even though the helper clamps. */
		if (b < SL_GUARD_BUCKETS)
			st->hist[b]++;
	}
	/*
	 * A read that found nothing (a server that reads right after
	 * accept, as Go does, before the request has come): the wait so far
	 * was the accept queue's, and the service is now waiting for the
	 * client, not the client for it. The connection is not served yet:
	 * its entry stays, idle, and its request's arrival restarts the wait
	 * (guard_ready). Served is a read that returned the request.
	 */
	if (ret < 0 && w->new_conn) {
		w->since_ns = 0;
		return 0;
	}
	if (w->new_conn && st)
		st->served++;
	bpf_map_delete_elem(&guard_wait, &key);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
