/* SPDX-License-Identifier: MIT */
/*
 * Guard mode's kernel <-> user contract: the maps of bpf/guard.bpf.c,
 * which measures how long a guarded service takes to answer the requests
 * that reach its sockets. Kept apart from abi.h because none of it is
 * pinned: the guard object belongs to the one sluiced that loaded it and
 * dies with it, so its layout is not part of SL_ABI_VERSION (sluicectl
 * never reads it).
 *
 * Maps:
 *   guard_ports  ARRAY[65536] __u32   local TCP port -> SL_GUARD_PORT(index, shift),
 *                                     0 = not guarded
 *   guard_port_bits (.bss) __u64[SL_GUARD_PORT_BITS / 64]   the filter in front
 *                                     of guard_ports: SL_GUARD_PORT_BIT(port) in
 *                                     word SL_GUARD_PORT_WORD(port) set for each
 *                                     guarded port (set after its guard_ports
 *                                     entry; a bit left set only costs a lookup)
 *   guard_busy (.bss) __u32[SL_GUARD_BUSY_SLOTS]   measured requests in
 *                                     progress, per slot (a hash of the peer's
 *                                     address and port): a slot at 0 spares the
 *                                     read and the write of an unmeasured
 *                                     request the socket's storage (BPF's own)
 *   guard_sk     SK_STORAGE struct sl_guard_sk   a request in progress on a socket
 *   guard_slot (.bss) __u32[SL_GUARD_MAX]   each guard's service slot in the
 *                                     data plane's pins (0: none): where its
 *                                     connections are counted
 *   sl_held      the data plane's pinned map (abi.h), reused: the connections
 *                                     each guarded service holds, counted here
 *   guard_stats  PERCPU_ARRAY[SL_GUARD_MAX] struct sl_guard_stats
 *   guard_seq    PERCPU_ARRAY[SL_GUARD_MAX] __u32   keep-alive arrivals seen
 *                                     (the sampling's count; the BPF side's own)
 *
 * A request's sojourn in the service: from its arrival in the socket
 * (sk_data_ready on an established socket with no request in progress)
 * to the service's first write on that socket after it (sock_send_length):
 * the wait in the accept queue and in the socket, the wait inside the
 * process (a goroutine's run queue, an executor's queue, threads sharing
 * the CPU) and the service time. Its part before the service's first read
 * (tcp_rcv_space_adjust: a read that takes data) is the socket wait,
 * queueing alone. A request-response service answers each request; a
 * request it never answers ends when the socket closes (abandoned). Only
 * sockets of the daemon's network namespace count (guard_netns).
 *
 * Sampling: a connection's first request is always measured (its answer
 * is a completion, the unit the controller counts); of the later requests
 * of keep-alive connections, one in 2^shift of those arriving on a CPU
 * (counted per CPU and guard, not per socket: an unmeasured request
 * writes nothing to its socket), with the shift the daemon sets in
 * guard_ports from the request rate (guardsig.h).
 *
 * Buckets: times in units of 1024 ns (~1 us), four buckets per power of
 * two (bounds within 19% of each other) up to ~17 s; sl_guard_bucket()
 * below is the one definition both sides use.
 */
#ifndef SLUICE_GUARD_ABI_H
#define SLUICE_GUARD_ABI_H

#include <linux/types.h>

#define SL_GUARD_MAX      16	/* guarded ports per daemon */
#define SL_GUARD_BUCKETS  96
#define SL_GUARD_UNIT_SHIFT 10	/* bucket unit: 1 << 10 ns */
#define SL_GUARD_SHIFT_MAX 7	/* keep-alive requests sampled at least 1 in 128 */

/* guard_busy: measured requests in progress, by a hash of the peer. */
#define SL_GUARD_BUSY_ORDER 8
#define SL_GUARD_BUSY_SLOTS (1u << SL_GUARD_BUSY_ORDER)

/* guard_port_bits: one cache line, a bit per port modulo its size. */
#define SL_GUARD_PORT_BITS       512
#define SL_GUARD_PORT_WORD(port) (((port) / 64) % (SL_GUARD_PORT_BITS / 64))
#define SL_GUARD_PORT_BIT(port)  (1ull << ((port) % 64))

/* A guard_ports value: the guard's index + 1 in the low byte, the
 * keep-alive sampling shift in the next one. */
#define SL_GUARD_PORT(idx, shift) ((__u32)(idx) + 1 + ((__u32)(shift) << 8))
#define SL_GUARD_PORT_IDX(v)      (((v) & 0xff) - 1)
#define SL_GUARD_PORT_SHIFT(v)    (((v) >> 8) & 0xff)

/* Per socket, in SK_STORAGE: freed with the socket. */
struct sl_guard_sk {
	__u64 since_ns;		/* bpf_ktime_get_ns() at the request's arrival;
				 * 0: no request measured in progress */
	__u64 read_ns;		/* the service's first read of it (0: none yet) */
	__u32 guard;		/* guard index */
	__u32 replied;		/* 1 once the connection was answered: not new */
	__u32 held_slot;	/* counted in sl_held[held_slot] (abi.h) until its
				 * first answer or close; 0: not counted */
	__u32 busy_slot;	/* its guard_busy slot, counted while since_ns is set */
};
_Static_assert(sizeof(struct sl_guard_sk) == 32, "sl_guard_sk layout");

/* Per CPU, per guard: counters only grow; user space takes differences. */
struct sl_guard_stats {
	__u64 started;		/* requests measured: arrivals on an idle socket */
	__u64 answered;		/* of those, answered (the first write after) */
	__u64 sojourn_ns;	/* the answered ones' sojourns, summed */
	__u64 conns;		/* connections established (handshake done) */
	__u64 served;		/* connections answered for the first time */
	__u64 closed;		/* established connections that left ESTABLISHED */
	__u64 abandoned;	/* closed with a measured request unanswered */
	__u64 hist[SL_GUARD_BUCKETS];	/* sojourns by sl_guard_bucket() */
	__u64 whist[SL_GUARD_BUCKETS];	/* socket waits (arrival to first read) */
};
_Static_assert(sizeof(struct sl_guard_stats) == (7 + 2 * SL_GUARD_BUCKETS) * 8,
	       "sl_guard_stats layout");

/*
 * Bucket of a time: u = ns >> SL_GUARD_UNIT_SHIFT; u < 4 is its own
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
