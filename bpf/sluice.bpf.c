// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice data plane: the entry points. One XDP and one TC (clsact ingress)
 * program share the parser (parse.bpf.h), the limiters (limit.bpf.h) and
 * the verdict (verdict.bpf.h): parse -> classify -> judge -> verdict.
 *
 * What a loader sets before load (skeleton rodata / map sizes):
 *   sl_debug           bpf_printk on rejects (off)
 *   sl_clock_coarse    buckets on the coarse clock: ~20 ns less per judged
 *                      packet on a VM, bursts larger by rate x slack (off;
 *                      the pinned sl_config.clock)
 *   sl_clock_slack_ns  with sl_clock_coarse: sl_config.clock_slack_ns, 3 x
 *                      clock_getres(CLOCK_MONOTONIC_COARSE) (12 ms, HZ=250)
 *   sl_sources         max_entries: per-source buckets kept (65536)
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <sluice/abi.h>
#include "maps.bpf.h"
#include "parse.bpf.h"
#include "limit.bpf.h"
#include "verdict.bpf.h"

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

static __always_inline int sl_parse_pkt(struct sl_pkt *p, bool tc)
{
	struct sl_hdrs h;
	int res;

	sl_hdrs_init(&h, p->ctx, tc);
	res = sl_parse(&h, p);
	if (tc && (res == SL_P_ERROR || res == SL_P_UNJUDGEABLE) && sl_tc_pull_all(p->ctx)) {
		sl_hdrs_init(&h, p->ctx, tc);
		res = sl_parse(&h, p);
	}
	return res;
}

static __always_inline int sl_process(struct sl_pkt *p, bool tc)
{
	struct sl_judgement j = { .reason = SL_NO_COUNT, .stale = false };
	const struct sl_service *svc;
	__u32 slot;
	int res;

	res = sl_parse_pkt(p, tc);
	if (res == SL_P_PASS)
		return sl_verdict(p, tc, 0, NULL, j);
	if (res == SL_P_UNJUDGEABLE) {
		/* Refused; in slot 0 when the port could not be read. */
		j.reason = SL_R_unjudgeable;
		if (!p->slot)
			return sl_verdict(p, tc, 0, NULL, j);
	} else if (res != SL_P_JUDGE) {
		j.reason = res == SL_P_FRAG ? SL_R_fragment : SL_R_parse_error;
		return sl_verdict(p, tc, 0, NULL, j);
	}

	/* The parser classified the port (sl_port_slot); now the service. */
	slot = p->slot;
	svc = bpf_map_lookup_elem(&sl_services, &slot);
	/* Between the two steps of an update the port may point at a slot
	 * without (or with another) service: pass, as for any unprotected port. */
	if (!svc || svc->port != bpf_ntohs(p->dport) ||
	    svc->proto != (p->l4proto == IPPROTO_TCP ? SL_PROTO_TCP : SL_PROTO_UDP)) {
		j.reason = SL_NO_COUNT;
		return sl_verdict(p, tc, 0, NULL, j);
	}
	if (res == SL_P_JUDGE)
		j = sl_judge(p, slot, svc);
	return sl_verdict(p, tc, slot, svc, j);
}

SEC("xdp")
int sluice_xdp(struct xdp_md *ctx)
{
	/* Zeroed: clang keeps the fields in registers, and one the parser
	 * leaves unwritten on some path would be spilled undefined, which the
	 * verifier refuses. Constants in registers cost next to nothing. */
	struct sl_pkt p = { .ctx = ctx };

	return sl_process(&p, false);
}

SEC("tc")
int sluice_tc(struct __sk_buff *skb)
{
	struct sl_pkt p = { .ctx = skb };	/* zeroed: see sluice_xdp */
	__u32 linear = skb->data_end - skb->data;

	if (linear < skb->len && linear < SL_TC_PULL_LEN)
		bpf_skb_pull_data(skb, skb->len < SL_TC_PULL_LEN ? skb->len : SL_TC_PULL_LEN);
	return sl_process(&p, true);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
