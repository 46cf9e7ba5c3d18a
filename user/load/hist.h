/* SPDX-License-Identifier: MIT */
/*
 * A log-linear latency histogram in the manner of HdrHistogram: each power
 * of two of microseconds is split into HIST_SUB linear buckets, so any
 * recorded value is kept within 1/HIST_SUB (about 3%) of its true value,
 * from 1 us to about 2^HIST_POW us (over an hour), in fixed memory.
 *
 *   hist_record(h, us)     count one value
 *   hist_merge(dst, src)   add src's counts into dst
 *   hist_quantile(h, q)    value at quantile q in [0, 1] (upper bucket edge)
 */
#ifndef SLUICE_LOAD_HIST_H
#define SLUICE_LOAD_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 5
#define HIST_SUB      (1u << HIST_SUB_BITS)
#define HIST_POW      32
#define HIST_BUCKETS  (HIST_POW * HIST_SUB)

struct hist {
	uint64_t total;
	uint64_t max_us;
	uint64_t sum_us;
	uint32_t counts[HIST_BUCKETS];
};

void hist_record(struct hist *h, uint64_t us);
void hist_merge(struct hist *dst, const struct hist *src);
uint64_t hist_quantile(const struct hist *h, double q);

#endif
