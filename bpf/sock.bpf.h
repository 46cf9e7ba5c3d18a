/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The parts of the kernel's struct sock that the socket-path programs
 * read (guard.bpf.c, conns.bpf.h), relocated against the running kernel's
 * BTF (CO-RE), and the test both make: which network namespace a socket
 * is in. Tracepoints fire for every socket of the machine, and a test
 * host in another namespace may use the same port: only the namespace
 * tells them apart.
 *
 * API:
 *   struct sock, struct sock_common   the fields read (CO-RE)
 *   sl_sock_netns(sk)                 inode of sk's network namespace, as
 *                                     stat(/proc/PID/ns/net) gives it
 *   SL_AF_INET, SL_AF_INET6, SL_IPPROTO_TCP, SL_TCP_ESTABLISHED,
 *   SL_TCP_SYN_RECV, SL_TCP_CLOSE     the kernel's values
 */
#ifndef SLUICE_SOCK_BPF_H
#define SLUICE_SOCK_BPF_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct net {
	struct ns_common ns;
} __attribute__((preserve_access_index));

typedef struct {
	struct net *net;
} possible_net_t;

struct sock_common {
	__be32 skc_daddr;		/* IPv4 peer; also set for a v4-mapped peer */
	unsigned short skc_family;
	volatile unsigned char skc_state;
	__be16 skc_dport;		/* peer's port */
	__u16 skc_num;			/* local port, host order */
	possible_net_t skc_net;
	struct {
		__be32 addr[4];
	} skc_v6_daddr;			/* IPv6 peer (::ffff:a.b.c.d for IPv4 on a v6 socket) */
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
} __attribute__((preserve_access_index));

#define SL_AF_INET		2
#define SL_AF_INET6		10
#define SL_IPPROTO_TCP		6
#define SL_TCP_ESTABLISHED	1
#define SL_TCP_SYN_RECV		3
#define SL_TCP_CLOSE		7

/* sk is a tracepoint's BTF pointer: the chain is read by plain loads,
 * which the verifier guards (PROBE_MEM), not by two helper calls. */
static __always_inline __u32 sl_sock_netns(const struct sock *sk)
{
	return sk->__sk_common.skc_net.net->ns.inum;
}

#endif /* SLUICE_SOCK_BPF_H */
