/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet parsing shared by the XDP and TC entries: Ethernet with up to two
 * VLAN tags, IPv4 (with options), IPv6 (bounded walk of extension headers),
 * TCP and UDP. It finds out whether a packet is a candidate for judgement
 * (a TCP SYN without ACK, or any UDP datagram) and stops as early as it can
 * for everything else.
 *
 * API:
 *   struct sl_pkt               the context wrapper: packet bounds + results
 *   sl_pkt_init_xdp/_tc()       fill the bounds from an XDP or TC context
 *   sl_parse(p) -> enum sl_parse_res
 */
#ifndef SLUICE_PARSE_BPF_H
#define SLUICE_PARSE_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Not in the uapi headers: the 4 bytes after an 802.1Q/802.1ad ethertype. */
struct sl_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

/* IPv6 fragment header (RFC 8200 4.5); the uapi has no struct for it. */
struct sl_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;	/* offset << 3 | res | M */
	__be32 id;
};

#define SL_VLAN_MAX      2	/* 802.1Q and QinQ (802.1ad outer) */
/*
 * Extension headers walked before giving up. Hop-by-hop, destination
 * options, routing, fragment, destination options is the longest order
 * RFC 8200 recommends; one more leaves room for a repeated header. The
 * walk is unrolled: the verifier needs a constant bound, and each step can
 * move the cursor by up to 2 KiB, which it tracks as a variable offset.
 */
#define SL_IPV6_EXT_MAX  6

#define SL_IP_MF         0x2000
#define SL_IP_OFFMASK    0x1fff

enum sl_parse_res {
	SL_P_PASS = 0,		/* not ours to judge: pass, count nothing */
	SL_P_JUDGE,		/* a TCP SYN (no ACK) or a UDP datagram */
	SL_P_ERROR,		/* truncated or malformed: pass, count parse_error */
	SL_P_FRAG,		/* non-first IP fragment: pass, count fragment */
};

struct sl_pkt {
	void *data;
	void *data_end;
	void *ctx;		/* struct xdp_md * or struct __sk_buff * */
	/* filled by sl_parse() for SL_P_JUDGE */
	struct iphdr *ip4;	/* exactly one of ip4/ip6 is set */
	struct ipv6hdr *ip6;
	struct tcphdr *tcp;	/* set for TCP */
	__u32 l3_off;		/* bytes from data to the IP header */
	__u8 l4proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	__be16 dport;
};

static __always_inline void sl_pkt_init_xdp(struct sl_pkt *p, struct xdp_md *ctx)
{
	p->data = (void *)(long)ctx->data;
	p->data_end = (void *)(long)ctx->data_end;
	p->ctx = ctx;
}

static __always_inline void sl_pkt_init_tc(struct sl_pkt *p, struct __sk_buff *skb)
{
	p->data = (void *)(long)skb->data;
	p->data_end = (void *)(long)skb->data_end;
	p->ctx = skb;
}

static __always_inline int sl_parse_l4(struct sl_pkt *p, void *l4, __u8 proto)
{
	void *data_end = p->data_end;

	if (proto == IPPROTO_TCP) {
		struct tcphdr *tcp = l4;

		if ((void *)(tcp + 1) > data_end)
			return SL_P_ERROR;
		/* The cheap exit: everything but a SYN without ACK leaves
		 * here, before any map lookup. */
		if (!tcp->syn || tcp->ack)
			return SL_P_PASS;
		if (tcp->doff < 5)
			return SL_P_ERROR;
		p->tcp = tcp;
		p->l4proto = IPPROTO_TCP;
		p->dport = tcp->dest;
		return SL_P_JUDGE;
	}
	if (proto == IPPROTO_UDP) {
		struct udphdr *udp = l4;

		if ((void *)(udp + 1) > data_end)
			return SL_P_ERROR;
		p->l4proto = IPPROTO_UDP;
		p->dport = udp->dest;
		return SL_P_JUDGE;
	}
	return SL_P_PASS;
}

static __always_inline int sl_parse_ipv4(struct sl_pkt *p, struct iphdr *ip)
{
	void *data_end = p->data_end;
	__u32 hlen;

	if ((void *)(ip + 1) > data_end)
		return SL_P_ERROR;
	if (ip->version != 4 || ip->ihl < 5)
		return SL_P_ERROR;
	/* ihl is 4 bits, so the verifier knows hlen is in [20, 60]. */
	hlen = ip->ihl * 4;
	if ((void *)ip + hlen > data_end)
		return SL_P_ERROR;
	if (ip->frag_off & bpf_htons(SL_IP_OFFMASK))
		return SL_P_FRAG;
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return SL_P_PASS;
	p->ip4 = ip;
	return sl_parse_l4(p, (void *)ip + hlen, ip->protocol);
}

static __always_inline int sl_parse_ipv6(struct sl_pkt *p, struct ipv6hdr *ip6)
{
	void *data_end = p->data_end;
	void *cur;
	__u8 nexthdr;
	int i;

	if ((void *)(ip6 + 1) > data_end)
		return SL_P_ERROR;
	if (ip6->version != 6)
		return SL_P_ERROR;
	nexthdr = ip6->nexthdr;
	cur = ip6 + 1;

#pragma unroll
	for (i = 0; i < SL_IPV6_EXT_MAX; i++) {
		if (nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
		    nexthdr == IPPROTO_DSTOPTS) {
			struct ipv6_opt_hdr *oh = cur;

			/* Options headers are at least 8 bytes. */
			if (cur + 8 > data_end)
				return SL_P_ERROR;
			nexthdr = oh->nexthdr;
			cur += (oh->hdrlen + 1) * 8;
		} else if (nexthdr == IPPROTO_FRAGMENT) {
			struct sl_frag_hdr *fh = cur;

			if ((void *)(fh + 1) > data_end)
				return SL_P_ERROR;
			if (fh->frag_off & bpf_htons(0xfff8))
				return SL_P_FRAG;
			nexthdr = fh->nexthdr;
			cur = fh + 1;
		} else {
			break;
		}
	}
	if (nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	    nexthdr == IPPROTO_DSTOPTS || nexthdr == IPPROTO_FRAGMENT)
		return SL_P_ERROR;	/* chain longer than SL_IPV6_EXT_MAX */
	if (nexthdr != IPPROTO_TCP && nexthdr != IPPROTO_UDP)
		return SL_P_PASS;
	p->ip6 = ip6;
	return sl_parse_l4(p, cur, nexthdr);
}

static __always_inline int sl_parse(struct sl_pkt *p)
{
	void *data = p->data;
	void *data_end = p->data_end;
	struct ethhdr *eth = data;
	void *cur;
	__be16 proto;
	__u32 nvlan = 0;
	int i;

	p->ip4 = NULL;
	p->ip6 = NULL;
	p->tcp = NULL;

	if ((void *)(eth + 1) > data_end)
		return SL_P_ERROR;
	proto = eth->h_proto;
	cur = eth + 1;

#pragma unroll
	for (i = 0; i < SL_VLAN_MAX; i++) {
		struct sl_vlan_hdr *vh = cur;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vh + 1) > data_end)
			return SL_P_ERROR;
		proto = vh->encap_proto;
		cur = vh + 1;
		nvlan++;
	}
	/* Counted, not computed as cur - data: the verifier bounds a small
	 * scalar, where the difference of two packet pointers would be an
	 * unknown 64-bit value when the RST writer offsets data with it. */
	p->l3_off = sizeof(*eth) + nvlan * sizeof(struct sl_vlan_hdr);

	if (proto == bpf_htons(ETH_P_IP))
		return sl_parse_ipv4(p, cur);
	if (proto == bpf_htons(ETH_P_IPV6))
		return sl_parse_ipv6(p, cur);
	/* A third VLAN tag: more than we parse, and it may hide a SYN. */
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
		return SL_P_ERROR;
	return SL_P_PASS;
}

#endif /* SLUICE_PARSE_BPF_H */
