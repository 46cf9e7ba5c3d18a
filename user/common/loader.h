/* SPDX-License-Identifier: MIT */
/*
 * Loading and attaching the data plane (the libbpf skeleton of
 * bpf/sluice.bpf.c) with its maps pinned by name in the pin dir: the first
 * attach creates the maps (and writes SL_ABI_VERSION and the buckets'
 * clock into sl_config), later ones reuse them and load the program for
 * that clock, so every interface shares one set of limits on one clock.
 *
 * XDP is attached through a bpf_link pinned at <pin dir>/links/<ifname>,
 * so it outlives the process; TC through a clsact ingress filter. Either
 * way the per-source connection limit's counter (a tracepoint program,
 * for the interface's network namespace) comes with it, its link pinned
 * at <pin dir>/conns/<ifname>; the last detach also clears the counts. Each
 * attachment is recorded in the sl_attach map (mode, program id, and for
 * TC the filter's handle and priority and whether sluice created the
 * clsact qdisc), so that detach removes exactly what attach created.
 *
 * Both take the pin dir lock (sl_pins_lock) for their whole run.
 *
 * API:
 *   sl_loader_attach(&opts, &result)   idempotent for the same mode;
 *                                      -EBUSY for another mode
 *   sl_loader_detach(dir, ifname, &result)
 *   sl_attachment_alive(&p, &att, &prog_id)   is the recorded attachment
 *                                      still in place in the kernel
 *   sl_clock_slack_ns(clock)           the slack a bucket on that clock needs:
 *                                      0, or three coarse-clock ticks
 *   sl_clock_tick_ns()                 one tick of the coarse clock (its resolution)
 */
#ifndef SLUICE_LOADER_H
#define SLUICE_LOADER_H

#include <stdbool.h>
#include <stdint.h>

#include "pins.h"

#define SL_SOURCES_MAX (16u << 20)
/* The buckets' clock of new maps when attach is not given one. */
#define SL_CLOCK_DEFAULT SL_CLOCK_COARSE

struct sl_attach_opts {
	const char *pin_dir;
	const char *ifname;
	enum sl_attach_mode mode;	/* SL_MODE_NONE: native, else generic;
					 * generic on a veth (see netdev.h) */
	uint32_t sources;		/* sl_sources entries on creation; 0: default */
	bool clock_given;		/* clock asked for: on creation, it is the
					 * buckets' clock; else it must be theirs */
	enum sl_clock clock;
};

struct sl_attach_result {
	enum sl_attach_mode mode;
	uint32_t prog_id;
	uint32_t ifindex;
	bool already;			/* was attached in this mode: nothing done */
	bool created_state;		/* this attach created the maps */
	bool fell_back;			/* default mode: native unsupported, generic used */
	bool native_tx_lost;		/* XDP: a veth, whose native XDP_TX (a reject's
					 * RST) is lost unless the peer runs XDP; the
					 * default mode is generic there */
	bool qdisc_created;		/* TC: sluice created the clsact qdisc */
	uint32_t sources;		/* sl_sources entries in effect */
	enum sl_clock clock;		/* the buckets' clock in effect */
	uint64_t clock_slack_ns;	/* and its slack (coarse) */
};

struct sl_detach_result {
	enum sl_attach_mode mode;
	bool qdisc_removed;
	bool was_stale;			/* the kernel side was already gone */
};

int sl_loader_attach(const struct sl_attach_opts *opts, struct sl_attach_result *res);
int sl_loader_detach(const char *pin_dir, const char *ifname, struct sl_detach_result *res);
int sl_attachment_alive(const struct sl_pins *p, const struct sl_attachment *att, uint32_t *prog_id);
uint64_t sl_clock_slack_ns(enum sl_clock clock);
uint64_t sl_clock_tick_ns(void);

#endif /* SLUICE_LOADER_H */
