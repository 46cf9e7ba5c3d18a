// SPDX-License-Identifier: MIT
/*
 * Chase-Lev work-stealing deque of fixed capacity, with the C11 memory orders
 * of Le, Pop, Cohen and Zappa Nardelli (PPoPP 2013). The owner pushes and pops
 * at the bottom (LIFO, for locality of fork-join); thieves steal from the top
 * (FIFO, the oldest and usually largest piece of work). The buffer never
 * grows: a full deque refuses, and the pool then runs the task inline.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

int deque_init(struct deque *d, unsigned size)
{
	if (size < 2 || (size & (size - 1)))
		return -EINVAL;
	d->slots = calloc(size, sizeof(*d->slots));
	if (!d->slots)
		return -ENOMEM;
	d->mask = size - 1;
	atomic_init(&d->top, 0);
	atomic_init(&d->bottom, 0);
	return 0;
}

void deque_free(struct deque *d)
{
	free(d->slots);
	d->slots = NULL;
}

static inline void slot_write(struct deque_slot *s, const struct task *t)
{
	/* relaxed: published by the release store of bottom below */
	atomic_store_explicit(&s->fn, t->fn, memory_order_relaxed);
	atomic_store_explicit(&s->arg, t->arg, memory_order_relaxed);
	atomic_store_explicit(&s->group, t->group, memory_order_relaxed);
}

static inline void slot_read(struct deque_slot *s, struct task *t)
{
	/* relaxed: ordered after the acquire load of bottom (thief) or
	 * written by this thread (owner); a stale read by a thief is
	 * discarded when its CAS on top fails */
	t->fn = atomic_load_explicit(&s->fn, memory_order_relaxed);
	t->arg = atomic_load_explicit(&s->arg, memory_order_relaxed);
	t->group = atomic_load_explicit(&s->group, memory_order_relaxed);
	t->enq = 0;
}

int deque_push_owner(struct deque *d, const struct task *t)
{
	/* relaxed: only the owner writes bottom */
	int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
	/* acquire: pairs with the thieves' CAS on top, so the slot we are about
	 * to reuse has been read by the thief that took it */
	int64_t top = atomic_load_explicit(&d->top, memory_order_acquire);

	if (b - top > d->mask)
		return -ENOSPC;
	slot_write(&d->slots[b & d->mask], t);
	/* release (the paper's release fence + relaxed store, as one store so
	 * ThreadSanitizer sees it): a thief that reads b + 1 sees the slot and
	 * everything the spawner wrote before spawning */
	atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
	return 0;
}

bool deque_pop_owner(struct deque *d, struct task *t)
{
	/* relaxed: only the owner writes bottom */
	int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed) - 1;
	int64_t top;
	bool ok = true;

	/* relaxed store + seq_cst fence: the claim on slot b must be visible
	 * to thieves before we read top (store-load order, which only a full
	 * fence gives); the thieves' fence between their loads of top and
	 * bottom is the other half */
	atomic_store_explicit(&d->bottom, b, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	top = atomic_load_explicit(&d->top, memory_order_relaxed);
	if (top > b) {
		/* empty: restore; relaxed as nobody reads below top */
		atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
		return false;
	}
	slot_read(&d->slots[b & d->mask], t);
	if (top == b) {
		/* the last task: race the thieves for it on top. seq_cst as in
		 * the paper; relaxed on failure, we only give up */
		if (!atomic_compare_exchange_strong_explicit(
			    &d->top, &top, top + 1, memory_order_seq_cst,
			    memory_order_relaxed))
			ok = false;
		/* relaxed: the deque is empty, top == bottom either way */
		atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
	}
	return ok;
}

int deque_steal(struct deque *d, struct task *t)
{
	/* acquire: pairs with other thieves' and the owner's CAS on top */
	int64_t top = atomic_load_explicit(&d->top, memory_order_acquire);
	int64_t b;

	/* seq_cst fence: read top before bottom, against the owner's pop
	 * (store bottom, fence, load top) */
	atomic_thread_fence(memory_order_seq_cst);
	/* acquire: pairs with the release store in push, so the slot (and the
	 * task's argument) written before it is visible */
	b = atomic_load_explicit(&d->bottom, memory_order_acquire);
	if (top >= b)
		return 0;
	slot_read(&d->slots[top & d->mask], t);
	/* seq_cst as in the paper; relaxed on failure, we only give up */
	if (!atomic_compare_exchange_strong_explicit(&d->top, &top, top + 1,
						     memory_order_seq_cst,
						     memory_order_relaxed))
		return -EAGAIN;
	return 1;
}

int64_t deque_size_any(struct deque *d)
{
	/* relaxed: an estimate for stats and for "is there work" hints; the
	 * parking protocol orders these loads with its own fence */
	int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
	int64_t t = atomic_load_explicit(&d->top, memory_order_relaxed);

	return b > t ? b - t : 0;
}
