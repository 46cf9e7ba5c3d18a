/* SPDX-License-Identifier: MIT */
/*
 * sluice kernel <-> user space contract: every struct that crosses the
 * boundary through a BPF map, the map names, and the decision reasons.
 * Included by the BPF program (bpf/) and by user space (user/, tests/).
 *
 * Rules: fixed-width types only, padding spelled out, a size assertion on
 * every struct. Changing the layout of anything here means bumping
 * SL_ABI_VERSION, which sluicectl checks against the pinned state.
 *
 * Maps (pinned by name under the pin dir, /sys/fs/bpf/sluice by default):
 *
 *   sl_config    ARRAY[1]            struct sl_config     global: ABI version, static level, clock
 *   sl_ports     ARRAY[1] __u8[SL_PORT_KEYS]  (proto, port) -> service slot, 0 = unprotected:
 *                the program's .bss (one variable, sl_port_slots), which it
 *                reads without a helper call; indexed by sl_port_key(), the
 *                port as the packet carries it (network byte order). User
 *                space reads and writes single bytes of the pin's mmap.
 *   sl_services  HASH  __u32 slot -> struct sl_service    per-service limits (CLI-owned)
 *   sl_admission HASH  __u32 slot -> struct sl_admission  daemon-owned adaptive limits + heartbeat
 *   sl_gen       ARRAY[1] __u64      a new value after every write to sl_services,
 *                                    sl_admission, sl_prefix4 or sl_prefix6 (below)
 *   sl_buckets   ARRAY[SL_MAX_SERVICES] struct sl_bucket  per-service bucket state (kernel-owned)
 *   sl_sources   ARRAY_OF_MAPS[SL_MAX_SERVICES]: slot -> that service's table of
 *                per-source buckets, an LRU_HASH struct sl_src_bkey ->
 *                struct sl_src_bucket of sl_config.src_entries entries,
 *                made by user space for a service with a per-source rate
 *   sl_sources6  ARRAY_OF_MAPS[SL_MAX_SERVICES]: slot -> the table of the
 *                service's IPv6 sources when its IPv6 prefix is longer than
 *                /64 (sl_src_prefix6_long), an LRU_HASH struct sl_src_bkey6 ->
 *                struct sl_src_bucket, made like the other; none otherwise
 *   sl_src_fast  ARRAY_OF_MAPS[SL_MAX_SERVICES]: slot -> the service's fast
 *                table beside sl_sources: an ARRAY[SL_SRC_FAST_SLOTS] of
 *                struct sl_src_slot, made with it (below)
 *   sl_prefix4   LPM_TRIE struct sl_lpm4_key -> struct sl_prefix_rule
 *   sl_prefix6   LPM_TRIE struct sl_lpm6_key -> struct sl_prefix_rule
 *   sl_stats     PERCPU_ARRAY[SL_MAX_SERVICES] struct sl_stats
 *   sl_src_quota HASH struct sl_src_key -> struct sl_src_quota  per-source exceptions
 *                (daemon-owned: a source prefix's own rate, or refused)
 *   sl_src_seen  LRU_HASH struct sl_src_key -> struct sl_src_seen  new connections
 *                per source prefix, counted for the daemon's fleet quotas
 *   sl_src_conns HASH struct sl_src_key -> struct sl_src_conns  open connections
 *                per source prefix of services with a per-source connection
 *                limit (kernel-owned: counted by the sluice_conns program)
 *   sl_held      ARRAY[SL_MAX_SERVICES] struct sl_held  connections a guarded
 *                service holds (kernel-owned: counted by a sluiced --guard's
 *                programs, bpf/guard.bpf.c; user space zeroes a slot's entry
 *                when the slot is (re)assigned and when a guard claims it)
 *   sl_conn_sk   SK_STORAGE struct sl_conn_sk: on each counted socket, the
 *                key it was counted under (kernel-owned; no pinned state
 *                that user space reads: the loader unpins it when the last
 *                attachment goes, which frees it from every socket)
 *
 * Slot 0 is never a service: its sl_stats entry counts what cannot be
 * attributed to one (parse errors, fragments, unjudgeable headers without
 * a readable port). Services use slots 1..SL_MAX_SERVICES-1.
 *
 * Update order, so the data plane never sees a half-made service:
 *   add: fresh sl_sources[slot], sl_src_fast[slot] and sl_sources6[slot]
 *        tables (if per-source; the last for a long IPv6 prefix),
 *        sl_services[slot], then
 *        sl_ports[key] = slot;
 *   set: fresh tables first when a per-source rate is turned on or a source
 *        prefix changes (the keys hold no prefix length), then
 *        sl_services[slot], then the tables no longer needed are deleted;
 *   del: sl_ports[key] = 0, then delete sl_services[slot] (and sl_admission,
 *        sl_sources[slot], sl_src_fast[slot], sl_sources6[slot]).
 * Each service has a per-source table of its own: a flood of spoofed
 * sources (or of /64s) to one service evicts that service's entries only,
 * never another's (one shared LRU let it). A service with a per-source
 * rate and no table (not made yet) is judged without it.
 * sl_services and sl_admission are hash maps because a hash update replaces
 * the whole element at once (RCU), where an array update copies in place
 * and a concurrent reader could see half of the old value and half of the
 * new.
 *
 * The data plane reads them through a per-CPU copy of each service (and
 * its daemon entry), made again when sl_gen changes: a hash lookup is a
 * call that hashes and walks, the copy two loads. Likewise each CPU
 * remembers what the prefix tries answered for its recent sources, until
 * sl_gen changes. So every writer of sl_services, sl_admission,
 * sl_prefix4 or sl_prefix6 then writes sl_gen, with a value it never had
 * before (a random one: user/common sl_gen_bump()); a write not followed
 * by one is seen by no CPU that already has a copy (or a memo).
 */
#ifndef SLUICE_ABI_H
#define SLUICE_ABI_H

#include <linux/types.h>

#define SL_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)

#define SL_ABI_VERSION 8

#define SL_MAX_SERVICES   256
#define SL_PORT_KEYS      (2 * 65536)   /* one per (tcp|udp, port) */
#define SL_MAX_CLASS      7             /* priority classes 1..7, higher = more important */
#define SL_CLASS_DEFAULT  4             /* class of a source no class rule matches */
#define SL_SOURCES_DEFAULT 65536        /* entries of a service's per-source table */
#define SL_SRC_QUOTA_MAX  4096          /* sl_src_quota entries */
#define SL_SRC_SEEN_MAX   16384         /* sl_src_seen entries (LRU) */
#define SL_SRC_CONNS_MAX  65536         /* sl_src_conns entries: source prefixes with
					 * open connections to a limited service */
#define SL_SRC_CONNS_LIMIT_MAX 1000000  /* largest sl_service.src_conns */

/* Map names, as pinned; at most 15 characters (the kernel keeps 16 bytes). */
#define SL_MAP_CONFIG    "sl_config"
#define SL_MAP_PORTS     "sl_ports"
#define SL_MAP_SERVICES  "sl_services"
#define SL_MAP_ADMISSION "sl_admission"
#define SL_MAP_GEN       "sl_gen"
#define SL_MAP_BUCKETS   "sl_buckets"
#define SL_MAP_SOURCES   "sl_sources"
#define SL_MAP_SOURCES6  "sl_sources6"
#define SL_MAP_SRC_FAST  "sl_src_fast"
#define SL_MAP_PREFIX4   "sl_prefix4"
#define SL_MAP_PREFIX6   "sl_prefix6"
#define SL_MAP_STATS     "sl_stats"
#define SL_MAP_SRC_QUOTA "sl_src_quota"
#define SL_MAP_SRC_SEEN  "sl_src_seen"
#define SL_MAP_SRC_CONNS "sl_src_conns"
#define SL_MAP_CONN_SK   "sl_conn_sk"
#define SL_MAP_HELD      "sl_held"

#define SL_PIN_DIR_DEFAULT "/sys/fs/bpf/sluice"

/* Protocol index in an sl_ports key: key = proto_index * 65536 + port. */
enum sl_proto {
	SL_PROTO_TCP = 0,
	SL_PROTO_UDP = 1,
};

/*
 * The index of (proto, port) in sl_ports: the port in network byte order,
 * as a 16-bit load from the packet reads it, so the data plane indexes
 * with what it loaded (no byte swap, and a value the verifier knows is
 * below 65536).
 */
static inline __u32 sl_port_key(enum sl_proto proto, __u16 port_host_order)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	__u16 port_as_sent = __builtin_bswap16(port_host_order);
#else
	__u16 port_as_sent = port_host_order;
#endif
	return (__u32)proto * 65536u + port_as_sent;
}

/* An sl_ports entry is one byte: every slot must fit in it. */
SL_STATIC_ASSERT(SL_MAX_SERVICES <= 256, "sl_ports holds slots as __u8");

/*
 * Decision counters. Every packet the data plane judges (a new connection
 * to a protected service) is counted exactly once under a *reason*: why it
 * was admitted or refused. A refused packet is counted once more under the
 * *action* taken on it. So admitted + allowed + denied + shed_level +
 * svc_conc + svc_bucket + src_bucket + src_quota + src_conns + unjudgeable
 * = packets judged, and denied + shed_level + svc_conc + svc_bucket +
 * src_bucket + src_quota + src_conns + unjudgeable = dropped + rejected +
 * marked + would_drop. parse_error and fragment count packets passed
 * without judgement.
 *
 * unjudgeable is a packet Linux could take as a new connection but whose
 * headers sluice cannot read far enough to judge: an IPv6 extension-header
 * chain longer than the parser walks, or a first IP fragment that cuts the
 * TCP (or UDP) header short (RFC 1858's tiny fragments). It is refused
 * (dropped; would_drop in monitor mode; never answered with a RST). When
 * the destination port is readable it is counted in that service's slot
 * (and only a protected port's is refused); when it is not (the chain or
 * the fragment ends before the ports) nobody can tell the service, and it
 * is refused and counted in slot 0 whatever its port.
 *
 * X(field, description): the field name is the name everywhere (the
 * struct sl_stats member shown by bpftool, the CLI column, the JSON key,
 * the Prometheus label).
 */
#define SL_REASONS(X)                                                          \
	/* reasons: admitted */                                                \
	X(admitted,    "new connection admitted within the limits")            \
	X(allowed,     "admitted by an allow prefix; no limit applied")        \
	/* reasons: refused */                                                 \
	X(denied,      "refused by a deny prefix")                             \
	X(shed_level,  "source class below the admission level")               \
	X(svc_conc,    "the service holds the daemon's concurrency limit in "  \
		       "connections not yet answered (guard mode)")            \
	X(svc_bucket,  "over the service's rate (token bucket)")               \
	X(src_bucket,  "over the per-source rate (token bucket)")              \
	X(src_quota,   "over a per-source exception's rate, or refused by it " \
		       "(the fleet-wide quota)")                               \
	X(src_conns,   "the source prefix holds the service's per-source "     \
		       "connection limit in open connections")                 \
	X(unjudgeable, "headers unreadable to the end (IPv6 extension chain "   \
		       "past the walk, short first fragment): refused")        \
	/* actions taken on refused packets */                                 \
	X(dropped,     "refused and dropped")                                  \
	X(rejected,    "refused and answered with a TCP RST")                  \
	X(marked,      "refused and marked for the daemon's fast path")        \
	X(would_drop,  "refused but passed: monitor mode, or mark on XDP")     \
	/* passed without judgement */                                         \
	X(parse_error, "truncated or malformed packet, passed")                \
	X(fragment,    "non-first IP fragment, passed")                        \
	/* fallback */                                                         \
	X(stale,       "judged with static limits: daemon heartbeat stale")

enum sl_reason {
#define SL_X_ENUM(name, desc) SL_R_##name,
	SL_REASONS(SL_X_ENUM)
#undef SL_X_ENUM
	SL_R__COUNT
};

/* Per CPU, per service slot. Named fields so bpftool prints them. */
struct sl_stats {
#define SL_X_FIELD(name, desc) __u64 name;
	SL_REASONS(SL_X_FIELD)
#undef SL_X_FIELD
};
SL_STATIC_ASSERT(sizeof(struct sl_stats) == SL_R__COUNT * sizeof(__u64),
		 "sl_stats must be one __u64 per reason, in enum order");

/* What happens to a refused packet. */
enum sl_action {
	SL_ACT_DROP = 0,
	SL_ACT_REJECT = 1,	/* TCP only: answer the SYN with a RST */
	SL_ACT_MARK = 2,	/* TC only: set skb->mark = sl_service.mark */
};

/* sl_service.flags */
#define SL_SVC_MONITOR (1u << 0)	/* count what would be done, do nothing */
/*
 * Set by sluiced on the service it controls. The data plane looks up
 * sl_admission only for a service with this flag: a miss in that hash
 * costs as much as a hit (~5 ns), and most services have no daemon. An
 * sl_admission entry of a service without the flag is ignored. sluicectl
 * keeps the flag across `service set`; a new service starts without it.
 */
#define SL_SVC_DAEMON  (1u << 1)
/* Set with SL_SVC_DAEMON by a sluiced in guard mode (--guard): the daemon
 * serves nothing and controls this port from kernel signals. The data
 * plane does not read it; sluicectl shows it. */
#define SL_SVC_GUARD   (1u << 2)

/*
 * A protected service. Rates are per second (new connections for TCP,
 * packets for UDP); 0 in rate means "no service bucket", 0 in
 * src_rate means "no per-source bucket". Bursts are in connections; a
 * burst of 0 is taken as 1 (a bucket must hold one token). A prefix length
 * of 0 means the default: /32 for IPv4, /64 for IPv6. src_conns (TCP
 * only; 0 = none) is the per-source connection limit: a source prefix
 * (the same prefix as the per-source bucket's) holding that many open
 * connections to the service has its new SYNs refused (sl_src_conns).
 *
 * Data-plane semantics (bpf/limit.bpf.h):
 *   - order: prefix rules, admission level, the source's open connections,
 *     service bucket, source bucket;
 *   - a SYN refused by the source bucket takes no service token (the
 *     service bucket is only read before it), so a flooding source does
 *     not drain the service bucket, nor write its shared cache line;
 *   - a limit change takes effect at once: bucket state further ahead
 *     than the new depth is clamped to it (bpf/gcra.bpf.h);
 *   - buckets are GCRA; over any window they admit at most
 *     rate x window + burst (+ rate x sl_config.clock_slack_ns on the
 *     coarse clock, SL_CLOCK_COARSE);
 *   - rates above ~10^7/s lose precision (the interval is whole ns).
 * action: SL_ACT_REJECT on a UDP service drops; SL_ACT_MARK under XDP
 * passes and counts would_drop (the CLI refuses both pairings).
 */
struct sl_service {
	__u16 port;		/* host byte order; checked against the lookup key */
	__u8 proto;		/* enum sl_proto */
	__u8 action;		/* enum sl_action */
	__u32 flags;		/* SL_SVC_* */
	__u32 rate;		/* service bucket: tokens per second */
	__u32 burst;		/* service bucket: depth */
	__u32 src_rate;		/* per-source bucket: tokens per second */
	__u32 src_burst;	/* per-source bucket: depth */
	__u8 src_prefix4;	/* per-source key: IPv4 prefix length, 1..32 */
	__u8 src_prefix6;	/* per-source key: IPv6 prefix length, 1..128 */
	__u16 pad0;
	__u32 mark;		/* skb mark set by SL_ACT_MARK */
	__u32 src_conns;	/* per-source connection limit; 0 = none */
};
SL_STATIC_ASSERT(sizeof(struct sl_service) == 36, "sl_service layout");

/*
 * What the data plane does when the daemon's heartbeat goes stale. Either
 * way each packet that gets past the prefix rules is also counted under
 * `stale`. Allow and deny prefixes are the operator's, not the daemon's,
 * and apply in both.
 */
enum sl_stale_policy {
	SL_STALE_STATIC = 0,	/* fall back to sl_service and sl_config limits */
	SL_STALE_OPEN = 1,	/* admit every new connection to the service
				 * (deny prefixes still refuse) */
};

/*
 * Written by sluiced for a service it controls (SL_SVC_DAEMON), as one
 * value each tick.
 * While now - heartbeat_ns <= stale_after_ns the data plane uses level and
 * rate_cap from here; after that it follows stale_policy. heartbeat_ns is
 * CLOCK_MONOTONIC (bpf_ktime_get_ns()); the data plane may compare it with
 * the coarse clock (CLOCK_MONOTONIC_COARSE, up to a tick behind), so keep
 * stale_after_ns well above a tick. rate_cap caps sl_service.rate, and
 * acts as the rate of a service that has none (with its burst).
 * conc_limit (a sluiced --guard's; 0 = none): while the heartbeat is
 * fresh, a new connection is refused (svc_conc) when sl_held[slot]
 * already holds that many; it lapses with the heartbeat, as the count is
 * only kept while the daemon runs.
 */
struct sl_admission {
	__u64 heartbeat_ns;
	__u64 stale_after_ns;
	__u32 rate_cap;		/* caps sl_service.rate; 0 = no cap */
	__u8 level;		/* admission level, 0..SL_MAX_CLASS+1 */
	__u8 stale_policy;	/* enum sl_stale_policy */
	__u8 flags;		/* SL_ADM_* */
	__u8 pad0;
	__u32 conc_limit;	/* connections held, at most; 0 = no limit */
	__u32 pad1;
};
SL_STATIC_ASSERT(sizeof(struct sl_admission) == 32, "sl_admission layout");

/*
 * sl_admission.flags. SL_ADM_FLEET: the daemon runs fleet quotas for the
 * service, so while its heartbeat is fresh the data plane counts each
 * judged source in sl_src_seen and applies its sl_src_quota exceptions.
 * Both lapse with the heartbeat: a dead daemon's exceptions refuse nothing.
 */
#define SL_ADM_FLEET (1u << 0)

/*
 * The clock the buckets run on (sl_config.clock). Precise is
 * bpf_ktime_get_ns(): exact, and ~23 ns per judged packet on a VM's
 * kvm-clock. Coarse is bpf_ktime_get_coarse_ns(), CLOCK_MONOTONIC_COARSE,
 * ~3 ns: it moves once a tick (4 ms at HZ=250), so a flooded bucket admits
 * its rate x tick at each tick at once instead of evenly, and every bucket
 * gets clock_slack_ns more depth (bpf/limit.bpf.h says why).
 */
enum sl_clock {
	SL_CLOCK_PRECISE = 0,
	SL_CLOCK_COARSE = 1,
};

/*
 * Global state, sl_config[0]. abi_version, clock and clock_slack_ns are
 * written when the maps are created, and every program loaded against
 * them runs its buckets on that clock (the programs read it as rodata, set
 * by the loader from here); user space refuses pins whose version
 * differs. level is the static admission level: sources in a class below
 * it are shed, so 0 and 1 shed nothing, SL_CLASS_DEFAULT + 1 sheds every
 * source without a class rule of SL_CLASS_DEFAULT + 1 or more, and
 * SL_MAX_CLASS + 1 sheds all but allow prefixes.
 */
struct sl_config {
	__u32 abi_version;
	__u32 level;
	__u8 clock;		/* enum sl_clock */
	__u8 pad0[7];
	__u64 clock_slack_ns;	/* SL_CLOCK_COARSE: added to every bucket's depth */
	__u32 src_entries;	/* entries of each per-source table (sl_sources) */
	__u32 pad1;
};
SL_STATIC_ASSERT(sizeof(struct sl_config) == 32, "sl_config layout");

/*
 * Service token bucket state, sl_buckets[slot]. Owned by the data plane;
 * user space only resets it (zero) when a slot is (re)assigned. The layout
 * is the data plane's choice of mechanism: GCRA, tat_ns updated by
 * compare-and-exchange (bpf/gcra.bpf.h says why, with measurements).
 * tat_ns is on the clock the buckets run on (see sl_service).
 */
struct sl_bucket {
	__u64 tat_ns;		/* GCRA theoretical arrival time */
	__u64 reserved;
};
SL_STATIC_ASSERT(sizeof(struct sl_bucket) == 16, "sl_bucket layout");

/*
 * The key of a source prefix in the maps shared by every service
 * (sl_src_quota, sl_src_seen, sl_src_conns, sl_conn_sk): the service's
 * slot and the source masked to the service's prefix.
 */
struct sl_src_key {
	__u32 slot;
	__u8 family;		/* 4 or 6 */
	__u8 prefixlen;
	__u16 pad0;
	__u8 addr[16];		/* masked; IPv4 in the first 4 bytes */
};
SL_STATIC_ASSERT(sizeof(struct sl_src_key) == 24, "sl_src_key layout");

struct sl_src_bucket {
	__u64 tat_ns;
};
SL_STATIC_ASSERT(sizeof(struct sl_src_bucket) == 8, "sl_src_bucket layout");

/*
 * The keys of a service's own tables of per-source buckets: the source
 * masked to the service's prefix, and nothing else (the table is the
 * service's; a prefix change gives it new tables). Short, because the
 * hash map hashes and compares the whole key for every judged packet:
 * jhash2 over two words is one final round where 24 bytes took a mixing
 * round and a final, and two words compare in one load. Measured with
 * tests/bench/xdp: ~5 ns less per admitted SYN than an sl_src_key.
 *
 * sl_sources, struct sl_src_bkey, 8 bytes:
 *   IPv6 (prefix of 64 or less): the first 64 bits of the masked source;
 *   IPv4: word[0] 0xffffffff, word[1] the masked address. That is an IPv6
 *         /64 inside ff00::/8, the multicast range, and no IPv6 packet from
 *         a multicast source is judged (Linux drops it in ip6_rcv_core;
 *         bpf/parse.bpf.h), so the two families never meet on a key.
 * sl_sources6, struct sl_src_bkey6, 16 bytes: the masked IPv6 source, for
 *   a service whose IPv6 prefix is longer than /64 (its IPv4 sources stay
 *   in sl_sources).
 */
struct sl_src_bkey {
	__be32 word[2];
};
SL_STATIC_ASSERT(sizeof(struct sl_src_bkey) == 8, "sl_src_bkey layout");

struct sl_src_bkey6 {
	__be32 addr[4];
};
SL_STATIC_ASSERT(sizeof(struct sl_src_bkey6) == 16, "sl_src_bkey6 layout");

/*
 * The fast table, sl_src_fast[slot]: an ARRAY of SL_SRC_FAST_SLOTS slots,
 * each one source's bucket or free (key 0), found at a hash of the
 * sl_src_bkey. A lookup there is a few loads, where the hash map is four
 * calls (the lookup, jhash2, the bucket walk, memcmp: ~2 ns each on this
 * VM with return thunks). The data plane owns it: a source goes there if
 * its slot is free or its owner has been idle for a second (a full bucket
 * since, so nothing of it is lost), and it is not in sl_sources already;
 * every other source stays in sl_sources, so a source's bucket is in one
 * place. User space makes it zeroed, with the service's sl_sources table.
 */
#define SL_SRC_FAST_BITS  12
#define SL_SRC_FAST_SLOTS (1u << SL_SRC_FAST_BITS)

struct sl_src_slot {
	struct sl_src_bkey key;		/* 0: free */
	__u64 tat_ns;			/* as struct sl_src_bucket */
};
SL_STATIC_ASSERT(sizeof(struct sl_src_slot) == 16, "sl_src_slot layout");

/* Does a service with this IPv6 prefix keep its IPv6 sources in sl_sources6? */
static inline int sl_src_prefix6_long(__u8 prefix6)
{
	return prefix6 > 64 && prefix6 <= 128;
}

/*
 * A per-source exception, sl_src_quota[key], an sl_src_key (the
 * service's slot and the source masked to its prefix). Set by sluiced
 * for a source over its fleet-wide quota: the source gets rate_milli / 1000
 * new connections per second on this host (its share of the quota), with
 * a depth of burst; rate_milli 0 refuses it outright. Judged after the
 * admission level and before the buckets, under reason src_quota; the
 * source's own bucket (sl_sources) still applies after it. tat_ns is the
 * data plane's GCRA state: user space writes back the value it read when
 * it changes the rate, and a limit change is clamped at once, as for the
 * other buckets.
 */
struct sl_src_quota {
	__u32 rate_milli;	/* per 1000 s; 0 = refused */
	__u32 burst;		/* depth in connections; 0 is taken as 1 */
	__u64 tat_ns;		/* GCRA theoretical arrival time (data plane) */
};
SL_STATIC_ASSERT(sizeof(struct sl_src_quota) == 16, "sl_src_quota layout");

/*
 * New connections judged per source prefix of a service with SL_ADM_FLEET,
 * sl_src_seen[key]: an LRU of counters that only ever grow, so the
 * sources seen often stay and the rest are evicted. The daemon reads it
 * every sync and takes the heaviest sources' increase: Redis hears of a
 * bounded number of sources whatever the number of clients.
 */
struct sl_src_seen {
	__u64 count;
};
SL_STATIC_ASSERT(sizeof(struct sl_src_seen) == 8, "sl_src_seen layout");

/*
 * Open connections of a source prefix to a service with a per-source
 * connection limit, sl_src_conns[key] (an sl_src_key).
 * Counted by the sluice_conns program (bpf/conns.bpf.h) from the
 * socket's state changes: +1 when a passive connection's handshake
 * completes (SYN_RECV -> ESTABLISHED), -1 when that socket reaches
 * CLOSE, and the entry deleted at 0; the data plane only reads it. A
 * connection opened while no program counted (before the limit was set,
 * or before the first attach) is not in it.
 */
struct sl_src_conns {
	__u64 open;
};
SL_STATIC_ASSERT(sizeof(struct sl_src_conns) == 8, "sl_src_conns layout");

/*
 * The connections a guarded service holds, sl_held[slot]: admitted (the
 * handshake done) and not yet answered, counted by the guard's programs
 * (bpf/guard.bpf.c) from the socket's state changes and first answer:
 * +1 when a passive connection on the guarded port is established, -1 at
 * the service's first write on it after a request, or at its close if it
 * was never answered. Each socket is taken off once, exactly where it was
 * counted; the count never goes below 0, and a connection counted by a
 * daemon that has gone is forgotten (the entry is zeroed when a guard
 * claims the slot). This is what the service is working on or has
 * waiting, whatever keep-alive connections it also keeps idle.
 */
struct sl_held {
	__u64 held;
};
SL_STATIC_ASSERT(sizeof(struct sl_held) == 8, "sl_held layout");

/* sl_conn_sk: what a counted socket carries, so its close takes off
 * exactly the entry its handshake added. */
struct sl_conn_sk {
	struct sl_src_key key;
};
SL_STATIC_ASSERT(sizeof(struct sl_conn_sk) == 24, "sl_conn_sk layout");

/* LPM trie keys: prefixlen first, as the kernel requires. */
struct sl_lpm4_key {
	__u32 prefixlen;
	__u8 addr[4];
};
SL_STATIC_ASSERT(sizeof(struct sl_lpm4_key) == 8, "sl_lpm4_key layout");

struct sl_lpm6_key {
	__u32 prefixlen;
	__u8 addr[16];
};
SL_STATIC_ASSERT(sizeof(struct sl_lpm6_key) == 20, "sl_lpm6_key layout");

enum sl_rule_kind {
	SL_RULE_ALLOW = 1,	/* bypass every limit */
	SL_RULE_DENY = 2,	/* always refuse */
	SL_RULE_CLASS = 3,	/* put the source in priority class `cls` */
};

struct sl_prefix_rule {
	__u8 kind;		/* enum sl_rule_kind */
	__u8 cls;		/* 1..SL_MAX_CLASS for SL_RULE_CLASS, else 0 */
	__u16 pad0;
};
SL_STATIC_ASSERT(sizeof(struct sl_prefix_rule) == 4, "sl_prefix_rule layout");

#endif /* SLUICE_ABI_H */
