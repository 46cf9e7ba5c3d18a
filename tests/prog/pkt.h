/* SPDX-License-Identifier: MIT */
/*
 * Crafted packets for the data-plane tests and benchmark: a declarative
 * description (struct pkt) and a builder that lays it out as bytes.
 *
 * API:
 *   struct pkt              what to build; zero fields take defaults
 *   pkt_build(spec, buf, cap, layout) -> length in bytes, or -1
 *   struct pkt_layout       where each header landed, for checks on output
 *   csum_fold16()/csum_sum() RFC 1071 helpers to verify checksums
 */
#ifndef SLUICE_TESTS_PKT_H
#define SLUICE_TESTS_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

/* Where to cut a packet short. */
enum pkt_layer {
	L_NONE = 0,
	L_VLAN,		/* inside the last VLAN tag */
	L_IP,		/* inside the IPv4/IPv6 fixed header (or IPv4 options) */
	L_EXT,		/* inside the first IPv6 extension header */
	L_L4,		/* inside the TCP/UDP header */
};

struct pkt {
	int vlans;		/* 0..3 tags: 1 = 802.1Q, 2+ = 802.1ad outer */
	int family;		/* 4 (default), 6, or -1 for ARP */
	int l4;			/* IPPROTO_TCP (default), IPPROTO_UDP, IPPROTO_ICMP */
	int flags;		/* TCP flags; default TH_SYN */
	int dport;		/* default 80 */
	int sport;		/* default 40000 */
	const char *src;	/* source address; default 198.18.0.10 / 2001:db8::10 */
	const char *dst;	/* default 198.19.0.1 / 2001:db8:ffff::1 */
	int ip4_opt;		/* bytes of IPv4 options (multiple of 4) */
	int ihl;		/* IPv4: override the IHL field (malformed) */
	int version;		/* override the IP version field (malformed) */
	int frag;		/* fragment offset in 8-byte units */
	bool mf;		/* more fragments */
	const char *ext;	/* IPv6 extension chain: H hop-by-hop, R routing,
				 * D destination options, F fragment */
	int tcp_opt;		/* bytes of TCP options (multiple of 4) */
	int doff;		/* override the TCP data offset (malformed) */
	int payload;		/* bytes after the L4 header */
	__u32 seq;		/* TCP sequence number; default 0x11223344 */
	enum pkt_layer cut;	/* cut the packet short inside this layer... */
	int cut_keep;		/* ...keeping this many bytes of it */
	int frag_l4;		/* a first fragment (with mf) that carries only
				 * this many bytes of the TCP/UDP header, the IP
				 * length fields saying so */
	int pad;		/* bytes after the IP packet's end (Ethernet
				 * padding), taken from the unfragmented packet */
	bool mac_group;		/* destination MAC ff:ff:ff:ff:ff:ff */
};

struct pkt_layout {
	int l3;			/* offset of the IP header */
	int l4;			/* offset of the TCP/UDP header */
	int len;
};

int pkt_build(const struct pkt *spec, void *buf, size_t cap, struct pkt_layout *lo);

__u32 csum_sum(__u32 sum, const void *buf, size_t len);
__u16 csum_fold16(__u32 sum);

#endif
