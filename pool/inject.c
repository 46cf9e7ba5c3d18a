// SPDX-License-Identifier: MIT
/*
 * The injection queue: a bounded multi-producer multi-consumer FIFO ring for
 * tasks submitted from outside the pool (after Vyukov's bounded MPMC queue).
 * Each cell carries a sequence number that says whose turn it is: a producer
 * may fill cell i when seq == i, a consumer may empty it when seq == i + 1.
 * Full means refuse at once; the queue never grows. Bit 63 of tail closes the
 * queue for shutdown: producers that claimed a cell before it was set still
 * publish, later ones get -ESHUTDOWN, so "accepted" is never ambiguous.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

int inject_init(struct inject *q, unsigned size)
{
	uint64_t n = 1;
	size_t bytes;

	while (n < size)
		n <<= 1;
	/* aligned_alloc wants a multiple of the alignment (C11; the
	 * sanitizers refuse a bound of 1, one 32-byte cell, otherwise). */
	bytes = (n * sizeof(*q->cells) + CACHELINE - 1) / CACHELINE * CACHELINE;
	q->cells = aligned_alloc(CACHELINE, bytes);
	if (!q->cells)
		return -ENOMEM;
	for (uint64_t i = 0; i < n; i++)
		atomic_init(&q->cells[i].seq, i);
	q->mask = n - 1;
	atomic_init(&q->head, 0);
	atomic_init(&q->tail, 0);
	return 0;
}

void inject_free(struct inject *q)
{
	free(q->cells);
	q->cells = NULL;
}

int inject_push_mpmc(struct inject *q, pool_fn fn, void *arg, uint64_t enq)
{
	/* relaxed: a guess, checked against the cell's seq and by the CAS */
	uint64_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
	struct inject_cell *c;

	for (;;) {
		if (unlikely(pos & INJECT_CLOSED))
			return -ESHUTDOWN;
		c = &q->cells[pos & q->mask];
		/* acquire: pairs with the consumer's release of this cell, so
		 * its reads of the previous lap are done before we write */
		uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
		int64_t dif = (int64_t)(seq - pos);

		if (dif == 0) {
			/* seq_cst (a plain lock cmpxchg on x86, like any CAS):
			 * it is the store half of the parking protocol's
			 * store->load pair (see park.c), so a worker about to
			 * sleep either sees this task or is seen asleep */
			if (atomic_compare_exchange_weak_explicit(
				    &q->tail, &pos, pos + 1,
				    memory_order_seq_cst, memory_order_relaxed))
				break;
		} else if (dif < 0) {
			return -EAGAIN; /* a full lap behind: full */
		} else {
			pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
		}
	}
	/* relaxed: published by the release store of seq */
	atomic_store_explicit(&c->fn, fn, memory_order_relaxed);
	atomic_store_explicit(&c->arg, arg, memory_order_relaxed);
	atomic_store_explicit(&c->enq, enq, memory_order_relaxed);
	/* release: the consumer that sees pos + 1 sees the task and what the
	 * submitter wrote before submitting */
	atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
	return 0;
}

bool inject_pop_mpmc(struct inject *q, struct task *t, bool *busy)
{
	/* relaxed: a guess, checked against the cell's seq and by the CAS */
	uint64_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
	struct inject_cell *c;

	for (;;) {
		c = &q->cells[pos & q->mask];
		/* acquire: pairs with the producer's release of seq */
		uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
		int64_t dif = (int64_t)(seq - (pos + 1));

		if (dif == 0) {
			/* relaxed: the cell's seq already ordered the data; the
			 * CAS only decides which consumer owns the cell */
			if (atomic_compare_exchange_weak_explicit(
				    &q->head, &pos, pos + 1,
				    memory_order_relaxed, memory_order_relaxed))
				break;
		} else if (dif < 0) {
			/* empty, or claimed by a producer not yet published */
			if (busy) {
				uint64_t tl = atomic_load_explicit(
					&q->tail, memory_order_relaxed);
				*busy = (tl & ~INJECT_CLOSED) != pos;
			}
			return false;
		} else {
			pos = atomic_load_explicit(&q->head, memory_order_relaxed);
		}
	}
	/* relaxed: ordered after the acquire load of seq above */
	t->fn = atomic_load_explicit(&c->fn, memory_order_relaxed);
	t->arg = atomic_load_explicit(&c->arg, memory_order_relaxed);
	t->enq = atomic_load_explicit(&c->enq, memory_order_relaxed);
	t->group = NULL;
	/* release: our reads of the cell happen before a producer reuses it */
	atomic_store_explicit(&c->seq, pos + q->mask + 1, memory_order_release);
	return true;
}

unsigned inject_pop_batch_mpmc(struct inject *q, struct task *t, unsigned max,
			       unsigned backlog)
{
	/* relaxed: a guess, checked against the cells' seq and by the CAS */
	uint64_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
	unsigned n, i;

	/* Is there a backlog? Look at the cell `backlog` places on rather
	 * than at tail, whose line the producers write on every push: reading
	 * it here would bounce it between them and us once per task.
	 * Acquire, like every load of seq. */
	if (backlog > 1 &&
	    atomic_load_explicit(&q->cells[(pos + backlog - 1) & q->mask].seq,
				 memory_order_acquire) != pos + backlog)
		max = 1;
	for (;;) {
		/* count the published cells from pos, up to max; acquire:
		 * pairs with each producer's release of seq */
		for (n = 0; n < max; n++) {
			struct inject_cell *c = &q->cells[(pos + n) & q->mask];

			if (atomic_load_explicit(&c->seq, memory_order_acquire) !=
			    pos + n + 1)
				break;
		}
		if (!n)
			return 0;
		/* relaxed, as in inject_pop_mpmc: one CAS claims all n cells,
		 * whose contents the seq loads above already ordered */
		if (atomic_compare_exchange_weak_explicit(&q->head, &pos, pos + n,
							  memory_order_relaxed,
							  memory_order_relaxed))
			break;
	}
	for (i = 0; i < n; i++) {
		struct inject_cell *c = &q->cells[(pos + i) & q->mask];

		/* relaxed: ordered after the acquire loads of seq above */
		t[i].fn = atomic_load_explicit(&c->fn, memory_order_relaxed);
		t[i].arg = atomic_load_explicit(&c->arg, memory_order_relaxed);
		t[i].enq = atomic_load_explicit(&c->enq, memory_order_relaxed);
		t[i].group = NULL;
		/* release: our reads happen before a producer reuses it */
		atomic_store_explicit(&c->seq, pos + i + q->mask + 1,
				      memory_order_release);
	}
	return n;
}

void inject_close(struct inject *q)
{
	/* seq_cst: every producer's CAS on tail is ordered against it, so each
	 * either claimed a cell before it (and will publish) or fails after */
	atomic_fetch_or(&q->tail, INJECT_CLOSED);
}

uint64_t inject_depth_any(struct inject *q)
{
	/* relaxed: a gauge for stats */
	uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
	uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed) &
		     ~INJECT_CLOSED;

	return t > h ? t - h : 0;
}

bool inject_nonempty_sc(struct inject *q)
{
	/* seq_cst: the load half of the parking protocol's store->load pair
	 * with the producers' CAS on tail (see park.c). A claimed cell not yet
	 * published counts as work: it will be, in a moment. */
	uint64_t h = atomic_load(&q->head);

	return (atomic_load(&q->tail) & ~INJECT_CLOSED) != h;
}

uint64_t inject_oldest_any(struct inject *q)
{
	/* relaxed: a gauge; a cell being recycled under us gives a wrong age
	 * for one snapshot at worst, never a crash (the ring is never freed
	 * while the pool lives) */
	uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
	struct inject_cell *c = &q->cells[h & q->mask];

	/* acquire: pairs with the producer's release, so enq is the value
	 * written for this lap */
	if (atomic_load_explicit(&c->seq, memory_order_acquire) != h + 1)
		return 0;
	return atomic_load_explicit(&c->enq, memory_order_relaxed);
}
