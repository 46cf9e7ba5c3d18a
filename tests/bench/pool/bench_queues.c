// SPDX-License-Identifier: MIT
/*
 * The measurement behind the choice of local queue: the Chase-Lev deque the
 * pool uses (pool/deque.c) against a bounded Go/Tokio-style ring (FIFO for
 * the owner, thieves take half), written here only for this comparison.
 *   1. owner push + pop, no thief            ns per push+pop
 *   2. the same with a thief stealing        ns per push+pop, and % stolen
 *   3. the most tasks queued while one worker runs fib(25) task by task,
 *      spawning both children: LIFO (deque) vs FIFO (ring) order
 */
#include "internal.h"
#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- the ring ----------------------------------------------------------- */

#define RING 256

struct ring {
	_Atomic uint32_t head cacheline_aligned; /* owner pops, thieves CAS */
	_Atomic uint32_t tail cacheline_aligned; /* owner only */
	struct deque_slot buf[RING];
};

static int ring_push_owner(struct ring *r, const struct task *t)
{
	/* relaxed: only the owner writes tail */
	uint32_t tl = atomic_load_explicit(&r->tail, memory_order_relaxed);
	/* acquire: thieves finished reading the slots they took */
	uint32_t hd = atomic_load_explicit(&r->head, memory_order_acquire);
	struct deque_slot *s = &r->buf[tl % RING];

	if (tl - hd >= RING)
		return -ENOSPC; /* Go/Tokio would spill half to the global queue */
	/* relaxed: published by the release store of tail */
	atomic_store_explicit(&s->fn, t->fn, memory_order_relaxed);
	atomic_store_explicit(&s->arg, t->arg, memory_order_relaxed);
	/* release: publishes the slot to thieves and the owner's pops */
	atomic_store_explicit(&r->tail, tl + 1, memory_order_release);
	return 0;
}

static bool ring_pop_owner(struct ring *r, struct task *t)
{
	/* acquire: pairs with the thieves' CAS */
	uint32_t hd = atomic_load_explicit(&r->head, memory_order_acquire);

	for (;;) {
		/* relaxed: only the owner writes tail */
		if (hd == atomic_load_explicit(&r->tail, memory_order_relaxed))
			return false;
		struct deque_slot *s = &r->buf[hd % RING];

		/* relaxed: a stale read is dropped when the CAS fails */
		t->fn = atomic_load_explicit(&s->fn, memory_order_relaxed);
		t->arg = atomic_load_explicit(&s->arg, memory_order_relaxed);
		/* acq_rel: against the thieves' CAS on the same word */
		if (atomic_compare_exchange_weak_explicit(
			    &r->head, &hd, hd + 1, memory_order_acq_rel,
			    memory_order_acquire))
			return true;
	}
}

/* take half of src into the thief's array; returns how many */
static unsigned ring_steal_half(struct ring *r, struct task *out)
{
	/* acquire: see the owner's slots up to tail */
	uint32_t hd = atomic_load_explicit(&r->head, memory_order_acquire);

	for (;;) {
		uint32_t tl = atomic_load_explicit(&r->tail, memory_order_acquire);
		uint32_t n = tl - hd;

		n -= n / 2;
		if (!n || n > RING)
			return 0;
		for (uint32_t i = 0; i < n; i++) {
			struct deque_slot *s = &r->buf[(hd + i) % RING];

			/* relaxed: dropped if the CAS fails */
			out[i].fn = atomic_load_explicit(&s->fn, memory_order_relaxed);
			out[i].arg = atomic_load_explicit(&s->arg, memory_order_relaxed);
		}
		/* acq_rel: against the owner's pops and other thieves */
		if (atomic_compare_exchange_weak_explicit(
			    &r->head, &hd, hd + n, memory_order_acq_rel,
			    memory_order_acquire))
			return n;
	}
}

/* ---- 1 and 2: push/pop with and without a thief ------------------------- */

static struct deque dq;
static struct ring rg;
static _Atomic int stop_thief;
static _Atomic unsigned long stolen;

static void *deque_thief(void *arg)
{
	struct task t;

	(void)arg;
	while (!atomic_load_explicit(&stop_thief, memory_order_relaxed))
		if (deque_steal(&dq, &t) == 1)
			atomic_fetch_add_explicit(&stolen, 1, memory_order_relaxed);
	return NULL;
}

static void *ring_thief(void *arg)
{
	static struct task out[RING];

	(void)arg;
	while (!atomic_load_explicit(&stop_thief, memory_order_relaxed)) {
		unsigned n = ring_steal_half(&rg, out);

		if (n)
			atomic_fetch_add_explicit(&stolen, n, memory_order_relaxed);
	}
	return NULL;
}

static double run_pushpop(bool use_ring, bool thief, unsigned long rounds,
			  double *stolen_pct)
{
	struct task t = { (pool_fn)(uintptr_t)1, NULL, NULL, 0 }, o;
	pthread_t th;
	uint64_t t0, t1;
	unsigned long ops = 0;

	atomic_store(&stop_thief, 0);
	atomic_store(&stolen, 0);
	if (thief)
		pthread_create(&th, NULL, use_ring ? ring_thief : deque_thief, NULL);
	t0 = bench_ns();
	for (unsigned long r = 0; r < rounds; r++) {
		for (int i = 0; i < 32; i++) {
			if (use_ring)
				ring_push_owner(&rg, &t);
			else
				deque_push_owner(&dq, &t);
		}
		for (int i = 0; i < 32; i++)
			if (use_ring ? ring_pop_owner(&rg, &o) : deque_pop_owner(&dq, &o))
				ops++;
	}
	t1 = bench_ns();
	atomic_store(&stop_thief, 1);
	if (thief)
		pthread_join(th, NULL);
	*stolen_pct = 100.0 * (double)atomic_load(&stolen) / (double)(rounds * 32);
	return (double)(t1 - t0) / (double)(rounds * 32);
}

/* ---- 3: queue occupancy in fib, LIFO against FIFO ------------------------- */

static unsigned long max_queued(bool fifo, int n)
{
	/* one worker: pop a call, push both children; an unbounded array
	 * stands in for the queue so that we see how far it would grow */
	size_t cap = 1 << 22, head = 0, tail = 0, max = 0;
	int *q = malloc(cap * sizeof(*q));

	q[tail++] = n;
	while (tail > head) {
		int v = fifo ? q[head++] : q[--tail];

		if (v > 2 && tail + 2 <= cap) {
			q[tail++] = v - 1;
			q[tail++] = v - 2;
		}
		if (tail - head > max)
			max = tail - head;
	}
	free(q);
	return max;
}

int main(void)
{
	const unsigned long rounds = 300000;
	double v[2][2][5], pct[2][2][5];

	pool__clock_init();
	deque_init(&dq, 256);
	for (int rep = 0; rep < 5; rep++)
		for (int r = 0; r < 2; r++)
			for (int th = 0; th < 2; th++)
				v[r][th][rep] = run_pushpop(r, th, rounds,
							    &pct[r][th][rep]);
	printf("local queue: Chase-Lev deque vs Go/Tokio-style ring (median of 5)\n\n");
	printf("%-36s %14s %14s\n", "", "chase-lev", "ring");
	for (int th = 0; th < 2; th++) {
		double m[2], p[2];

		for (int r = 0; r < 2; r++) {
			/* insertion sort of 5, then the middle */
			for (int i = 1; i < 5; i++)
				for (int j = i; j > 0 && v[r][th][j] < v[r][th][j - 1]; j--) {
					double x = v[r][th][j];

					v[r][th][j] = v[r][th][j - 1];
					v[r][th][j - 1] = x;
					x = pct[r][th][j];
					pct[r][th][j] = pct[r][th][j - 1];
					pct[r][th][j - 1] = x;
				}
			m[r] = v[r][th][2];
			p[r] = pct[r][th][2];
		}
		printf("%-36s %11.1f ns %11.1f ns\n",
		       th ? "push+pop, one thief stealing" : "push+pop, owner alone",
		       m[0], m[1]);
		if (th)
			printf("%-36s %12.1f %% %12.1f %%\n", "  share taken by the thief",
			       p[0], p[1]);
	}
	printf("%-36s %14lu %14lu\n", "most queued in fib(25), one worker",
	       max_queued(false, 25), max_queued(true, 25));
	printf("\nFIFO order expands fork-join breadth first: the ring would have "
	       "to spill\nmost of the tree to the shared queue; LIFO keeps it "
	       "to the depth.\n");
	deque_free(&dq);
	return 0;
}
