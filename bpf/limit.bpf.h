/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The limiters, in the order a judged packet meets them:
 *   1. prefix rules (LPM tries): allow, deny, or a priority class;
 *   2. the admission level: classes below it are shed;
 *   2a. the source's open connections, against the service's per-source
 *      connection limit (counted by conns.bpf.h);
 *   2b. the connections the service holds, against its daemon's
 *      concurrency limit (guard mode; counted by guard.bpf.c);
 *   2c. the source's exception (sl_src_quota), set by a daemon running
 *      fleet quotas, while its heartbeat is fresh;
 *   3. the per-service token bucket (rate, burst, capped by the daemon);
 *   4. the per-source token bucket, keyed by the source prefix.
 * (3 and 4 are read in that order, but the service's token is taken
 * last: sl_judge() says why.)
 * sl_judge() runs them and returns the reason (enum sl_reason) the packet
 * is counted under; the caller turns a refusal into the service's action.
 *
 * Buckets are GCRA, in gcra.bpf.h, which says why compare-and-exchange.
 *
 * API:
 *   sl_judge(p, slot, view) -> struct sl_judgement (reason, stale)
 */
#ifndef SLUICE_LIMIT_BPF_H
#define SLUICE_LIMIT_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <sluice/abi.h>
#include "maps.bpf.h"
#include "parse.bpf.h"
#include "gcra.bpf.h"
#include "view.bpf.h"

#define SL_SRC_PREFIX4_DEFAULT 32
#define SL_SRC_PREFIX6_DEFAULT 64

/*
 * Clocks. The heartbeat is checked against the coarse clock
 * (CLOCK_MONOTONIC as of the last tick, reckoned from jiffies by
 * sl_coarse_now): staleness is a matter of seconds.
 *
 * bpf_ktime_get_ns() is exact, but ~24-30 ns per call on this machine (a
 * VM; tests/bench/xdp "building blocks"), the largest single cost of a
 * judged SYN. sl_clock_coarse (rodata, from sl_config.clock:
 * SL_CLOCK_COARSE, the loader's default) switches the buckets to the
 * coarse clock. A bucket then refills a tick's worth at a time, and on a
 * loaded VM the tick comes late now and then, so every tolerance gets
 * sl_clock_slack_ns of slack or the bucket loses the credit of each late
 * tick: with one tick (4 ms) of slack a two-CPU flood got 94% of rate x
 * time + burst, with three ticks 100.6-101%. The price is a burst larger
 * by rate x slack, and admissions in clumps of rate x tick at each tick
 * instead of spread evenly. The loader sets the slack to three times
 * clock_getres(CLOCK_MONOTONIC_COARSE) when it creates the maps, and
 * sl_clock_tick_ns to that resolution at every load.
 */
const volatile bool sl_clock_coarse = false;
const volatile __u64 sl_clock_slack_ns = 12000000;	/* three ticks at HZ=250 */
const volatile __u64 sl_clock_tick_ns = 4000000;	/* clock_getres(CLOCK_MONOTONIC_COARSE) */

/*
 * The coarse clock without the call. bpf_ktime_get_coarse_ns() is a
 * helper call that reads the timekeeper under its seqcount (~5 ns here);
 * bpf_jiffies64() the verifier inlines into one load. Both move once a
 * tick, together (the tick that increments jiffies then advances the
 * timekeeper), so the coarse clock is jiffies x tick + an offset. Each
 * CPU keeps that offset in its view of the service (a plain per-CPU
 * word, never torn: a packet is judged without preemption) and reads the
 * real clock again every SL_CLOCK_REREAD_TICKS ticks, so that NTP's
 * frequency corrections (at most 500 ppm, 128 us over 64 ticks) never
 * build up. The offset is taken with the jiffies read after the clock: a
 * tick in between makes the reckoning lag the clock by that tick, never
 * lead it; a lag of a tick is what the slack is there for (late ticks).
 */
#define SL_CLOCK_REREAD_TICKS 64

static __always_inline __u64 sl_coarse_now(struct sl_view *v)
{
	__u64 j = bpf_jiffies64(), now;

	if (j < v->clk_next)
		return v->clk_offset + j * sl_clock_tick_ns;
	now = bpf_ktime_get_coarse_ns();
	j = bpf_jiffies64();
	v->clk_offset = now - j * sl_clock_tick_ns;
	v->clk_next = j + SL_CLOCK_REREAD_TICKS;
	return now;
}

static __always_inline __u64 sl_bucket_now(struct sl_view *v)
{
	return sl_clock_coarse ? sl_coarse_now(v) : bpf_ktime_get_ns();
}

/* What the judgement found, beyond the reason, for counting. */
struct sl_judgement {
	__u32 reason;		/* enum sl_reason */
	bool stale;		/* judged on the static fallback: count `stale` */
};

/*
 * The most datagrams a UDP GRO train carries (UDP_MAX_SEGMENTS), and the
 * debt it may leave in a UDP service's buckets (gcra.bpf.h). A TCP
 * service's SYNs are never merged: no debt, clamped exactly.
 */
#define SL_GRO_SEGS_MAX 128

static __always_inline __u64 sl_debt(const struct sl_service *svc, __u64 interval)
{
	return svc->proto == SL_PROTO_UDP ? (SL_GRO_SEGS_MAX - 1) * interval : 0;
}

/* Depth 0 would refuse everything forever; the smallest bucket holds one. */
static __always_inline __u64 sl_tolerance(__u64 interval, __u32 burst)
{
	return interval * (burst ? burst : 1) + (sl_clock_coarse ? sl_clock_slack_ns : 0);
}

/*
 * Service tokens taken ahead. On the coarse clock every SYN of a tick is
 * judged at the same now, and n admissions at one now are n steps of the
 * bucket that each conform exactly when the n tokens conform together. So
 * a CPU takes k + 1 tokens in one compare-and-exchange on the service's
 * shared bucket (sl_gcra_n) and spends k of them, in that tick only, from
 * its view: a plain decrement, where each SYN wrote the bucket's line, a
 * locked instruction that every CPU admitting to the service bounces.
 * What is left at the tick's end goes back to the bucket with the next
 * SYN of the service on that CPU (sl_stash_take), or stays taken while
 * none comes: k x CPUs tokens at most, which k keeps within one tick's
 * refill (rate x tick over all CPUs), less than the coarse clock's slack
 * (three ticks). That slack also bounds the one case where giving back is
 * not exact: a bucket that filled up to its depth while tokens were out
 * forgot them, and gets them back on top. TCP only (a UDP GRO train is
 * charged its datagrams at once, sl_debt), and not on the precise clock,
 * whose now moves with every packet.
 */
#define SL_STASH_MAX 16
const volatile __u32 sl_ncpus = 1;	/* possible CPUs; the loader sets it */

/* k for a bucket of this interval: 0 when one tick refills too little. */
static __always_inline __u32 sl_stash_size(__u64 interval)
{
	__u64 k;

	if (!interval)
		return SL_STASH_MAX;
	k = sl_clock_tick_ns / interval / (sl_ncpus ? sl_ncpus : 1);
	return k < SL_STASH_MAX ? k : SL_STASH_MAX;
}

/*
 * One token from the CPU's stash of this tick, at this interval; a stash
 * of an earlier tick (or interval) goes back to the bucket. The bucket's
 * tat is never taken below now by it: a bucket that full forgets anyway,
 * and the slot's bucket may have been reset under it (a new service).
 */
static __always_inline bool sl_stash_take(struct sl_view *v, __u32 slot, __u64 now,
					  __u64 interval)
{
	struct sl_bucket *b;
	__u64 back, tat;

	if (!v->stash_left)
		return false;
	if (v->stash_tick == bpf_jiffies64() && v->stash_interval == interval) {
		v->stash_left--;
		return true;
	}
	back = v->stash_left * v->stash_interval;
	v->stash_left = 0;
	b = bpf_map_lookup_elem(&sl_buckets, &slot);
	if (!b)
		return false;
	tat = *(volatile __u64 *)&b->tat_ns;
	if (tat > now)
		__sync_fetch_and_add(&b->tat_ns, -(tat - now < back ? tat - now : back));
	return false;
}

/*
 * The service's token, from the bucket: k + 1 at once when the stash may
 * be used and the bucket holds them, else one (sl_gcra).
 */
static __always_inline bool sl_svc_take(struct sl_view *v, struct sl_bucket *b,
					const struct sl_pkt *p, __u64 now, __u64 interval,
					__u64 tol, __u64 debt)
{
	__u32 k;

	if (sl_clock_coarse && p->l4proto == IPPROTO_TCP) {
		k = sl_stash_size(interval);
		if (k && sl_gcra_n(&b->tat_ns, now, interval, tol, k + 1)) {
			v->stash_left = k;
			v->stash_tick = bpf_jiffies64();
			v->stash_interval = interval;
			return true;
		}
	}
	return sl_gcra(&b->tat_ns, now, interval, tol, sl_clock_coarse, p->segs, debt);
}

/*
 * Longest-prefix rule for the source, or NULL: the tries themselves.
 *
 * The empty asm statements, different in each branch, are for the
 * verifier: without them clang sinks the two lookups into one call with
 * the map chosen by a branch, the verifier then cannot tell which map the
 * call uses, and instead of a direct call to trie_lookup_elem() it emits
 * the generic helper, an indirect call through a retpoline (measured: a
 * judged IPv4 SYN cost 10-15 ns more).
 */
static __always_inline struct sl_prefix_rule *sl_prefix_rule(const struct sl_pkt *p)
{
	struct sl_prefix_rule *rule;

	if (p->family == 4) {
		struct sl_lpm4_key k = { .prefixlen = 32 };

		__builtin_memcpy(k.addr, &p->saddr[0], 4);
		rule = bpf_map_lookup_elem(&sl_prefix4, &k);
		asm volatile("/* lpm4 */" : "+r"(rule));
	} else {
		struct sl_lpm6_key k = { .prefixlen = 128 };

		__builtin_memcpy(k.addr, p->saddr, 16);
		rule = bpf_map_lookup_elem(&sl_prefix6, &k);
		asm volatile("/* lpm6 */" : "+r"(rule));
	}
	return rule;
}

/*
 * The source's rule (kind 0: none matched), asked of the tries once per
 * source and sl_gen on each CPU. An LPM walk in a trie of a few thousand
 * rules is the largest single cost of a judged SYN (~10 ns here), and a
 * client's SYNs come from the same address again and again; the CPU's
 * memo (sl_rule_memos) is found by an inlined array lookup and a hash of
 * the address. Writers of the tries then write sl_gen (abi.h), and gen
 * is the view's, made at sl_gen's current value: a memo of another gen is
 * not used. A source not in the memo (a flood of spoofed sources, each
 * new) pays the walk and the memo's write, ~2 ns more than the walk alone.
 */
static __always_inline struct sl_prefix_rule sl_source_rule(const struct sl_pkt *p, __u64 gen)
{
	struct sl_prefix_rule r = { .kind = 0 }, *rule;
	struct sl_rule_memo *m;
	__u32 h = p->saddr[0];

	if (p->family != 4)
		h ^= p->saddr[1] ^ p->saddr[2] ^ p->saddr[3];
	h = (h * 0x9e3779b1u) >> (32 - SL_RULE_MEMO_BITS);	/* Fibonacci hashing */
	m = bpf_map_lookup_elem(&sl_rule_memos, &h);
	if (m && m->gen == gen && m->family == p->family && m->addr[0] == p->saddr[0] &&
	    (p->family == 4 || (m->addr[1] == p->saddr[1] && m->addr[2] == p->saddr[2] &&
				m->addr[3] == p->saddr[3]))) {
		r.kind = m->kind;
		r.cls = m->cls;
		return r;
	}
	rule = sl_prefix_rule(p);
	if (rule)
		r = *rule;
	if (m) {
		m->gen = gen;
		m->family = p->family;
		m->addr[0] = p->saddr[0];
		m->addr[1] = p->family == 4 ? 0 : p->saddr[1];
		m->addr[2] = p->family == 4 ? 0 : p->saddr[2];
		m->addr[3] = p->family == 4 ? 0 : p->saddr[3];
		m->kind = r.kind;
		m->cls = r.cls;
	}
	return r;
}

/*
 * Build the per-source key: the source masked to the service's prefix
 * (0 in the service means the default, /32 or /64).
 *
 * Written as whole 32-bit words, each once: the hash map's jhash reads
 * the key back at once in 32-bit words, and a word put together from
 * several smaller stores (a memset, then a byte here and there) cannot be
 * forwarded from the store buffer: each such load waits for the stores
 * to retire. Built that way, the hash was the largest single cost of a
 * judged SYN with a per-source bucket (perf: 18% of the path).
 */
static __always_inline void sl_src_key(const struct sl_pkt *p, __u32 slot,
				       const struct sl_service *svc,
				       struct sl_src_key *k)
{
	union {
		struct {
			__u8 family;
			__u8 prefixlen;
			__u16 pad0;
		};
		__u32 word;
	} fp = { .pad0 = 0 };
	__u32 *w = (__u32 *)k, plen;

	SL_STATIC_ASSERT(sizeof(*k) == 6 * sizeof(__u32) &&
				 offsetof(struct sl_src_key, family) == 4 &&
				 offsetof(struct sl_src_key, prefixlen) == 5 &&
				 offsetof(struct sl_src_key, addr) == 8,
			 "sl_src_key is written as six words");
	w[0] = slot;
	if (p->family == 4) {
		__u32 a = p->saddr[0];

		plen = svc->src_prefix4;
		if (plen == 0 || plen > 32)
			plen = SL_SRC_PREFIX4_DEFAULT;
		/* plen is 1..32 here, so the shift count is 0..31. */
		a &= bpf_htonl(0xffffffffu << (32 - plen));
		fp.family = 4;
		fp.prefixlen = plen;
		w[1] = fp.word;
		w[2] = a;
		w[3] = 0;
		w[4] = 0;
		w[5] = 0;
	} else {
		__u64 hi, lo;

		__builtin_memcpy(&hi, &p->saddr[0], 8);
		__builtin_memcpy(&lo, &p->saddr[2], 8);
		plen = svc->src_prefix6;
		if (plen == 0 || plen > 128)
			plen = SL_SRC_PREFIX6_DEFAULT;
		/* Masks on big-endian words; shifts by 64 are avoided. */
		if (plen <= 64) {
			lo = 0;
			if (plen < 64)
				hi &= bpf_cpu_to_be64(~0ull << (64 - plen));
		} else if (plen < 128) {
			lo &= bpf_cpu_to_be64(~0ull << (128 - plen));
		}
		fp.family = 6;
		fp.prefixlen = plen;
		w[1] = fp.word;
		__builtin_memcpy(&w[2], &hi, 8);
		__builtin_memcpy(&w[4], &lo, 8);
	}
}

/*
 * The keys of the service's own tables (abi.h: struct sl_src_bkey and
 * sl_src_bkey6), each written as whole 64-bit words for the reason above.
 * sl_src_bkey: IPv4, or IPv6 with a prefix of 64 or less.
 */
static __always_inline void sl_src_bkey(const struct sl_pkt *p, const struct sl_view *v,
					struct sl_src_bkey *k)
{
	__u64 w;

	if (p->family == 4) {
		/* word[0] 0xffffffff, word[1] the masked address (little-endian
		 * words: the first in the low half). */
		w = (__u64)(p->saddr[0] & v->src_mask4) << 32 | 0xffffffffu;
	} else {
		__builtin_memcpy(&w, &p->saddr[0], 8);
		w &= v->src_mask6;
	}
	__builtin_memcpy(k, &w, 8);
}

/* sl_src_bkey6: IPv6 with a prefix longer than /64 (sl_src_prefix6_long). */
static __always_inline void sl_src_bkey6(const struct sl_pkt *p, const struct sl_service *svc,
					 struct sl_src_bkey6 *k)
{
	__u32 plen = svc->src_prefix6;
	__u64 lo;

	__builtin_memcpy(&lo, &p->saddr[2], 8);
	if (plen < 128)
		lo &= bpf_cpu_to_be64(~0ull << (128 - plen));
	__builtin_memcpy(&k->addr[0], &p->saddr[0], 8);
	__builtin_memcpy(&k->addr[2], &lo, 8);
}

/*
 * The service's hash table of this kind (six: sl_sources6, else
 * sl_sources), or NULL (not made yet, abi.h: not applied), and the
 * source's bucket in it, or NULL. The tables are LRU hash maps. Inlined
 * once per kind: the asm statements, a different one per kind, keep clang
 * from merging the two kinds' calls into one whose map the verifier
 * cannot tell, which it would make an indirect call (sl_prefix_rule says
 * more). Each is a real instruction (a move to itself), not an empty
 * statement: clang 14 gives an empty one a line of its own at the next
 * instruction's offset, and the kernel refuses two lines at one offset.
 */
#define sl_src_fence(six, x)                                             \
	do {                                                             \
		if (six)                                                 \
			asm volatile("/* sl_sources6 */ %0 = %0" : "+r"(x)); \
		else                                                     \
			asm volatile("/* sl_sources */ %0 = %0" : "+r"(x));  \
	} while (0)

static __always_inline void *sl_src_table(bool six, __u32 slot)
{
	return six ? bpf_map_lookup_elem(&sl_sources6, &slot) :
		     bpf_map_lookup_elem(&sl_sources, &slot);
}

static __always_inline struct sl_src_bucket *sl_src_get(bool six, void *table, const void *key)
{
	struct sl_src_bucket *b = bpf_map_lookup_elem(table, key);

	sl_src_fence(six, b);
	return b;
}

/*
 * A source not in the table put in, with a full bucket less this packet's
 * cost (tat): NULL, its token taken. Else the bucket another CPU put in
 * first, or NULL if the LRU evicted it at once (thrashing: fail open).
 */
static __always_inline struct sl_src_bucket *sl_src_put(bool six, void *table, const void *key,
							__u64 tat)
{
	struct sl_src_bucket nb = { .tat_ns = tat };
	long err = bpf_map_update_elem(table, key, &nb, BPF_NOEXIST);

	sl_src_fence(six, err);
	return err == 0 ? NULL : sl_src_get(six, table, key);
}

/*
 * The fast table's slot for a key (abi.h, sl_src_fast), or NULL: Fibonacci
 * hashing of the key's 64 bits. A slot owned by a source whose bucket has
 * been full (tat in the past) for SL_SRC_FAST_IDLE_NS may be taken: that
 * source, back later, starts with a full bucket wherever it lands, which
 * is what it had.
 */
#define SL_SRC_FAST_IDLE_NS SL_NSEC_PER_SEC

static __always_inline struct sl_src_slot *sl_src_fast_slot(__u32 slot, __u64 key)
{
	void *table = bpf_map_lookup_elem(&sl_src_fast, &slot);
	__u32 i;

	if (!table)
		return NULL;
	i = (__u32)((key * 0x9e3779b97f4a7c15ull) >> (64 - SL_SRC_FAST_BITS));
	return bpf_map_lookup_elem(table, &i);
}

/*
 * The source's bucket for a packet, or NULL. With create, a source found
 * nowhere is put in: in the fast table if its slot is free or idle, else
 * in sl_sources (then NULL: sl_src_put). Looked up in the fast table
 * first, then in the hash table; a source goes to the fast table only
 * when it is not in the hash table, so its bucket is in one place. (Two
 * CPUs putting in one new source at once, one seeing its fast slot idle
 * and the other, its clock a tick behind, not, can make it two: the race
 * costs at most one token. So can a source idle a second whose SYN meets
 * another source taking its slot.) A key of 0 marks a free slot: such a
 * source (IPv6 ::/64) is kept in the hash table only.
 */
static __always_inline struct sl_src_bucket *sl_src_bucket(const struct sl_pkt *p, __u32 slot,
							   const struct sl_view *v, bool create,
							   __u64 now, __u64 tat)
{
	struct sl_src_bucket *b;
	void *table;

	if (p->family == 6 && sl_src_prefix6_long(v->svc.src_prefix6)) {
		struct sl_src_bkey6 k;

		sl_src_bkey6(p, &v->svc, &k);
		table = sl_src_table(true, slot);
		if (!table)
			return NULL;
		b = sl_src_get(true, table, &k);
		return b || !create ? b : sl_src_put(true, table, &k, tat);
	} else {
		struct sl_src_slot *e = NULL;
		struct sl_src_bkey k;
		__u64 key, owner = 0;

		sl_src_bkey(p, v, &k);
		__builtin_memcpy(&key, &k, 8);
		if (key) {
			e = sl_src_fast_slot(slot, key);
			if (e) {
				owner = *(volatile __u64 *)&e->key;
				if (owner == key)
					return (struct sl_src_bucket *)&e->tat_ns;
			}
		}
		table = sl_src_table(false, slot);
		if (!table)
			return NULL;
		b = sl_src_get(false, table, &k);
		if (b || !create)
			return b;
		if (e && (owner == 0 || e->tat_ns + SL_SRC_FAST_IDLE_NS < now)) {
			__sync_val_compare_and_swap((__u64 *)&e->key, owner, key);
			/* Taken, by this CPU or another for the same source. */
			if (*(volatile __u64 *)&e->key == key)
				return (struct sl_src_bucket *)&e->tat_ns;
		}
		return sl_src_put(false, table, &k, tat);
	}
}

/*
 * Per-source bucket: true if the source is within its rate (and its token
 * taken). *bp is its bucket, or NULL for a source seen the first time.
 * The buckets are in the service's own tables (sl_sources[slot],
 * sl_sources6[slot]), so a flood to another service cannot evict them.
 */
static __always_inline bool sl_src_take(const struct sl_pkt *p, __u32 slot,
					const struct sl_view *v, __u64 now,
					struct sl_src_bucket **bp)
{
	__u64 interval = v->src_interval;
	struct sl_src_bucket *b;

	/* First packet of a source: a full bucket, less its cost. */
	b = sl_src_bucket(p, slot, v, true, now, now + interval * p->segs);
	*bp = b;
	if (!b)
		return true;	/* made with its token taken, or not applied */
	return sl_gcra(&b->tat_ns, now, interval, v->src_tolerance, sl_clock_coarse, p->segs,
		       v->src_debt);
}

/* Give back the token sl_src_take() took, to a source the service refused. */
static __always_inline void sl_src_refund(const struct sl_pkt *p, __u32 slot,
					  const struct sl_view *v, struct sl_src_bucket *b)
{
	if (!b)
		b = sl_src_bucket(p, slot, v, false, 0, 0);
	if (b)
		__sync_fetch_and_add(&b->tat_ns, -(v->src_interval * p->segs));
}

/*
 * The per-source bucket's arithmetic, when the CPU's copy of the service
 * is filled (view.bpf.h), not for every packet: its depth, its debt, and
 * the masks of the source prefixes (0 in the service means the default,
 * /32 or /64; an IPv6 prefix past 64 is sl_src_bkey6's).
 */
static __always_inline void sl_view_limits(struct sl_view *v)
{
	__u32 p4 = v->svc.src_prefix4, p6 = v->svc.src_prefix6;

	v->src_tolerance = sl_tolerance(v->src_interval, v->svc.src_burst);
	v->src_debt = sl_debt(&v->svc, v->src_interval);
	if (p4 == 0 || p4 > 32)
		p4 = SL_SRC_PREFIX4_DEFAULT;
	if (p6 == 0 || p6 > 64)
		p6 = SL_SRC_PREFIX6_DEFAULT;
	/* 1..32 and 1..64: the shifts stay below the width. */
	v->src_mask4 = bpf_htonl(0xffffffffu << (32 - p4));
	v->src_mask6 = bpf_cpu_to_be64(p6 == 64 ? ~0ull : ~(~0ull >> p6));
}

/*
 * Fleet quotas (SL_ADM_FLEET): count the source in sl_src_seen, then judge
 * it against its exception if the daemon set one. true: no exception, or
 * within its rate. A UDP GRO train counts, and is charged, once per
 * datagram, as in the buckets. A counter that another CPU inserted first
 * is counted on the next packet: an approximate count is all the daemon
 * needs.
 */
static __always_inline bool sl_src_quota_take(const struct sl_pkt *p, __u32 slot,
					      const struct sl_service *svc, __u64 now)
{
	struct sl_src_seen *seen, one = { .count = p->segs };
	struct sl_src_quota *q;
	struct sl_src_key k;
	__u64 interval;

	sl_src_key(p, slot, svc, &k);
	seen = bpf_map_lookup_elem(&sl_src_seen, &k);
	if (seen)
		__sync_fetch_and_add(&seen->count, p->segs);
	else
		bpf_map_update_elem(&sl_src_seen, &k, &one, BPF_NOEXIST);
	q = bpf_map_lookup_elem(&sl_src_quota, &k);
	if (!q)
		return true;
	if (!q->rate_milli)
		return false;	/* refused outright */
	interval = SL_NSEC_PER_SEC * 1000 / q->rate_milli;
	return sl_gcra(&q->tat_ns, now, interval, sl_tolerance(interval, q->burst),
		       sl_clock_coarse, p->segs, sl_debt(svc, interval));
}

/*
 * Per-source connection limit: true if the source prefix already holds
 * svc->src_conns open connections to the service. One lookup; a source
 * with none has no entry. Signed: a count that a purge's race took below
 * 0 for a moment (conns.bpf.h) must not refuse.
 */
static __always_inline bool sl_src_conns_full(const struct sl_pkt *p, __u32 slot,
					       const struct sl_service *svc)
{
	struct sl_src_conns *c;
	struct sl_src_key k;

	sl_src_key(p, slot, svc, &k);
	c = bpf_map_lookup_elem(&sl_src_conns, &k);
	return c && (__s64)c->open >= (__s64)svc->src_conns;
}

/*
 * The daemon's concurrency limit: true if the service already holds
 * limit connections not yet answered (sl_held, counted by guard.bpf.c).
 * Signed, as for the source's count: never refuse on a count a race took
 * below 0 for a moment. The count follows completed handshakes, so SYNs
 * judged before the last ones completed see it a few low: the rate cap
 * in front bounds that overshoot.
 */
static __always_inline bool sl_svc_conc_full(__u32 slot, __u32 limit)
{
	struct sl_held *h = bpf_map_lookup_elem(&sl_held, &slot);

	return h && (__s64)h->held >= (__s64)limit;
}

static __always_inline struct sl_judgement
sl_judge(const struct sl_pkt *p, __u32 slot, struct sl_view *v)
{
	struct sl_judgement j = { .reason = SL_R_admitted, .stale = false };
	const struct sl_service *svc = &v->svc;
	const struct sl_admission *adm;
	struct sl_prefix_rule rule;
	struct sl_config *cfg;
	struct sl_bucket *b = NULL;
	struct sl_src_bucket *sb = NULL;
	__u32 zero = 0, level = 0, rate, cls = SL_CLASS_DEFAULT;
	bool open = false, have_now = false, fleet = false, capped = false, stashed = false;
	__u32 conc = 0;
	__u64 now, interval, tol = 0;

	/* 1. Prefix rules: allow and deny are final. */
	rule = sl_source_rule(p, v->gen);
	if (rule.kind == SL_RULE_ALLOW) {
		j.reason = SL_R_allowed;
		return j;
	}
	if (rule.kind == SL_RULE_DENY) {
		j.reason = SL_R_denied;
		return j;
	}
	if (rule.kind == SL_RULE_CLASS && rule.cls >= 1 && rule.cls <= SL_MAX_CLASS)
		cls = rule.cls;

	/* The daemon's limits while its heartbeat is fresh, else the fallback.
	 * Only a service the daemon has claimed is looked up (abi.h). */
	adm = v->has_adm ? &v->adm : NULL;
	if (adm) {
		__s64 age;

		/* Any clock will do for the heartbeat: read the buckets' now if
		 * a bucket will need it anyway, else the cheap coarse one. */
		if (svc->rate || svc->src_rate || adm->rate_cap) {
			now = sl_bucket_now(v);
			have_now = true;
		} else {
			now = sl_coarse_now(v);
		}
		/* Signed: the coarse clock may lag a heartbeat just written. */
		age = now - adm->heartbeat_ns;

		if (age <= (__s64)adm->stale_after_ns) {
			level = adm->level;
			capped = true;
			fleet = adm->flags & SL_ADM_FLEET;
			conc = adm->conc_limit;
			goto judge_level;
		}
		j.stale = true;
		open = adm->stale_policy == SL_STALE_OPEN;
	}
	if (open)
		return j;	/* admitted: the operator chose to fail open */
	cfg = bpf_map_lookup_elem(&sl_config, &zero);
	if (cfg)
		level = cfg->level;

judge_level:
	/* 2. Admission level: classes below it are shed. */
	if (cls < level) {
		j.reason = SL_R_shed_level;
		return j;
	}

	/* 2a. The source's open connections: refused here, it takes no
	 * token from any bucket. */
	if (svc->src_conns && sl_src_conns_full(p, slot, svc)) {
		j.reason = SL_R_src_conns;
		return j;
	}

	/* 2b. The daemon's concurrency limit, while its heartbeat is fresh:
	 * refused here, it takes no token either. */
	if (conc && sl_svc_conc_full(slot, conc)) {
		j.reason = SL_R_svc_conc;
		return j;
	}

	/* 2c. The source's fleet exception, before any bucket: a source
	 * refused here takes no token from either. */
	if (fleet) {
		if (!have_now) {
			now = sl_bucket_now(v);
			have_now = true;
		}
		if (!sl_src_quota_take(p, slot, svc, now)) {
			j.reason = SL_R_src_quota;
			return j;
		}
	}

	/* 3. Service bucket, its rate capped by the daemon (the view has
	 * the arithmetic done). */
	rate = capped ? v->capped_rate : svc->rate;
	interval = capped ? v->capped_interval : v->interval;
	if (!rate && !svc->src_rate)
		return j;
	if (!have_now)
		now = sl_bucket_now(v);

	/*
	 * 3 and 4. Service bucket, then source bucket, without letting one
	 * flooding source touch the service bucket: that bucket's line is
	 * shared by every CPU judging the service, and a write to it per
	 * flood packet (a token taken, then given back) would make legitimate
	 * SYNs lose the compare-and-exchange race or find the token on loan.
	 * So: peek at the service bucket (a read; an empty one refuses here),
	 * take the source's token, and only then the service's. If the
	 * service bucket emptied in between, the source gets its token back.
	 */
	if (rate && sl_stash_take(v, slot, now, interval)) {
		stashed = true;
	} else if (rate) {
		b = bpf_map_lookup_elem(&sl_buckets, &slot);
		if (!b)
			return j;	/* slot out of range: cannot happen, checked by caller */
		tol = sl_tolerance(interval, svc->burst);
		if (!sl_gcra_peek(&b->tat_ns, now, interval, tol, sl_debt(svc, interval))) {
			j.reason = SL_R_svc_bucket;
			return j;
		}
	}
	if (svc->src_rate && !sl_src_take(p, slot, v, now, &sb)) {
		if (stashed)
			v->stash_left++;	/* not spent: this tick's still */
		j.reason = SL_R_src_bucket;
		return j;
	}
	if (b && !sl_svc_take(v, b, p, now, interval, tol, sl_debt(svc, interval))) {
		if (svc->src_rate)
			sl_src_refund(p, slot, v, sb);
		j.reason = SL_R_svc_bucket;
	}
	return j;
}

#endif /* SLUICE_LIMIT_BPF_H */
