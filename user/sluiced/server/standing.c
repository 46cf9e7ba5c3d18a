// SPDX-License-Identifier: MIT
/* Whether the queue stands, for the deadline drop (CoDel's dropping state):
 * standing.h. */
#include "standing.h"

/* now - t, 0 when another thread's later stamp is already stored */
static uint64_t since(uint64_t now, uint64_t t)
{
	return now > t ? now - t : 0;
}

bool standing_drop(struct standing *s, uint64_t now, uint64_t waited,
		   uint64_t deadline_ns, uint64_t interval_ns, bool shedding)
{
	uint64_t start = atomic_load_explicit(&s->run_start_ns, memory_order_relaxed);
	uint64_t last = atomic_load_explicit(&s->run_last_ns, memory_order_relaxed);

	if (waited <= deadline_ns) {
		/* The queue drained under the deadline before the run stood:
		 * it was a transient. */
		if (start && since(now, start) < interval_ns)
			atomic_store_explicit(&s->run_start_ns, 0, memory_order_relaxed);
		return false;
	}
	if (!start || since(now, last) >= interval_ns) {
		start = now;	/* a new run: none, or the last one ended */
		atomic_store_explicit(&s->run_start_ns, start, memory_order_relaxed);
	}
	if (now > last)
		atomic_store_explicit(&s->run_last_ns, now, memory_order_relaxed);
	return shedding || since(now, start) >= interval_ns;
}

void standing_excuse(struct standing *s, uint64_t now, uint64_t ns,
		     uint64_t interval_ns)
{
	uint64_t start = atomic_load_explicit(&s->run_start_ns, memory_order_relaxed);

	if (!start || since(now, start) >= interval_ns)
		return;	/* no run, or it stands already */
	start = start + ns < now ? start + ns : now;
	atomic_store_explicit(&s->run_start_ns, start, memory_order_relaxed);
}

bool standing_now(struct standing *s, uint64_t now, uint64_t interval_ns)
{
	uint64_t start = atomic_load_explicit(&s->run_start_ns, memory_order_relaxed);
	uint64_t last = atomic_load_explicit(&s->run_last_ns, memory_order_relaxed);

	return start && since(now, start) >= interval_ns && since(now, last) < interval_ns;
}
