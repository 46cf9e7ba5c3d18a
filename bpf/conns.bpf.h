/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The per-source connection limit's counter: the open connections of each
 * source prefix to each service with a limit (sl_service.src_conns), in
 * sl_src_conns, from the sockets' state changes (the inet_sock_set_state
 * BTF tracepoint: this kernel refuses fentry and has no kprobes). The data
 * plane reads the count when it judges a SYN (limit.bpf.h).
 *
 *   +1  a passive connection's handshake completes: its socket goes
 *       SYN_RECV -> ESTABLISHED (from the SYN queue, a SYN cookie or TFO;
 *       before that the peer's address is not in the socket), on a port
 *       whose service has a limit, in the attached interface's network
 *       namespace. The key it was counted under goes into the socket's
 *       storage (sl_conn_sk).
 *   -1  a socket with that storage reaches CLOSE: exactly the entry it
 *       added, once, and the storage goes. Every way a connection ends
 *       passes through CLOSE: FIN (before TIME_WAIT, which is no longer an
 *       open connection), RST, closed before accept, a listener closing
 *       with children in its accept queue. A socket the program never
 *       counted (opened before the limit was set, or before the attach) is
 *       never taken off.
 * Each attachment loads this program for its interface's namespace; two
 * attachments in one namespace both see a socket, and the storage, shared
 * through its pin, tells the second that the first counted it.
 *
 * An entry lives while its count is at least 1; the decrement to 0
 * deletes it, so the map holds only sources with open connections. An
 * increment never revives an entry at 0 (being deleted): it waits for the
 * delete and inserts afresh, a bounded number of tries; the loser leaves
 * its socket uncounted, without storage. The count may err low, by a
 * connection, in that race; it never goes below 0 and never keeps a
 * closed connection.
 *
 * API:
 *   sl_conns_netns       rodata: the namespace's inode, set by the loader
 *   sl_conns_track(sk, oldstate, newstate)   the tracepoint's body
 */
#ifndef SLUICE_CONNS_BPF_H
#define SLUICE_CONNS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include <sluice/abi.h>
#include "maps.bpf.h"
#include "parse.bpf.h"
#include "limit.bpf.h"
#include "sock.bpf.h"

const volatile __u32 sl_conns_netns = 0;

/* Tries of an increment that finds its entry being deleted, or loses a race. */
#define SL_CONNS_TRIES 4

/*
 * The slot and source key of a socket on a limited service's port in our
 * namespace, or false. The port first: it turns away nearly every socket
 * of the machine with one array load.
 */
static __always_inline bool sl_conns_key(const struct sock *sk, struct sl_src_key *k)
{
	__u16 port = sk->__sk_common.skc_num;
	const struct sl_service *svc;
	struct sl_pkt p = {};
	__u32 slot;

	slot = sl_port_slot(SL_PROTO_TCP, bpf_htons(port));
	if (!slot)
		return false;
	if (sk->sk_protocol != SL_IPPROTO_TCP || sl_sock_netns(sk) != sl_conns_netns)
		return false;
	svc = bpf_map_lookup_elem(&sl_services, &slot);
	if (!svc || !svc->src_conns || svc->port != port || svc->proto != SL_PROTO_TCP)
		return false;
	if (sk->__sk_common.skc_family == SL_AF_INET) {
		p.family = 4;
		p.saddr[0] = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	} else if (sk->__sk_common.skc_family == SL_AF_INET6) {
		BPF_CORE_READ_INTO(&p.saddr, sk, __sk_common.skc_v6_daddr);
		p.family = 6;
		/* IPv4 on a dual-stack listener (::ffff:a.b.c.d): the data
		 * plane judges that SYN as IPv4, so it is counted as one. */
		if (!p.saddr[0] && !p.saddr[1] && p.saddr[2] == bpf_htonl(0xffff)) {
			p.family = 4;
			p.saddr[0] = p.saddr[3];
		}
	} else {
		return false;
	}
	sl_src_key(&p, slot, svc, k);
	return true;
}

static __always_inline bool sl_conns_inc(const struct sl_src_key *k)
{
	struct sl_src_conns one = { .open = 1 }, *c;
	__u64 v;
	int i;

	for (i = 0; i < SL_CONNS_TRIES; i++) {
		c = bpf_map_lookup_elem(&sl_src_conns, k);
		if (!c) {
			if (bpf_map_update_elem(&sl_src_conns, k, &one, BPF_NOEXIST) == 0)
				return true;
			continue;	/* another CPU inserted it, or the map is full */
		}
		v = c->open;
		if (v == 0)
			continue;	/* being deleted: insert afresh once it is gone */
		if (__sync_val_compare_and_swap(&c->open, v, v + 1) == v)
			return true;
	}
	return false;
}

/* A decrement must not be lost (that would keep a closed connection):
 * fetch-and-add, not a bounded compare-and-exchange loop. */
static __always_inline void sl_conns_dec(const struct sl_src_key *k)
{
	struct sl_src_conns *c = bpf_map_lookup_elem(&sl_src_conns, k);
	__u64 v;

	if (!c)
		return;	/* purged with its slot's service (state.c) */
	v = __sync_fetch_and_add(&c->open, -1);
	if (v == 1)
		bpf_map_delete_elem(&sl_src_conns, k);
	else if (v == 0)	/* an entry remade after a purge: never below 0 */
		__sync_fetch_and_add(&c->open, 1);
}

static __always_inline void sl_conns_track(struct sock *sk, int oldstate, int newstate)
{
	struct sl_conn_sk *cs, init;

	if (newstate == SL_TCP_CLOSE) {
		/* Most sockets have no storage at all: a NULL test. */
		cs = bpf_sk_storage_get(&sl_conn_sk, sk, NULL, 0);
		if (!cs)
			return;
		sl_conns_dec(&cs->key);
		bpf_sk_storage_delete(&sl_conn_sk, sk);
		return;
	}
	if (oldstate != SL_TCP_SYN_RECV || newstate != SL_TCP_ESTABLISHED)
		return;
	if (!sl_conns_key(sk, &init.key))
		return;
	if (bpf_sk_storage_get(&sl_conn_sk, sk, NULL, 0))
		return;	/* counted by another attachment's program */
	cs = bpf_sk_storage_get(&sl_conn_sk, sk, &init, BPF_SK_STORAGE_GET_F_CREATE);
	if (!cs)
		return;	/* no memory for it: not counted */
	if (!sl_conns_inc(&cs->key))
		bpf_sk_storage_delete(&sl_conn_sk, sk);
}

#endif /* SLUICE_CONNS_BPF_H */
