// SPDX-License-Identifier: MIT
/*
 * The pool's self-measurement, read side: snapshots that sum the workers'
 * single-writer counters and queue-delay histograms, per-interval values
 * between two snapshots, and a sliding window of snapshots. Writers only
 * ever increment, so any reader, at any rate, computes its own intervals.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SUB HIST_SUB

unsigned pool_hist_bucket(uint64_t ns)
{
	return hist_bucket(ns);
}

uint64_t pool_hist_lower(unsigned b)
{
	unsigned e;

	if (b < SUB)
		return b;
	e = b / SUB + POOL_HIST_SUB_BITS - 1;
	return (uint64_t)(SUB + b % SUB) << (e - POOL_HIST_SUB_BITS);
}

uint64_t pool_hist_upper(unsigned b)
{
	if (b + 1 >= POOL_HIST_BUCKETS)
		return HIST_MAX;
	return pool_hist_lower(b + 1) - 1;
}

uint64_t pool_hist_quantile(const uint64_t *hist, double q)
{
	uint64_t total = 0, rank, seen = 0;

	for (unsigned i = 0; i < POOL_HIST_BUCKETS; i++)
		total += hist[i];
	if (!total)
		return 0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	/* the smallest value with at least q of the samples at or below it */
	rank = (uint64_t)(q * (double)total + 0.999999);
	if (rank == 0)
		rank = 1;
	for (unsigned i = 0; i < POOL_HIST_BUCKETS; i++) {
		seen += hist[i];
		if (seen >= rank)
			return pool_hist_upper(i);
	}
	return HIST_MAX;
}

int pool_stats(struct pool *p, struct pool_stats *s)
{
	uint64_t now, oldest;

	if (!p || !s)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	now = pool__ticks();
	s->now_ns = pool__ticks_to_mono_ns(now);
	s->workers = p->nworkers;
	/* relaxed everywhere below: a snapshot is a set of independent
	 * monotonic counters and gauges, each read once; no reader relies on
	 * an order between them */
	s->submitted = atomic_load_explicit(&p->inj.tail, memory_order_relaxed) &
		       ~INJECT_CLOSED;
	s->rejected = atomic_load_explicit(&p->rejected, memory_order_relaxed);
	s->inject_depth = inject_depth_any(&p->inj);
	s->depth = s->inject_depth;
	oldest = inject_oldest_any(&p->inj);
	if (oldest && oldest < now)
		s->oldest_wait_ns = pool__ticks_to_ns(now - oldest);
	s->sleeping = park_sleepers(
		atomic_load_explicit(&p->park.state, memory_order_relaxed));
	for (unsigned i = 0; i < p->nworkers; i++) {
		struct worker *w = p->workers[i];
		struct worker_stats *st = &w->st;
		uint64_t since, busy;

		/* (a worker's continuation slot is its own and not counted) */
		s->depth += (uint64_t)deque_size_any(&w->dq);
		s->inject_depth += atomic_load_explicit(&w->batch_left,
							memory_order_relaxed);
		s->depth += atomic_load_explicit(&w->batch_left,
						 memory_order_relaxed);
		s->completed += atomic_load_explicit(&st->completed, memory_order_relaxed);
		s->spawned_run += atomic_load_explicit(&st->spawned_run, memory_order_relaxed);
		s->stolen += atomic_load_explicit(&st->stolen, memory_order_relaxed);
		s->parked += atomic_load_explicit(&st->parked, memory_order_relaxed);
		busy = atomic_load_explicit(&st->busy_ticks, memory_order_relaxed);
		since = atomic_load_explicit(&st->busy_since, memory_order_relaxed);
		if (since && since < now)
			busy += now - since; /* the stretch running right now */
		s->busy_ns += pool__ticks_to_ns(busy);
		for (unsigned b = 0; b < POOL_HIST_BUCKETS; b++)
			s->delay_hist[b] += atomic_load_explicit(
				&st->hist[b], memory_order_relaxed);
	}
	pthread_mutex_lock(&p->blk.lock);
	s->blocking_threads = p->blk.threads;
	pthread_mutex_unlock(&p->blk.lock);
	s->blocking_completed =
		atomic_load_explicit(&p->blk.completed, memory_order_relaxed);
	s->blocking_rejected =
		atomic_load_explicit(&p->blk.rejected, memory_order_relaxed);
	return 0;
}

static uint64_t sub0(uint64_t b, uint64_t a)
{
	return b > a ? b - a : 0;
}

void pool_stats_interval(const struct pool_stats *a, const struct pool_stats *b,
			 struct pool_interval *o)
{
	uint64_t h[POOL_HIST_BUCKETS];
	int lo = -1, hi = -1;

	memset(o, 0, sizeof(*o));
	o->ns = sub0(b->now_ns, a->now_ns);
	o->submitted = sub0(b->submitted, a->submitted);
	o->rejected = sub0(b->rejected, a->rejected);
	o->completed = sub0(b->completed, a->completed);
	if (o->ns && b->workers) {
		o->busy = (double)sub0(b->busy_ns, a->busy_ns) /
			  ((double)o->ns * b->workers);
		if (o->busy > 1)
			o->busy = 1;
	}
	for (unsigned i = 0; i < POOL_HIST_BUCKETS; i++) {
		h[i] = sub0(b->delay_hist[i], a->delay_hist[i]);
		o->started += h[i];
		if (h[i] && lo < 0)
			lo = (int)i;
		if (h[i])
			hi = (int)i;
	}
	if (lo < 0)
		return;
	o->min_delay_ns = pool_hist_lower((unsigned)lo);
	o->max_delay_ns = pool_hist_upper((unsigned)hi);
	o->p50_ns = pool_hist_quantile(h, 0.5);
	o->p99_ns = pool_hist_quantile(h, 0.99);
	o->p999_ns = pool_hist_quantile(h, 0.999);
}

int pool_window_init(struct pool_window *w, unsigned n)
{
	if (!w || n < 1)
		return -EINVAL;
	w->ring = calloc(n, sizeof(*w->ring));
	if (!w->ring)
		return -ENOMEM;
	w->n = n;
	w->count = 0;
	w->next = 0;
	return 0;
}

void pool_window_push(struct pool_window *w, const struct pool_stats *s,
		      struct pool_interval *out)
{
	const struct pool_stats *oldest;

	/* the oldest kept snapshot is where the window starts */
	oldest = w->count < w->n ? &w->ring[0] : &w->ring[w->next];
	if (w->count == 0)
		oldest = s;
	if (out)
		pool_stats_interval(oldest, s, out);
	w->ring[w->next] = *s;
	w->next = (w->next + 1) % w->n;
	if (w->count < w->n)
		w->count++;
}

void pool_window_free(struct pool_window *w)
{
	free(w->ring);
	w->ring = NULL;
}
