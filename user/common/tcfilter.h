/* SPDX-License-Identifier: MIT */
/*
 * Whether a TC hook has filters, by an rtnetlink dump (libbpf can query a
 * filter only by its handle and priority, not list them). detach asks it
 * before removing a clsact qdisc sluice created: filters another tool
 * added to it since would go with the qdisc.
 *
 *   sl_tc_has_filters(ifindex, parent) -> 1 yes, 0 no, -errno
 *   parent: TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS or TC_H_MIN_EGRESS)
 */
#ifndef SLUICE_TCFILTER_H
#define SLUICE_TCFILTER_H

#include <stdint.h>

int sl_tc_has_filters(int ifindex, uint32_t parent);

#endif /* SLUICE_TCFILTER_H */
