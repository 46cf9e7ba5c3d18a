// SPDX-License-Identifier: MIT
/*
 * The pool with a driver (pool.h): each worker runs a loop of its own
 * between tasks and blocks in it when idle. Here the loop is an eventfd per
 * worker, which wake() writes, and a queue of tasks for the loop to submit
 * from inside its poll, as a server's loop submits the requests it reads.
 * Checked: a task a worker's poll submits into an idle pool runs on that
 * worker (no hand-off), tasks submitted from outside wake a worker parked in
 * its poll (none lost), the worker's busy time leaves out its polls, and
 * shutdown ends workers that are blocked in their polls. No assertion on
 * elapsed time: waits are bounded only to fail instead of hanging.
 */
#define _GNU_SOURCE
#include <sluice/pool.h>
#include "common.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 2

static struct {
	struct pool *p;
	int efd[WORKERS];
	pthread_t thread[WORKERS];	/* each worker's, from its first poll */
	_Atomic bool seen[WORKERS];
	_Atomic long to_submit[WORKERS];	/* tasks worker i's poll submits */
	_Atomic long polls, waits, wakes;
} D;

static _Atomic long ran, ran_on_poller, ran_elsewhere;

/* arg: the worker whose poll submitted it */
static void loop_task(void *arg)
{
	unsigned w = (unsigned)(uintptr_t)arg;

	if (pthread_equal(pthread_self(), D.thread[w]))
		atomic_fetch_add(&ran_on_poller, 1);
	else
		atomic_fetch_add(&ran_elsewhere, 1);
	atomic_fetch_add(&ran, 1);
}

static void outside_task(void *arg)
{
	(void)arg;
	atomic_fetch_add(&ran, 1);
}

static void drv_poll(void *ctx, unsigned w, int wait)
{
	struct pollfd pfd = { .fd = D.efd[w], .events = POLLIN };
	uint64_t v;

	(void)ctx;
	assert_true(w < WORKERS);
	if (!atomic_load(&D.seen[w])) {
		D.thread[w] = pthread_self();
		atomic_store(&D.seen[w], true);
	}
	atomic_fetch_add(&D.polls, 1);
	if (wait) {
		atomic_fetch_add(&D.waits, 1);
		if (poll(&pfd, 1, 100) > 0 && read(D.efd[w], &v, sizeof(v)) < 0)
			assert_int_equal(errno, EAGAIN);
	}
	/* one task per poll: the lone task of an idle pool */
	if (atomic_load(&D.to_submit[w]) > 0) {
		atomic_fetch_sub(&D.to_submit[w], 1);
		assert_int_equal(pool_submit(D.p, loop_task, (void *)(uintptr_t)w), 0);
	}
}

static void drv_wake(void *ctx, unsigned w)
{
	uint64_t one = 1;

	(void)ctx;
	atomic_fetch_add(&D.wakes, 1);
	assert_int_equal(write(D.efd[w], &one, sizeof(one)), (ssize_t)sizeof(one));
}

static const struct pool_driver driver = { .poll = drv_poll, .wake = drv_wake };

static void start(void)
{
	atomic_store(&ran, 0);
	atomic_store(&ran_on_poller, 0);
	atomic_store(&ran_elsewhere, 0);
	for (unsigned i = 0; i < WORKERS; i++) {
		D.efd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		assert_true(D.efd[i] >= 0);
		atomic_store(&D.seen[i], false);
		atomic_store(&D.to_submit[i], 0);
	}
	assert_int_equal(pool_create(&D.p, &(struct pool_opts){ .workers = WORKERS,
			 .driver = &driver }), 0);
	for (unsigned i = 0; i < WORKERS; i++)
		for (int k = 0; k < 20000 && !atomic_load(&D.seen[i]); k++)
			sleep_ms(1);
}

static void stop(void)
{
	pool_destroy(D.p);
	for (unsigned i = 0; i < WORKERS; i++)
		close(D.efd[i]);
}

/* One request at a time, as a quiet server sees them: each runs on the
 * worker whose loop read it, and nobody is woken for it. */
static void test_loop_task_runs_on_its_worker(void **state)
{
	long n = 200;

	(void)state;
	start();
	for (long i = 1; i <= n; i++) {
		unsigned w = (unsigned)(i % WORKERS);
		uint64_t one = 1;

		atomic_store(&D.to_submit[w], 1);
		/* the loop's own event: its socket became readable */
		assert_int_equal(write(D.efd[w], &one, sizeof(one)), (ssize_t)sizeof(one));
		assert_true(wait_for(&ran, i));
	}
	/* the other worker may find one in the queue as its own poll times
	 * out (every 100 ms): rarely, but it is no hand-off */
	assert_true(atomic_load(&ran_elsewhere) <= n / 10);
	assert_int_equal(atomic_load(&ran_on_poller) + atomic_load(&ran_elsewhere), n);
	stop();
}

/* Tasks from outside the pool while every worker blocks in its poll: each
 * is run, so the pool's wake-up went through the driver. */
static void test_outside_submit_wakes_a_polling_worker(void **state)
{
	long n = (long)scaled(500);

	(void)state;
	start();
	for (long i = 1; i <= n; i++) {
		assert_int_equal(pool_submit(D.p, outside_task, NULL), 0);
		assert_true(wait_for(&ran, i));
		if (i % 3 == 0)
			sleep_ms(1);	/* let the workers go back to their polls */
	}
	assert_true(atomic_load(&D.wakes) > 0);
	stop();
}

/* Busy time is the tasks' time: idle workers that only poll are not busy. */
static void test_polls_are_not_busy_time(void **state)
{
	struct pool_stats a, b;
	long waits;

	(void)state;
	start();
	pool_stats(D.p, &a);
	waits = atomic_load(&D.waits);
	for (int k = 0; k < 20000 && atomic_load(&D.waits) < waits + 4; k++)
		sleep_ms(1);
	pool_stats(D.p, &b);
	assert_int_equal(b.busy_ns, a.busy_ns);
	assert_int_equal(b.sleeping, WORKERS);
	stop();
}

static void test_driver_needs_both_calls(void **state)
{
	struct pool *p;
	const struct pool_driver half = { .poll = drv_poll };

	(void)state;
	assert_int_equal(pool_create(&p, &(struct pool_opts){ .workers = 1, .driver = &half }),
			 -EINVAL);
	assert_true(pool_default_workers() >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loop_task_runs_on_its_worker),
		cmocka_unit_test(test_outside_submit_wakes_a_polling_worker),
		cmocka_unit_test(test_polls_are_not_busy_time),
		cmocka_unit_test(test_driver_needs_both_calls),
	};

	return cmocka_run_group_tests_name("pool driver", tests, NULL, NULL);
}
