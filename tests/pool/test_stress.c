// SPDX-License-Identifier: MIT
/*
 * Stress and validation of the whole pool: many threads submit while a
 * shutdown (drain or cancel) runs, tasks spawn children and join groups with
 * random yields, and at the end every task accepted ran exactly once or was
 * handed back exactly once, and no refused task ran. Sizes scale with
 * POOL_STRESS_SCALE.
 */
#include <sluice/pool.h>
#include "common.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#define PRODUCERS 4
#define CHILDREN 3

static struct pool *pool;
static unsigned long per_producer, nids;
/* per id: bit 0 accepted, then run and handed-back counts */
static _Atomic uint8_t *accepted, *ran, *handed;
static _Atomic int go;
static _Atomic unsigned long attempts;

/* ids: [0, nids) submitted; [nids * (1 + c), ...) the c-th child */
static void child_task(void *arg)
{
	atomic_fetch_add_explicit(&ran[(uintptr_t)arg], 1, memory_order_relaxed);
}

static void parent_task(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	uint64_t rng = id * 2654435761u + 1;
	struct pool_group g = POOL_GROUP_INIT;

	atomic_fetch_add_explicit(&ran[id], 1, memory_order_relaxed);
	if (id % 4)
		return; /* most tasks are leaves */
	for (uintptr_t c = 0; c < CHILDREN; c++) {
		uintptr_t cid = nids * (1 + c) + id;

		/* a child counts as accepted once spawn returns 0 */
		/* every 8th parent uses pool_spawn: the continuation slot and
		 * then the deque, without a group */
		if ((id % 8 ? pool_group_spawn(&g, child_task, (void *)cid) :
			      pool_spawn(child_task, (void *)cid)) == 0)
			atomic_store(&accepted[cid], 1);
		maybe_yield(&rng, 16);
	}
	pool_group_wait(&g);
}

static void on_cancel(pool_fn fn, void *arg, void *ctx)
{
	(void)fn;
	(void)ctx;
	atomic_fetch_add_explicit(&handed[(uintptr_t)arg], 1,
				  memory_order_relaxed);
}

static void *producer(void *arg)
{
	uintptr_t base = (uintptr_t)arg * per_producer;
	uint64_t rng = base + 17;

	while (!atomic_load(&go))
		;
	for (uintptr_t i = 0; i < per_producer; i++) {
		int r = pool_submit(pool, parent_task, (void *)(base + i));

		atomic_fetch_add_explicit(&attempts, 1, memory_order_relaxed);
		if (r == 0)
			atomic_store(&accepted[base + i], 1);
		else if (r == -ESHUTDOWN)
			break;
		else if (r != -EAGAIN)
			abort();
		maybe_yield(&rng, 64);
	}
	return NULL;
}

/* Shut down once the producers made `after` attempts in all: progress, not
 * time, picks the moment, so the race is exercised at every speed. */
static void round_trip(enum pool_shutdown_mode mode, unsigned bound,
		       unsigned long after)
{
	pthread_t th[PRODUCERS];
	unsigned long total = nids * (1 + CHILDREN), bad = 0, accepted_n = 0;

	memset((void *)accepted, 0, total);
	memset((void *)ran, 0, total);
	memset((void *)handed, 0, total);
	atomic_store(&go, 0);
	atomic_store(&attempts, 0);
	assert_int_equal(pool_create(&pool, &(struct pool_opts){
		.workers = 2, .queue_bound = bound, .deque_size = 16 }), 0);
	for (uintptr_t i = 0; i < PRODUCERS; i++)
		pthread_create(&th[i], NULL, producer, (void *)i);
	atomic_store(&go, 1);
	while (atomic_load(&attempts) < after)
		sched_yield();
	assert_int_equal(pool_shutdown(pool, mode, on_cancel, NULL), 0);
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(th[i], NULL);
	for (unsigned long id = 0; id < total; id++) {
		unsigned want = atomic_load(&accepted[id]);
		unsigned got = atomic_load(&ran[id]) + atomic_load(&handed[id]);

		accepted_n += want;
		if (got != want || (mode == POOL_DRAIN && atomic_load(&handed[id])))
			bad++;
	}
	pool_destroy(pool);
	if (bad)
		print_error("%lu of %lu ids wrong (mode %d)\n", bad, total, mode);
	assert_int_equal(bad, 0);
	assert_true(accepted_n > 0);
}

static void setup_ids(void)
{
	unsigned long total;

	per_producer = scaled(200000);
	nids = per_producer * PRODUCERS;
	total = nids * (1 + CHILDREN);
	accepted = calloc(total, 1);
	ran = calloc(total, 1);
	handed = calloc(total, 1);
	assert_true(accepted && ran && handed);
}

static void teardown_ids(void)
{
	free((void *)accepted);
	free((void *)ran);
	free((void *)handed);
}

static void test_drain_races_submit(void **state)
{
	(void)state;
	setup_ids();
	for (unsigned r = 0; r < 6; r++)
		round_trip(POOL_DRAIN, 64 << r, nids / 16 * (r + 1));
	teardown_ids();
}

static void test_cancel_races_submit(void **state)
{
	(void)state;
	setup_ids();
	for (unsigned r = 0; r < 6; r++)
		round_trip(POOL_CANCEL, 64 << r, nids / 16 * (r + 1));
	teardown_ids();
}

/* Everything completes when nobody shuts down early. */
static void test_all_run(void **state)
{
	pthread_t th[PRODUCERS];
	unsigned long total, bad = 0;

	(void)state;
	setup_ids();
	total = nids * (1 + CHILDREN);
	assert_int_equal(pool_create(&pool, &(struct pool_opts){
		.workers = 3, .queue_bound = 256, .deque_size = 64 }), 0);
	/* pool_submit refuses when full: let producers spin on -EAGAIN by
	 * using the waiting variant here */
	atomic_store(&go, 1);
	for (uintptr_t p = 0; p < PRODUCERS; p++)
		th[p] = 0;
	for (uintptr_t i = 0; i < nids; i++) {
		assert_int_equal(pool_submit_wait(pool, parent_task, (void *)i), 0);
		atomic_store(&accepted[i], 1);
	}
	assert_int_equal(pool_shutdown(pool, POOL_DRAIN, NULL, NULL), 0);
	for (unsigned long id = 0; id < total; id++)
		if (atomic_load(&accepted[id]) != atomic_load(&ran[id]))
			bad++;
	assert_int_equal(bad, 0);
	for (unsigned long id = 0; id < nids; id++)
		assert_int_equal(atomic_load(&ran[id]), 1);
	pool_destroy(pool);
	(void)th;
	teardown_ids();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_run),
		cmocka_unit_test(test_drain_races_submit),
		cmocka_unit_test(test_cancel_races_submit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
