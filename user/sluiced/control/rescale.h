/* SPDX-License-Identifier: MIT */
/*
 * The service bucket's state after the daemon raises its rate: pure
 * arithmetic on the GCRA bucket of the data plane (bpf/gcra.bpf.h), kept
 * apart from dataplane.c (which reads and writes the map) so that the
 * unit tests and the guard's simulation run the same code.
 *
 * API:
 *   sld_rescale_tat(tat, now, old_rate, new_rate, burst, slack)
 *       the tat to write on a raise from old_rate to new_rate (> 0, per
 *       second), for a bucket of `burst` connections and, on the coarse
 *       clock, `slack` ns of slack (0 on the precise clock); the tat
 *       itself when there is nothing to rescale (not a raise, or a bucket
 *       holding its full depth).
 */
#ifndef SLUICED_RESCALE_H
#define SLUICED_RESCALE_H

#include <stdint.h>

uint64_t sld_rescale_tat(uint64_t tat, uint64_t now, uint32_t old_rate, uint32_t new_rate,
			 uint64_t burst, uint64_t slack_ns);

#endif /* SLUICED_RESCALE_H */
