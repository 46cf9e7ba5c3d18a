// SPDX-License-Identifier: MIT
/*
 * Guard mode's signal math (guardsig.h): the kernel's cumulative counters
 * of a guarded port, differenced per tick and over a window of ticks,
 * into the controller's delay signal.
 */
#include "guardsig.h"

#include <string.h>

/* The quantile the signal and its baseline take. The law settles where
 * its signal sits just under the target, so the signal is the quantile
 * the bar is on: the p99 of what is admitted. Over a window of a few
 * ticks at ~1000 requests/s that is the largest sojourn or two: the law's
 * proportional step and the goodput it anchors to keep one outlier from
 * cutting much. */
#define GSIG_Q 0.99
/* The baseline moves only on a window with this many answers. */
#define BASE_MIN_SAMPLES 8
/* Its steps toward a window's p99, a tick: down within ~10 ticks, up
 * within ~100 (a second), and only while nothing is shed. */
#define BASE_DOWN 0.1
#define BASE_UP 0.01
#define BASE_STALE_NS 10000000000ull
/* Low load: the service at most this busy (its CPU against what it uses
 * saturated, averaged over about a window), and at most LOW_PENDING
 * measured requests in it at each tick of the window. Its sojourn then is
 * its own time, and bounds the base. The busy fraction alone reads low in
 * a service starved of its CPU by others, queue or no queue. */
#define UNLOADED_BUSY 0.5
#define LOW_PENDING 2
/* The tail's distance from the fastest answer while keeping up: an EWMA
 * over ~10 windows. */
#define SPREAD_ALPHA 0.1
/* Sojourns a window should hold (guardsig.h, sampling). */
#define SAMPLES_HI 256
#define SAMPLES_LO 64

void gsig_init(struct gsig_state *st)
{
	memset(st, 0, sizeof(*st));
}

static uint64_t sub(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/* Upper bound of bucket b; the last bucket has none, take its floor. */
static double bucket_hi_ns(uint32_t b)
{
	if (b + 1 >= SL_GUARD_BUCKETS)
		return (double)sl_guard_bucket_lo_ns(b);
	return (double)sl_guard_bucket_lo_ns(b + 1);
}

/*
 * The q-quantile of bucket counts: the bucket where the rank q x n falls,
 * and within it the point as far across as the rank is through the
 * bucket's count (linear, as Prometheus' histogram_quantile). A bucket is
 * a fifth of its value wide: reading its middle, the signal near a 5 ms
 * target was 4.7 or 5.8 ms and nothing between, so the law saw "just
 * under" or "over" where it should see how far.
 */
uint64_t gsig_quantile(const uint64_t *hist, uint64_t n, double q)
{
	double rank, seen = 0;

	if (n == 0)
		return 0;
	q = q < 0 ? 0 : q > 1 ? 1 : q;
	rank = q * (double)n;
	for (uint32_t b = 0; b < SL_GUARD_BUCKETS; b++) {
		double lo = (double)sl_guard_bucket_lo_ns(b), c = (double)hist[b];

		if (!hist[b])
			continue;
		if (seen + c >= rank)
			return (uint64_t)(lo + (bucket_hi_ns(b) - lo) * (rank - seen) / c);
		seen += c;
	}
	return sl_guard_bucket_lo_ns(SL_GUARD_BUCKETS - 1);
}

/*
 * The difference of two cumulative histograms, and its count, without
 * the last bucket: an answer 30 s or more after its request (beyond the
 * buckets' range) is no queue the law can drain in its ticks: a long
 * poll, a stream, or a bad measurement (one sample there in each Go
 * run of bench-guard, in its 0.5x phase, made the window's p99 30 s and
 * halved the rate for four ticks). A service that stopped answering
 * counts through the stuck signal instead.
 */
static uint64_t hist_diff(const __u64 *cur, const __u64 *old, uint64_t *out)
{
	uint64_t n = 0;

	for (uint32_t b = 0; b + 1 < SL_GUARD_BUCKETS; b++) {
		out[b] = sub(cur[b], old[b]);
		n += out[b];
	}
	out[SL_GUARD_BUCKETS - 1] = 0;
	return n;
}

/* v's step toward q: down by BASE_DOWN of the gap, up by BASE_UP of it
 * but at most BASE_UP of v (a window's p99 hundreds of times v, one
 * stall, would otherwise lift it by several v in a tick); at least a
 * nanosecond: a step that rounds to 0 never arrives. */
static uint64_t follow(uint64_t v, uint64_t q)
{
	uint64_t step;

	if (q < v)
		return v - (uint64_t)((double)(v - q) * BASE_DOWN);
	step = (uint64_t)((double)(q - v < v ? q - v : v) * BASE_UP);
	return q > v ? v + (step ? step : 1) : v;
}

/* Is the service at low load (see UNLOADED_BUSY)? busy: this tick's
 * busy fraction (0: unknown, which forgets the average). */
static bool low_load(struct gsig_state *st, double busy, uint64_t pending)
{
	if (!(busy > 0))
		st->busy = 0;
	else
		st->busy = st->busy > 0 ? st->busy + (busy - st->busy) / GSIG_WINDOW : busy;
	st->calm = pending <= LOW_PENDING ? st->calm + 1 : 0;
	return st->busy > 0 && st->busy <= UNLOADED_BUSY && st->calm >= GSIG_WINDOW;
}

/* The sojourn at low load: it bounds the base wherever the base learnt
 * it (guardsig.h, the creep). */
static void update_unloaded(struct gsig_state *st, uint64_t q, uint64_t samples, bool low)
{
	if (samples < BASE_MIN_SAMPLES || !low)
		return;
	st->unloaded_ns = st->unloaded_ns ? follow(st->unloaded_ns, q) : q;
}

static void update_base(struct gsig_state *st, uint64_t now, uint64_t q, uint64_t lo,
			uint64_t samples, bool shedding)
{
	uint64_t up = q;	/* where the base may rise to */

	if (!shedding)
		st->keepup_ns = now;
	if (samples < BASE_MIN_SAMPLES)
		return;
	if (!st->base_ns) {
		st->base_ns = q;
		st->spread_ns = q - lo;
		return;
	}
	if (!shedding) {
		st->spread_ns += (int64_t)(((double)(q - lo) - (double)st->spread_ns) * SPREAD_ALPHA);
	} else if (now - st->keepup_ns < BASE_STALE_NS) {
		up = 0;		/* overloaded: what it shows is the queue */
	} else {
		/* Stale: re-learn from the window's fastest answer plus the
		 * spread the service showed while keeping up. A service whose
		 * work got slower raises its fastest answer; a queue the law
		 * holds raises it only by what never drains, where the window's
		 * tail (the queue itself) would creep up with the limit. */
		uint64_t floor = lo + (uint64_t)st->spread_ns;

		up = floor < q ? floor : q;
	}
	if (q < st->base_ns)
		st->base_ns = follow(st->base_ns, q);
	else if (up > st->base_ns)
		st->base_ns = follow(st->base_ns, up);
}

/*
 * The next sampling shift, from the window's sojourns and the last tick's.
 * Up, while the window holds too many: as far as the last tick says, a
 * window of ticks like it then holding at most SAMPLES_HI, in one step. A
 * step a tick measured a load that jumped to 80k requests a second whole
 * for up to SL_GUARD_SHIFT_MAX ticks, 0.7 s at a calm guard's idle ticks
 * (controlloop.c); the window's older, denser ticks no longer count once
 * the last one is sampled enough. Down: a step a tick.
 */
static uint32_t next_shift(uint32_t shift, uint64_t window, uint64_t tick)
{
	uint64_t est = tick * GSIG_WINDOW;

	if (window > SAMPLES_HI) {
		for (; est > SAMPLES_HI && shift < SL_GUARD_SHIFT_MAX; est >>= 1)
			shift++;
		return shift;
	}
	if (window < SAMPLES_LO && shift > 0)
		return shift - 1;
	return shift;
}

void gsig_tick(struct gsig_state *st, uint64_t now, const struct sl_guard_stats *cur,
	       uint32_t backlog, bool shedding, double busy, struct gsig_tick *out)
{
	const struct sl_guard_stats *p, *old;
	uint64_t hist_soj[SL_GUARD_BUCKETS], hist[SL_GUARD_BUCKETS], n, wn;

	memset(out, 0, sizeof(*out));
	out->pending = sub(cur->started, cur->answered + cur->abandoned);
	out->open = sub(cur->conns, cur->closed);
	if (!st->primed) {
		st->primed = true;
		st->snap[0] = *cur;
		st->next = 1 % GSIG_WINDOW;
		st->filled = 1;
		st->prev_ns = now;
		st->last_answer_ns = now;
		st->clear_ns = now;
		st->keepup_ns = now;
		out->shift = st->shift;
		return;
	}
	p = &st->snap[(st->next + GSIG_WINDOW - 1) % GSIG_WINDOW];
	old = &st->snap[st->filled < GSIG_WINDOW ? 0 : st->next];
	out->interval_ns = sub(now, st->prev_ns);
	out->answered = sub(cur->answered, p->answered);
	out->served = sub(cur->served, p->served);
	out->conns = sub(cur->conns, p->conns);
	out->abandoned = sub(cur->abandoned, p->abandoned);

	n = hist_diff(cur->hist, old->hist, hist_soj);
	out->samples = n;
	if (n) {
		out->sojourn_ns = gsig_quantile(hist_soj, n, GSIG_Q);
		out->p50_ns = gsig_quantile(hist_soj, n, 0.5);
	}
	wn = hist_diff(cur->whist, old->whist, hist);
	out->wait_ns = gsig_quantile(hist, wn, GSIG_Q);
	update_base(st, now, out->sojourn_ns, gsig_quantile(hist_soj, n, 0), n, shedding);
	update_unloaded(st, out->sojourn_ns, n, low_load(st, busy, out->pending));
	if (st->unloaded_ns && st->base_ns > st->unloaded_ns)
		st->base_ns = st->unloaded_ns;
	out->base_ns = st->base_ns;
	out->unloaded_ns = st->unloaded_ns;
	if (st->base_ns && out->sojourn_ns > st->base_ns)
		out->rise_ns = out->sojourn_ns - st->base_ns;
	out->delay_ns = out->wait_ns > out->rise_ns ? out->wait_ns : out->rise_ns;

	if (out->answered) {
		st->answering = true;
		st->last_answer_ns = now;
	} else if ((out->pending && st->answering) || backlog) {
		/* Stuck: nothing answered, work waiting. It arrived after the
		 * last tick that saw nothing waiting, and has waited since
		 * the last answer at least. */
		uint64_t since = st->last_answer_ns > st->clear_ns ? st->last_answer_ns
								   : st->clear_ns;

		out->stuck_ns = sub(now, since);
	}
	if (!out->pending && !backlog)
		st->clear_ns = now;
	st->shift = next_shift(st->shift, n, out->answered);
	out->shift = st->shift;
	st->snap[st->next] = *cur;
	st->next = (st->next + 1) % GSIG_WINDOW;
	if (st->filled < GSIG_WINDOW)
		st->filled++;
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
