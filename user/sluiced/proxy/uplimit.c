// SPDX-License-Identifier: MIT
/* The proxy's limit on requests in flight to the upstream: uplimit.h. */
#include "uplimit.h"

unsigned uplimit_next(unsigned limit, uint64_t floor_ns, uint64_t rtt_ns,
		      uint64_t slack_ns, bool waited, unsigned max)
{
	uint64_t next, queue_x_rtt;

	if (floor_ns == 0 || rtt_ns == 0)
		return limit;
	if (rtt_ns < floor_ns)
		rtt_ns = floor_ns;
	/* inside * rtt, to compare with multiples of rtt in integers */
	queue_x_rtt = (uint64_t)limit * (rtt_ns - floor_ns);
	if (rtt_ns - floor_ns < slack_ns) {
		next = waited ? 2 * (uint64_t)limit : limit;
	} else if (2 * queue_x_rtt < rtt_ns) {
		next = waited ? (uint64_t)limit + 1 : limit;
	} else if (2 * queue_x_rtt <= 3 * rtt_ns) {
		next = limit;
	} else {
		next = (uint64_t)limit * floor_ns / rtt_ns + 1;
		if (next < (limit + 1) / 2)
			next = (limit + 1) / 2;
	}
	if (next > max)
		next = max;
	return next < 1 ? 1 : (unsigned)next;
}
