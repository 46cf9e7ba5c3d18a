// SPDX-License-Identifier: MIT
/*
 * When the daemon writes its sl_admission entry (heartbeat.h).
 */
#include "heartbeat.h"

uint64_t sld_heartbeat_every(uint64_t stale_after_ns)
{
	uint64_t every = stale_after_ns / 10;

	return every < SLD_HEARTBEAT_MAX_NS ? every : SLD_HEARTBEAT_MAX_NS;
}

bool sld_admission_due(const struct sl_admission *last, uint32_t last_slot,
		       const struct sl_admission *next, uint32_t slot, uint64_t now_ns,
		       bool quiet)
{
	if (!last_slot || last_slot != slot ||
	    last->level != next->level || last->stale_after_ns != next->stale_after_ns ||
	    last->stale_policy != next->stale_policy || last->flags != next->flags ||
	    last->conc_limit != next->conc_limit)
		return true;
	/* A rate of 0 is no cap: not a rise to wait on (heartbeat.h). */
	if (last->rate_cap != next->rate_cap &&
	    !(quiet && last->rate_cap && next->rate_cap > last->rate_cap))
		return true;
	/* A clock that went back (it does not: CLOCK_MONOTONIC) reads as due. */
	return now_ns < last->heartbeat_ns ||
	       now_ns - last->heartbeat_ns >= sld_heartbeat_every(next->stale_after_ns);
}
