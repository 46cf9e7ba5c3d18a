// SPDX-License-Identifier: MIT
/*
 * Chase-Lev work-stealing deque of fixed capacity, after the C11 version of
 * Le, Pop, Cohen and Zappa Nardelli (PPoPP 2013). The owner pushes and pops
 * at the bottom (LIFO, for locality of fork-join); thieves steal from the top
 * (FIFO, the oldest and usually largest piece of work). The buffer never
 * grows: a full deque refuses, and the pool then runs the task inline.
 *
 * Where the paper pairs relaxed accesses with seq_cst fences (pop: store
 * bottom, fence, load top; steal: load top, fence, load bottom) we make those
 * accesses seq_cst instead: the only orders the fences provide are among
 * top and bottom, which seq_cst accesses give as well, and ThreadSanitizer
 * does not model fences (gcc refuses them under -fsanitize=thread). On x86
 * the cost is the same: one locked instruction in pop, plain loads in steal.
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
	/* seq_cst, where the paper has a release fence + relaxed store. The
	 * release half publishes the slot and everything the spawner wrote
	 * before spawning to a thief that reads b + 1. The rest is for the
	 * parking protocol (park.c): the spawner next loads the park state,
	 * and this store must not pass that load (store->load order). It is
	 * one xchg on x86, the price of the fence it replaces. */
	atomic_store(&d->bottom, b + 1);
	return (int)(b - top);
}

bool deque_pop_owner(struct deque *d, struct task *t)
{
	/* relaxed: only the owner writes bottom */
	int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed) - 1;
	int64_t top;
	bool ok = true;

	/* Fast path for the common empty case, without the locked store:
	 * top only grows and only we move bottom, so top > b read now (even
	 * stale, relaxed) means empty. */
	if (atomic_load_explicit(&d->top, memory_order_relaxed) > b)
		return false;

	/* seq_cst store and load (the paper: relaxed store, seq_cst fence,
	 * relaxed load): the claim on slot b must be visible to thieves
	 * before we read top, a store->load order; the thieves' seq_cst loads
	 * of top then bottom are the other half */
	atomic_store(&d->bottom, b);
	top = atomic_load(&d->top);
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
	/* seq_cst loads (the paper: acquire load of top, seq_cst fence,
	 * acquire load of bottom): top is read before bottom in the single
	 * order, against the owner's pop (store bottom, load top). The load of
	 * bottom also acquires the slot, and the task's argument, written
	 * before the push that stored it. */
	int64_t top = atomic_load(&d->top);
	int64_t b = atomic_load(&d->bottom);

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

bool deque_nonempty_sc(struct deque *d)
{
	/* seq_cst: the load half of the parking protocol's store->load pairs
	 * (see park.c); top first, as in steal */
	int64_t t = atomic_load(&d->top);

	return atomic_load(&d->bottom) > t;
}

int64_t deque_size_any(struct deque *d)
{
	/* relaxed: an estimate for stats */
	int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
	int64_t t = atomic_load_explicit(&d->top, memory_order_relaxed);

	return b > t ? b - t : 0;
}
