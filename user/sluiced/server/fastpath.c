// SPDX-License-Identifier: MIT
/*
 * The fast path's answer: 503 Service Unavailable with a Retry-After from
 * the controller's current estimate and Connection: close, written into a
 * caller's buffer without allocating; and the counters every answer feeds
 * (fast-path reasons, statuses, latency).
 */
#include <errno.h>
#include <stdio.h>

#include "http_response.h"
#include "sluiced.h"

const int sld_status_codes[SLD_N_STATUS - 1] = { SLD_STATUS_CODES };
const double sld_lat_bounds[SLD_N_LAT] = { SLD_LAT_BOUNDS };

static const char *const fast_names[SLD_FAST__COUNT] = {
#define SLD_X(n, d) #n,
	SLD_FAST(SLD_X)
#undef SLD_X
};

const char *sld_fast_name(unsigned i)
{
	return i < SLD_FAST__COUNT ? fast_names[i] : "?";
}

int sld_fast_answer(char *buf, size_t cap, struct sld *d, enum sld_fast why,
		    bool keep_alive)
{
	uint32_t ra = atomic_load_explicit(&d->view.retry_after_s, memory_order_relaxed);
	struct http_response r = {
		.status = 503,
		.content_type = "text/plain",
		.retry_after_s = ra ? ra : 1,
		.close = !keep_alive,
	};

	atomic_fetch_add_explicit(&d->c.fast[why], 1, memory_order_relaxed);
	return http_write_simple(buf, cap, &r, "overloaded, retry later\n");
}

void sld_count_status(struct sld *d, int status)
{
	unsigned i;

	for (i = 0; i < SLD_N_STATUS - 1; i++)
		if (sld_status_codes[i] == status)
			break;
	atomic_fetch_add_explicit(&d->c.status[i], 1, memory_order_relaxed);
}

void sld_count_latency(struct sld *d, uint64_t ns)
{
	double s = (double)ns / 1e9;
	unsigned i;

	for (i = 0; i < SLD_N_LAT; i++)
		if (s <= sld_lat_bounds[i])
			break;
	atomic_fetch_add_explicit(&d->c.lat[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&d->c.lat_sum_ns, ns, memory_order_relaxed);
}
