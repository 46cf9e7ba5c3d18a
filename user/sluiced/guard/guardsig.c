// SPDX-License-Identifier: MIT
/*
 * Guard mode's signal math (guardsig.h): the kernel's cumulative counters
 * of a guarded port, differenced per tick, into the controller's delay
 * signals.
 */
#include "guardsig.h"

#include <string.h>

void gsig_init(struct gsig_state *st)
{
	memset(st, 0, sizeof(*st));
}

static uint64_t sub(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/* Middle of bucket b: the last bucket has no upper bound, take its floor. */
static uint64_t bucket_mid_ns(uint32_t b)
{
	uint64_t lo = sl_guard_bucket_lo_ns(b);

	if (b + 1 >= SL_GUARD_BUCKETS)
		return lo;
	return lo + (sl_guard_bucket_lo_ns(b + 1) - lo) / 2;
}

uint64_t gsig_quantile(const uint64_t *hist, uint64_t n, double q)
{
	uint64_t rank, seen = 0;

	if (n == 0)
		return 0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	/* The sample of rank ceil(q n), at least the first. */
	rank = (uint64_t)(q * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	for (uint32_t b = 0; b < SL_GUARD_BUCKETS; b++) {
		seen += hist[b];
		if (seen >= rank)
			return bucket_mid_ns(b);
	}
	return bucket_mid_ns(SL_GUARD_BUCKETS - 1);
}

void gsig_tick(struct gsig_state *st, uint64_t now, const struct sl_guard_stats *cur,
	       uint32_t backlog, struct gsig_tick *out)
{
	const struct sl_guard_stats *p = &st->prev;
	uint64_t hist[SL_GUARD_BUCKETS], n = 0, started, ended;

	memset(out, 0, sizeof(*out));
	started = cur->conns + cur->readies;
	ended = cur->waits + cur->abandoned;
	out->pending = sub(started, ended);
	out->open = sub(cur->conns, cur->closed);
	if (!st->primed) {
		st->primed = true;
		st->prev = *cur;
		st->prev_ns = now;
		st->last_read_ns = now;
		st->clear_ns = now;
		return;
	}
	out->interval_ns = sub(now, st->prev_ns);
	out->waits = sub(cur->waits, p->waits);
	out->served = sub(cur->served, p->served);
	out->conns = sub(cur->conns, p->conns);
	out->abandoned = sub(cur->abandoned, p->abandoned);
	for (uint32_t b = 0; b < SL_GUARD_BUCKETS; b++) {
		hist[b] = sub(cur->hist[b], p->hist[b]);
		n += hist[b];
	}
	if (n) {
		out->delay_min_ns = gsig_quantile(hist, n, 0);
		out->p50_ns = gsig_quantile(hist, n, 0.5);
		out->p99_ns = gsig_quantile(hist, n, 0.99);
		/* The pool's oldest task, here the tick's p90 wait: a service
		 * that serves some sockets at once and leaves others waiting
		 * (Go's scheduler runs the newest goroutine first, netpoll's
		 * readied ones wait in a second queue) has a small minimum and
		 * a long tail. The law weighs it by half, so it acts only when
		 * a tenth of the reads waited twice the target. */
		out->oldest_age_ns = gsig_quantile(hist, n, 0.9);
		st->last_read_ns = now;
	} else if (out->pending || backlog) {
		/* Stuck: nothing read, work waiting. It arrived after the last
		 * tick that saw nothing waiting, and has waited since the
		 * last read at least. */
		uint64_t since = st->last_read_ns > st->clear_ns ? st->last_read_ns
								 : st->clear_ns;

		out->oldest_age_ns = sub(now, since);
	}
	if (!out->pending && !backlog)
		st->clear_ns = now;
	st->prev = *cur;
	st->prev_ns = now;
}

/* Weight of one overloaded interval in the saturated CPU rate: ~20 of
 * them (a fifth of a second of overload at 10 ms ticks) to settle. */
#define SAT_ALPHA 0.05

void gsig_busy_init(struct gsig_busy *b, unsigned cpus, uint64_t cpu_ns, uint64_t now)
{
	b->cpu_ns = cpu_ns;
	b->at_ns = now;
	b->sat = cpus ? cpus : 1;
}

double gsig_busy(struct gsig_busy *b, uint64_t cpu_ns, uint64_t now, bool overloaded)
{
	double rate;

	if (now <= b->at_ns || cpu_ns < b->cpu_ns)
		return 0;
	rate = (double)(cpu_ns - b->cpu_ns) / (double)(now - b->at_ns);
	b->cpu_ns = cpu_ns;
	b->at_ns = now;
	if (overloaded && rate > 0)
		b->sat += SAT_ALPHA * (rate - b->sat);
	if (b->sat <= 0)
		return 0;
	return rate < b->sat ? rate / b->sat : 1;
}
