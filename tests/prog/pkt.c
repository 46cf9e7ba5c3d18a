// SPDX-License-Identifier: MIT
/* Builds the crafted packets described in pkt.h. */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <string.h>
#include "pkt.h"

static const __u8 mac_dst[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const __u8 mac_src[6] = { 0x02, 0, 0, 0, 0, 0x01 };

__u32 csum_sum(__u32 sum, const void *buf, size_t len)
{
	const __u8 *b = buf;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (__u16)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (__u16)(b[len - 1] << 8);
	return sum;
}

/* Folded complement, host order: 0 when verifying a correct checksum. */
__u16 csum_fold16(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

static void put16(__u8 *p, unsigned v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(__u8 *p, __u32 v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

int pkt_build(const struct pkt *s, void *out, size_t cap, struct pkt_layout *lo)
{
	__u8 buf[2048], *p = buf, *ip = NULL, *l4 = NULL, *ext0 = NULL, *vlan_last = NULL;
	int family = s->family ? s->family : 4;
	int l4p = s->l4 ? s->l4 : IPPROTO_TCP;
	int i, len, l4len = 0, nexthdr_off = -1;
	__u8 saddr[16], daddr[16];
	const char *src, *dst;

	memset(buf, 0, sizeof(buf));
	if (s->mac_group)
		memset(p, 0xff, 6);
	else
		memcpy(p, mac_dst, 6);
	memcpy(p + 6, mac_src, 6);
	p += 12;
	for (i = 0; i < s->vlans; i++) {
		/* The outermost tag of a stack is 802.1ad, as in QinQ. */
		put16(p, (s->vlans > 1 && i == 0) ? ETH_P_8021AD : ETH_P_8021Q);
		put16(p + 2, 100 + i);
		vlan_last = p + 2;
		p += 4;
	}
	if (family == -1) {
		put16(p, ETH_P_ARP);
		p += 2;
		memset(p, 0x01, 28);
		p += 28;
		len = p - buf;
		goto done;
	}
	put16(p, family == 4 ? ETH_P_IP : ETH_P_IPV6);
	p += 2;
	ip = p;

	src = s->src ? s->src : (family == 4 ? "198.18.0.10" : "2001:db8::10");
	dst = s->dst ? s->dst : (family == 4 ? "198.19.0.1" : "2001:db8:ffff::1");
	if (inet_pton(family == 4 ? AF_INET : AF_INET6, src, saddr) != 1 ||
	    inet_pton(family == 4 ? AF_INET : AF_INET6, dst, daddr) != 1)
		return -1;

	if (family == 4) {
		int hl = 20 + s->ip4_opt;

		p[0] = ((s->version ? s->version : 4) << 4) | (s->ihl ? s->ihl : hl / 4);
		p[8] = 64;
		p[9] = l4p;
		put16(p + 6, (s->mf ? 0x2000 : 0) | (s->frag & 0x1fff));
		memcpy(p + 12, saddr, 4);
		memcpy(p + 16, daddr, 4);
		memset(p + 20, 0x01, s->ip4_opt);	/* NOP options */
		p += hl;
	} else {
		const char *e;

		p[0] = (s->version ? s->version : 6) << 4;
		p[7] = 64;
		memcpy(p + 8, saddr, 16);
		memcpy(p + 24, daddr, 16);
		nexthdr_off = 6;
		p += 40;
		for (e = s->ext; e && *e; e++) {
			int t, hlen = 8;

			switch (*e) {
			case 'H': t = IPPROTO_HOPOPTS; break;
			case 'R': t = IPPROTO_ROUTING; hlen = 24; break;
			case 'D': t = IPPROTO_DSTOPTS; hlen = 16; break;
			default: t = IPPROTO_FRAGMENT; break;
			}
			ip[nexthdr_off] = t;
			if (!ext0)
				ext0 = p;
			if (t == IPPROTO_FRAGMENT) {
				put16(p + 2, (s->frag << 3) | (s->mf ? 1 : 0));
				put32(p + 4, 0xabcd);
			} else {
				p[1] = hlen / 8 - 1;
				if (t != IPPROTO_ROUTING) {	/* PadN over the rest */
					p[2] = 1;
					p[3] = hlen - 4;
				}
			}
			nexthdr_off = p - ip;
			p += hlen;
		}
		ip[nexthdr_off] = l4p;
	}

	l4 = p;
	if (l4p == IPPROTO_TCP) {
		int hl = 20 + s->tcp_opt;

		put16(p, s->sport ? s->sport : 40000);
		put16(p + 2, s->dport ? s->dport : 80);
		put32(p + 4, s->seq ? s->seq : 0x11223344);
		p[12] = (s->doff ? s->doff : hl / 4) << 4;
		p[13] = s->flags ? s->flags : TH_SYN;
		put16(p + 14, 65535);
		if (s->tcp_opt >= 4) {		/* MSS 1460, then NOPs */
			p[20] = 2;
			p[21] = 4;
			put16(p + 22, 1460);
			memset(p + 24, 0x01, s->tcp_opt - 4);
		}
		l4len = hl;
	} else if (l4p == IPPROTO_UDP) {
		put16(p, s->sport ? s->sport : 40000);
		put16(p + 2, s->dport ? s->dport : 53);
		put16(p + 4, 8 + s->payload);
		l4len = 8;
	} else {
		p[0] = 8;	/* ICMP echo request */
		l4len = 8;
	}
	p += l4len;
	memset(p, 0xa5, s->payload);
	p += s->payload;
	len = p - buf;
	/* A first fragment: the IP packet ends frag_l4 bytes into the L4
	 * header (no checksum: it covers the whole datagram, unknown to a
	 * fragment); pad keeps that many bytes of the rest as frame padding. */
	if (s->frag_l4)
		len = l4 - buf + s->frag_l4;

	if (family == 4) {
		int hl = 20 + s->ip4_opt;

		put16(ip + 2, len - (ip - buf));
		put16(ip + 10, 0);
		put16(ip + 10, csum_fold16(csum_sum(0, ip, hl)));
	} else {
		put16(ip + 4, len - (ip - buf) - 40);
	}
	if ((l4p == IPPROTO_TCP || l4p == IPPROTO_UDP) && !s->frag_l4) {
		/* Correct L4 checksum, as a real sender would send. */
		__u32 sum = 0;
		int off = l4p == IPPROTO_TCP ? 16 : 6;

		sum = csum_sum(sum, saddr, family == 4 ? 4 : 16);
		sum = csum_sum(sum, daddr, family == 4 ? 4 : 16);
		sum += l4p + (len - (l4 - buf));
		sum = csum_sum(sum, l4, len - (l4 - buf));
		put16(l4 + off, csum_fold16(sum));
	}

	len += s->pad;
	switch (s->cut) {
	case L_VLAN: len = vlan_last - buf + s->cut_keep; break;
	case L_IP: len = ip - buf + s->cut_keep; break;
	case L_EXT: len = ext0 - buf + s->cut_keep; break;
	case L_L4: len = l4 - buf + s->cut_keep; break;
	default: break;
	}
done:
	if (len < 0 || (size_t)len > cap)
		return -1;
	memcpy(out, buf, len);
	if (lo) {
		lo->l3 = ip ? ip - buf : -1;
		lo->l4 = l4 ? l4 - buf : -1;
		lo->len = len;
	}
	return len;
}
