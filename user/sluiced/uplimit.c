// SPDX-License-Identifier: MIT
/* The proxy's limit on requests in flight to the upstream: uplimit.h. */
#include "uplimit.h"

unsigned uplimit_next(unsigned limit, uint64_t floor_ns, uint64_t rtt_min_ns,
		      bool waited, unsigned max)
{
	uint64_t next;

	if (floor_ns == 0 || rtt_min_ns == 0)
		return limit;
	if (rtt_min_ns < floor_ns)
		rtt_min_ns = floor_ns;
	next = (uint64_t)limit * floor_ns / rtt_min_ns + 1;
	if (!waited && next > limit)
		next = limit;
	if (next > max)
		next = max;
	return next < 1 ? 1 : (unsigned)next;
}
