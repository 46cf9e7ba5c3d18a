/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A service as a judged packet sees it: sl_services[slot], the daemon's
 * sl_admission[slot] if it claimed the service, and each bucket's interval
 * (1e9 / rate, a division) and what the limiters derive from the service
 * (sl_view_limits), copied per CPU and kept until sl_gen changes.
 *
 * Why a copy: sl_services and sl_admission are hash maps, so that an update
 * replaces a whole value at once (abi.h), and a hash lookup is a call that
 * hashes the key and walks a bucket, several ns each, where the copy is
 * found by two array lookups the verifier inlines into a few loads. The
 * writers change sl_gen after every write to either map (abi.h), to a
 * value it never had before, so a copy made at the current sl_gen holds
 * every write made before it.
 *
 * Filling a copy: read sl_gen with a full barrier (a fetch-and-add of 0),
 * then the maps, so what is read is at least as new as that sl_gen; mark
 * the copy unfilled while it is written. Only the CPU's own packets read
 * it: XDP and TC run one packet at a time on a CPU (softirq), so a copy is
 * never read half written. (BPF_PROG_TEST_RUN runs a program in a process
 * that another task on the same CPU may preempt; a copy that such a run
 * finds unfilled is filled again, by it: both copy the maps as they are.)
 *
 * API (struct sl_view, the copy, is in maps.bpf.h):
 *   sl_view_get(slot) -> the CPU's copy, or NULL if the slot holds no service
 */
#ifndef SLUICE_VIEW_BPF_H
#define SLUICE_VIEW_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <sluice/abi.h>
#include "maps.bpf.h"

#define SL_NSEC_PER_SEC 1000000000ull

/* What the limiters work out from the copy once it is filled (limit.bpf.h). */
static __always_inline void sl_view_limits(struct sl_view *v);

static __always_inline __u64 sl_interval(__u32 rate)
{
	return rate ? SL_NSEC_PER_SEC / rate : 0;
}

static __always_inline struct sl_view *sl_view_get(__u32 slot)
{
	const struct sl_admission *adm = NULL;
	const struct sl_service *svc;
	struct sl_view *v;
	__u64 *genp, gen;
	__u32 zero = 0, rate;

	genp = bpf_map_lookup_elem(&sl_gen, &zero);
	v = bpf_map_lookup_elem(&sl_views, &slot);
	if (!genp || !v)
		return NULL;
	if (v->filled && v->gen == *(volatile __u64 *)genp)
		return v;

	gen = __sync_fetch_and_add(genp, 0);
	v->filled = 0;
	asm volatile("" ::: "memory");
	svc = bpf_map_lookup_elem(&sl_services, &slot);
	if (!svc)
		return NULL;
	if (svc->flags & SL_SVC_DAEMON)
		adm = bpf_map_lookup_elem(&sl_admission, &slot);
	v->svc = *svc;
	v->has_adm = adm != NULL;
	if (adm)
		v->adm = *adm;
	rate = svc->rate;
	v->interval = sl_interval(rate);
	if (adm && adm->rate_cap && (rate == 0 || adm->rate_cap < rate))
		rate = adm->rate_cap;
	v->capped_rate = rate;
	v->capped_interval = sl_interval(rate);
	v->src_interval = sl_interval(svc->src_rate);
	sl_view_limits(v);
	v->gen = gen;
	asm volatile("" ::: "memory");
	v->filled = 1;
	return v;
}

#endif /* SLUICE_VIEW_BPF_H */
