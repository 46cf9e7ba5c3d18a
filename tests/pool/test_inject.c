// SPDX-License-Identifier: MIT
/*
 * Unit and stress tests of the injection queue: FIFO, refusal when full,
 * closing, batches, and with many producers and consumers (single and batch
 * pops mixed) every task taken once.
 */
#include "internal.h"
#include "common.h"

#include <errno.h>

#define FN ((pool_fn)(uintptr_t)0x1)

static void test_fifo_full_close(void **state)
{
	struct inject q;
	struct task t;
	bool busy;

	(void)state;
	assert_int_equal(inject_init(&q, 3), 0); /* rounded up to 4 */
	assert_false(inject_pop_mpmc(&q, &t, &busy));
	assert_false(busy);
	assert_int_equal(inject_oldest_any(&q), 0);
	for (uintptr_t i = 0; i < 4; i++)
		assert_int_equal(inject_push_mpmc(&q, FN, (void *)i, 100 + i), 0);
	assert_int_equal(inject_push_mpmc(&q, FN, NULL, 1), -EAGAIN);
	assert_int_equal(inject_depth_any(&q), 4);
	assert_int_equal(inject_oldest_any(&q), 100);
	for (uintptr_t i = 0; i < 4; i++) {
		assert_true(inject_pop_mpmc(&q, &t, NULL));
		assert_ptr_equal(t.arg, (void *)i);
		assert_int_equal(t.enq, 100 + i);
		assert_null(t.group);
	}
	assert_int_equal(inject_push_mpmc(&q, FN, (void *)7, 1), 0);
	inject_close(&q);
	assert_int_equal(inject_push_mpmc(&q, FN, NULL, 1), -ESHUTDOWN);
	assert_true(inject_pop_mpmc(&q, &t, NULL)); /* accepted before: kept */
	assert_ptr_equal(t.arg, (void *)7);
	assert_false(inject_pop_mpmc(&q, &t, &busy));
	assert_false(busy);
	inject_free(&q);
}

static void test_batch(void **state)
{
	struct inject q;
	struct task t[8];

	(void)state;
	assert_int_equal(inject_init(&q, 16), 0);
	assert_int_equal(inject_pop_batch_mpmc(&q, t, 8, 1), 0);
	for (uintptr_t i = 0; i < 11; i++)
		assert_int_equal(inject_push_mpmc(&q, FN, (void *)i, 1 + i), 0);
	/* fewer than the backlog asked for: one */
	assert_int_equal(inject_pop_batch_mpmc(&q, t, 8, 12), 1);
	assert_ptr_equal(t[0].arg, (void *)0);
	assert_int_equal(inject_pop_batch_mpmc(&q, t, 8, 10), 8);
	for (uintptr_t i = 0; i < 8; i++) {
		assert_ptr_equal(t[i].arg, (void *)(i + 1)); /* FIFO order */
		assert_int_equal(t[i].enq, 2 + i);
	}
	assert_int_equal(inject_depth_any(&q), 2);
	assert_int_equal(inject_pop_batch_mpmc(&q, t, 8, 1), 2);
	assert_ptr_equal(t[1].arg, (void *)10);
	/* the cells are reusable: a full lap more */
	for (uintptr_t i = 0; i < 16; i++)
		assert_int_equal(inject_push_mpmc(&q, FN, (void *)i, 1), 0);
	assert_int_equal(inject_push_mpmc(&q, FN, NULL, 1), -EAGAIN);
	assert_int_equal(inject_pop_batch_mpmc(&q, t, 5, 16), 5);
	assert_ptr_equal(t[4].arg, (void *)4);
	inject_free(&q);
}

#define PRODUCERS 3
#define CONSUMERS 2
static struct inject sq;
static unsigned long per_producer;
static _Atomic uint8_t *seen;
static _Atomic unsigned long got, dups;
static _Atomic int producers_left;

static void *producer(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	uint64_t rng = id + 99;

	for (unsigned long i = 0; i < per_producer;) {
		uintptr_t v = id * per_producer + i;

		if (inject_push_mpmc(&sq, FN, (void *)v, v + 1) == 0)
			i++;
		else
			sched_yield(); /* full */
		maybe_yield(&rng, 128);
	}
	atomic_fetch_sub(&producers_left, 1);
	return NULL;
}

static void *consumer(void *arg)
{
	uint64_t rng = (uintptr_t)arg + 5;
	struct task t;

	for (;;) {
		bool busy = false;
		struct task b[4];
		unsigned n = 0;

		/* consumer 0 pops one at a time, the others in batches */
		if (arg == 0)
			n = inject_pop_mpmc(&sq, &b[0], &busy);
		else if (!(n = inject_pop_batch_mpmc(&sq, b, 4, 4)))
			inject_pop_mpmc(&sq, &t, &busy) ? (b[0] = t, n = 1) : 0;
		for (unsigned i = 0; i < n; i++) {
			uintptr_t v = (uintptr_t)b[i].arg;

			if (b[i].enq != v + 1 || atomic_fetch_add(&seen[v], 1))
				atomic_fetch_add(&dups, 1);
			atomic_fetch_add(&got, 1);
		}
		if (!n && !busy && !atomic_load(&producers_left))
			break;
		maybe_yield(&rng, 128);
	}
	return NULL;
}

static void test_stress_mpmc(void **state)
{
	pthread_t p[PRODUCERS], c[CONSUMERS];
	unsigned long total;

	(void)state;
	per_producer = scaled(1000000);
	total = per_producer * PRODUCERS;
	seen = calloc(total, 1);
	assert_non_null(seen);
	assert_int_equal(inject_init(&sq, 256), 0);
	atomic_store(&producers_left, PRODUCERS);
	for (uintptr_t i = 0; i < CONSUMERS; i++)
		pthread_create(&c[i], NULL, consumer, (void *)i);
	for (uintptr_t i = 0; i < PRODUCERS; i++)
		pthread_create(&p[i], NULL, producer, (void *)i);
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(p[i], NULL);
	for (int i = 0; i < CONSUMERS; i++)
		pthread_join(c[i], NULL);
	assert_int_equal(atomic_load(&dups), 0);
	assert_int_equal(atomic_load(&got), total);
	inject_free(&sq);
	free((void *)seen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_full_close),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_stress_mpmc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
