// SPDX-License-Identifier: MIT
/*
 * Unit tests for user/common/state.c and the ABI helpers, against fake
 * in-memory maps: bpf_map_* and libbpf_num_possible_cpus are replaced
 * with -Wl,--wrap so nothing touches the kernel. Checks the slot
 * discipline and the update order of abi.h, that refused operations
 * write nothing, the reason names and the per-CPU sums.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <bpf/bpf.h>

#include "state.h"

#define NCPUS 3
#define MAX_ENTRIES 512
#define FD_BASE 100

/* ---- fake maps ---------------------------------------------------------- */

struct fake_map {
	const char *name;
	bool array;		/* absent keys read as zero, cannot be deleted */
	bool percpu;
	size_t key_size, value_size;
	size_t n;
	unsigned char keys[MAX_ENTRIES][24];
	unsigned char *values[MAX_ENTRIES];
};

enum { M_CONFIG, M_PORTS, M_SERVICES, M_ADMISSION, M_GEN, M_BUCKETS, M_SOURCES, M_SOURCES6,
       M_SRC_FAST, M_PREFIX4, M_PREFIX6, M_STATS, M_HELD, M__COUNT };

static struct fake_map maps[M__COUNT];
static char oplog[64][64];
static int nops;
static int fail_update_map = -1;	/* make updates of this map fail */

static size_t vsize(const struct fake_map *m)
{
	return m->percpu ? m->value_size * NCPUS : m->value_size;
}

static struct fake_map *map_of(int fd)
{
	if (fd < FD_BASE || fd >= FD_BASE + M__COUNT)
		return NULL;
	return &maps[fd - FD_BASE];
}

static ssize_t find(const struct fake_map *m, const void *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (!memcmp(m->keys[i], key, m->key_size))
			return (ssize_t)i;
	return -1;
}

static void logop(const char *op, const struct fake_map *m, const void *key)
{
	__u32 k = 0;

	if (nops >= 64)
		return;
	memcpy(&k, key, sizeof(k));
	if (m == &maps[M_PORTS])	/* sl_port_key(): proto, port in network order */
		snprintf(oplog[nops++], sizeof(oplog[0]), "%s %s %s/%u", op, m->name,
			 k >> 16 ? "udp" : "tcp", ntohs((uint16_t)k));
	else if (m->key_size == 4)
		snprintf(oplog[nops++], sizeof(oplog[0]), "%s %s %u", op, m->name, k);
	else
		snprintf(oplog[nops++], sizeof(oplog[0]), "%s %s", op, m->name);
}

int __wrap_bpf_map_update_elem(int fd, const void *key, const void *value, __u64 flags);
int __wrap_bpf_map_update_elem(int fd, const void *key, const void *value, __u64 flags)
{
	struct fake_map *m = map_of(fd);
	ssize_t i;

	if (!m) {
		errno = EBADF;
		return -EBADF;
	}
	if (fd - FD_BASE == fail_update_map) {
		errno = E2BIG;
		return -E2BIG;
	}
	i = find(m, key);
	if (i >= 0 && flags == BPF_NOEXIST) {
		errno = EEXIST;
		return -EEXIST;
	}
	if (i < 0 && flags == BPF_EXIST && !m->array) {
		errno = ENOENT;
		return -ENOENT;
	}
	if (i < 0) {
		i = (ssize_t)m->n++;
		memcpy(m->keys[i], key, m->key_size);
		m->values[i] = malloc(vsize(m));
	}
	memcpy(m->values[i], value, vsize(m));
	logop("update", m, key);
	return 0;
}

/* sl_ports, mapped in the real pins (pins.c), is a fake map here too. */
__u8 __wrap_sl_pins_port_get(const struct sl_pins *p, __u32 key);
void __wrap_sl_pins_port_set(const struct sl_pins *p, __u32 key, __u8 slot);

int __wrap_bpf_map_lookup_elem(int fd, const void *key, void *value);
int __wrap_bpf_map_lookup_elem(int fd, const void *key, void *value)
{
	struct fake_map *m = map_of(fd);
	ssize_t i;

	if (!m) {
		errno = EBADF;
		return -EBADF;
	}
	i = find(m, key);
	if (i < 0) {
		if (m->array) {
			memset(value, 0, vsize(m));
			return 0;
		}
		errno = ENOENT;
		return -ENOENT;
	}
	memcpy(value, m->values[i], vsize(m));
	return 0;
}

__u8 __wrap_sl_pins_port_get(const struct sl_pins *p, __u32 key)
{
	__u32 v = 0;

	assert_int_equal(__wrap_bpf_map_lookup_elem(p->ports_fd, &key, &v), 0);
	return (__u8)v;
}

void __wrap_sl_pins_port_set(const struct sl_pins *p, __u32 key, __u8 slot)
{
	__u32 v = slot;

	assert_int_equal(__wrap_bpf_map_update_elem(p->ports_fd, &key, &v, BPF_ANY), 0);
}

int __wrap_bpf_map_delete_elem(int fd, const void *key);
int __wrap_bpf_map_delete_elem(int fd, const void *key)
{
	struct fake_map *m = map_of(fd);
	ssize_t i;

	if (!m) {
		errno = EBADF;
		return -EBADF;
	}
	if (m->array) {
		errno = EINVAL;
		return -EINVAL;
	}
	i = find(m, key);
	if (i < 0) {
		errno = ENOENT;
		return -ENOENT;
	}
	logop("delete", m, key);
	free(m->values[i]);
	for (size_t j = (size_t)i; j + 1 < m->n; j++) {
		memcpy(m->keys[j], m->keys[j + 1], sizeof(m->keys[j]));
		m->values[j] = m->values[j + 1];
	}
	m->n--;
	return 0;
}

int __wrap_bpf_map_get_next_key(int fd, const void *key, void *next);
int __wrap_bpf_map_get_next_key(int fd, const void *key, void *next)
{
	struct fake_map *m = map_of(fd);
	size_t start = 0;

	if (!m) {
		errno = EBADF;
		return -EBADF;
	}
	if (key) {
		ssize_t i = find(m, key);

		start = i < 0 ? 0 : (size_t)i + 1;
	}
	if (start >= m->n) {
		errno = ENOENT;
		return -ENOENT;
	}
	memcpy(next, m->keys[start], m->key_size);
	return 0;
}

/* A per-source table: a number no real fd has, which state.c then closes
 * (EBADF, harmlessly). */
int __wrap_bpf_map_create(enum bpf_map_type type, const char *name, __u32 key_size,
			  __u32 value_size, __u32 max_entries, const void *opts);
int __wrap_bpf_map_create(enum bpf_map_type type, const char *name, __u32 key_size,
			  __u32 value_size, __u32 max_entries, const void *opts)
{
	(void)opts;
	if (!strncmp(name, "sl_srcf_", 8)) {	/* sl_src_fast's (abi.h) */
		assert_int_equal(type, BPF_MAP_TYPE_ARRAY);
		assert_int_equal(key_size, 4);
		assert_int_equal(value_size, sizeof(struct sl_src_slot));
		assert_int_equal(max_entries, SL_SRC_FAST_SLOTS);
	} else {	/* sl_sources' tables, or sl_sources6's */
		assert_int_equal(type, BPF_MAP_TYPE_LRU_HASH);
		assert_int_equal(key_size, strncmp(name, "sl_src6_", 8) ?
						   sizeof(struct sl_src_bkey) :
						   sizeof(struct sl_src_bkey6));
		assert_int_equal(value_size, sizeof(struct sl_src_bucket));
	}
	if (nops < 64)
		snprintf(oplog[nops++], sizeof(oplog[0]), "create %s %u", name, max_entries);
	return 9000;
}

int __wrap_libbpf_num_possible_cpus(void);
int __wrap_libbpf_num_possible_cpus(void)
{
	return NCPUS;
}

static struct sl_pins pins;

static void def(int id, const char *name, bool array, bool percpu, size_t k, size_t v)
{
	maps[id] = (struct fake_map){ .name = name, .array = array, .percpu = percpu,
				      .key_size = k, .value_size = v };
}

static int setup(void **state)
{
	(void)state;
	def(M_CONFIG, "config", true, false, 4, sizeof(struct sl_config));
	def(M_PORTS, "ports", true, false, 4, 4);
	def(M_SERVICES, "services", false, false, 4, sizeof(struct sl_service));
	def(M_ADMISSION, "admission", false, false, 4, sizeof(struct sl_admission));
	def(M_GEN, "gen", true, false, 4, 8);
	def(M_BUCKETS, "buckets", true, false, 4, sizeof(struct sl_bucket));
	/* An ARRAY_OF_MAPS: slot -> table; an empty slot reads ENOENT. */
	def(M_SOURCES, "sources", false, false, 4, 4);
	def(M_SOURCES6, "sources6", false, false, 4, 4);
	def(M_SRC_FAST, "src_fast", false, false, 4, 4);
	def(M_PREFIX4, "prefix4", false, false, sizeof(struct sl_lpm4_key),
	    sizeof(struct sl_prefix_rule));
	def(M_PREFIX6, "prefix6", false, false, sizeof(struct sl_lpm6_key),
	    sizeof(struct sl_prefix_rule));
	def(M_STATS, "stats", true, true, 4, sizeof(struct sl_stats));
	def(M_HELD, "held", true, false, 4, sizeof(struct sl_held));
	memset(&pins, 0, sizeof(pins));
	pins.config_fd = FD_BASE + M_CONFIG;
	pins.ports_fd = FD_BASE + M_PORTS;
	pins.services_fd = FD_BASE + M_SERVICES;
	pins.admission_fd = FD_BASE + M_ADMISSION;
	pins.gen_fd = FD_BASE + M_GEN;
	pins.buckets_fd = FD_BASE + M_BUCKETS;
	pins.sources_fd = FD_BASE + M_SOURCES;
	pins.sources6_fd = FD_BASE + M_SOURCES6;
	pins.src_fast_fd = FD_BASE + M_SRC_FAST;
	pins.prefix4_fd = FD_BASE + M_PREFIX4;
	pins.prefix6_fd = FD_BASE + M_PREFIX6;
	pins.stats_fd = FD_BASE + M_STATS;
	pins.held_fd = FD_BASE + M_HELD;
	pins.attach_fd = -1;
	pins.sources_max = 1000;
	nops = 0;
	fail_update_map = -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int m = 0; m < M__COUNT; m++)
		for (size_t i = 0; i < maps[m].n; i++)
			free(maps[m].values[i]);
	memset(maps, 0, sizeof(maps));
	return 0;
}

static void put(int id, const void *key, const void *val)
{
	int saved = nops;

	assert_int_equal(__wrap_bpf_map_update_elem(FD_BASE + id, key, val, BPF_ANY), 0);
	nops = saved;	/* fixtures are not part of the log */
}

static __u32 port_slot(enum sl_proto proto, uint16_t port)
{
	__u32 key = sl_port_key(proto, port), v;

	assert_int_equal(__wrap_bpf_map_lookup_elem(pins.ports_fd, &key, &v), 0);
	return v;
}

/* ---- ABI helpers -------------------------------------------------------- */

static void test_reason_names(void **state)
{
	struct sl_stats s = {};

	(void)state;
	assert_string_equal(sl_reason_name(SL_R_admitted), "admitted");
	assert_string_equal(sl_reason_name(SL_R_parse_error), "parse_error");
	assert_string_equal(sl_reason_name(SL_R_stale), "stale");
	assert_null(sl_reason_name(SL_R__COUNT));
	assert_non_null(strstr(sl_reason_desc(SL_R_svc_bucket), "rate"));
	/* index i is the struct member of the same name */
	s.fragment = 7;
	s.admitted = 3;
	assert_int_equal(sl_stats_field(&s, SL_R_fragment), 7);
	assert_int_equal(sl_stats_field(&s, SL_R_admitted), 3);
	assert_int_equal(sl_stats_field(&s, SL_R__COUNT), 0);
	for (unsigned int r = 0; r < SL_R__COUNT; r++) {
		assert_non_null(sl_reason_name(r));
		for (unsigned int q = 0; q < r; q++)
			assert_string_not_equal(sl_reason_name(r), sl_reason_name(q));
	}
}

static void test_port_key(void **state)
{
	(void)state;
	/* the port as a 16-bit load from the packet reads it */
	assert_int_equal(sl_port_key(SL_PROTO_TCP, 80), htons(80));
	assert_int_equal(sl_port_key(SL_PROTO_UDP, 80), 65536 + htons(80));
	assert_int_equal(sl_port_key(SL_PROTO_UDP, 65535), SL_PORT_KEYS - 1);
	assert_int_equal(sl_port_key(SL_PROTO_TCP, 0x1234), 0x3412);
}

static void test_stats_sum(void **state)
{
	struct sl_stats percpu[NCPUS] = {}, sum;

	(void)state;
	percpu[0].admitted = 1;
	percpu[1].admitted = 10;
	percpu[2].admitted = 100;
	percpu[2].stale = 5;
	sl_stats_sum(percpu, NCPUS, &sum);
	assert_int_equal(sum.admitted, 111);
	assert_int_equal(sum.stale, 5);
	assert_int_equal(sum.dropped, 0);

	put(M_STATS, &(__u32){ 4 }, percpu);
	assert_int_equal(sl_stats_read(&pins, 4, &sum), 0);
	assert_int_equal(sum.admitted, 111);
}

/* ---- service values ----------------------------------------------------- */

static void test_service_defaults_apply(void **state)
{
	struct sl_svc_opts o = {};
	struct sl_service s;

	(void)state;
	sl_service_defaults(&s, SL_PROTO_TCP, 8080);
	assert_int_equal(s.port, 8080);
	assert_int_equal(s.action, SL_ACT_DROP);
	assert_int_equal(s.rate, 0);
	assert_int_equal(s.src_prefix4, 32);
	assert_int_equal(s.src_prefix6, 64);
	assert_int_equal(s.mark, SL_DEF_MARK);

	o.given = SL_OPT_RATE;
	o.rate = 500;
	sl_service_apply(&s, &o);
	assert_int_equal(s.rate, 500);
	assert_int_equal(s.burst, 500);	/* default: one second's worth */

	/* set: a new rate keeps the current burst */
	o.rate = 2000;
	sl_service_apply(&s, &o);
	assert_int_equal(s.burst, 500);

	/* rate none: no bucket, no burst */
	o.rate = 0;
	sl_service_apply(&s, &o);
	assert_int_equal(s.rate, 0);
	assert_int_equal(s.burst, 0);

	memset(&o, 0, sizeof(o));
	o.given = SL_OPT_SRC_RATE | SL_OPT_MONITOR | SL_OPT_PREFIX6;
	o.src_rate = 10;
	o.monitor = true;
	o.prefix6 = 56;
	sl_service_apply(&s, &o);
	assert_int_equal(s.src_rate, 10);
	assert_int_equal(s.src_burst, 10);
	assert_true(s.flags & SL_SVC_MONITOR);
	assert_int_equal(s.src_prefix6, 56);
	assert_int_equal(s.src_prefix4, 32);	/* untouched */

	o.given = SL_OPT_SRC_RATE | SL_OPT_MONITOR;
	o.src_rate = 0;
	o.monitor = false;
	sl_service_apply(&s, &o);
	assert_int_equal(s.src_burst, 0);
	assert_false(s.flags & SL_SVC_MONITOR);
}

static void test_service_options(void **state)
{
	struct sl_svc_opts o = {};

	(void)state;
	assert_int_equal(sl_svc_opt_set(&o, "rate", "10k"), 0);
	assert_int_equal(o.rate, 10000);
	assert_int_equal(o.given, SL_OPT_RATE);
	assert_int_equal(sl_svc_opt_set(&o, "rate", "none"), 0);
	assert_int_equal(o.rate, 0);
	assert_int_not_equal(sl_svc_opt_set(&o, "rate", "0"), 0);
	assert_non_null(strstr(sl_parse_errmsg(), "'0'"));
	assert_non_null(strstr(sl_parse_errmsg(), "'none'"));
	assert_int_not_equal(sl_svc_opt_set(&o, "rate", "101M"), 0);
	assert_int_equal(sl_svc_opt_set(&o, "burst", "2M"), 0);
	assert_int_equal(o.burst, 2000000);
	assert_int_not_equal(sl_svc_opt_set(&o, "burst", "0"), 0);

	assert_int_equal(sl_svc_opt_set(&o, "per-source", "0"), 0);
	assert_int_equal(o.src_rate, 0);
	assert_true(o.given & SL_OPT_SRC_RATE);
	assert_int_equal(sl_svc_opt_set(&o, "per-source", "50"), 0);
	assert_int_equal(o.src_rate, 50);
	assert_int_equal(sl_svc_opt_set(&o, "per-source-burst", "5k"), 0);
	assert_int_equal(o.src_burst, 5000);

	/* The per-source connection limit: 0..1000000, 0 or none for none. */
	assert_int_equal(sl_svc_opt_set(&o, "per-source-conns", "10"), 0);
	assert_int_equal(o.src_conns, 10);
	assert_true(o.given & SL_OPT_SRC_CONNS);
	assert_int_equal(sl_svc_opt_set(&o, "per-source-conns", "none"), 0);
	assert_int_equal(o.src_conns, 0);
	assert_int_equal(sl_svc_opt_set(&o, "per-source-conns", "1000000"), 0);
	assert_int_equal(sl_svc_opt_set(&o, "per-source-conns", "0"), 0);
	assert_int_equal(o.src_conns, 0);
	assert_int_not_equal(sl_svc_opt_set(&o, "per-source-conns", "-1"), 0);
	assert_non_null(strstr(sl_parse_errmsg(), "'-1'"));
	assert_non_null(strstr(sl_parse_errmsg(), "0..1000000"));
	assert_int_not_equal(sl_svc_opt_set(&o, "per-source-conns", "abc"), 0);
	assert_non_null(strstr(sl_parse_errmsg(), "'abc'"));
	assert_int_not_equal(sl_svc_opt_set(&o, "per-source-conns", "1000001"), 0);
	assert_non_null(strstr(sl_parse_errmsg(), "out of range"));
	assert_int_not_equal(sl_svc_opt_set(&o, "per-source-conns", "10k"), 0);
	assert_int_equal(o.src_conns, 0);	/* a refused value changes nothing */

	assert_int_equal(sl_svc_opt_set(&o, "source-prefix4", "24"), 0);
	assert_int_equal(o.prefix4, 24);
	assert_int_not_equal(sl_svc_opt_set(&o, "source-prefix4", "33"), 0);
	assert_non_null(strstr(sl_parse_errmsg(), "1..32"));
	assert_int_equal(sl_svc_opt_set(&o, "source-prefix6", "128"), 0);
	assert_int_not_equal(sl_svc_opt_set(&o, "source-prefix6", "0"), 0);

	assert_int_equal(sl_svc_opt_set(&o, "action", "reject"), 0);
	assert_int_equal(o.action, SL_ACT_REJECT);
	assert_int_not_equal(sl_svc_opt_set(&o, "action", "block"), 0);
	assert_int_equal(sl_svc_opt_set(&o, "mark", "0x10"), 0);
	assert_int_equal(o.mark, 16);
	assert_int_not_equal(sl_svc_opt_set(&o, "mark", "0"), 0);

	assert_int_equal(sl_svc_opt_set(&o, "monitor", NULL), 0);
	assert_true(o.monitor);
	assert_int_equal(sl_svc_opt_set(&o, "monitor", NULL), 0);	/* repeat is fine */
	assert_int_not_equal(sl_svc_opt_set(&o, "enforce", NULL), 0);
	assert_non_null(strstr(sl_parse_errmsg(), "exclude"));

	assert_int_equal(sl_svc_opt_set(&o, "colour", "red"), -ENOENT);
	assert_int_equal(o.given, SL_OPT_RATE | SL_OPT_BURST | SL_OPT_SRC_RATE | SL_OPT_SRC_BURST |
				  SL_OPT_PREFIX4 | SL_OPT_PREFIX6 | SL_OPT_ACTION | SL_OPT_MARK |
				  SL_OPT_MONITOR | SL_OPT_SRC_CONNS);
}

static void test_service_check(void **state)
{
	struct sl_service s;
	char why[256];

	(void)state;
	sl_service_defaults(&s, SL_PROTO_UDP, 53);
	assert_int_equal(sl_service_check(&s, why, sizeof(why)), 0);
	s.action = SL_ACT_REJECT;
	assert_int_equal(sl_service_check(&s, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "udp/53"));
	assert_non_null(strstr(why, "reject"));
	s.action = SL_ACT_MARK;
	assert_int_equal(sl_service_check(&s, why, sizeof(why)), 0);
	sl_service_defaults(&s, SL_PROTO_TCP, 80);
	s.action = SL_ACT_REJECT;
	assert_int_equal(sl_service_check(&s, why, sizeof(why)), 0);
	s.src_conns = 10;
	assert_int_equal(sl_service_check(&s, why, sizeof(why)), 0);
	s.src_prefix4 = 33;
	assert_int_equal(sl_service_check(&s, why, sizeof(why)), -EINVAL);
	/* UDP has no connections to count. */
	sl_service_defaults(&s, SL_PROTO_UDP, 53);
	s.src_conns = 10;
	assert_int_equal(sl_service_check(&s, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "--per-source-conns on udp/53"));
}

/* ---- service map operations --------------------------------------------- */

static void test_service_add_order(void **state)
{
	struct sl_admission adm = { .level = 3 };
	struct sl_stats old[NCPUS] = { [1] = { .admitted = 99 } }, sum;
	struct sl_service s, got;
	uint32_t slot = 0;

	(void)state;
	/* leftovers of an earlier service in slot 1 */
	put(M_SOURCES, &(__u32){ 1 }, &(__u32){ 77 });	/* its per-source table */
	put(M_SOURCES, &(__u32){ 2 }, &(__u32){ 78 });
	put(M_ADMISSION, &(__u32){ 1 }, &adm);
	put(M_STATS, &(__u32){ 1 }, old);
	put(M_HELD, &(__u32){ 1 }, &(struct sl_held){ .held = 5 });	/* a guard's count */

	sl_service_defaults(&s, SL_PROTO_TCP, 8080);
	s.rate = s.burst = 100;
	assert_int_equal(sl_service_add(&pins, &s, &slot), 0);
	assert_int_equal(slot, 1);

	assert_int_equal(nops, 8);
	assert_string_equal(oplog[0], "update stats 1");
	assert_string_equal(oplog[1], "update buckets 1");
	assert_string_equal(oplog[2], "update held 1");
	assert_string_equal(oplog[3], "delete admission 1");
	assert_string_equal(oplog[4], "delete sources 1");	/* no per-source rate: no table */
	assert_string_equal(oplog[5], "update services 1");
	assert_string_equal(oplog[6], "update gen 0");	/* the data plane's copies go */
	assert_string_equal(oplog[7], "update ports tcp/8080");

	assert_int_equal(port_slot(SL_PROTO_TCP, 8080), 1);
	assert_int_equal(sl_service_get(&pins, 1, &got), 0);
	assert_memory_equal(&got, &s, sizeof(s));
	assert_int_equal(sl_stats_read(&pins, 1, &sum), 0);
	assert_int_equal(sum.admitted, 0);
	{
		struct sl_held h = { .held = 1 };

		assert_int_equal(bpf_map_lookup_elem(pins.held_fd, &(__u32){ 1 }, &h), 0);
		assert_int_equal(h.held, 0);	/* no count of the slot's last service */
	}
	assert_int_equal(maps[M_SOURCES].n, 1);	/* slot 2's table stays */
}

/* A per-source rate has tables of its own (the LRU and its fast table),
 * made before the service that uses them and freed when the rate or the
 * service goes. */
static void test_service_per_source_table(void **state)
{
	struct sl_service s;
	uint32_t slot = 0;

	(void)state;
	put(M_SOURCES, &(__u32){ 1 }, &(__u32){ 77 });	/* an earlier service's table */
	sl_service_defaults(&s, SL_PROTO_TCP, 8080);
	s.src_rate = s.src_burst = 10;
	assert_int_equal(sl_service_add(&pins, &s, &slot), 0);
	assert_int_equal(nops, 10);
	assert_string_equal(oplog[3], "create sl_src_1 1000");
	assert_string_equal(oplog[4], "update sources 1");	/* replaces table 77 */
	assert_string_equal(oplog[5], "create sl_srcf_1 4096");
	assert_string_equal(oplog[6], "update src_fast 1");
	assert_string_equal(oplog[7], "update services 1");
	assert_string_equal(oplog[8], "update gen 0");
	assert_string_equal(oplog[9], "update ports tcp/8080");

	s.src_rate = s.src_burst = 0;
	nops = 0;
	assert_int_equal(sl_service_set(&pins, slot, &s), 0);
	assert_int_equal(nops, 4);
	assert_string_equal(oplog[0], "update services 1");
	assert_string_equal(oplog[1], "update gen 0");
	assert_string_equal(oplog[2], "delete sources 1");
	assert_string_equal(oplog[3], "delete src_fast 1");

	s.src_rate = s.src_burst = 5;
	nops = 0;
	assert_int_equal(sl_service_set(&pins, slot, &s), 0);
	assert_int_equal(nops, 6);
	assert_string_equal(oplog[0], "create sl_src_1 1000");
	assert_string_equal(oplog[1], "update sources 1");
	assert_string_equal(oplog[2], "create sl_srcf_1 4096");
	assert_string_equal(oplog[3], "update src_fast 1");
	assert_string_equal(oplog[4], "update services 1");
	assert_string_equal(oplog[5], "update gen 0");
	nops = 0;
	assert_int_equal(sl_service_set(&pins, slot, &s), 0);
	assert_int_equal(nops, 2);	/* the tables are kept, buckets and all */

	nops = 0;
	assert_int_equal(sl_service_del(&pins, slot), 0);
	assert_int_equal(nops, 5);
	assert_string_equal(oplog[1], "delete services 1");
	assert_string_equal(oplog[2], "delete sources 1");
	assert_string_equal(oplog[3], "delete src_fast 1");
	assert_string_equal(oplog[4], "update gen 0");
	assert_int_equal(maps[M_SOURCES].n, 0);
	assert_int_equal(maps[M_SRC_FAST].n, 0);
}

/* A long IPv6 prefix keeps its IPv6 sources in a third table
 * (sl_sources6); a prefix change gives new tables, since the keys hold
 * no prefix length (abi.h). */
static void test_service_per_source_prefixes(void **state)
{
	struct sl_service s;
	uint32_t slot = 0;

	(void)state;
	sl_service_defaults(&s, SL_PROTO_TCP, 8080);
	s.src_rate = s.src_burst = 10;
	s.src_prefix6 = 128;
	assert_int_equal(sl_service_add(&pins, &s, &slot), 0);
	assert_int_equal(nops, 12);
	assert_string_equal(oplog[3], "create sl_src_1 1000");
	assert_string_equal(oplog[4], "update sources 1");
	assert_string_equal(oplog[5], "create sl_srcf_1 4096");
	assert_string_equal(oplog[6], "update src_fast 1");
	assert_string_equal(oplog[7], "create sl_src6_1 1000");
	assert_string_equal(oplog[8], "update sources6 1");
	assert_string_equal(oplog[9], "update services 1");
	assert_string_equal(oplog[10], "update gen 0");
	assert_string_equal(oplog[11], "update ports tcp/8080");

	nops = 0;
	assert_int_equal(sl_service_set(&pins, slot, &s), 0);
	assert_int_equal(nops, 2);	/* the same prefixes: the tables kept */

	s.src_prefix4 = 24;
	nops = 0;
	assert_int_equal(sl_service_set(&pins, slot, &s), 0);
	assert_int_equal(nops, 8);	/* another prefix: all made afresh, first */
	assert_string_equal(oplog[0], "create sl_src_1 1000");
	assert_string_equal(oplog[1], "update sources 1");
	assert_string_equal(oplog[2], "create sl_srcf_1 4096");
	assert_string_equal(oplog[3], "update src_fast 1");
	assert_string_equal(oplog[4], "create sl_src6_1 1000");
	assert_string_equal(oplog[5], "update sources6 1");
	assert_string_equal(oplog[6], "update services 1");
	assert_string_equal(oplog[7], "update gen 0");

	s.src_prefix6 = 64;
	nops = 0;
	assert_int_equal(sl_service_set(&pins, slot, &s), 0);
	assert_int_equal(nops, 7);	/* /64: no long table, dropped after the service */
	assert_string_equal(oplog[4], "update services 1");
	assert_string_equal(oplog[5], "update gen 0");
	assert_string_equal(oplog[6], "delete sources6 1");
	assert_int_equal(maps[M_SOURCES6].n, 0);

	s.src_prefix6 = 65;
	assert_int_equal(sl_service_set(&pins, slot, &s), 0);
	assert_int_equal(maps[M_SOURCES6].n, 1);
	nops = 0;
	assert_int_equal(sl_service_del(&pins, slot), 0);
	assert_int_equal(nops, 6);
	assert_string_equal(oplog[1], "delete services 1");
	assert_string_equal(oplog[2], "delete sources 1");
	assert_string_equal(oplog[3], "delete src_fast 1");
	assert_string_equal(oplog[4], "delete sources6 1");
	assert_string_equal(oplog[5], "update gen 0");
	assert_int_equal(maps[M_SOURCES].n, 0);
	assert_int_equal(maps[M_SRC_FAST].n, 0);
	assert_int_equal(maps[M_SOURCES6].n, 0);
}

static void test_service_add_exists_writes_nothing(void **state)
{
	struct sl_service s;
	uint32_t slot;

	(void)state;
	put(M_PORTS, &(__u32){ sl_port_key(SL_PROTO_UDP, 53) }, &(__u32){ 7 });
	sl_service_defaults(&s, SL_PROTO_UDP, 53);
	assert_int_equal(sl_service_add(&pins, &s, &slot), -EEXIST);
	assert_int_equal(nops, 0);
}

static void test_slot_allocation(void **state)
{
	struct sl_service s;
	uint32_t slot;

	(void)state;
	sl_service_defaults(&s, SL_PROTO_TCP, 1);
	put(M_SERVICES, &(__u32){ 1 }, &s);
	put(M_SERVICES, &(__u32){ 3 }, &s);
	sl_service_defaults(&s, SL_PROTO_TCP, 443);
	assert_int_equal(sl_service_add(&pins, &s, &slot), 0);
	assert_int_equal(slot, 2);	/* lowest free, never 0 */

	for (__u32 k = 4; k < SL_MAX_SERVICES; k++)
		put(M_SERVICES, &k, &s);
	nops = 0;
	sl_service_defaults(&s, SL_PROTO_TCP, 444);
	assert_int_equal(sl_service_add(&pins, &s, &slot), -ENOSPC);
	assert_int_equal(nops, 0);
	assert_int_equal(port_slot(SL_PROTO_TCP, 444), 0);
}

static void test_service_set_del(void **state)
{
	struct sl_service s, got;
	struct sl_admission adm = {};
	uint32_t slot;

	(void)state;
	sl_service_defaults(&s, SL_PROTO_UDP, 5353);
	assert_int_equal(sl_service_add(&pins, &s, &slot), 0);
	assert_int_equal(sl_service_find(&pins, SL_PROTO_UDP, 5353, &slot), 0);
	assert_int_equal(sl_service_find(&pins, SL_PROTO_TCP, 5353, &slot), -ENOENT);
	assert_int_equal(sl_service_find(&pins, SL_PROTO_UDP, 5353, &slot), 0);

	s.rate = 10;
	s.burst = 20;
	nops = 0;
	assert_int_equal(sl_service_set(&pins, slot, &s), 0);
	assert_int_equal(nops, 2);
	assert_string_equal(oplog[0], "update services 1");
	assert_string_equal(oplog[1], "update gen 0");
	assert_int_equal(sl_service_get(&pins, slot, &got), 0);
	assert_int_equal(got.burst, 20);
	/* set never creates */
	assert_int_equal(sl_service_set(&pins, 9, &s), -ENOENT);

	put(M_ADMISSION, &slot, &adm);
	nops = 0;
	assert_int_equal(sl_service_del(&pins, slot), 0);
	assert_int_equal(nops, 4);
	assert_string_equal(oplog[0], "update ports udp/5353");	/* := 0 */
	assert_string_equal(oplog[1], "delete services 1");
	assert_string_equal(oplog[2], "delete admission 1");
	assert_string_equal(oplog[3], "update gen 0");
	assert_int_equal(port_slot(SL_PROTO_UDP, 5353), 0);
	assert_int_equal(sl_service_del(&pins, slot), -ENOENT);
}

static void test_service_list_sorted(void **state)
{
	struct sl_service_entry list[SL_MAX_SERVICES];
	struct sl_service s;
	size_t n;
	uint32_t slot;

	(void)state;
	sl_service_defaults(&s, SL_PROTO_UDP, 53);
	assert_int_equal(sl_service_add(&pins, &s, &slot), 0);
	sl_service_defaults(&s, SL_PROTO_TCP, 8080);
	assert_int_equal(sl_service_add(&pins, &s, &slot), 0);
	sl_service_defaults(&s, SL_PROTO_TCP, 80);
	assert_int_equal(sl_service_add(&pins, &s, &slot), 0);
	assert_int_equal(sl_service_list(&pins, list, SL_MAX_SERVICES, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(list[0].svc.port, 80);
	assert_int_equal(list[0].slot, 3);
	assert_int_equal(list[1].svc.port, 8080);
	assert_int_equal(list[2].svc.port, 53);
	assert_int_equal(list[2].svc.proto, SL_PROTO_UDP);
}

/* ---- prefixes and level ------------------------------------------------- */

static void test_prefixes(void **state)
{
	struct sl_prefix_rule deny = { .kind = SL_RULE_DENY };
	struct sl_prefix_rule cls = { .kind = SL_RULE_CLASS, .cls = 6 };
	struct sl_prefix_entry *list;
	struct sl_cidr a, b, c;
	char text[32];
	size_t n;

	(void)state;
	assert_int_equal(sl_parse_cidr("2001:db8::/32", &a), 0);
	assert_int_equal(sl_parse_cidr("198.18.0.0/15", &b), 0);
	assert_int_equal(sl_parse_cidr("10.0.0.0/8", &c), 0);
	assert_int_equal(sl_prefix_add(&pins, &a, &deny), 0);
	assert_int_equal(sl_prefix_add(&pins, &b, &cls), 0);
	assert_int_equal(sl_prefix_add(&pins, &b, &deny), -EEXIST);
	assert_int_equal(maps[M_PREFIX4].n, 1);
	assert_int_equal(maps[M_PREFIX6].n, 1);

	/* the key is prefixlen then address, as the LPM trie wants */
	assert_int_equal(*(__u32 *)maps[M_PREFIX4].keys[0], 15);
	assert_int_equal(maps[M_PREFIX4].keys[0][4], 198);

	assert_int_equal(sl_prefix_list(&pins, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].cidr.family, 4);
	assert_int_equal(list[0].rule.cls, 6);
	assert_int_equal(list[1].cidr.family, 6);
	assert_int_equal(list[1].cidr.prefixlen, 32);
	assert_int_equal(sl_rule_format(&list[0].rule, text, sizeof(text)), 0);
	assert_string_equal(text, "class 6");
	free(list);

	assert_int_equal(sl_prefix_del(&pins, &c), -ENOENT);
	assert_int_equal(sl_prefix_del(&pins, &a), 0);
	assert_int_equal(maps[M_PREFIX6].n, 0);
}

static void test_level(void **state)
{
	struct sl_config cfg = { .abi_version = SL_ABI_VERSION, .level = 0 };
	uint32_t level;

	(void)state;
	put(M_CONFIG, &(__u32){ 0 }, &cfg);
	assert_int_equal(sl_level_set(&pins, 5), 0);
	assert_int_equal(sl_level_get(&pins, &level), 0);
	assert_int_equal(level, 5);
	assert_int_equal(__wrap_bpf_map_lookup_elem(pins.config_fd, &(__u32){ 0 }, &cfg), 0);
	assert_int_equal(cfg.abi_version, SL_ABI_VERSION);	/* whole value kept */
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_reason_names),
		T(test_port_key),
		T(test_stats_sum),
		T(test_service_defaults_apply),
		T(test_service_options),
		T(test_service_check),
		T(test_service_add_order),
		T(test_service_per_source_table),
		T(test_service_per_source_prefixes),
		T(test_service_add_exists_writes_nothing),
		T(test_slot_allocation),
		T(test_service_set_del),
		T(test_service_list_sorted),
		T(test_prefixes),
		T(test_level),
	};

	return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
