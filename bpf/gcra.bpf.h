/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * One step of a GCRA token bucket, safe on several CPUs at once. Shared by
 * the limiters (limit.bpf.h) and the mechanism benchmark
 * (tests/bench/xdp/lockcmp.bpf.c); it touches no map of its own.
 *
 * Buckets are GCRA (generic cell rate algorithm): one "theoretical arrival
 * time" per bucket, advanced by 1/rate for each admission; a packet
 * conforms when the advanced time is at most burst/rate ahead of now. The
 * update is a compare-and-exchange on that one word (BPF atomics, -mcpu=v3),
 * not a bpf_spin_lock, because:
 *   - a flood is mostly refusals, and a refusal under GCRA is a plain read
 *     of a cache line both CPUs can hold shared; a spin lock writes the
 *     line on every packet, refusal or not, so the CPUs bounce it;
 *   - it is exact: every admission moves tat by exactly one interval, so
 *     the admitted count over a window is rate x window + burst whatever
 *     the interleaving (a lost race retries with the new value);
 *   - measured (tests/bench/xdp/lockcmp.bpf.c, one bucket at 10^6/s, this
 *     2-CPU VM, several runs): 33-35 ns/packet on one CPU against 45-51
 *     for the spin lock; with both CPUs flooding the bucket, 35-51 against
 *     50-105 (the lock's line bounces on every packet); both admit 98-99%
 *     of rate x time + burst (the rest is the start-up of the flood),
 *     where a plain read-modify-write admits 112-124%: the atomic is what
 *     keeps the count.
 * The retry loop is bounded for the verifier (SL_CAS_TRIES); a packet that
 * loses every try is refused, which errs on the side of the limit.
 *
 * Limit changes take effect at once. A tat further ahead of now than the
 * tolerance is state written under other limits (a deeper burst, a lower
 * rate): kept, it would refuse everything until now caught up with it
 * (rate 100/s, burst lowered from 10000 to 100: 99 s). It is clamped to
 * now + tolerance, the new bucket empty, and refills at the new rate. A
 * tat can also be a little ahead because another CPU admitted with a
 * later clock reading than ours; so the clock is read again before the
 * clamp, or the clamp would hand out that difference as credit. Only this
 * path reads it twice: it follows a limit change, or another CPU's
 * admission in the same nanoseconds.
 *
 * A UDP GRO train (several datagrams in one skb, seen as one by TC) is
 * judged as its first datagram and charged for all: cost intervals. The
 * tat may then end up to (cost - 1) intervals past the tolerance, a debt
 * the next packets pay at the rate; the caller says how much such debt a
 * bucket may legitimately carry (debt), and only state beyond it is taken
 * for a limit change and clamped.
 *
 * API:
 *   sl_gcra(&tat, now, interval, tolerance, coarse, cost, debt) -> true if
 *                                      the packet conforms (coarse: the
 *                                      clock of now; cost: tokens charged)
 *   sl_gcra_n(&tat, now, interval, tolerance, n) -> true if n tokens
 *                                      conform, all taken at once
 *   sl_gcra_peek(&tat, now, interval, tolerance, debt) -> false if it
 *                                      surely would not, read without a write
 */
#ifndef SLUICE_GCRA_BPF_H
#define SLUICE_GCRA_BPF_H

#include <stdbool.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

#define SL_CAS_TRIES 8

/*
 * One GCRA step on *tat. interval = 1e9 / rate ns; tolerance = burst x
 * interval. Returns true (and advances *tat by cost intervals) if the
 * packet conforms.
 */
static __always_inline bool sl_gcra(__u64 *tat, __u64 now, __u64 interval, __u64 tolerance,
				    bool coarse, __u32 cost, __u64 debt)
{
	int i;

#pragma unroll
	for (i = 0; i < SL_CAS_TRIES; i++) {
		__u64 old = *(volatile __u64 *)tat;
		__u64 start;

		if (old > now + tolerance + debt) {
			now = coarse ? bpf_ktime_get_coarse_ns() : bpf_ktime_get_ns();
			if (old > now + tolerance + debt) {
				/* Lost to a concurrent writer: theirs stands,
				 * and this packet is refused either way. */
				__sync_val_compare_and_swap(tat, old, now + tolerance);
				return false;
			}
		}
		start = old > now ? old : now;
		if (start + interval - now > tolerance)
			return false;
		if (__sync_val_compare_and_swap(tat, old, start + interval * cost) == old)
			return true;
	}
	return false;
}

/*
 * n tokens at once, all of them conforming (each step of sl_gcra() at the
 * same now would have admitted it): true, and *tat advanced by n
 * intervals; false, and nothing taken, if the bucket holds fewer, or the
 * compare-and-exchange lost. State left by other limits is not clamped
 * here: it answers false, and the single step that follows clamps it.
 */
static __always_inline bool sl_gcra_n(__u64 *tat, __u64 now, __u64 interval, __u64 tolerance,
				      __u32 n)
{
	__u64 old = *(volatile __u64 *)tat;
	__u64 start = old > now ? old : now;

	if (start + interval * n - now > tolerance)
		return false;
	return __sync_val_compare_and_swap(tat, old, start + interval * n) == old;
}

/*
 * Would a packet conform, by a plain read? false only for a bucket that is
 * empty within its limits; state left by other limits answers true, so
 * that the sl_gcra() that follows clamps it.
 */
static __always_inline bool sl_gcra_peek(const __u64 *tat, __u64 now, __u64 interval,
					 __u64 tolerance, __u64 debt)
{
	__u64 old = *(const volatile __u64 *)tat;

	return old > now + tolerance + debt ||
	       (old > now ? old : now) + interval - now <= tolerance;
}

#endif /* SLUICE_GCRA_BPF_H */
