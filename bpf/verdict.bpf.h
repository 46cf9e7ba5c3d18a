/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one way out of the data plane: sl_verdict() counts the reason (and,
 * for a refusal, the action) in sl_stats and returns the program's return
 * code, carrying out the service's action: drop, reject (a TCP RST built
 * in place and sent back out of the interface it came in on), mark (TC),
 * or nothing at all in monitor mode.
 *
 * API:
 *   SL_NO_COUNT                        reason for a pass that counts nothing
 *   sl_verdict(ctx, p, tc, slot, svc, judgement) -> XDP_* or TC_ACT_*
 */
#ifndef SLUICE_VERDICT_BPF_H
#define SLUICE_VERDICT_BPF_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include <sluice/abi.h>
#include "maps.bpf.h"
#include "parse.bpf.h"
#include "limit.bpf.h"

/* A pass that is not counted at all: unprotected or established traffic. */
#define SL_NO_COUNT SL_R__COUNT

#define SL_RST_TTL 64

/* Build-time knob, set through the skeleton before load. */
const volatile bool sl_debug = false;

#define sl_dbg(fmt, ...)                                      \
	do {                                                  \
		if (sl_debug)                                 \
			bpf_printk("sluice: " fmt, ##__VA_ARGS__); \
	} while (0)

/* n: the datagrams the packet stands for (a UDP GRO train in TC). */
static __always_inline void sl_count(__u32 slot, __u32 reason, __u32 action, bool stale,
				     __u32 n)
{
	struct sl_stats *st = bpf_map_lookup_elem(&sl_stats, &slot);
	__u64 *f;

	if (!st)
		return;
	f = (__u64 *)st;
	/* Per CPU: plain increments. The bounds are for the verifier. */
	if (reason < SL_R__COUNT)
		f[reason] += n;
	if (action < SL_R__COUNT)
		f[action] += n;
	if (stale)
		st->stale += n;
}

/*
 * Let the packet go on. In TC that is TC_ACT_UNSPEC, not TC_ACT_OK: OK
 * would end the filter chain, and any filter the operator has after
 * sluice's would never see the traffic sluice does not judge.
 */
static __always_inline int sl_ret_pass(bool tc)
{
	return tc ? TC_ACT_UNSPEC : XDP_PASS;
}

static __always_inline int sl_ret_drop(bool tc)
{
	return tc ? TC_ACT_SHOT : XDP_DROP;
}

/* Ones' complement sum of n 16-bit words, folded (RFC 1071). */
static __always_inline __u32 sl_csum_add(__u32 sum, const void *buf, int nwords)
{
	const __u16 *w = buf;
	int i;

#pragma unroll
	for (i = 0; i < nwords; i++)
		sum += w[i];
	return sum;
}

static __always_inline __u16 sl_csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/*
 * TC only: how the skb's TCP checksum is to be finished. A SYN that came
 * from a local stack or a VM over veth/virtio is CHECKSUM_PARTIAL: the
 * device (or the stack, in software, if the device cannot) sums the
 * segment from csum_start into csum_start + csum_offset on the way out,
 * starting from what the field holds. The RST leaves as the same skb, so
 * its field must then hold the pseudo-header's sum alone, not the whole
 * checksum, which would be summed again and arrive corrupt. The state is
 * read from the kernel's sk_buff (the __sk_buff view has no ip_summed);
 * it cannot be changed from here.
 */
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

struct sk_buff___sl {
	unsigned char *head;
	unsigned char *data;
	__u8 ip_summed:2;
	union {
		__u32 csum;
		struct {
			__u16 csum_start;
			__u16 csum_offset;
		};
	};
} __attribute__((preserve_access_index));

#define SL_CHECKSUM_PARTIAL 3	/* include/linux/skbuff.h */

enum sl_csum_mode {
	SL_CSUM_FULL = 0,	/* write the whole checksum */
	SL_CSUM_PSEUDO,		/* CHECKSUM_PARTIAL at the RST's TCP header */
	SL_CSUM_MOVED,		/* CHECKSUM_PARTIAL elsewhere: the SYN's TCP header
				 * sat after IP options or IPv6 extension headers
				 * the RST does not keep; the RST cannot be right */
};

static __always_inline enum sl_csum_mode sl_tc_csum_mode(void *ctx, __u32 tcp_off)
{
	struct sk_buff___sl *k = bpf_cast_to_kern_ctx(ctx);

	if (BPF_CORE_READ_BITFIELD(k, ip_summed) != SL_CHECKSUM_PARTIAL)
		return SL_CSUM_FULL;
	if (k->csum_start == (__u64)(k->data - k->head) + tcp_off &&
	    k->csum_offset == offsetof(struct tcphdr, check))
		return SL_CSUM_PSEUDO;
	return SL_CSUM_MOVED;
}

/* The TCP checksum field for a pseudo-header sum and a header. */
static __always_inline __u16 sl_tcp_check(__u32 pseudo, const struct tcphdr *th,
					  enum sl_csum_mode mode)
{
	if (mode == SL_CSUM_PSEUDO)
		return (__u16)~sl_csum_fold(pseudo);	/* folded, not complemented */
	return sl_csum_fold(sl_csum_add(pseudo, th, sizeof(*th) / 2));
}

/*
 * Turn the SYN into a RST|ACK in place: swap MACs, addresses and ports,
 * seq 0, ack = SYN seq + 1 (RFC 9293 3.10.7.1, the reply to a segment
 * without ACK; seq + 1 is acceptable to the client even when its SYN
 * carried data, as the ack only has to fall in ISS+1..SND.NXT), a bare
 * 20-byte TCP header after a bare IP header (options and IPv6 extension
 * headers are not echoed), fresh checksums, and the packet cut to that
 * length. VLAN tags stay, so the reply leaves on the VLAN it came from.
 * Everything is rebuilt from the scalars in p; only the VLAN tags are
 * walked again, to find where the IP header starts. In TC the checksum
 * follows the skb's state (sl_tc_csum_mode). Returns 0, or -1 if the
 * packet could not be rewritten (the caller then drops it).
 */
static __always_inline int sl_build_rst(void *ctx, struct sl_pkt *p, bool tc)
{
	enum sl_csum_mode mode = SL_CSUM_FULL;
	struct tcphdr th = {};
	struct sl_hdrs h;
	__u8 mac[ETH_ALEN];
	struct ethhdr *eth;
	__u32 iphl, new_len, sum;
	void *data, *data_end;
	__be16 proto;
	int l3_off;

	sl_hdrs_init(&h, ctx, tc);
	data = h.data;
	data_end = h.data_end;
	eth = data;
	l3_off = sl_skip_l2(data, data_end, &proto);
	if (l3_off < 0 || (void *)(eth + 1) > data_end)
		return -1;
	if (tc) {
		mode = sl_tc_csum_mode(ctx, l3_off + (p->family == 4 ? sizeof(struct iphdr) :
								      sizeof(struct ipv6hdr)));
		if (mode == SL_CSUM_MOVED)
			return -1;
	}

	th.source = p->dport;
	th.dest = p->sport;
	th.ack_seq = bpf_htonl(bpf_ntohl(p->seq) + 1);
	th.doff = 5;
	th.rst = 1;
	th.ack = 1;

	if (p->family == 4) {
		struct iphdr nip = {};

		nip.version = 4;
		nip.ihl = 5;
		nip.tot_len = bpf_htons(sizeof(nip) + sizeof(th));
		nip.frag_off = bpf_htons(0x4000);	/* DF */
		nip.ttl = SL_RST_TTL;
		nip.protocol = IPPROTO_TCP;
		nip.saddr = p->daddr[0];
		nip.daddr = p->saddr[0];
		nip.check = sl_csum_fold(sl_csum_add(0, &nip, sizeof(nip) / 2));

		sum = sl_csum_add(0, &nip.saddr, 4);
		sum += bpf_htons(IPPROTO_TCP) + bpf_htons(sizeof(th));
		th.check = sl_tcp_check(sum, &th, mode);
		iphl = sizeof(nip);

		/* The new headers fit where the old ones were, which were at
		 * least as long. */
		if (data + l3_off + sizeof(nip) + sizeof(th) > data_end)
			return -1;
		__builtin_memcpy(data + l3_off, &nip, sizeof(nip));
		__builtin_memcpy(data + l3_off + sizeof(nip), &th, sizeof(th));
	} else {
		struct ipv6hdr nip6 = {};

		nip6.version = 6;
		nip6.payload_len = bpf_htons(sizeof(th));
		nip6.nexthdr = IPPROTO_TCP;
		nip6.hop_limit = SL_RST_TTL;
		__builtin_memcpy(&nip6.saddr, p->daddr, 16);
		__builtin_memcpy(&nip6.daddr, p->saddr, 16);

		sum = sl_csum_add(0, &nip6.saddr, 16);
		sum += bpf_htons(IPPROTO_TCP) + bpf_htons(sizeof(th));
		th.check = sl_tcp_check(sum, &th, mode);
		iphl = sizeof(nip6);

		if (data + l3_off + sizeof(nip6) + sizeof(th) > data_end)
			return -1;
		__builtin_memcpy(data + l3_off, &nip6, sizeof(nip6));
		__builtin_memcpy(data + l3_off + sizeof(nip6), &th, sizeof(th));
	}

	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);

	/* Cut the options, payload and anything after them. */
	new_len = l3_off + iphl + sizeof(th);
	if (tc)
		return bpf_skb_change_tail(ctx, new_len, 0) ? -1 : 0;
	return bpf_xdp_adjust_tail(ctx, (int)new_len - (int)bpf_xdp_get_buff_len(ctx)) ?
		       -1 : 0;
}

/*
 * Count and act. slot 0 with a reason of parse_error/fragment counts an
 * unattributed pass; SL_NO_COUNT passes silently. For a refusal, svc says
 * what to do.
 */
static __always_inline int sl_verdict(void *ctx, struct sl_pkt *p, bool tc, __u32 slot,
				      const struct sl_service *svc,
				      struct sl_judgement j)
{
	__u32 action;

	if (j.reason >= SL_NO_COUNT)
		return sl_ret_pass(tc);
	if (j.reason == SL_R_unjudgeable && !svc) {
		/* No service to ask: fail closed. */
		sl_count(slot, j.reason, SL_R_dropped, false, p->segs);
		return sl_ret_drop(tc);
	}
	if (j.reason == SL_R_admitted || j.reason == SL_R_allowed ||
	    j.reason == SL_R_parse_error || j.reason == SL_R_fragment || !svc) {
		sl_count(slot, j.reason, SL_NO_COUNT, j.stale, p->segs);
		return sl_ret_pass(tc);
	}

	/* Refused: denied, shed_level, svc_bucket, src_bucket or unjudgeable. */
	if (svc->flags & SL_SVC_MONITOR) {
		sl_count(slot, j.reason, SL_R_would_drop, j.stale, p->segs);
		return sl_ret_pass(tc);
	}
	/* Not known to be a SYN, nor whole: neither marked nor answered. */
	action = j.reason == SL_R_unjudgeable ? SL_ACT_DROP : svc->action;
	if (action == SL_ACT_MARK) {
		if (!tc) {
			/* XDP has no mark to set; the CLI refuses this pairing. */
			sl_count(slot, j.reason, SL_R_would_drop, j.stale, p->segs);
			return XDP_PASS;
		}
		((struct __sk_buff *)ctx)->mark = svc->mark;
		sl_count(slot, j.reason, SL_R_marked, j.stale, p->segs);
		return sl_ret_pass(tc);
	}
	if (action == SL_ACT_REJECT && p->l4proto == IPPROTO_TCP) {
		if (sl_build_rst(ctx, p, tc) == 0) {
			sl_count(slot, j.reason, SL_R_rejected, j.stale, p->segs);
			sl_dbg("rst to port %u", bpf_ntohs(p->dport));
			if (tc)
				return bpf_redirect(((struct __sk_buff *)ctx)->ifindex, 0);
			return XDP_TX;
		}
	}
	/* SL_ACT_DROP, reject on UDP (no RST there), a failed rewrite, or an
	 * action this program does not know. */
	sl_count(slot, j.reason, SL_R_dropped, j.stale, p->segs);
	return sl_ret_drop(tc);
}

#endif /* SLUICE_VERDICT_BPF_H */
