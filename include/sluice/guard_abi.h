/* SPDX-License-Identifier: MIT */
/*
 * Guard mode's kernel <-> user contract: the maps of bpf/guard.bpf.c,
 * which measures how long a guarded service leaves work waiting in its
 * sockets. Kept apart from abi.h because none of it is pinned: the guard
 * object belongs to the one sluiced that loaded it and dies with it, so
 * its layout is not part of SL_ABI_VERSION (sluicectl never reads it).
 *
 * Maps:
 *   guard_ports  ARRAY[65536] __u32       local TCP port -> guard index + 1, 0 = not guarded
 *   guard_wait   LRU_HASH socket -> struct sl_guard_wait   work waiting in a socket
 *   guard_stats  PERCPU_ARRAY[SL_GUARD_MAX] struct sl_guard_stats
 *
 * The wait: from the moment work is ready for the application to the
 * application's next read of that socket (the sock_recv_length
 * tracepoint, whatever the read returned):
 *   - a new connection is ready when its handshake completes (the child
 *     socket goes SYN_RECV -> ESTABLISHED): its wait is the accept queue
 *     plus the time until the application first reads it; a read that
 *     finds no request yet (Go reads right after accept) ends the accept
 *     queue's part, and the request's arrival starts the rest;
 *   - an established socket with nothing pending is ready at its next
 *     sk_data_ready (a keep-alive connection's next request).
 * Only sockets of the daemon's network namespace count (guard_netns).
 *
 * Buckets: waits in units of 1024 ns (~1 us), four buckets per power of
 * two (bounds within 19% of each other) up to ~17 s; sl_guard_bucket()
 * below is the one definition both sides use.
 */
#ifndef SLUICE_GUARD_ABI_H
#define SLUICE_GUARD_ABI_H

#include <linux/types.h>

#define SL_GUARD_MAX      16	/* guarded ports per daemon */
#define SL_GUARD_BUCKETS  96
#define SL_GUARD_UNIT_SHIFT 10	/* bucket unit: 1 << 10 ns */
#define SL_GUARD_WAITS    65536	/* sockets with work waiting, at most */

struct sl_guard_wait {
	__u64 since_ns;		/* bpf_ktime_get_ns() when the work became ready;
				 * 0: none (a new connection read before its
				 * request came, waiting for it) */
	__u32 guard;		/* guard index */
	__u32 new_conn;		/* 1: the connection's first wait (from the handshake) */
};
_Static_assert(sizeof(struct sl_guard_wait) == 16, "sl_guard_wait layout");

/* Per CPU, per guard: counters only grow; user space takes differences. */
struct sl_guard_stats {
	__u64 waits;		/* waits ended by a read (an empty read ends a
				 * new connection's accept-queue wait) */
	__u64 wait_ns;		/* their sum */
	__u64 conns;		/* connections established (handshake done) */
	__u64 readies;		/* waits started by data on an idle socket */
	__u64 served;		/* connections whose request was first read */
	__u64 closed;		/* established connections that left ESTABLISHED */
	__u64 abandoned;	/* closed with work still waiting: never read */
	__u64 hist[SL_GUARD_BUCKETS];	/* waits by sl_guard_bucket() */
};
_Static_assert(sizeof(struct sl_guard_stats) == (7 + SL_GUARD_BUCKETS) * 8,
	       "sl_guard_stats layout");

/*
 * Bucket of a wait: u = ns >> SL_GUARD_UNIT_SHIFT; u < 4 is its own
 * bucket; above, with e = floor(log2 u), bucket 4 (e - 1) + the two bits
 * after the leading one. Written without loops or builtins the BPF
 * backend lacks: a binary search for the leading bit.
 */
static inline __u32 sl_guard_bucket(__u64 ns)
{
	__u64 u = ns >> SL_GUARD_UNIT_SHIFT;
	__u32 e = 0, b;

	if (u < 4)
		return (__u32)u;
	if (u >> 32) { u >>= 32; e += 32; }
	if (u >> 16) { u >>= 16; e += 16; }
	if (u >> 8)  { u >>= 8;  e += 8; }
	if (u >> 4)  { u >>= 4;  e += 4; }
	if (u >> 2)  { u >>= 2;  e += 2; }
	if (u >> 1)  { e += 1; }
	/* the two bits below the leading one, from the unshifted value */
	b = 4 * (e - 1) + (__u32)((ns >> SL_GUARD_UNIT_SHIFT >> (e - 2)) & 3);
	return b < SL_GUARD_BUCKETS ? b : SL_GUARD_BUCKETS - 1;
}

/* Lower bound of bucket b, in ns (the inverse of sl_guard_bucket). */
static inline __u64 sl_guard_bucket_lo_ns(__u32 b)
{
	__u64 u = b < 4 ? b : (__u64)(4 + (b & 3)) << (b / 4 - 1);

	return u << SL_GUARD_UNIT_SHIFT;
}

#endif /* SLUICE_GUARD_ABI_H */
