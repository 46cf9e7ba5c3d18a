/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Every map of the data plane, in one place. Layouts and meanings are in
 * include/sluice/abi.h; each map is pinned by name so that every attached
 * interface, sluicectl and sluiced share one set.
 */
#ifndef SLUICE_MAPS_BPF_H
#define SLUICE_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <sluice/abi.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_PORT_KEYS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct sl_service);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct sl_admission);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_admission SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct sl_bucket);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_buckets SEC(".maps");

/* max_entries is set by the loader before load (bpf_map__set_max_entries). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_SOURCES_DEFAULT);
	__type(key, struct sl_src_key);
	__type(value, struct sl_src_bucket);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_sources SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* the kernel requires it for LPM tries */
	__type(key, struct sl_lpm4_key);
	__type(value, struct sl_prefix_rule);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_prefix4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sl_lpm6_key);
	__type(value, struct sl_prefix_rule);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_prefix6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct sl_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_SRC_QUOTA_MAX);
	__type(key, struct sl_src_key);
	__type(value, struct sl_src_quota);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_src_quota SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_SRC_SEEN_MAX);
	__type(key, struct sl_src_key);
	__type(value, struct sl_src_seen);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_src_seen SEC(".maps");

#endif /* SLUICE_MAPS_BPF_H */
