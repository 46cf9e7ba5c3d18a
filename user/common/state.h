/* SPDX-License-Identifier: MIT */
/*
 * Reading and writing sluice's policy in the pinned maps: services (with
 * the slot discipline and update order of abi.h), prefix rules, the static
 * admission level, and the decision counters summed over CPUs. Shared by
 * sluicectl and sluiced.
 *
 * Failing map operations are logged here, with the map and the value;
 * "not found" answers (-ENOENT from sl_service_find, sl_prefix_del) are
 * returned silently for the caller to phrase.
 *
 * API (services):
 *   sl_service_defaults(&svc, proto, port)   the documented defaults
 *   sl_svc_opt_set(&opts, name, value)       parse one option ("rate", "10k");
 *                                            -ENOENT for an unknown name, else
 *                                            -EINVAL/-ERANGE with
 *                                            sl_parse_errmsg()
 *   sl_service_apply(&svc, &opts)            overlay options that were given
 *   sl_service_check(&svc, err, len)         combinations the data plane
 *                                            cannot honour (reject on UDP)
 *   sl_service_find(p, proto, port, &slot)   -ENOENT if not a service
 *   sl_service_get(p, slot, &svc)
 *   sl_service_add(p, &svc, &slot)           free slot, zero its counters
 *                                            and buckets, fresh per-source
 *                                            tables, no per-source entries
 *                                            (quota, seen, open connections)
 *                                            of an earlier service, services,
 *                                            ports
 *   sl_service_set(p, slot, &svc)            replace the whole value (and
 *                                            make or free the per-source
 *                                            tables as the rate and the
 *                                            prefixes need: new ones when
 *                                            a prefix changes)
 *   sl_service_del(p, slot)                  ports, then services
 *   sl_service_list(p, out, max, &n)         sorted by protocol and port
 *   sl_gen_bump(p)                           a new sl_gen: after any other
 *                                            write to sl_services or
 *                                            sl_admission (abi.h)
 * API (prefixes):
 *   sl_prefix_add(p, &cidr, &rule)           -EEXIST if that prefix has a rule
 *   sl_prefix_del(p, &cidr)                  -ENOENT if it has none
 *   sl_prefix_list(p, &out, &n)              malloc'd array, IPv4 first
 *   sl_rule_format(&rule, buf, len)          "allow", "deny", "class 3"
 * API (level, stats):
 *   sl_level_get(p, &level), sl_level_set(p, level)
 *   sl_stats_read(p, slot, &sum)             one slot summed over CPUs
 *   sl_stats_sum(percpu, ncpus, &sum)        the summing, for tests
 *   sl_reason_name(i), sl_reason_desc(i)     from SL_REASONS
 *   sl_stats_field(&stats, i)                counter i by index
 */
#ifndef SLUICE_STATE_H
#define SLUICE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parse.h"
#include "pins.h"

/* Service defaults (documented in sluicectl(8)). */
#define SL_DEF_SRC_PREFIX4 32
#define SL_DEF_SRC_PREFIX6 64
#define SL_DEF_MARK        0x5c
#define SL_RATE_MAX        100000000u	/* 100M per second */
#define SL_LEVEL_MAX       (SL_MAX_CLASS + 1)

/* Which fields of struct sl_svc_opts were given. */
enum {
	SL_OPT_RATE = 1u << 0,
	SL_OPT_BURST = 1u << 1,
	SL_OPT_SRC_RATE = 1u << 2,
	SL_OPT_SRC_BURST = 1u << 3,
	SL_OPT_PREFIX4 = 1u << 4,
	SL_OPT_PREFIX6 = 1u << 5,
	SL_OPT_ACTION = 1u << 6,
	SL_OPT_MONITOR = 1u << 7,
	SL_OPT_MARK = 1u << 8,
	SL_OPT_SRC_CONNS = 1u << 9,
};

struct sl_svc_opts {
	uint32_t given;		/* SL_OPT_* */
	uint32_t rate, burst, src_rate, src_burst;
	uint32_t src_conns;
	uint8_t prefix4, prefix6;
	uint8_t action;
	bool monitor;
	uint32_t mark;
};

struct sl_service_entry {
	uint32_t slot;
	struct sl_service svc;
};

struct sl_prefix_entry {
	struct sl_cidr cidr;
	struct sl_prefix_rule rule;
};

void sl_service_defaults(struct sl_service *svc, enum sl_proto proto, uint16_t port);
int sl_svc_opt_set(struct sl_svc_opts *o, const char *name, const char *value);
void sl_service_apply(struct sl_service *svc, const struct sl_svc_opts *o);
int sl_service_check(const struct sl_service *svc, char *err, size_t len);
int sl_service_find(const struct sl_pins *p, enum sl_proto proto, uint16_t port, uint32_t *slot);
int sl_service_get(const struct sl_pins *p, uint32_t slot, struct sl_service *svc);
int sl_service_add(const struct sl_pins *p, const struct sl_service *svc, uint32_t *slot);
int sl_service_set(const struct sl_pins *p, uint32_t slot, const struct sl_service *svc);
int sl_service_del(const struct sl_pins *p, uint32_t slot);
int sl_gen_bump(const struct sl_pins *p);
int sl_service_list(const struct sl_pins *p, struct sl_service_entry *out, size_t max, size_t *n);

int sl_prefix_add(const struct sl_pins *p, const struct sl_cidr *c, const struct sl_prefix_rule *r);
int sl_prefix_del(const struct sl_pins *p, const struct sl_cidr *c);
int sl_prefix_list(const struct sl_pins *p, struct sl_prefix_entry **out, size_t *n);
int sl_rule_format(const struct sl_prefix_rule *r, char *buf, size_t len);

int sl_level_get(const struct sl_pins *p, uint32_t *level);
int sl_level_set(const struct sl_pins *p, uint32_t level);

int sl_stats_read(const struct sl_pins *p, uint32_t slot, struct sl_stats *sum);
void sl_stats_sum(const struct sl_stats *percpu, int ncpus, struct sl_stats *sum);
const char *sl_reason_name(unsigned int reason);
const char *sl_reason_desc(unsigned int reason);
uint64_t sl_stats_field(const struct sl_stats *s, unsigned int reason);

#endif /* SLUICE_STATE_H */
