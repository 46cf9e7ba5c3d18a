// SPDX-License-Identifier: MIT
/*
 * Policy in the pinned maps (see state.h): services, prefix rules, level
 * and counters. Writes follow the update order of abi.h so the data plane
 * never sees a port pointing at a half-made service.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "state.h"

static const char *const reason_names[] = {
#define SL_X_NAME(name, desc) #name,
	SL_REASONS(SL_X_NAME)
#undef SL_X_NAME
};

static const char *const reason_descs[] = {
#define SL_X_DESC(name, desc) desc,
	SL_REASONS(SL_X_DESC)
#undef SL_X_DESC
};

const char *sl_reason_name(unsigned int reason)
{
	return reason < SL_R__COUNT ? reason_names[reason] : NULL;
}

const char *sl_reason_desc(unsigned int reason)
{
	return reason < SL_R__COUNT ? reason_descs[reason] : NULL;
}

/* struct sl_stats is one __u64 per reason in enum order (asserted in abi.h). */
uint64_t sl_stats_field(const struct sl_stats *s, unsigned int reason)
{
	const __u64 *v = (const __u64 *)s;

	return reason < SL_R__COUNT ? v[reason] : 0;
}

void sl_stats_sum(const struct sl_stats *percpu, int ncpus, struct sl_stats *sum)
{
	__u64 *out = (__u64 *)sum;

	memset(sum, 0, sizeof(*sum));
	for (int cpu = 0; cpu < ncpus; cpu++) {
		const __u64 *v = (const __u64 *)&percpu[cpu];

		for (unsigned int r = 0; r < SL_R__COUNT; r++)
			out[r] += v[r];
	}
}

void sl_service_defaults(struct sl_service *svc, enum sl_proto proto, uint16_t port)
{
	memset(svc, 0, sizeof(*svc));
	svc->port = port;
	svc->proto = (__u8)proto;
	svc->action = SL_ACT_DROP;
	svc->src_prefix4 = SL_DEF_SRC_PREFIX4;
	svc->src_prefix6 = SL_DEF_SRC_PREFIX6;
	svc->mark = SL_DEF_MARK;
}

int sl_svc_opt_set(struct sl_svc_opts *o, const char *name, const char *value)
{
	uint32_t v;
	enum sl_action a;

	if (!strcmp(name, "rate")) {
		if (value && !strcmp(value, "none"))
			o->rate = 0;
		else if (sl_parse_rate(value, 1, SL_RATE_MAX, &o->rate))
			return sl_parse_fail(-EINVAL, "%s, or 'none'", sl_parse_errmsg());
		o->given |= SL_OPT_RATE;
	} else if (!strcmp(name, "burst")) {
		if (sl_parse_rate(value, 1, SL_RATE_MAX, &o->burst))
			return -EINVAL;
		o->given |= SL_OPT_BURST;
	} else if (!strcmp(name, "per-source")) {
		if (value && (!strcmp(value, "0") || !strcmp(value, "none")))
			o->src_rate = 0;
		else if (sl_parse_rate(value, 1, SL_RATE_MAX, &o->src_rate))
			return sl_parse_fail(-EINVAL, "%s, or 0 for none", sl_parse_errmsg());
		o->given |= SL_OPT_SRC_RATE;
	} else if (!strcmp(name, "per-source-burst")) {
		if (sl_parse_rate(value, 1, SL_RATE_MAX, &o->src_burst))
			return -EINVAL;
		o->given |= SL_OPT_SRC_BURST;
	} else if (!strcmp(name, "per-source-conns")) {
		if (value && !strcmp(value, "none"))
			o->src_conns = 0;
		else if (sl_parse_u32(value, 0, SL_SRC_CONNS_LIMIT_MAX, &o->src_conns))
			return sl_parse_fail(-EINVAL, "%s (0 or 'none': no limit)", sl_parse_errmsg());
		o->given |= SL_OPT_SRC_CONNS;
	} else if (!strcmp(name, "source-prefix4")) {
		if (sl_parse_u32(value, 1, 32, &v))
			return -EINVAL;
		o->prefix4 = (uint8_t)v;
		o->given |= SL_OPT_PREFIX4;
	} else if (!strcmp(name, "source-prefix6")) {
		if (sl_parse_u32(value, 1, 128, &v))
			return -EINVAL;
		o->prefix6 = (uint8_t)v;
		o->given |= SL_OPT_PREFIX6;
	} else if (!strcmp(name, "action")) {
		if (sl_parse_action(value, &a))
			return -EINVAL;
		o->action = (uint8_t)a;
		o->given |= SL_OPT_ACTION;
	} else if (!strcmp(name, "mark")) {
		if (sl_parse_u32(value, 1, UINT32_MAX, &o->mark))
			return -EINVAL;
		o->given |= SL_OPT_MARK;
	} else if (!strcmp(name, "monitor") || !strcmp(name, "enforce")) {
		bool monitor = name[0] == 'm';

		if ((o->given & SL_OPT_MONITOR) && o->monitor != monitor)
			return sl_parse_fail(-EINVAL, "--monitor and --enforce exclude each other");
		o->monitor = monitor;
		o->given |= SL_OPT_MONITOR;
	} else {
		return sl_parse_fail(-ENOENT, "unknown service option '--%s'", name);
	}
	return 0;
}

void sl_service_apply(struct sl_service *svc, const struct sl_svc_opts *o)
{
	if (o->given & SL_OPT_RATE)
		svc->rate = o->rate;
	if (o->given & SL_OPT_BURST)
		svc->burst = o->burst;
	if (o->given & SL_OPT_SRC_RATE)
		svc->src_rate = o->src_rate;
	if (o->given & SL_OPT_SRC_BURST)
		svc->src_burst = o->src_burst;
	if (o->given & SL_OPT_SRC_CONNS)
		svc->src_conns = o->src_conns;
	if (o->given & SL_OPT_PREFIX4)
		svc->src_prefix4 = o->prefix4;
	if (o->given & SL_OPT_PREFIX6)
		svc->src_prefix6 = o->prefix6;
	if (o->given & SL_OPT_ACTION)
		svc->action = o->action;
	if (o->given & SL_OPT_MONITOR) {
		if (o->monitor)
			svc->flags |= SL_SVC_MONITOR;
		else
			svc->flags &= ~SL_SVC_MONITOR;
	}
	if (o->given & SL_OPT_MARK)
		svc->mark = o->mark;
	/*
	 * A bucket needs a depth: one second's worth unless given. A rate
	 * change without a burst keeps the current burst; a bucket turned on
	 * without one gets the default rather than depth 0. No bucket, no
	 * burst.
	 */
	if (svc->rate && !svc->burst)
		svc->burst = svc->rate;
	if (!svc->rate)
		svc->burst = 0;
	if (svc->src_rate && !svc->src_burst)
		svc->src_burst = svc->src_rate;
	if (!svc->src_rate)
		svc->src_burst = 0;
}

int sl_service_check(const struct sl_service *svc, char *err, size_t len)
{
	if (svc->proto != SL_PROTO_TCP && svc->proto != SL_PROTO_UDP) {
		snprintf(err, len, "unknown protocol %u, expected tcp or udp", svc->proto);
		return -EINVAL;
	}
	if (svc->action == SL_ACT_REJECT && svc->proto == SL_PROTO_UDP) {
		snprintf(err, len, "action 'reject' on udp/%u: UDP has no RST, expected drop or mark",
			 svc->port);
		return -EINVAL;
	}
	if (svc->src_conns && svc->proto != SL_PROTO_TCP) {
		snprintf(err, len, "--per-source-conns on udp/%u: UDP has no connections to count, "
			 "expected a TCP service (or --per-source for a rate per source)", svc->port);
		return -EINVAL;
	}
	if (svc->src_conns > SL_SRC_CONNS_LIMIT_MAX) {
		snprintf(err, len, "per-source connection limit %u out of range, expected 0..%u",
			 svc->src_conns, SL_SRC_CONNS_LIMIT_MAX);
		return -EINVAL;
	}
	if (svc->action > SL_ACT_MARK) {
		snprintf(err, len, "unknown action %u, expected drop, reject or mark", svc->action);
		return -EINVAL;
	}
	if (svc->src_prefix4 < 1 || svc->src_prefix4 > 32 || svc->src_prefix6 < 1 ||
	    svc->src_prefix6 > 128) {
		snprintf(err, len, "source prefix /%u, /%u out of range, expected 1..32 and 1..128",
			 svc->src_prefix4, svc->src_prefix6);
		return -EINVAL;
	}
	if ((svc->rate && !svc->burst) || (svc->src_rate && !svc->src_burst)) {
		snprintf(err, len, "a bucket with a rate needs a burst of at least 1");
		return -EINVAL;
	}
	return 0;
}

int sl_service_find(const struct sl_pins *p, enum sl_proto proto, uint16_t port, uint32_t *slot)
{
	__u32 val = sl_pins_port_get(p, sl_port_key(proto, port));

	if (!val)
		return -ENOENT;
	*slot = val;
	return 0;
}

int sl_service_get(const struct sl_pins *p, uint32_t slot, struct sl_service *svc)
{
	__u32 key = slot;

	if (bpf_map_lookup_elem(p->services_fd, &key, svc)) {
		int err = -errno;

		if (err != -ENOENT)
			pr_err("cannot read %s[%u]: %s", SL_MAP_SERVICES, slot, strerror(errno));
		return err;
	}
	return 0;
}

static int slot_alloc(const struct sl_pins *p, uint32_t *slot)
{
	bool used[SL_MAX_SERVICES] = { true };	/* slot 0 is never a service */
	__u32 key, next;
	__u32 *prev = NULL;

	while (!bpf_map_get_next_key(p->services_fd, prev, &next)) {
		if (next < SL_MAX_SERVICES)
			used[next] = true;
		key = next;
		prev = &key;
	}
	if (errno != ENOENT) {
		int err = -errno;

		pr_err("cannot walk %s: %s", SL_MAP_SERVICES, strerror(errno));
		return err;
	}
	for (uint32_t s = 1; s < SL_MAX_SERVICES; s++) {
		if (!used[s]) {
			*slot = s;
			return 0;
		}
	}
	pr_err("no free service slot: all %d are in use", SL_MAX_SERVICES - 1);
	return -ENOSPC;
}

/* Forget the per-source entries (keyed by struct sl_src_key) an earlier
 * service left in this slot of one map. */
static int purge_slot(int fd, const char *map, uint32_t slot)
{
	struct sl_src_key key, next, *prev = NULL, *doomed = NULL;
	size_t n = 0, cap = 0;
	int err = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		if (next.slot == slot) {
			if (n == cap) {
				struct sl_src_key *d;

				cap = cap ? cap * 2 : 64;
				d = realloc(doomed, cap * sizeof(*d));
				if (!d) {
					err = -ENOMEM;
					goto out;
				}
				doomed = d;
			}
			doomed[n++] = next;
		}
		key = next;
		prev = &key;
	}
	for (size_t i = 0; i < n; i++) {
		if (bpf_map_delete_elem(fd, &doomed[i]) && errno != ENOENT) {
			err = -errno;
			pr_err("cannot delete from %s: %s", map, strerror(errno));
			goto out;
		}
	}
out:
	free(doomed);
	return err;
}

static int update(int fd, const char *map, __u32 key, const void *val, __u64 flags)
{
	if (bpf_map_update_elem(fd, &key, val, flags)) {
		int err = -errno;

		pr_err("cannot write %s[%u]: %s", map, key, strerror(errno));
		return err;
	}
	return 0;
}

static int delete_ok_missing(int fd, const char *map, __u32 key)
{
	if (bpf_map_delete_elem(fd, &key) && errno != ENOENT) {
		int err = -errno;

		pr_err("cannot delete %s[%u]: %s", map, key, strerror(errno));
		return err;
	}
	return 0;
}

/*
 * The service's own tables of per-source buckets (abi.h): a fresh LRU of
 * sl_config.src_entries entries put in sl_sources[slot], a zeroed fast
 * table in sl_src_fast[slot], and for a long IPv6 prefix another LRU in
 * sl_sources6[slot]. Made before the service that
 * uses them is written; the outer maps hold the only references, so
 * replacing or deleting an entry frees the old table and every bucket of
 * an earlier service (or prefix) in the slot with it.
 */
enum src_table_kind { SRC_TABLE, SRC_TABLE6, SRC_FAST };

static int src_table_new(const struct sl_pins *p, int outer_fd, const char *outer, uint32_t slot,
			 enum src_table_kind kind)
{
	char name[16];
	int fd, err;

	snprintf(name, sizeof(name), kind == SRC_TABLE ? "sl_src_%u" :
				     kind == SRC_TABLE6 ? "sl_src6_%u" : "sl_srcf_%u", slot);
	if (kind == SRC_FAST)	/* zeroed: every slot free */
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, name, 4, sizeof(struct sl_src_slot),
				    SL_SRC_FAST_SLOTS, NULL);
	else
		fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, name,
				    kind == SRC_TABLE6 ? sizeof(struct sl_src_bkey6) :
							 sizeof(struct sl_src_bkey),
				    sizeof(struct sl_src_bucket), p->sources_max, NULL);
	if (fd < 0) {
		err = -errno;
		pr_err("cannot create the per-source table %s of slot %u (%u entries): %s", outer,
		       slot, p->sources_max, strerror(errno));
		return err;
	}
	err = update(outer_fd, outer, slot, &fd, BPF_ANY);
	close(fd);
	return err;
}

static bool src_table_exists(int outer_fd, uint32_t slot)
{
	__u32 key = slot, id;

	return bpf_map_lookup_elem(outer_fd, &key, &id) == 0;
}

static bool src_tables_long(const struct sl_service *svc)
{
	return svc->src_rate && sl_src_prefix6_long(svc->src_prefix6);
}

/*
 * The tables svc needs, made afresh (fresh), or only where missing. What
 * it no longer needs is dropped by src_tables_drop(), after the service
 * is written.
 */
static int src_tables_make(const struct sl_pins *p, uint32_t slot, const struct sl_service *svc,
			   bool fresh)
{
	int err = 0;

	if (svc->src_rate && (fresh || !src_table_exists(p->sources_fd, slot)))
		err = src_table_new(p, p->sources_fd, SL_MAP_SOURCES, slot, SRC_TABLE);
	if (!err && svc->src_rate && (fresh || !src_table_exists(p->src_fast_fd, slot)))
		err = src_table_new(p, p->src_fast_fd, SL_MAP_SRC_FAST, slot, SRC_FAST);
	if (!err && src_tables_long(svc) && (fresh || !src_table_exists(p->sources6_fd, slot)))
		err = src_table_new(p, p->sources6_fd, SL_MAP_SOURCES6, slot, SRC_TABLE6);
	return err;
}

static int src_tables_drop(const struct sl_pins *p, uint32_t slot, const struct sl_service *svc)
{
	int err = 0;

	if (!svc || !svc->src_rate)
		err = delete_ok_missing(p->sources_fd, SL_MAP_SOURCES, slot);
	if (!err && (!svc || !svc->src_rate))
		err = delete_ok_missing(p->src_fast_fd, SL_MAP_SRC_FAST, slot);
	if (!err && (!svc || !src_tables_long(svc)))
		err = delete_ok_missing(p->sources6_fd, SL_MAP_SOURCES6, slot);
	return err;
}

/*
 * sl_gen gets a value it never had (abi.h): random, not a count, since two
 * writers at once would both write the same count + 1, and the count
 * could go back to a value a CPU's copy was made at.
 */
int sl_gen_bump(const struct sl_pins *p)
{
	__u64 gen;

	if (getrandom(&gen, sizeof(gen), 0) != (ssize_t)sizeof(gen)) {
		int err = errno ? -errno : -EIO;

		pr_err("cannot draw a new %s: %s", SL_MAP_GEN, strerror(-err));
		return err;
	}
	return update(p->gen_fd, SL_MAP_GEN, 0, &gen, BPF_ANY);
}

int sl_service_add(const struct sl_pins *p, const struct sl_service *svc, uint32_t *slot_out)
{
	struct sl_bucket bucket = {};
	struct sl_held held = {};
	struct sl_stats *zero = NULL;
	uint32_t slot = 0, existing;
	int ncpus, err;

	err = sl_service_find(p, svc->proto, svc->port, &existing);
	if (!err) {
		pr_err("service %s/%u already exists (slot %u): use 'service set'",
		       sl_proto_name(svc->proto), svc->port, existing);
		return -EEXIST;
	}
	if (err != -ENOENT)
		return err;
	err = slot_alloc(p, &slot);
	if (err)
		return err;

	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0) {
		pr_err("cannot count possible CPUs: %s", strerror(ncpus ? -ncpus : EINVAL));
		return ncpus ? ncpus : -EINVAL;
	}
	zero = calloc((size_t)ncpus, sizeof(*zero));
	if (!zero)
		return -ENOMEM;

	/* A fresh slot: no counters, bucket state or daemon limits of an old service. */
	err = update(p->stats_fd, SL_MAP_STATS, slot, zero, BPF_ANY);
	if (err)
		goto out;
	err = update(p->buckets_fd, SL_MAP_BUCKETS, slot, &bucket, BPF_ANY);
	if (err)
		goto out;
	err = update(p->held_fd, SL_MAP_HELD, slot, &held, BPF_ANY);
	if (err)
		goto out;
	err = delete_ok_missing(p->admission_fd, SL_MAP_ADMISSION, slot);
	if (err)
		goto out;
	/* No buckets of an earlier service in the slot: new tables, or none. */
	err = src_tables_make(p, slot, svc, true);
	if (!err)
		err = src_tables_drop(p, slot, svc);
	if (!err)
		err = purge_slot(p->src_quota_fd, SL_MAP_SRC_QUOTA, slot);
	if (!err)
		err = purge_slot(p->src_seen_fd, SL_MAP_SRC_SEEN, slot);
	if (!err)
		err = purge_slot(p->src_conns_fd, SL_MAP_SRC_CONNS, slot);
	if (err)
		goto out;
	/* abi.h: the service first, then the port that points at it. */
	err = update(p->services_fd, SL_MAP_SERVICES, slot, svc, BPF_NOEXIST);
	if (!err)
		err = sl_gen_bump(p);
	if (err)
		goto out;
	sl_pins_port_set(p, sl_port_key(svc->proto, svc->port), (__u8)slot);
	if (slot_out)
		*slot_out = slot;
out:
	free(zero);
	return err;
}

int sl_service_set(const struct sl_pins *p, uint32_t slot, const struct sl_service *svc)
{
	struct sl_service old;
	bool fresh;
	int err;

	/*
	 * A per-source rate turned on: its tables first (abi.h). New ones too
	 * when a source prefix changes: the keys hold no prefix length, and
	 * the buckets of the old prefixes must not be taken for the new.
	 */
	err = sl_service_get(p, slot, &old);
	if (err && err != -ENOENT)
		return err;
	fresh = err == -ENOENT || old.src_prefix4 != svc->src_prefix4 ||
		old.src_prefix6 != svc->src_prefix6;
	err = src_tables_make(p, slot, svc, fresh);
	if (err)
		return err;
	/* A hash update swaps the whole element (RCU): never half written. */
	err = update(p->services_fd, SL_MAP_SERVICES, slot, svc, BPF_EXIST);
	if (!err)
		err = sl_gen_bump(p);
	/* Turned off (or never on): the tables' memory back. */
	return err ? err : src_tables_drop(p, slot, svc);
}

int sl_service_del(const struct sl_pins *p, uint32_t slot)
{
	struct sl_service svc;
	int err;

	err = sl_service_get(p, slot, &svc);
	if (err == -ENOENT) {
		pr_err("slot %u holds no service", slot);
		return err;
	}
	if (err)
		return err;
	/* abi.h: unhook the port first, then remove what it pointed at. */
	sl_pins_port_set(p, sl_port_key(svc.proto, svc.port), 0);
	err = delete_ok_missing(p->services_fd, SL_MAP_SERVICES, slot);
	if (err)
		return err;
	err = src_tables_drop(p, slot, NULL);
	if (err)
		return err;
	err = delete_ok_missing(p->admission_fd, SL_MAP_ADMISSION, slot);
	return err ? err : sl_gen_bump(p);
}

static int cmp_service(const void *a, const void *b)
{
	const struct sl_service_entry *x = a, *y = b;

	if (x->svc.proto != y->svc.proto)
		return x->svc.proto - y->svc.proto;
	return (int)x->svc.port - (int)y->svc.port;
}

int sl_service_list(const struct sl_pins *p, struct sl_service_entry *out, size_t max, size_t *n)
{
	__u32 key, next, *prev = NULL;
	size_t cnt = 0;
	int err;

	while (!bpf_map_get_next_key(p->services_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (cnt == max)
			break;
		err = sl_service_get(p, key, &out[cnt].svc);
		if (err == -ENOENT)
			continue;	/* deleted while we walked */
		if (err)
			return err;
		out[cnt++].slot = key;
	}
	if (cnt < max && errno != ENOENT) {
		err = -errno;
		pr_err("cannot walk %s: %s", SL_MAP_SERVICES, strerror(errno));
		return err;
	}
	qsort(out, cnt, sizeof(*out), cmp_service);
	*n = cnt;
	return 0;
}

static void lpm_key(const struct sl_cidr *c, void *key, int *fd, const struct sl_pins *p)
{
	if (c->family == 4) {
		struct sl_lpm4_key *k = key;

		memset(k, 0, sizeof(*k));
		k->prefixlen = c->prefixlen;
		memcpy(k->addr, c->addr, 4);
		*fd = p->prefix4_fd;
	} else {
		struct sl_lpm6_key *k = key;

		memset(k, 0, sizeof(*k));
		k->prefixlen = c->prefixlen;
		memcpy(k->addr, c->addr, 16);
		*fd = p->prefix6_fd;
	}
}

int sl_prefix_add(const struct sl_pins *p, const struct sl_cidr *c, const struct sl_prefix_rule *r)
{
	char key[sizeof(struct sl_lpm6_key)], text[SL_CIDR_STRLEN];
	int fd, err;

	lpm_key(c, key, &fd, p);
	if (!bpf_map_update_elem(fd, key, r, BPF_NOEXIST))
		return sl_gen_bump(p);	/* the CPUs' memos of the rules (abi.h) */
	err = -errno;
	sl_format_cidr(c, text, sizeof(text));
	if (err == -EEXIST)
		pr_err("prefix %s already has a rule: delete it first", text);
	else
		pr_err("cannot add prefix %s: %s", text, strerror(-err));
	return err;
}

int sl_prefix_del(const struct sl_pins *p, const struct sl_cidr *c)
{
	char key[sizeof(struct sl_lpm6_key)], text[SL_CIDR_STRLEN];
	int fd, err;

	lpm_key(c, key, &fd, p);
	if (!bpf_map_delete_elem(fd, key))
		return sl_gen_bump(p);
	err = -errno;
	if (err != -ENOENT) {
		sl_format_cidr(c, text, sizeof(text));
		pr_err("cannot delete prefix %s: %s", text, strerror(-err));
	}
	return err;
}

static int walk_lpm(int fd, int family, struct sl_prefix_entry **out, size_t *n, size_t *cap)
{
	char key[sizeof(struct sl_lpm6_key)], next[sizeof(struct sl_lpm6_key)];
	void *prev = NULL;
	unsigned int alen = family == 4 ? 4 : 16;

	while (!bpf_map_get_next_key(fd, prev, next)) {
		struct sl_prefix_entry e = {};
		__u32 plen;

		memcpy(key, next, sizeof(key));
		prev = key;
		if (bpf_map_lookup_elem(fd, key, &e.rule)) {
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		memcpy(&plen, key, 4);
		e.cidr.family = (uint8_t)family;
		e.cidr.prefixlen = (uint8_t)plen;
		memcpy(e.cidr.addr, key + 4, alen);
		if (*n == *cap) {
			struct sl_prefix_entry *a;

			*cap = *cap ? *cap * 2 : 64;
			a = realloc(*out, *cap * sizeof(**out));
			if (!a)
				return -ENOMEM;
			*out = a;
		}
		(*out)[(*n)++] = e;
	}
	return errno == ENOENT ? 0 : -errno;
}

static int cmp_prefix(const void *a, const void *b)
{
	const struct sl_prefix_entry *x = a, *y = b;
	int c;

	if (x->cidr.family != y->cidr.family)
		return x->cidr.family - y->cidr.family;
	c = memcmp(x->cidr.addr, y->cidr.addr, 16);
	return c ? c : x->cidr.prefixlen - y->cidr.prefixlen;
}

int sl_prefix_list(const struct sl_pins *p, struct sl_prefix_entry **out, size_t *n)
{
	size_t cap = 0;
	int err;

	*out = NULL;
	*n = 0;
	err = walk_lpm(p->prefix4_fd, 4, out, n, &cap);
	if (!err)
		err = walk_lpm(p->prefix6_fd, 6, out, n, &cap);
	if (err) {
		pr_err("cannot walk the prefix maps: %s", strerror(-err));
		free(*out);
		*out = NULL;
		*n = 0;
		return err;
	}
	if (*n > 1)	/* *out is NULL when the tries are empty, and qsort wants a pointer */
		qsort(*out, *n, sizeof(**out), cmp_prefix);
	return 0;
}

int sl_rule_format(const struct sl_prefix_rule *r, char *buf, size_t len)
{
	switch (r->kind) {
	case SL_RULE_ALLOW:
		snprintf(buf, len, "allow");
		return 0;
	case SL_RULE_DENY:
		snprintf(buf, len, "deny");
		return 0;
	case SL_RULE_CLASS:
		snprintf(buf, len, "class %u", r->cls);
		return 0;
	default:
		snprintf(buf, len, "unknown(%u)", r->kind);
		return -EINVAL;
	}
}

int sl_level_get(const struct sl_pins *p, uint32_t *level)
{
	struct sl_config cfg;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(p->config_fd, &zero, &cfg)) {
		int err = -errno;

		pr_err("cannot read %s: %s", SL_MAP_CONFIG, strerror(errno));
		return err;
	}
	*level = cfg.level;
	return 0;
}

int sl_level_set(const struct sl_pins *p, uint32_t level)
{
	struct sl_config cfg;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(p->config_fd, &zero, &cfg)) {
		int err = -errno;

		pr_err("cannot read %s: %s", SL_MAP_CONFIG, strerror(errno));
		return err;
	}
	cfg.level = level;
	return update(p->config_fd, SL_MAP_CONFIG, 0, &cfg, BPF_ANY);
}

int sl_stats_read(const struct sl_pins *p, uint32_t slot, struct sl_stats *sum)
{
	struct sl_stats *percpu;
	__u32 key = slot;
	int ncpus, err = 0;

	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0) {
		pr_err("cannot count possible CPUs: %s", strerror(ncpus ? -ncpus : EINVAL));
		return ncpus ? ncpus : -EINVAL;
	}
	percpu = calloc((size_t)ncpus, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(p->stats_fd, &key, percpu)) {
		err = -errno;
		pr_err("cannot read %s[%u]: %s", SL_MAP_STATS, slot, strerror(errno));
		goto out;
	}
	sl_stats_sum(percpu, ncpus, sum);
out:
	free(percpu);
	return err;
}
