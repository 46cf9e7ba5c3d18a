// SPDX-License-Identifier: MIT
/*
 * Data-plane fuzzer: random and mutated packets through the real XDP and
 * TC programs (BPF_PROG_TEST_RUN), with properties checked on every
 * packet, against a small reference parser of what the packet is:
 *
 *   P1 no error exit: XDP returns PASS, DROP or TX (never ABORTED); TC
 *      returns UNSPEC, SHOT or REDIRECT, and SHOT only for a packet counted
 *      as dropped (so never a drop by error);
 *   P2 counted exactly once: at most one reason counted per packet, one
 *      action per refusal and none otherwise, the verdict matches the
 *      action counted; a packet the reference says is judged (a TCP SYN or
 *      UDP datagram to a protected port, within the parser's limits) is
 *      counted under exactly one reason;
 *   P3 a pass is unchanged: same bytes, same length;
 *   P4 unprotected ports and non-SYN TCP pass unchanged with no judgement;
 *   P5 every RST is a valid packet: the VLAN tags kept, MACs, addresses and
 *      ports swapped, RST|ACK with ack = seq + 1, a bare IP and TCP header,
 *      lengths and both checksums right.
 *
 * Packets: random specs (pkt.h: VLAN/QinQ up to three tags, IPv4 options,
 * bad IHL and version, IPv6 extension chains, fragments, TCP options, bad
 * data offsets, payloads, cuts inside each layer), and mutations of them:
 * truncated at every offset, random bytes overwritten, length fields set
 * to random values, made a tiny first fragment.
 *
 *   fuzz_dataplane [-n PACKETS] [-s SEED]    (default 20000, seed from the clock)
 *
 * The seed is printed; the same seed gives the same packets (verdicts
 * that depend on the buckets' clock may differ, the properties may not).
 * Exit 0 with no violation, 1 on any (the first ones printed with their
 * packet in hex); without root, a SKIPPED line and exit 0. Lines in
 * cmocka's form for tests/run.sh.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "env.h"
#include "pkt.h"

/* The parser's limits (bpf/parse.bpf.h), which the reference applies too. */
#define REF_VLAN_MAX 2
#define REF_IPV6_EXT_MAX 6
#define MAX_VIOLATIONS 20
#define MAX_LEN 512

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: small, fast, and the same stream for the same seed. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

static unsigned below(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static bool chance(unsigned one_in)
{
	return below(one_in) == 0;
}

/* ---- what the packet is: the reference parser ---------------------------- */

/* What the data plane must do with a packet (bpf/parse.bpf.h's rules). */
enum expect {
	EXP_ANY,		/* malformed, or a non-first fragment: the
				 * general properties only */
	EXP_UNTOUCHED,		/* not a candidate: pass unchanged, unjudged */
	EXP_JUDGED,		/* a new connection to a protected port:
				 * counted under exactly one limiter's reason */
	EXP_UNJUDGEABLE,	/* a candidate whose headers end too soon (a
				 * chain past the walk, a short first
				 * fragment): refused as unjudgeable */
};

struct ref {
	enum expect expect;
	bool tcp;		/* EXP_JUDGED: TCP (may be answered with a RST) */
	int l2len, l3, l4;
	int family;
	__u8 saddr[16], daddr[16];
	__u16 sport, dport;
	__u32 seq;
	__u8 flags;
};

static __u16 rd16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

static __u32 rd32(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

static bool protected_port(int l4proto, __u16 port)
{
	if (l4proto == IPPROTO_TCP)
		return port == 80 || port == 443 || port == 8080 || port == 81 || port == 82;
	return port == 53 || port == 54;
}

static bool is_ext(__u8 nh)
{
	return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS ||
	       nh == IPPROTO_FRAGMENT;
}

/* A SYN the kernel never answers (martian source, group destination). */
static bool martian(const struct ref *r)
{
	if (r->family == 4) {
		__u32 s = rd32(r->saddr), d = rd32(r->daddr);

		return (s >> 24) == 0 || (s >> 24) == 127 || (s >> 28) == 0xe || s == 0xffffffffu ||
		       (d >> 24) == 0 || (d >> 24) == 127 || (d >> 28) == 0xe || d == 0xffffffffu;
	}
	static const __u8 zero[16], one[16] = { [15] = 1 };
	static const __u8 mapped[12] = { [10] = 0xff, [11] = 0xff };

	return r->saddr[0] == 0xff || r->daddr[0] == 0xff || !memcmp(r->saddr, zero, 16) ||
	       !memcmp(r->saddr, one, 16) || !memcmp(r->saddr, mapped, 12) ||
	       !memcmp(r->daddr, zero, 16) || !memcmp(r->daddr, one, 16);
}

/* The L4 header at r->l4: l4len is what the IP length fields leave for it. */
static void ref_l4(const __u8 *b, int len, struct ref *r, int l4proto, int l4len,
		   bool first_frag, bool group_mac)
{
	int off = r->l4;

	if (l4proto != IPPROTO_TCP && l4proto != IPPROTO_UDP) {
		r->expect = EXP_UNTOUCHED;
		return;
	}
	if (first_frag && l4len < (l4proto == IPPROTO_TCP ? 20 : 8)) {
		if (l4len < 4) {
			r->expect = EXP_UNJUDGEABLE;	/* not even the ports */
		} else if (off + 4 <= len) {
			r->dport = rd16(b + off + 2);
			r->expect = protected_port(l4proto, r->dport) ? EXP_UNJUDGEABLE
								      : EXP_UNTOUCHED;
		}
		return;
	}
	if (off + (l4proto == IPPROTO_TCP ? 20 : 8) > len)
		return;
	r->sport = rd16(b + off);
	r->dport = rd16(b + off + 2);
	if (l4proto == IPPROTO_UDP) {
		/* Linux drops IPv6 from a multicast source: never judged. */
		r->expect = protected_port(l4proto, r->dport) &&
					    !(r->family == 6 && r->saddr[0] == 0xff) ?
				    EXP_JUDGED :
				    EXP_UNTOUCHED;
		return;
	}
	r->seq = rd32(b + off + 4);
	r->flags = b[off + 13];
	if ((r->flags & (TH_SYN | TH_ACK | TH_RST | TH_FIN)) != TH_SYN) {
		r->expect = EXP_UNTOUCHED;
		return;
	}
	if ((b[off + 12] >> 4) < 5)
		return;			/* a parse error */
	if (!protected_port(l4proto, r->dport) || group_mac || martian(r)) {
		r->expect = EXP_UNTOUCHED;
		return;
	}
	r->expect = EXP_JUDGED;
	r->tcp = true;
}

/* Walks what the data plane walks, and says what it must do. */
static void ref_parse(const __u8 *b, int len, struct ref *r)
{
	int off = 14, nvlan = 0;
	bool group_mac, first_frag = false;
	__u16 proto;

	memset(r, 0, sizeof(*r));
	if (len < 14)
		return;
	group_mac = b[0] & 1;
	proto = rd16(b + 12);
	while (proto == ETH_P_8021Q || proto == ETH_P_8021AD) {
		if (++nvlan > REF_VLAN_MAX || off + 4 > len)
			return;
		proto = rd16(b + off + 2);
		off += 4;
	}
	r->l2len = off;
	r->l3 = off;
	if (proto == ETH_P_IP) {
		int hl;

		if (off + 20 > len || b[off] >> 4 != 4 || (b[off] & 15) < 5)
			return;
		hl = (b[off] & 15) * 4;
		if (off + hl > len || (rd16(b + off + 6) & 0x1fff))
			return;
		r->family = 4;
		memcpy(r->saddr, b + off + 12, 4);
		memcpy(r->daddr, b + off + 16, 4);
		first_frag = rd16(b + off + 6) & 0x2000;
		r->l4 = off + hl;
		ref_l4(b, len, r, b[off + 9], (int)rd16(b + off + 2) - hl, first_frag, group_mac);
	} else if (proto == ETH_P_IPV6) {
		int l3 = off, i;
		__u8 nh;

		if (off + 40 > len || b[off] >> 4 != 6)
			return;
		r->family = 6;
		memcpy(r->saddr, b + off + 8, 16);
		memcpy(r->daddr, b + off + 24, 16);
		nh = b[off + 6];
		off += 40;
		for (i = 0; i < REF_IPV6_EXT_MAX && is_ext(nh); i++) {
			if (off + 8 > len) {
				if (first_frag)
					r->expect = EXP_UNJUDGEABLE;
				return;
			}
			if (nh == IPPROTO_FRAGMENT) {
				if (rd16(b + off + 2) & 0xfff8)
					return;		/* not the first fragment */
				first_frag = rd16(b + off + 2) & 1;
				nh = b[off];
				off += 8;
			} else {
				nh = b[off];
				off += (b[off + 1] + 1) * 8;
			}
		}
		if (is_ext(nh)) {
			r->expect = EXP_UNJUDGEABLE;	/* the chain goes on past the walk */
			return;
		}
		r->l4 = off;
		ref_l4(b, len, r, nh, (int)rd16(b + l3 + 4) - (off - l3 - 40), first_frag, group_mac);
	} else if (proto != ETH_P_8021Q && proto != ETH_P_8021AD) {
		r->expect = EXP_UNTOUCHED;	/* ARP and the like */
	}
}

/* ---- counters --------------------------------------------------------- */

static int stats_fd, ncpus;

/* The counters of slots 0..SLOT_USED-1, summed over CPUs, in one syscall. */
static int read_counts(struct sl_stats *out)
{
	static struct sl_stats *vals;
	__u32 keys[SLOT_USED], count = SLOT_USED, out_batch;
	int err;

	if (!vals) {
		vals = calloc((size_t)SLOT_USED * ncpus, sizeof(*vals));
		if (!vals)
			return -ENOMEM;
	}
	err = bpf_map_lookup_batch(stats_fd, NULL, &out_batch, keys, vals, &count, NULL);
	if (err && errno != ENOENT)
		return -errno;
	memset(out, 0, sizeof(*out) * SLOT_USED);
	for (__u32 i = 0; i < count; i++) {
		if (keys[i] >= SLOT_USED)
			continue;
		for (int c = 0; c < ncpus; c++)
			for (int f = 0; f < SL_R__COUNT; f++)
				((__u64 *)&out[keys[i]])[f] += ((__u64 *)&vals[i * ncpus + c])[f];
	}
	return 0;
}

/* ---- the properties --------------------------------------------------- */

static unsigned long long violations;
static unsigned long long verdicts[2][3];	/* [xdp, tc][pass, drop, tx] */
static unsigned long long expected[4];		/* runs by enum expect */

static void hexdump(const __u8 *b, int len)
{
	for (int i = 0; i < len; i++)
		fprintf(stderr, "%02x%s", b[i], i % 32 == 31 ? "\n" : "");
	fputc('\n', stderr);
}

static void violation(const char *prog, unsigned long long n, const __u8 *pkt, int len,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void violation(const char *prog, unsigned long long n, const __u8 *pkt, int len,
		      const char *fmt, ...)
{
	va_list ap;

	violations++;
	if (violations > MAX_VIOLATIONS)
		return;
	fprintf(stderr, "violation (%s, packet %llu, %d bytes): ", prog, n, len);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	hexdump(pkt, len);
}

/* P5: out is the RST answering in (whose reference is r). */
static const char *check_rst(const __u8 *in, const struct ref *r, const __u8 *out, int olen)
{
	int l3 = r->l2len, iphl = r->family == 4 ? 20 : 40, l4 = l3 + iphl;
	const __u8 *tcp = out + l4;
	__u32 sum;

	if (r->expect != EXP_JUDGED || !r->tcp)
		return "a RST for a packet that is not a judged TCP SYN";
	if (olen != l4 + 20)
		return "length is not L2 + bare IP + 20-byte TCP";
	if (memcmp(out, in + 6, 6) || memcmp(out + 6, in, 6))
		return "MAC addresses not swapped";
	if (memcmp(out + 12, in + 12, l3 - 12))
		return "VLAN tags or ethertype changed";
	if (r->family == 4) {
		if (out[l3] != 0x45 || rd16(out + l3 + 2) != 40 || out[l3 + 9] != IPPROTO_TCP)
			return "IPv4 header: version/IHL, total length or protocol wrong";
		if (csum_fold16(csum_sum(0, out + l3, 20)))
			return "IPv4 header checksum wrong";
		if (memcmp(out + l3 + 12, r->daddr, 4) || memcmp(out + l3 + 16, r->saddr, 4))
			return "IPv4 addresses not swapped";
	} else {
		if (out[l3] >> 4 != 6 || rd16(out + l3 + 4) != 20 || out[l3 + 6] != IPPROTO_TCP)
			return "IPv6 header: version, payload length or next header wrong";
		if (memcmp(out + l3 + 8, r->daddr, 16) || memcmp(out + l3 + 24, r->saddr, 16))
			return "IPv6 addresses not swapped";
	}
	if (rd16(tcp) != r->dport || rd16(tcp + 2) != r->sport)
		return "ports not swapped";
	if (rd32(tcp + 8) != r->seq + 1 || rd32(tcp + 4) != 0)
		return "seq is not 0 or ack is not the SYN's seq + 1";
	if ((tcp[12] >> 4) != 5 || tcp[13] != (TH_RST | TH_ACK))
		return "not a bare RST|ACK header";
	sum = csum_sum(0, out + l3 + (r->family == 4 ? 12 : 8), r->family == 4 ? 8 : 32);
	sum += IPPROTO_TCP + 20;
	if (csum_fold16(csum_sum(sum, tcp, 20)))
		return "TCP checksum wrong";
	return NULL;
}

static const __u64 *field(const struct sl_stats *s, int reason)
{
	return (const __u64 *)s + reason;
}

static unsigned long long refused_by_kernel;

/*
 * BPF_PROG_TEST_RUN takes no frame shorter than Ethernet, and for TC no
 * IPv4/IPv6 frame shorter than its fixed IP header (it fills in the skb's
 * addresses). Those never reach the program: not a finding.
 */
static bool kernel_refuses(bool tc, const __u8 *pkt, int len)
{
	__u16 proto;

	if (len < ETH_HLEN)
		return true;
	proto = rd16(pkt + 12);
	return tc && ((proto == ETH_P_IP && len < ETH_HLEN + 20) ||
		      (proto == ETH_P_IPV6 && len < ETH_HLEN + 40));
}

/* Runs one packet through one program and checks every property. */
static int run_one(int fd, bool tc, unsigned long long n, const __u8 *pkt, int len)
{
	static struct run_result res;
	struct sl_stats before[SLOT_USED], after[SLOT_USED];
	const char *prog = tc ? "tc" : "xdp", *bad;
	__u64 d[SL_R__COUNT] = { 0 }, reasons, refused, actions;
	struct ref r;
	bool pass, drop, tx;
	int err;

	err = read_counts(before);
	if (err)
		return err;
	err = env_run(fd, pkt, (__u32)len, 1, &res);
	if (err == -EINVAL && kernel_refuses(tc, pkt, len)) {
		refused_by_kernel++;
		return 0;
	}
	if (err) {
		fprintf(stderr, "cannot run packet %llu through %s:\n", n, prog);
		hexdump(pkt, len);
		return err;
	}
	err = read_counts(after);
	if (err)
		return err;
	for (int s = 0; s < SLOT_USED; s++)
		for (int f = 0; f < SL_R__COUNT; f++)
			d[f] += *field(&after[s], f) - *field(&before[s], f);

	ref_parse(pkt, len, &r);
	expected[r.expect]++;
	reasons = d[SL_R_admitted] + d[SL_R_allowed] + d[SL_R_denied] + d[SL_R_shed_level] +
		  d[SL_R_svc_conc] + d[SL_R_svc_bucket] + d[SL_R_src_bucket] + d[SL_R_src_quota] +
		  d[SL_R_src_conns] + d[SL_R_unjudgeable];
	refused = reasons - d[SL_R_admitted] - d[SL_R_allowed];
	actions = d[SL_R_dropped] + d[SL_R_rejected] + d[SL_R_marked] + d[SL_R_would_drop];

	/* P1 */
	pass = (int)res.retval == (tc ? TC_ACT_UNSPEC : XDP_PASS);
	drop = (int)res.retval == (tc ? TC_ACT_SHOT : XDP_DROP);
	tx = (int)res.retval == (tc ? TC_ACT_REDIRECT : XDP_TX);
	if (!pass && !drop && !tx)
		violation(prog, n, pkt, len, "P1: return code %u", res.retval);
	else
		verdicts[tc][pass ? 0 : drop ? 1 : 2]++;
	/* P2 */
	if (reasons + d[SL_R_parse_error] + d[SL_R_fragment] > 1)
		violation(prog, n, pkt, len, "P2: counted %" PRIu64 " times",
			  (uint64_t)(reasons + d[SL_R_parse_error] + d[SL_R_fragment]));
	if (actions != refused)
		violation(prog, n, pkt, len, "P2: %" PRIu64 " actions for %" PRIu64 " refusals",
			  (uint64_t)actions, (uint64_t)refused);
	if (drop != (d[SL_R_dropped] == 1) || tx != (d[SL_R_rejected] == 1))
		violation(prog, n, pkt, len, "P1/P2: verdict %u with dropped +%" PRIu64
			  ", rejected +%" PRIu64, res.retval, (uint64_t)d[SL_R_dropped],
			  (uint64_t)d[SL_R_rejected]);
	if (d[SL_R_stale] > reasons)
		violation(prog, n, pkt, len, "P2: stale counted without a judgement");
	if (r.expect == EXP_JUDGED && (reasons != 1 || d[SL_R_unjudgeable]))
		violation(prog, n, pkt, len, "P2: a judged packet (port %u) counted under %" PRIu64
			  " limiter reasons", r.dport, (uint64_t)(reasons - d[SL_R_unjudgeable]));
	if (r.expect == EXP_UNJUDGEABLE && (d[SL_R_unjudgeable] != 1 || reasons != 1))
		violation(prog, n, pkt, len, "P2: an unjudgeable packet counted %" PRIu64
			  " times as unjudgeable, %" PRIu64 " as judged",
			  (uint64_t)d[SL_R_unjudgeable], (uint64_t)(reasons - d[SL_R_unjudgeable]));
	if (r.expect == EXP_UNTOUCHED && (reasons || d[SL_R_parse_error] || d[SL_R_fragment]))
		violation(prog, n, pkt, len, "P2/P4: an unprotected or non-SYN packet (port %u) was "
			  "counted", r.dport);
	/* P3, P4 */
	if (pass && (res.out_len != (__u32)len || memcmp(res.out, pkt, len)))
		violation(prog, n, pkt, len, "P3: a pass changed the packet");
	if (r.expect == EXP_UNTOUCHED && !pass)
		violation(prog, n, pkt, len, "P4: unprotected or non-SYN (port %u, flags %#x) not "
			  "passed: %u", r.dport, r.flags, res.retval);
	if (tx && r.expect == EXP_UNJUDGEABLE)
		violation(prog, n, pkt, len, "P5: an unjudgeable packet answered with a RST");
	/* P5 */
	if (tx && (bad = check_rst(pkt, &r, res.out, (int)res.out_len)))
		violation(prog, n, pkt, len, "P5: RST: %s", bad);
	return 0;
}

/* ---- packets ----------------------------------------------------------- */

static const char *const src4[] = {
	"198.18.0.10", "198.18.1.5", "198.18.2.5", "198.18.2.200", "198.18.3.5",
	"198.18.4.5", "198.19.7.7", "127.0.0.1", "0.1.2.3", "224.0.0.9",
};
static const char *const src6[] = {
	"2001:db8::10", "2001:db8:1::5", "2001:db8:2::5", "2001:db8:3::5", "2001:db8:9::9",
	"::1", "::", "::ffff:198.18.0.10", "ff02::1",
};
/* Destinations the kernel never answers a SYN to, now and then. */
static const char *const dst4[] = { "198.19.0.1", "255.255.255.255", "239.1.2.3", "127.0.0.2" };
static const char *const dst6[] = { "2001:db8:ffff::1", "ff02::2", "::1", "::" };
static const int ports[] = { 80, 443, 8080, 81, 82, 53, 54, 22, 9999 };

static void random_spec(struct pkt *s, char *ext, char (*addr)[64])
{
	static const int flag_sets[] = {
		TH_SYN, TH_SYN, TH_SYN, TH_SYN | TH_ACK, TH_ACK, TH_RST, TH_FIN | TH_ACK,
		TH_SYN | TH_FIN, TH_PSH | TH_ACK,
	};
	int n;

	memset(s, 0, sizeof(*s));
	s->vlans = chance(3) ? (int)below(4) : 0;
	s->family = chance(12) ? -1 : chance(2) ? 6 : 4;
	s->l4 = chance(8) ? IPPROTO_ICMP : chance(4) ? IPPROTO_UDP : IPPROTO_TCP;
	s->flags = flag_sets[below(sizeof(flag_sets) / sizeof(flag_sets[0]))];
	s->dport = chance(10) ? (int)below(65535) + 1 : ports[below(sizeof(ports) / sizeof(ports[0]))];
	s->sport = (int)below(65535) + 1;
	s->seq = (__u32)rnd() | 1;
	if (s->family == 4) {
		s->src = src4[below(sizeof(src4) / sizeof(src4[0]))];
		s->dst = chance(8) ? dst4[below(sizeof(dst4) / sizeof(dst4[0]))] : NULL;
		if (chance(4)) {
			snprintf(*addr, 64, "%u.%u.%u.%u", below(256), below(256), below(256), below(256));
			s->src = *addr;
		}
		s->ip4_opt = chance(4) ? (int)below(11) * 4 : 0;
		if (chance(16))
			s->ihl = (int)below(16) ? (int)below(16) : 1;
	} else if (s->family == 6) {
		s->src = src6[below(sizeof(src6) / sizeof(src6[0]))];
		s->dst = chance(8) ? dst6[below(sizeof(dst6) / sizeof(dst6[0]))] : NULL;
		n = chance(2) ? (int)below(9) : 0;
		for (int i = 0; i < n; i++)
			ext[i] = "HRDF"[below(4)];
		ext[n] = '\0';
		s->ext = ext;
	}
	if (chance(20))
		s->version = (int)below(16) ? (int)below(16) : 1;
	if (chance(8)) {
		s->frag = chance(2) ? 0 : (int)below(200) + 1;
		s->mf = chance(2);
	}
	s->tcp_opt = chance(3) ? (int)below(11) * 4 : 0;
	if (chance(16))
		s->doff = (int)below(16) ? (int)below(16) : 1;
	s->payload = chance(2) ? (int)below(120) : 0;
	if (chance(6)) {
		s->cut = (enum pkt_layer)(below(4) + 1);
		s->cut_keep = (int)below(24);
		if ((s->cut == L_VLAN && !s->vlans) || (s->cut == L_EXT && (!s->ext || !*s->ext)) ||
		    s->family == -1)
			s->cut = L_NONE;
	}
}

/* Length fields set to random values: the parser must not trust them. */
static void bad_lengths(__u8 *b, int len)
{
	struct ref r;

	ref_parse(b, len, &r);
	if (!r.l3)
		return;
	if (r.family == 4 && r.l3 + 4 <= len) {
		b[r.l3 + 2] = (__u8)rnd();
		b[r.l3 + 3] = (__u8)rnd();
	} else if (r.family == 6 && r.l3 + 6 <= len) {
		b[r.l3 + 4] = (__u8)rnd();
		b[r.l3 + 5] = (__u8)rnd();
	}
	if (r.l4 && r.l4 + 6 <= len && chance(2)) {
		b[r.l4 + 4] = (__u8)rnd();	/* UDP length, or TCP seq */
		b[r.l4 + 5] = (__u8)rnd();
	}
}

/* A first fragment whose L4 header ends early by the IP length fields
 * (RFC 1858's tiny fragment): MF and offset 0, and a length that leaves
 * 0..23 bytes for TCP or UDP. */
static void tiny_fragment(__u8 *b, int len)
{
	struct ref r;

	ref_parse(b, len, &r);
	if (!r.l4)
		return;
	if (r.family == 4 && r.l3 + 8 <= len) {
		int hl = (b[r.l3] & 15) * 4;

		b[r.l3 + 6] = 0x20;	/* MF, offset 0 */
		b[r.l3 + 7] = 0;
		b[r.l3 + 2] = 0;
		b[r.l3 + 3] = (__u8)(hl + (int)below(24));
	} else if (r.family == 6 && r.l3 + 6 <= len) {
		int l4len = (int)below(24) + r.l4 - r.l3 - 40;

		b[r.l3 + 4] = (__u8)(l4len >> 8);	/* a first fragment if the */
		b[r.l3 + 5] = (__u8)l4len;		/* chain has one with M */
	}
}

struct fuzz {
	unsigned long long n, limit;
};

static int run_both(struct fuzz *f, const __u8 *pkt, int len)
{
	int err;

	if (f->n >= f->limit)
		return 0;
	f->n++;
	err = run_one(env_xdp_fd, false, f->n, pkt, len);
	if (!err)
		err = run_one(env_tc_fd, true, f->n, pkt, len);
	return err;
}

static int fuzz_one_spec(struct fuzz *f)
{
	__u8 base[MAX_LEN], mut[MAX_LEN];
	char ext[16], addr[64];
	struct pkt spec;
	int len, err;

	random_spec(&spec, ext, &addr);
	len = pkt_build(&spec, base, sizeof(base), NULL);
	if (len < 0)
		return 0;
	if (chance(16))
		base[0] |= 1;	/* to a group (broadcast/multicast) MAC address */
	err = run_both(f, base, len);
	/* Truncated at every offset, now and then (it is len packets). */
	for (int cut = 0; !err && chance(16) && cut < len; cut++)
		err = run_both(f, base, cut);
	for (int i = 0; !err && i < 3; i++) {
		memcpy(mut, base, len);
		switch (below(3)) {
		case 0: {
			int flips = 1 + (int)below(4);

			for (int k = 0; k < flips; k++)
				mut[below((unsigned)len)] = (__u8)rnd();
			break;
		}
		case 1:
			bad_lengths(mut, len);
			break;
		default:
			tiny_fragment(mut, len);
			break;
		}
		err = run_both(f, mut, chance(4) ? (int)below((unsigned)len + 1) : len);
	}
	return err;
}

/* The services of env_reset, with limits that make every reason happen. */
static int setup(void)
{
	struct sl_service svc = { .port = 443, .proto = SL_PROTO_TCP, .action = SL_ACT_REJECT,
				  .rate = 1, .burst = 1 };
	struct sl_admission adm = { .rate_cap = 50, .level = 3, .stale_after_ns = ~0ull >> 1,
				    .heartbeat_ns = env_now_ns() };
	int err = env_reset();

	err = err ?: env_set_service(SLOT_TCP443, &svc);
	svc = (struct sl_service){ .port = 80, .proto = SL_PROTO_TCP, .action = SL_ACT_DROP,
				   .rate = 1000, .burst = 5, .src_rate = 1, .src_burst = 2,
				   .src_prefix4 = 32, .src_prefix6 = 64 };
	err = err ?: env_set_service(SLOT_TCP80, &svc);
	svc = (struct sl_service){ .port = 82, .proto = SL_PROTO_TCP, .action = SL_ACT_REJECT,
				   .rate = 100, .burst = 10 };
	err = err ?: env_set_service(SLOT_TCP82, &svc);
	/* A guard's concurrency limit, held: every SYN past the level refused. */
	adm.conc_limit = 2;
	err = err ?: env_set_admission(SLOT_TCP82, &adm);
	err = err ?: (bpf_map_update_elem(bpf_map__fd(env_skel->maps.sl_held), &(__u32){ SLOT_TCP82 },
					  &(struct sl_held){ .held = 2 }, BPF_ANY) ? -errno : 0);
	adm.conc_limit = 0;
	svc = (struct sl_service){ .port = 54, .proto = SL_PROTO_UDP, .action = SL_ACT_REJECT,
				   .rate = 1, .burst = 1 };
	err = err ?: env_set_service(SLOT_UDP54, &svc);
	err = err ?: env_set_admission(SLOT_TCP8080, &adm);
	/* A daemon gone quiet: judged on the static limits, counted stale. */
	adm = (struct sl_admission){ .rate_cap = 5, .stale_after_ns = 1 };
	err = err ?: env_set_admission(SLOT_TCP81, &adm);
	/* Level 3: class 2 (198.18.3.0/24, 2001:db8:3::/48) is shed. */
	return err ?: env_set_level(3);
}

int main(int argc, char **argv)
{
	struct fuzz f = { .limit = 20000 };
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	char why[256];
	int opt, err;

	while ((opt = getopt(argc, argv, "n:s:")) != -1) {
		if (opt == 'n')
			f.limit = strtoull(optarg, NULL, 0);
		else if (opt == 's')
			seed = strtoull(optarg, NULL, 0);
		else {
			fprintf(stderr, "usage: %s [-n PACKETS] [-s SEED]\n", argv[0]);
			return 2;
		}
	}
	rng_state = seed ? seed : 1;
	printf("[==========] Running the data-plane fuzzer\n");
	printf("[ RUN      ] fuzz: %llu packets through XDP and TC, seed %" PRIu64
	       " (rerun: %s -n %llu -s %" PRIu64 ")\n", f.limit, seed, argv[0], f.limit, seed);
	fflush(stdout);
	err = env_open(0, why, sizeof(why));
	if (err == -EPERM) {
		printf("%s\n[  SKIPPED ] fuzz\n", why);
		return 0;
	}
	if (err) {
		printf("%s\n[  FAILED  ] fuzz\n", why);
		return 1;
	}
	stats_fd = bpf_map__fd(env_skel->maps.sl_stats);
	ncpus = libbpf_num_possible_cpus();
	err = setup();
	while (!err && f.n < f.limit)
		err = fuzz_one_spec(&f);
	env_close();
	if (err) {
		printf("cannot run a packet: %s\n[  FAILED  ] fuzz\n", strerror(-err));
		return 1;
	}
	printf("%llu packets, %llu property violations%s\n", f.n, violations,
	       violations > MAX_VIOLATIONS ? " (the first 20 printed)" : "");
	printf("  %llu runs the kernel refused (shorter than Ethernet, or for TC than "
	       "the IP header)\n", refused_by_kernel);
	printf("  runs by what the reference expected: %llu judged, %llu unjudgeable, %llu "
	       "untouched, %llu malformed or later fragments\n", expected[EXP_JUDGED],
	       expected[EXP_UNJUDGEABLE], expected[EXP_UNTOUCHED], expected[EXP_ANY]);
	for (int tc = 0; tc < 2; tc++)
		printf("  %-3s: %llu passed, %llu dropped, %llu answered with a RST\n",
		       tc ? "tc" : "xdp", verdicts[tc][0], verdicts[tc][1], verdicts[tc][2]);
	printf("[ %s ] fuzz\n", violations ? " FAILED  " : "      OK");
	return violations ? 1 : 0;
}
