// SPDX-License-Identifier: MIT
/*
 * Unit and stress tests of the Chase-Lev deque: LIFO for the owner, FIFO for
 * thieves, a full deque refuses, and under races with random yields every
 * pushed task is taken exactly once.
 */
#include "internal.h"
#include "common.h"

#include <errno.h>
#include <stdatomic.h>

static struct task mk(uintptr_t v)
{
	return (struct task){ .fn = (pool_fn)(uintptr_t)0x1, .arg = (void *)v };
}

static void test_lifo_fifo(void **state)
{
	struct deque d;
	struct task t;

	(void)state;
	assert_int_equal(deque_init(&d, 8), 0);
	assert_false(deque_pop_owner(&d, &t));
	assert_int_equal(deque_steal(&d, &t), 0);
	for (uintptr_t i = 1; i <= 4; i++) {
		struct task x = mk(i);
		/* returns how many it held before */
		assert_int_equal(deque_push_owner(&d, &x), (int)i - 1);
	}
	assert_int_equal(deque_size_any(&d), 4);
	assert_true(deque_pop_owner(&d, &t));
	assert_ptr_equal(t.arg, (void *)4); /* owner: newest */
	assert_int_equal(deque_steal(&d, &t), 1);
	assert_ptr_equal(t.arg, (void *)1); /* thief: oldest */
	assert_true(deque_pop_owner(&d, &t));
	assert_ptr_equal(t.arg, (void *)3);
	assert_true(deque_pop_owner(&d, &t));
	assert_ptr_equal(t.arg, (void *)2);
	assert_false(deque_pop_owner(&d, &t));
	deque_free(&d);
}

static void test_full_and_wrap(void **state)
{
	struct deque d;
	struct task t, x;

	(void)state;
	assert_int_equal(deque_init(&d, 4), 0);
	assert_int_equal(deque_init(&(struct deque){ 0 }, 3), -EINVAL);
	for (int lap = 0; lap < 5; lap++) {
		for (uintptr_t i = 0; i < 4; i++) {
			x = mk(i + 10 * lap);
			assert_int_equal(deque_push_owner(&d, &x), (int)i);
		}
		x = mk(99);
		assert_int_equal(deque_push_owner(&d, &x), -ENOSPC);
		for (uintptr_t i = 0; i < 4; i++) {
			assert_int_equal(deque_steal(&d, &t), 1);
			assert_ptr_equal(t.arg, (void *)(i + 10 * lap));
		}
		assert_int_equal(deque_steal(&d, &t), 0);
	}
	deque_free(&d);
}

/* ---- stress: owner pushes and pops, thieves steal, each value once ---- */

#define THIEVES 2
static struct deque sd;
static _Atomic uint8_t *seen;
static _Atomic unsigned long taken;
static _Atomic int owner_done;
static unsigned long total;
static _Atomic unsigned long dups;

static void mark(uintptr_t v)
{
	if (atomic_fetch_add_explicit(&seen[v], 1, memory_order_relaxed))
		atomic_fetch_add(&dups, 1);
	atomic_fetch_add_explicit(&taken, 1, memory_order_relaxed);
}

static void *thief(void *arg)
{
	uint64_t rng = (uintptr_t)arg * 7919 + 1;
	struct task t;

	while (!atomic_load(&owner_done) || deque_size_any(&sd)) {
		if (deque_steal(&sd, &t) == 1)
			mark((uintptr_t)t.arg);
		maybe_yield(&rng, 64);
	}
	return NULL;
}

static void test_stress_race(void **state)
{
	pthread_t th[THIEVES];
	uint64_t rng = 42;
	struct task t;
	uintptr_t next = 0;

	(void)state;
	total = scaled(2000000);
	seen = calloc(total, 1);
	assert_non_null(seen);
	assert_int_equal(deque_init(&sd, 64), 0);
	for (uintptr_t i = 0; i < THIEVES; i++)
		pthread_create(&th[i], NULL, thief, (void *)(i + 1));
	while (next < total) {
		/* bursts of pushes, then some pops, with random yields */
		unsigned burst = (unsigned)(xrand(&rng) % 80);

		for (unsigned i = 0; i < burst && next < total; i++) {
			struct task x = mk(next);

			if (deque_push_owner(&sd, &x) >= 0)
				next++;
			else if (deque_pop_owner(&sd, &t))
				mark((uintptr_t)t.arg);
		}
		for (unsigned i = (unsigned)(xrand(&rng) % 40); i; i--)
			if (deque_pop_owner(&sd, &t))
				mark((uintptr_t)t.arg);
		maybe_yield(&rng, 32);
	}
	while (deque_pop_owner(&sd, &t))
		mark((uintptr_t)t.arg);
	atomic_store(&owner_done, 1);
	for (int i = 0; i < THIEVES; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&dups), 0);
	assert_int_equal(atomic_load(&taken), total);
	for (unsigned long i = 0; i < total; i++)
		assert_int_equal(atomic_load(&seen[i]), 1);
	deque_free(&sd);
	free((void *)seen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lifo_fifo),
		cmocka_unit_test(test_full_and_wrap),
		cmocka_unit_test(test_stress_race),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
