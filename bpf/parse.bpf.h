/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet parsing shared by the XDP and TC entries: Ethernet with up to two
 * VLAN tags, IPv4 (with options), IPv6 (bounded walk of extension headers),
 * TCP and UDP. It finds out whether a packet is a candidate for judgement
 * and stops as early as it can for everything else.
 *
 * A candidate is what Linux would take as a new connection: a TCP SYN
 * without ACK, RST or FIN (a listener discards SYN+RST and SYN+FIN, RFC
 * 9293 3.10.7.2), or any UDP datagram, to a protected port. A TCP SYN the
 * kernel never answers is not a candidate either (it takes no token, and
 * is never answered with a RST): one to a broadcast or multicast MAC or IP
 * address, or from a martian source (sl_martian4/6 say which, after
 * ip_route_input and ipv6_rcv). Nor is a datagram from an IPv6 multicast
 * source, which Linux drops (sl_udp_undelivered).
 *
 * Fail closed: where Linux would deliver what the parser cannot read to the
 * end, the answer is SL_P_UNJUDGEABLE, refused: an IPv6 extension chain
 * longer than the walk, and a first fragment (IPv4 MF with offset 0, or an
 * IPv6 fragment header with offset 0 and M) whose TCP or UDP header ends
 * before the fragment does, measured by the IP length fields, not the
 * frame (Ethernet pads a short frame, and the padding is not the header).
 * Non-first fragments pass: Linux drops overlapping fragments (since 4.19;
 * RFC 5722), so they cannot rewrite a header that was judged.
 *
 * API:
 *   struct sl_pkt               what was parsed (the context travels beside it)
 *   struct sl_hdrs              packet bounds
 *   sl_hdrs_init(h, ctx, tc)    bounds from an XDP or TC context
 *   sl_skip_l2(data, end, &proto) -> offset of the IP header, or -1
 *   sl_first_look(data, data_end) -> SL_LOOK_* (and a plain candidate's slot)
 *   sl_parse(h, p) -> enum sl_parse_res
 *   sl_parse_plain(h, p, look) -> enum sl_parse_res, for a plain candidate
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
#include <sluice/abi.h>
#include "maps.bpf.h"

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
	SL_P_JUDGE,		/* a TCP SYN (no ACK) or a UDP datagram to a
				 * protected port: p->slot is its service */
	SL_P_ERROR,		/* truncated or malformed: pass, count parse_error */
	SL_P_FRAG,		/* non-first IP fragment: pass, count fragment */
	SL_P_UNJUDGEABLE,	/* headers cut short where Linux may still
				 * deliver a new connection: refuse, count
				 * unjudgeable; p->slot is the service if the
				 * port was read, else 0 (see the top) */
};

#define SL_TH_FLAGS_OFF 13	/* the byte of TCP flags in the header */
#define SL_TH_FIN 0x01
#define SL_TH_SYN 0x02
#define SL_TH_RST 0x04
#define SL_TH_ACK 0x10

/*
 * What the limiters and the verdict need, as scalars only. Keeping no
 * packet pointer past the parser is what lets the verifier prune: the
 * hundreds of paths through the VLAN and IPv6 walks (each with its own
 * pointer offsets and ranges) reach the classifier in equivalent states,
 * and the rest of the program is verified a few times instead of once per
 * parse path (600k verified instructions when the pointers were kept).
 * The RST writer needs only these fields and the VLAN count. No pointer
 * at all, not even the context: TC's parser is a global function
 * (sluice.bpf.c), after which the verifier knows this struct's bytes only
 * as scalars.
 */
struct sl_pkt {
	__u8 family;		/* 4 or 6 */
	__u8 l4proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	__be16 dport;
	__be16 sport;
	__u16 segs;		/* datagrams it stands for: 1, or a UDP GRO train's
				 * count in TC (sl_process) */
	__u32 slot;		/* service slot, from sl_ports */
	__be32 seq;		/* TCP */
	__be32 saddr[4];	/* IPv4 in [0] */
	__be32 daddr[4];
};

/* The packet bounds, from either context. */
struct sl_hdrs {
	void *data;
	void *data_end;
};

static __always_inline void sl_hdrs_init(struct sl_hdrs *h, void *ctx, bool tc)
{
	if (tc) {
		struct __sk_buff *skb = ctx;

		h->data = (void *)(long)skb->data;
		h->data_end = (void *)(long)skb->data_end;
	} else {
		struct xdp_md *xdp = ctx;

		h->data = (void *)(long)xdp->data;
		h->data_end = (void *)(long)xdp->data_end;
	}
}

/*
 * Skips the Ethernet header and up to SL_VLAN_MAX tags. Returns the offset
 * of what follows (14, 18 or 22) and its ethertype in *proto, or -1 if the
 * packet ends first. The offset is counted, not computed as a difference
 * of packet pointers, so that the verifier knows it as a small constant.
 */
static __always_inline int sl_skip_l2(void *data, void *data_end, __be16 *proto)
{
	struct ethhdr *eth = data;
	struct sl_vlan_hdr *vh;
	__be16 p;
	int i, off = sizeof(*eth);

	if ((void *)(eth + 1) > data_end)
		return -1;
	/* struct ethhdr is packed, so clang reads h_proto a byte at a time;
	 * it is 2-aligned in every frame, and one 16-bit load will do. */
	p = *(__be16 *)((void *)eth + offsetof(struct ethhdr, h_proto));
#pragma unroll
	for (i = 0; i < SL_VLAN_MAX; i++) {
		if (p != bpf_htons(ETH_P_8021Q) && p != bpf_htons(ETH_P_8021AD))
			break;
		vh = data + off;
		if ((void *)(vh + 1) > data_end)
			return -1;
		p = vh->encap_proto;
		off += sizeof(*vh);
	}
	*proto = p;
	return off;
}

/*
 * The classifier, run by the parser as soon as the port is known so that
 * nothing more is read or copied for traffic to an unprotected port: the
 * service slot of (proto, dport), or 0. One load from sl_port_slots
 * (maps.bpf.h), indexed by the port as the packet carries it.
 */
static __always_inline __u32 sl_port_slot(enum sl_proto proto, __be16 dport)
{
	return sl_port_slots[proto * 65536u + dport];
}

/*
 * Sources and destinations of a TCP SYN that the kernel never answers:
 * ip_route_input() drops martian sources (0/8, 127/8 unless route_localnet,
 * multicast, the limited broadcast), and TCP neither accepts nor resets a
 * segment to a multicast or broadcast address (tcp_v4_conn_request,
 * tcp_v4_send_reset). A subnet's directed broadcast needs the routing
 * table and is not seen here; it normally comes with a broadcast MAC,
 * which sl_parse() checks.
 */
static __always_inline bool sl_martian4(__be32 saddr, __be32 daddr)
{
	__u32 s = bpf_ntohl(saddr), d = bpf_ntohl(daddr);

	if ((s >> 24) == 0 || (s >> 24) == 127 || (s >> 28) == 0xe || s == 0xffffffffu)
		return true;
	return (d >> 24) == 0 || (d >> 24) == 127 || (d >> 28) == 0xe || d == 0xffffffffu;
}

/*
 * The same for IPv6 (ipv6_rcv, tcp_v6_conn_request): a multicast,
 * unspecified, loopback or IPv4-mapped source, and a multicast,
 * unspecified or loopback destination.
 */
static __always_inline bool sl_martian6(const __be32 *s, const __be32 *d)
{
	if ((bpf_ntohl(s[0]) >> 24) == 0xff || (bpf_ntohl(d[0]) >> 24) == 0xff)
		return true;
	if (!s[0] && !s[1] &&
	    ((!s[2] && (!s[3] || s[3] == bpf_htonl(1))) || s[2] == bpf_htonl(0xffff)))
		return true;
	return !d[0] && !d[1] && !d[2] && (!d[3] || d[3] == bpf_htonl(1));
}

/*
 * A datagram from an IPv6 multicast source: Linux drops every such
 * packet (ip6_rcv_core, RFC 4291 2.7), so it is no more a candidate than
 * a SYN the kernel never answers (a SYN from there is one of those). The
 * per-source tables count on it: an IPv4 source's key lies in ff00::/8
 * (abi.h, struct sl_src_bkey).
 */
static __always_inline bool sl_udp_undelivered(const struct sl_pkt *p)
{
	return p->family == 6 && (p->saddr[0] & bpf_htonl(0xff000000)) == bpf_htonl(0xff000000);
}

/* Refused, in slot 0: the port, and so the service, cannot be read. */
static __always_inline int sl_unjudgeable_anon(struct sl_pkt *p)
{
	p->slot = 0;
	return SL_P_UNJUDGEABLE;
}

/* A judged SYN's or datagram's fields, p->slot already set. */
static __always_inline void sl_take_syn(struct sl_pkt *p, const struct tcphdr *tcp)
{
	p->l4proto = IPPROTO_TCP;
	p->dport = tcp->dest;
	p->sport = tcp->source;
	p->seq = tcp->seq;
}

static __always_inline void sl_take_datagram(struct sl_pkt *p, const struct udphdr *udp)
{
	p->l4proto = IPPROTO_UDP;
	p->dport = udp->dest;
	p->sport = udp->source;
}

/*
 * A SYN the kernel would neither accept nor answer (sl_martian4/6): not a
 * new connection. A group MAC is a broadcast or multicast frame, and TCP
 * drops what is not PACKET_HOST (tcp_v4_rcv). Asked of judged SYNs only,
 * so the rest of the traffic pays nothing.
 */
static __always_inline bool sl_syn_unanswered(const struct ethhdr *eth, const struct sl_pkt *p)
{
	return (eth->h_dest[0] & 1) ||
	       (p->family == 4 ? sl_martian4(p->saddr[0], p->daddr[0]) :
				 sl_martian6(p->saddr, p->daddr));
}

/*
 * TCP or UDP header at l4. l4len is what the IP length fields leave for
 * it, checked only in a first fragment (first_frag): a fragment whose
 * header ends early gets the rest of it from the next fragment, which is
 * never judged. Elsewhere a header cut short is a parse error, and Linux
 * drops it too.
 */
static __always_inline int sl_parse_l4(struct sl_hdrs *h, struct sl_pkt *p, void *l4,
				       __u8 proto, int l4len, bool first_frag)
{
	void *data_end = h->data_end;
	enum sl_proto sp = proto == IPPROTO_TCP ? SL_PROTO_TCP : SL_PROTO_UDP;

	if (first_frag &&
	    l4len < (int)(proto == IPPROTO_TCP ? sizeof(struct tcphdr) : sizeof(struct udphdr))) {
		struct udphdr *ports = l4;	/* both headers start with the ports */

		if (l4len < 4)
			return sl_unjudgeable_anon(p);	/* not even the ports */
		if ((void *)ports + 4 > data_end)
			return SL_P_ERROR;
		p->slot = sl_port_slot(sp, ports->dest);
		if (!p->slot)
			return SL_P_PASS;
		p->l4proto = proto;
		p->dport = ports->dest;
		p->sport = ports->source;
		return SL_P_UNJUDGEABLE;
	}
	if (proto == IPPROTO_TCP) {
		struct tcphdr *tcp = l4;
		__u8 flags;

		if ((void *)(tcp + 1) > data_end)
			return SL_P_ERROR;
		/* The cheap exit: everything but a SYN without ACK, RST or FIN
		 * leaves here, before any map lookup. */
		flags = ((__u8 *)tcp)[SL_TH_FLAGS_OFF];
		if ((flags & (SL_TH_SYN | SL_TH_ACK | SL_TH_RST | SL_TH_FIN)) != SL_TH_SYN)
			return SL_P_PASS;
		if (tcp->doff < 5)
			return SL_P_ERROR;
		p->slot = sl_port_slot(SL_PROTO_TCP, tcp->dest);
		if (!p->slot)
			return SL_P_PASS;
		sl_take_syn(p, tcp);
		return SL_P_JUDGE;
	}
	if (proto == IPPROTO_UDP) {
		struct udphdr *udp = l4;

		if ((void *)(udp + 1) > data_end)
			return SL_P_ERROR;
		p->slot = sl_port_slot(SL_PROTO_UDP, udp->dest);
		if (!p->slot)
			return SL_P_PASS;
		sl_take_datagram(p, udp);
		return SL_P_JUDGE;
	}
	return SL_P_PASS;
}

static __always_inline int sl_parse_ipv4(struct sl_hdrs *h, struct sl_pkt *p,
					 struct iphdr *ip)
{
	void *data_end = h->data_end;
	bool first_frag;
	__u32 hlen;
	int res;

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
	first_frag = ip->frag_off & bpf_htons(SL_IP_MF);
	res = sl_parse_l4(h, p, (void *)ip + hlen, ip->protocol,
			  first_frag ? (int)bpf_ntohs(ip->tot_len) - (int)hlen : 0, first_frag);
	if (res == SL_P_JUDGE || res == SL_P_UNJUDGEABLE) {
		/* only then: the ACK path copies nothing */
		p->family = 4;
		p->saddr[0] = ip->saddr;
		p->daddr[0] = ip->daddr;
	}
	return res;
}

static __always_inline bool sl_ipv6_ext(__u8 nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	       nexthdr == IPPROTO_DSTOPTS || nexthdr == IPPROTO_FRAGMENT;
}

static __always_inline int sl_parse_ipv6(struct sl_hdrs *h, struct sl_pkt *p,
					 struct ipv6hdr *ip6)
{
	void *data_end = h->data_end;
	bool first_frag = false;
	void *cur;
	__u8 nexthdr;
	int i, res;

	if ((void *)(ip6 + 1) > data_end)
		return SL_P_ERROR;
	if (ip6->version != 6)
		return SL_P_ERROR;
	nexthdr = ip6->nexthdr;
	cur = ip6 + 1;

	/* A first fragment cut inside the chain (or past the walk) may still
	 * carry a SYN once reassembled: refused, like a chain too long. */
#pragma unroll
	for (i = 0; i < SL_IPV6_EXT_MAX; i++) {
		if (nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
		    nexthdr == IPPROTO_DSTOPTS) {
			struct ipv6_opt_hdr *oh = cur;

			/* Options headers are at least 8 bytes. */
			if (cur + 8 > data_end)
				return first_frag ? sl_unjudgeable_anon(p) : SL_P_ERROR;
			nexthdr = oh->nexthdr;
			cur += (oh->hdrlen + 1) * 8;
		} else if (nexthdr == IPPROTO_FRAGMENT) {
			struct sl_frag_hdr *fh = cur;

			if ((void *)(fh + 1) > data_end)
				return first_frag ? sl_unjudgeable_anon(p) : SL_P_ERROR;
			if (fh->frag_off & bpf_htons(0xfff8))
				return SL_P_FRAG;
			first_frag = fh->frag_off & bpf_htons(1);	/* M */
			nexthdr = fh->nexthdr;
			cur = fh + 1;
		} else {
			break;
		}
	}
	/* A chain longer than SL_IPV6_EXT_MAX: Linux walks it all and
	 * delivers what it ends in; the port is out of reach here. */
	if (sl_ipv6_ext(nexthdr))
		return sl_unjudgeable_anon(p);
	if (nexthdr != IPPROTO_TCP && nexthdr != IPPROTO_UDP)
		return SL_P_PASS;
	res = sl_parse_l4(h, p, cur, nexthdr,
			  first_frag ? (int)bpf_ntohs(ip6->payload_len) -
					       (int)(cur - (void *)(ip6 + 1)) : 0,
			  first_frag);
	if (res == SL_P_JUDGE || res == SL_P_UNJUDGEABLE) {
		p->family = 6;
		__builtin_memcpy(p->saddr, &ip6->saddr, 16);
		__builtin_memcpy(p->daddr, &ip6->daddr, 16);
	}
	return res;
}

/* What the first look found: a kind, and for a plain candidate its slot. */
#define SL_LOOK_PASS       0	/* surely not a candidate */
#define SL_LOOK_CLOSER     1	/* sl_parse() decides */
#define SL_LOOK_PLAIN4     2	/* a candidate in a plain IPv4 frame */
#define SL_LOOK_PLAIN6     3	/* a candidate in a plain IPv6 frame */
#define SL_LOOK_KIND       3
#define SL_LOOK_SLOT_SHIFT 8

/*
 * The first look, on the frames most traffic is made of: Ethernet without
 * a tag, then IPv4 without options and not a fragment, or IPv6 without
 * extension headers, then TCP or UDP, all inside [data, data_end).
 * SL_LOOK_PASS if such a frame is surely not a candidate: TCP other than a
 * SYN without ACK, RST or FIN, a SYN or a datagram to an unprotected port,
 * or neither IP nor a VLAN tag. sl_parse() would pass it too, without
 * counting it. A SYN or a datagram to a protected port is
 * SL_LOOK_PLAIN4/6 with its slot, for sl_parse_plain() to take without
 * reading again what was read here. SL_LOOK_CLOSER is every other frame,
 * for sl_parse(), which alone decides. The entries run this first, so what
 * most packets pay is these few loads and compares, not the whole
 * program's prologue and stack; it calls nothing, so the entries keep the
 * context in an argument register and save none (the JIT pushes a
 * callee-saved register only if the program uses it).
 *
 * Fewest instructions first, for the packet that is let go here (each
 * measured with bench_xdp):
 *  - one bounds check per family, as far as its TCP header without
 *    options (SL_LOOK_LEN4/6); the TCP header's length, which only a
 *    candidate needs, is left to sl_parse_plain(). A shorter frame (on a
 *    veth, where nothing pads a frame to Ethernet's 60 bytes) is a UDP
 *    datagram of a few bytes, looked at by its own bounds in a branch the
 *    longer frames never take (sl_look_short), or anything else short
 *    (ARP, a cut header) for sl_parse();
 *  - the IPv4 tests as two 32-bit words, each masked and compared once:
 *    bytes 12-15 (ethertype, version and header length) and 20-23
 *    (fragment bits, protocol), TCP first;
 *  - the TCP flags before the port: most segments are not SYNs (an
 *    established connection's, to a protected port or not) and leave
 *    without reading sl_ports. (The port first saved ~0.5 ns on a SYN to
 *    an unprotected port and cost ~1 ns on every ACK to a protected one.)
 * The 32-bit loads are at 2 mod 4 from an IP-aligned frame: fine where the
 * kernel has efficient unaligned access (x86, arm64); elsewhere the
 * verifier would refuse them.
 */
#define SL_LOOK_LEN4 (sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct tcphdr))
#define SL_LOOK_LEN6 (sizeof(struct ethhdr) + sizeof(struct ipv6hdr) + sizeof(struct tcphdr))
#define SL_LOOK_L4_4 (sizeof(struct ethhdr) + sizeof(struct iphdr))
#define SL_LOOK_L4_6 (sizeof(struct ethhdr) + sizeof(struct ipv6hdr))

/* The 32-bit word a load of the bytes a, b, c, d (in that order) gives. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SL_BYTES4(a, b, c, d) ((__u32)(a) | (__u32)(b) << 8 | (__u32)(c) << 16 | (__u32)(d) << 24)
#else
#define SL_BYTES4(a, b, c, d) ((__u32)(a) << 24 | (__u32)(b) << 16 | (__u32)(c) << 8 | (__u32)(d))
#endif

/*
 * The first look's transport part, at a constant offset l4 from data (the
 * caller checked the bounds: of a UDP header, or as far as the TCP flags
 * for TCP): inlined once per family, so that every load is at a constant
 * offset from data, with no pointer of its own to the header. TCP and UDP
 * both carry the destination port at byte 2.
 */
static __always_inline __u32 sl_look_l4(void *data, __u32 l4, __u8 proto, __u32 plain)
{
	__be16 dport = *(__be16 *)(data + l4 + offsetof(struct tcphdr, dest));
	__u32 slot;
	__u8 flags;

	if (proto == IPPROTO_TCP) {
		flags = ((__u8 *)data)[l4 + SL_TH_FLAGS_OFF];
		if ((flags & (SL_TH_SYN | SL_TH_ACK | SL_TH_RST | SL_TH_FIN)) != SL_TH_SYN)
			return SL_LOOK_PASS;
		slot = sl_port_slot(SL_PROTO_TCP, dport);
		if (!slot)
			return SL_LOOK_PASS;
	} else if (proto == IPPROTO_UDP) {
		slot = sl_port_slot(SL_PROTO_UDP, dport);
		if (!slot)
			return SL_LOOK_PASS;
	} else {
		/* IPv6: extension headers, for the walk to decide. */
		return plain == SL_LOOK_PLAIN4 ? SL_LOOK_PASS : SL_LOOK_CLOSER;
	}
	return plain | slot << SL_LOOK_SLOT_SHIFT;
}

/* IPv4, version 4 and IHL 5 (bytes 12-15 of the frame, w) */
#define SL_LOOK_IS_IP4(w) \
	(((w) & SL_BYTES4(0xff, 0xff, 0xff, 0)) == SL_BYTES4(0x08, 0x00, 0x45, 0))
/* The same for IPv6, version 6 */
#define SL_LOOK_IS_IP6(w) \
	(((w) & SL_BYTES4(0xff, 0xff, 0xf0, 0)) == SL_BYTES4(0x86, 0xdd, 0x60, 0))
/* Bytes 20-23 of an IPv4 frame: MF or an offset (the flags' byte and the
 * offset's low byte) */
#define SL_LOOK_FRAG4(w) ((w) & SL_BYTES4(0x3f, 0xff, 0, 0))
#define SL_LOOK_UDP_LEN4 (SL_LOOK_L4_4 + sizeof(struct udphdr))
#define SL_LOOK_UDP_LEN6 (SL_LOOK_L4_6 + sizeof(struct udphdr))

/*
 * A frame shorter than SL_LOOK_LEN4: a UDP datagram in plain IPv4 is
 * looked at as in sl_first_look(); everything else is sl_parse()'s.
 */
static __always_inline __u32 sl_look_short(void *data, void *data_end)
{
	__u32 w;

	if (data + SL_LOOK_UDP_LEN4 > data_end)
		return SL_LOOK_CLOSER;
	w = *(__u32 *)(data + offsetof(struct ethhdr, h_proto));
	if (!SL_LOOK_IS_IP4(w))
		return SL_LOOK_CLOSER;
	w = *(__u32 *)(data + sizeof(struct ethhdr) + offsetof(struct iphdr, frag_off));
	if (SL_LOOK_FRAG4(w) ||
	    ((struct iphdr *)(data + sizeof(struct ethhdr)))->protocol != IPPROTO_UDP)
		return SL_LOOK_CLOSER;
	return sl_look_l4(data, SL_LOOK_L4_4, IPPROTO_UDP, SL_LOOK_PLAIN4);
}

static __always_inline __u32 sl_first_look(void *data, void *data_end)
{
	__u32 w;
	__u8 proto;

	/* The usual frame first: clang lays this block out where the
	 * bounds check falls through, not behind a taken jump (writing the
	 * short frame's return first put it the other way round). */
	if (data + SL_LOOK_LEN4 <= data_end) {
		/* bytes 12-15: the ethertype, then IPv4's version and header length */
		w = *(__u32 *)(data + offsetof(struct ethhdr, h_proto));
		if (SL_LOOK_IS_IP4(w)) {
			/* bytes 20-23: not a fragment, and the protocol, TCP first */
			w = *(__u32 *)(data + sizeof(struct ethhdr) +
				       offsetof(struct iphdr, frag_off));
			if ((w & SL_BYTES4(0x3f, 0xff, 0, 0xff)) == SL_BYTES4(0, 0, 0, IPPROTO_TCP))
				return sl_look_l4(data, SL_LOOK_L4_4, IPPROTO_TCP, SL_LOOK_PLAIN4);
			if (SL_LOOK_FRAG4(w))
				return SL_LOOK_CLOSER;
			return sl_look_l4(data, SL_LOOK_L4_4,
					  ((struct iphdr *)(data + sizeof(struct ethhdr)))->protocol,
					  SL_LOOK_PLAIN4);
		}
		if (SL_LOOK_IS_IP6(w)) {
			proto = ((struct ipv6hdr *)(data + sizeof(struct ethhdr)))->nexthdr;
			if (data + SL_LOOK_LEN6 <= data_end)
				return sl_look_l4(data, SL_LOOK_L4_6, proto, SL_LOOK_PLAIN6);
			/* shorter: a UDP datagram of a few bytes, or sl_parse()'s */
			if (proto != IPPROTO_UDP || data + SL_LOOK_UDP_LEN6 > data_end)
				return SL_LOOK_CLOSER;
			return sl_look_l4(data, SL_LOOK_L4_6, IPPROTO_UDP, SL_LOOK_PLAIN6);
		}
		/* IP with options or another version, or a VLAN tag: sl_parse(). */
		w &= SL_BYTES4(0xff, 0xff, 0, 0);
		return w == SL_BYTES4(0x08, 0x00, 0, 0) || w == SL_BYTES4(0x86, 0xdd, 0, 0) ||
		       w == SL_BYTES4(0x81, 0x00, 0, 0) || w == SL_BYTES4(0x88, 0xa8, 0, 0) ?
			       SL_LOOK_CLOSER : SL_LOOK_PASS;
	}
	return sl_look_short(data, data_end);
}

static __always_inline int sl_parse(struct sl_hdrs *h, struct sl_pkt *p)
{
	void *data = h->data;
	struct ethhdr *eth = data;
	int off, res;
	__be16 proto;

	off = sl_skip_l2(data, h->data_end, &proto);
	if (off < 0 || (void *)(eth + 1) > h->data_end)
		return SL_P_ERROR;
	if (proto == bpf_htons(ETH_P_IP))
		res = sl_parse_ipv4(h, p, data + off);
	else if (proto == bpf_htons(ETH_P_IPV6))
		res = sl_parse_ipv6(h, p, data + off);
	/* A third VLAN tag: more than we parse, and it may hide a SYN. */
	else if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
		return SL_P_ERROR;
	else
		return SL_P_PASS;
	if (res == SL_P_JUDGE && (p->l4proto == IPPROTO_TCP ? sl_syn_unanswered(eth, p) :
							   sl_udp_undelivered(p)))
		return SL_P_PASS;
	return res;
}

/*
 * The parse of a candidate the first look found in a plain frame (look:
 * SL_LOOK_PLAIN4/6 and its slot): every header is at a fixed offset, and
 * what the first look checked (the versions, no IPv4 options or fragment,
 * no IPv6 extension header, a SYN without ACK, RST or FIN, the port's
 * service) is not read again. The same answer as sl_parse() on that frame
 * (a TCP header shorter than 20 bytes is its parse error).
 */
static __always_inline int sl_parse_plain(struct sl_hdrs *h, struct sl_pkt *p, __u32 look)
{
	void *data_end = h->data_end;
	struct ethhdr *eth = h->data;
	void *l4;
	__u8 proto;

	if ((look & SL_LOOK_KIND) == SL_LOOK_PLAIN4) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end)
			return SL_P_ERROR;	/* for the verifier: the first look read it */
		proto = ip->protocol;
		p->family = 4;
		p->saddr[0] = ip->saddr;
		p->daddr[0] = ip->daddr;
		l4 = ip + 1;
	} else {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return SL_P_ERROR;
		proto = ip6->nexthdr;
		p->family = 6;
		__builtin_memcpy(p->saddr, &ip6->saddr, 16);
		__builtin_memcpy(p->daddr, &ip6->daddr, 16);
		l4 = ip6 + 1;
	}
	p->slot = look >> SL_LOOK_SLOT_SHIFT;
	if (proto == IPPROTO_TCP) {
		struct tcphdr *tcp = l4;

		if ((void *)(tcp + 1) > data_end || tcp->doff < 5)
			return SL_P_ERROR;
		sl_take_syn(p, tcp);
		return sl_syn_unanswered(eth, p) ? SL_P_PASS : SL_P_JUDGE;
	} else {
		struct udphdr *udp = l4;

		if ((void *)(udp + 1) > data_end)
			return SL_P_ERROR;
		sl_take_datagram(p, udp);
		return sl_udp_undelivered(p) ? SL_P_PASS : SL_P_JUDGE;
	}
}

#endif /* SLUICE_PARSE_BPF_H */
