// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice data plane: the entry points. One XDP and one TC (clsact ingress)
 * program share the parser (parse.bpf.h), the service's per-CPU view
 * (view.bpf.h), the limiters (limit.bpf.h) and the verdict (verdict.bpf.h):
 * first look -> parse -> classify -> judge -> verdict. The first look
 * (sl_first_look) lets most traffic go before the rest is entered, and
 * hands a candidate in a plain frame to the rest already classified.
 * A third, on the inet_sock_set_state tracepoint, counts the open
 * connections the per-source connection limit reads (conns.bpf.h).
 *
 * What a loader sets before load (skeleton rodata / map sizes):
 *   sl_debug           bpf_printk on rejects (off)
 *   sl_clock_coarse    buckets on the coarse clock: ~25 ns less per judged
 *                      packet on a VM, bursts larger by rate x slack (off;
 *                      the pinned sl_config.clock)
 *   sl_clock_slack_ns  with sl_clock_coarse: sl_config.clock_slack_ns, 3 x
 *                      clock_getres(CLOCK_MONOTONIC_COARSE) (12 ms, HZ=250)
 *   sl_clock_tick_ns   clock_getres(CLOCK_MONOTONIC_COARSE): the coarse clock
 *                      is reckoned from jiffies (limit.bpf.h)
 *   sl_ncpus           possible CPUs: sizes the service-token stashes
 *   sl_sources         the inner template's max_entries: per-source buckets
 *                      kept per service (65536; user space makes the tables)
 *   sl_conns_netns     the attached interface's network namespace (inode):
 *                      the sockets sluice_conns counts
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <sluice/abi.h>
#include "maps.bpf.h"
#include "parse.bpf.h"
#include "limit.bpf.h"
#include "verdict.bpf.h"
#include "conns.bpf.h"

/*
 * TC only: how much of the packet must be in the linear area for the
 * parser. Two VLAN tags, IPv6 with a few extension headers and a TCP
 * header fit in it; a GRO'd or paged skb is pulled once, not per header.
 * Headers past it (a long option area on a driver that leaves the rest in
 * page fragments) are reached by sl_parse_pkt()'s second pull.
 */
#define SL_TC_PULL_LEN 256

/*
 * TC: pull the whole packet into the linear area when the parser ran out
 * of it. Returns true if there is more to parse than before. Only a
 * packet whose headers end past the first pull gets here (for traffic
 * that GRO merges, the headers are well inside it).
 */
static __always_inline bool sl_tc_pull_all(struct __sk_buff *skb)
{
	__u32 linear = skb->data_end - skb->data;

	return linear < skb->len && bpf_skb_pull_data(skb, skb->len) == 0;
}

/*
 * TC: the datagrams a UDP skb carries. GRO merges a flow's datagrams into
 * one skb (rx-udp-gro-forwarding, rx-gro-list, or a socket with UDP_GRO,
 * as QUIC servers set) before TC, which then sees one packet with one UDP
 * header: it is judged as its first datagram and charged and counted for
 * all (limit.bpf.h). Native XDP runs before GRO and sees each datagram.
 */
static __always_inline __u16 sl_tc_datagrams(struct __sk_buff *skb)
{
	__u32 segs = skb->gso_segs;

	if (!skb->gso_size || segs < 2)
		return 1;
	return segs < SL_GRO_SEGS_MAX ? segs : SL_GRO_SEGS_MAX;
}

/*
 * TC's parser: a global function, so the verifier checks it once, alone,
 * instead of once per call and per state of the caller (inlined, or a
 * static function, it made up most of the TC program's 450k verified
 * instructions). What it writes into *p is then only "some scalars" to
 * the caller, which is why struct sl_pkt holds no pointer. One copy in
 * the program for its two calls (inlined twice, the copies made every
 * TC packet slower).
 */
__noinline int sl_parse_tc(struct __sk_buff *skb, struct sl_pkt *p)
{
	struct sl_hdrs h;

	if (!p)
		return SL_P_ERROR;	/* for the verifier: a global function's
					 * pointer argument may be NULL */
	sl_hdrs_init(&h, skb, true);
	return sl_parse(&h, p);
}

/*
 * look: what the first look found (SL_LOOK_CLOSER or a plain candidate).
 * XDP alone takes a plain candidate as found; TC parses it again. There
 * the parser is a global function whose results are only "some scalars",
 * and the constants a plain parse leaves (the family) made the verifier
 * walk the judgement once more for each (144k verified instructions
 * became 277k).
 */
static __always_inline int sl_parse_pkt(struct sl_pkt *p, void *ctx, bool tc, __u32 look)
{
	struct sl_hdrs h;
	int res;

	if (!tc && (look & SL_LOOK_KIND) != SL_LOOK_CLOSER) {
		sl_hdrs_init(&h, ctx, tc);
		return sl_parse_plain(&h, p, look);
	}
	if (!tc) {
		sl_hdrs_init(&h, ctx, false);
		return sl_parse(&h, p);
	}
	res = sl_parse_tc(ctx, p);
	if ((res == SL_P_ERROR || res == SL_P_UNJUDGEABLE) && sl_tc_pull_all(ctx))
		res = sl_parse_tc(ctx, p);
	return res;
}

static __always_inline int sl_process(struct sl_pkt *p, void *ctx, bool tc, __u32 look)
{
	struct sl_judgement j = { .reason = SL_NO_COUNT, .stale = false };
	struct sl_view *v;
	__u32 slot;
	int res;

	res = sl_parse_pkt(p, ctx, tc, look);
	if (res == SL_P_PASS)
		return sl_verdict(ctx, p, tc, 0, NULL, j);
	if (res == SL_P_UNJUDGEABLE) {
		/* Refused; in slot 0 when the port could not be read. */
		j.reason = SL_R_unjudgeable;
		if (!p->slot)
			return sl_verdict(ctx, p, tc, 0, NULL, j);
	} else if (res != SL_P_JUDGE) {
		j.reason = res == SL_P_FRAG ? SL_R_fragment : SL_R_parse_error;
		return sl_verdict(ctx, p, tc, 0, NULL, j);
	}

	/* The parser classified the port (sl_port_slot); now the service,
	 * from this CPU's copy (view.bpf.h). */
	slot = p->slot;
	v = sl_view_get(slot);
	/* Between the two steps of an update the port may point at a slot
	 * without (or with another) service: pass, as for any unprotected port. */
	if (!v || v->svc.port != bpf_ntohs(p->dport) ||
	    v->svc.proto != (p->l4proto == IPPROTO_TCP ? SL_PROTO_TCP : SL_PROTO_UDP)) {
		j.reason = SL_NO_COUNT;
		return sl_verdict(ctx, p, tc, 0, NULL, j);
	}
	if (tc && p->l4proto == IPPROTO_UDP)
		p->segs = sl_tc_datagrams(ctx);
	if (res == SL_P_JUDGE)
		j = sl_judge(p, slot, v);
	return sl_verdict(ctx, p, tc, slot, &v->svc, j);
}

/*
 * Not zeroed: every field is written before it is read. But clang would
 * keep the fields in registers, and merge paths where some are not
 * written yet: it then spills an undefined register, which the verifier
 * refuses. Its address made opaque, the struct stays on the stack, where
 * a slot not written yet is only stack not written yet.
 */
static __always_inline void sl_pkt_init(struct sl_pkt *p)
{
	p->segs = 1;
	asm volatile("" : : "r"(p) : "memory");
}

/*
 * Everything but the first look (sl_first_look), a function of its own:
 * its prologue, stack and registers are paid only by the packets that
 * need them. Called from one place each, so verified once each.
 */
static __noinline int sl_process_xdp(struct xdp_md *ctx, __u32 look)
{
	struct sl_pkt p;

	sl_pkt_init(&p);
	return sl_process(&p, ctx, false, look);
}

static __noinline int sl_process_skb(struct __sk_buff *skb)
{
	struct sl_pkt p;
	__u32 linear = skb->data_end - skb->data;

	sl_pkt_init(&p);
	if (linear < skb->len && linear < SL_TC_PULL_LEN)
		bpf_skb_pull_data(skb, skb->len < SL_TC_PULL_LEN ? skb->len : SL_TC_PULL_LEN);
	return sl_process(&p, skb, true, SL_LOOK_CLOSER);
}

SEC("xdp")
int sluice_xdp(struct xdp_md *ctx)
{
	__u32 look = sl_first_look((void *)(long)ctx->data, (void *)(long)ctx->data_end);

	if (look == SL_LOOK_PASS)
		return sl_ret_pass(false);
	return sl_process_xdp(ctx, look);
}

/* The first look reads the linear area only: headers beyond it are the
 * slow path's, which pulls them in. */
SEC("tc")
int sluice_tc(struct __sk_buff *skb)
{
	if (sl_first_look((void *)(long)skb->data, (void *)(long)skb->data_end) == SL_LOOK_PASS)
		return sl_ret_pass(true);
	return sl_process_skb(skb);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(sluice_conns, struct sock *sk, int oldstate, int newstate)
{
	sl_conns_track(sk, oldstate, newstate);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
