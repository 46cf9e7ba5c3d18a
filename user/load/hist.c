// SPDX-License-Identifier: MIT
/* Log-linear latency histogram; see hist.h. */
#include "hist.h"

/*
 * Values below HIST_SUB map to themselves; above, the top HIST_SUB_BITS + 1
 * significant bits select the bucket: the position of the highest set bit
 * picks the power of two, the next HIST_SUB_BITS bits the linear step.
 */
static unsigned bucket_of(uint64_t v)
{
	if (v < HIST_SUB)
		return (unsigned)v;
	unsigned msb = 63 - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - HIST_SUB_BITS;
	unsigned idx = (shift + 1) * HIST_SUB + (unsigned)((v >> shift) & (HIST_SUB - 1));
	return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

/* The largest value that lands in bucket idx. */
static uint64_t bucket_top(unsigned idx)
{
	if (idx < HIST_SUB)
		return idx;
	unsigned shift = idx / HIST_SUB - 1;
	uint64_t base = (uint64_t)(HIST_SUB + idx % HIST_SUB) << shift;
	return base + (1ull << shift) - 1;
}

void hist_record(struct hist *h, uint64_t us)
{
	h->counts[bucket_of(us)]++;
	h->total++;
	h->sum_us += us;
	if (us > h->max_us)
		h->max_us = us;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		dst->counts[i] += src->counts[i];
	dst->total += src->total;
	dst->sum_us += src->sum_us;
	if (src->max_us > dst->max_us)
		dst->max_us = src->max_us;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	if (!h->total)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)h->total + 0.5);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			/* The last bucket also holds every value beyond the range. */
			uint64_t top = bucket_top(i);
			return top < h->max_us && i < HIST_BUCKETS - 1 ? top : h->max_us;
		}
	}
	return h->max_us;
}
