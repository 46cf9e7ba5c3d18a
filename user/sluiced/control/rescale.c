// SPDX-License-Identifier: MIT
/*
 * The service bucket's tat on a raise of its rate (rescale.h).
 *
 * The bucket is GCRA: its state is a theoretical arrival time (tat) up to
 * its tolerance ahead of now (burst intervals plus, on the coarse clock,
 * the slack: sl_tolerance in limit.bpf.h); what it holds is the
 * tolerance less that lead, in connections that lead over the interval.
 * Under a flood at a low rate it sits the whole tolerance ahead, e.g.
 * 16 x 100 ms = 1.6 s at 10/s: raise the rate and the kernel would keep
 * refusing until now caught up with that old tat, and the controller,
 * seeing no goodput from the raise, would stop raising. So a raise keeps
 * what the bucket holds, in connections, and gives it the new rate's
 * interval: the new lead is the new tolerance less that many new
 * intervals. A bucket the flood keeps empty stays empty at the new rate.
 *
 * Scaling the lead itself by old / new, as this did before, scaled the
 * slack too, which the tolerance keeps whole: each raise handed out
 * slack x (1 - old / new) of credit, a burst into the service at every
 * step of the increase, and at a jump from a quiet spell's rate to the
 * capacity (the busy jump) more than half the slack at once: 7 to 8
 * connections into a 1 ms service, 7 ms of queue over a 5 ms target.
 * (Before that, the lead was clamped to burst intervals without the
 * slack, which handed out the whole slack at every raise.)
 */
#include "rescale.h"

uint64_t sld_rescale_tat(uint64_t tat, uint64_t now, uint32_t old_rate, uint32_t new_rate,
			 uint64_t burst, uint64_t slack_ns)
{
	uint64_t old_iv, new_iv, old_tol, new_tol, held, lead;

	if (!old_rate || !new_rate || new_rate <= old_rate || tat <= now)
		return tat;
	old_iv = 1000000000ull / old_rate;
	new_iv = 1000000000ull / new_rate;
	burst = burst ? burst : 1;
	old_tol = old_iv * burst + slack_ns;
	new_tol = new_iv * burst + slack_ns;
	lead = tat - now;
	/* What it holds, in ns at the old interval; a lead past the
	 * tolerance (state of other limits) holds nothing. */
	held = lead < old_tol ? old_tol - lead : 0;
	held = (uint64_t)((double)held * (double)old_rate / (double)new_rate);
	return now + (held < new_tol ? new_tol - held : 0);
}
