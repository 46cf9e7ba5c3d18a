// SPDX-License-Identifier: MIT
/*
 * Functional tests of the pool API: submit, spawn and groups, refusal at the
 * bound, the running task's enqueue time and delay, stats, both shutdown
 * modes, blocking tasks and idle parking. No assertion on elapsed time:
 * waits for a condition are bounded only to fail instead of hanging.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <sluice/pool.h>
#include "common.h"
#include "internal.h" /* INJECT_BATCH */

#include <sys/prctl.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic long counter;

static void count_task(void *arg)
{
	(void)arg;
	atomic_fetch_add(&counter, 1);
}

static void test_submit_runs(void **state)
{
	struct pool *p;
	struct pool_stats s;

	(void)state;
	atomic_store(&counter, 0);
	assert_int_equal(pool_create(&p, &(struct pool_opts){ .workers = 2 }), 0);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(pool_submit_wait(p, count_task, NULL), 0);
	assert_true(wait_for(&counter, 10000));
	assert_int_equal(pool_stats(p, &s), 0);
	assert_int_equal(s.submitted, 10000);
	assert_int_equal(s.workers, 2);
	assert_int_equal(pool_spawn(count_task, NULL), -EPERM); /* not a task */
	assert_int_equal(pool_submit(p, NULL, NULL), -EINVAL);
	pool_destroy(p);
	assert_int_equal(atomic_load(&counter), 10000);
}

/* fork-join: fib with a task per call */
struct fib {
	int n;
	long r;
};

static void fib_task(void *arg)
{
	struct fib *f = arg;
	struct pool_group g = POOL_GROUP_INIT;
	struct fib a, b;

	if (f->n < 2) {
		f->r = f->n;
		return;
	}
	a.n = f->n - 1;
	b.n = f->n - 2;
	assert_int_equal(pool_group_spawn(&g, fib_task, &a), 0);
	fib_task(&b);
	pool_group_wait(&g);
	f->r = a.r + b.r;
}

struct root {
	struct fib f;
	struct pool_group *g;
	_Atomic long done;
};

static void root_task(void *arg)
{
	struct root *r = arg;

	fib_task(&r->f);
	atomic_store(&r->done, 1);
}

static void test_fork_join(void **state)
{
	struct pool *p;
	struct root r = { .f = { 22, 0 } };
	struct pool_stats s;

	(void)state;
	/* a tiny deque forces the inline path as well */
	assert_int_equal(pool_create(&p, &(struct pool_opts){ .workers = 2,
							      .deque_size = 8 }),
			 0);
	assert_int_equal(pool_submit(p, root_task, &r), 0);
	assert_true(wait_for(&r.done, 1));
	assert_int_equal(r.f.r, 17711);
	pool_stats(p, &s);
	assert_true(s.spawned_run > 0);
	pool_destroy(p);
}

/* an outside thread waits on a group whose tasks a pool task spawns */
static struct pool_group outside_g;

static void spawner(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++)
		pool_group_spawn(&outside_g, count_task, NULL);
	/* our own slot in the group, taken by the test before submitting */
	atomic_fetch_sub(&outside_g.state, 2);
}

static void test_group_wait_outside(void **state)
{
	struct pool *p;

	(void)state;
	atomic_store(&counter, 0);
	pool_group_init(&outside_g);
	atomic_fetch_add(&outside_g.state, 2); /* held until spawner is done */
	assert_int_equal(pool_create(&p, &(struct pool_opts){ .workers = 2 }), 0);
	assert_int_equal(pool_submit(p, spawner, NULL), 0);
	pool_group_wait(&outside_g);
	assert_int_equal(atomic_load(&counter), 100);
	pool_destroy(p);
}

/* gate: tasks that wait until released */
static _Atomic int gate_open;
static _Atomic long gate_entered;

static void gate_task(void *arg)
{
	(void)arg;
	atomic_fetch_add(&gate_entered, 1);
	while (!atomic_load(&gate_open))
		sleep_ms(1);
	atomic_fetch_add(&counter, 1);
}

static void test_bound_rejects(void **state)
{
	struct pool *p;
	struct pool_stats s;
	int accepted = 0, rejected = 0;

	(void)state;
	atomic_store(&counter, 0);
	atomic_store(&gate_open, 0);
	atomic_store(&gate_entered, 0);
	assert_int_equal(pool_create(&p, &(struct pool_opts){ .workers = 1,
							      .queue_bound = 16 }),
			 0);
	assert_int_equal(pool_submit(p, gate_task, NULL), 0);
	assert_true(wait_for(&gate_entered, 1)); /* the worker is held */
	for (int i = 0; i < 40; i++) {
		int r = pool_submit(p, gate_task, NULL);

		if (r == 0)
			accepted++;
		else if (r == -EAGAIN)
			rejected++;
	}
	assert_int_equal(accepted, 16);
	assert_int_equal(rejected, 24);
	sleep_ms(2); /* the oldest queued task has waited at least this long */
	pool_stats(p, &s);
	assert_int_equal(s.rejected, 24);
	assert_int_equal(s.inject_depth, 16);
	assert_int_equal(s.depth, 16);
	assert_true(s.oldest_wait_ns >= 2000000);
	atomic_store(&gate_open, 1);
	assert_true(wait_for(&counter, 17));
	pool_destroy(p);
}

/* the running task sees its enqueue time and its queue delay */
static _Atomic uint64_t seen_enq, seen_delay;

static void delay_task(void *arg)
{
	(void)arg;
	atomic_store(&seen_enq, pool_task_enqueue_ns());
	atomic_store(&seen_delay, pool_task_delay_ns());
	atomic_fetch_add(&counter, 1);
}

static void test_task_delay(void **state)
{
	struct pool *p;
	struct pool_stats a, b;
	struct pool_interval iv;
	uint64_t t0, t1;

	(void)state;
	atomic_store(&counter, 0);
	atomic_store(&gate_open, 0);
	atomic_store(&gate_entered, 0);
	assert_int_equal(pool_create(&p, &(struct pool_opts){ .workers = 1 }), 0);
	pool_stats(p, &a);
	assert_int_equal(pool_submit(p, gate_task, NULL), 0);
	assert_true(wait_for(&gate_entered, 1));
	t0 = pool_now_ns();
	assert_int_equal(pool_submit(p, delay_task, NULL), 0);
	t1 = pool_now_ns();
	sleep_ms(5); /* it waits at least this long behind the gate */
	atomic_store(&gate_open, 1);
	assert_true(wait_for(&counter, 2));
	/* the clock is monotonic: the stamp lies between the two reads, give
	 * or take the TSC conversion's rounding */
	assert_true(atomic_load(&seen_enq) + 1000 >= t0);
	assert_true(atomic_load(&seen_enq) <= t1 + 1000);
	assert_true(atomic_load(&seen_delay) >= 4000000);
	pool_stats(p, &b);
	pool_stats_interval(&a, &b, &iv);
	assert_int_equal(iv.started, 2);
	assert_int_equal(iv.completed, 2);
	assert_true(iv.max_delay_ns >= 4000000);
	pool_destroy(p);
}

/*
 * A worker reads the clock once per claim of submitted tasks: a batch of
 * short tasks shares one start. Behind a long task in such a batch the others
 * see their start early by its run time, once; then the worker claims one
 * task at a time and measures each exactly. So: no reported start is ever
 * later than the real one, every task is counted once, and only the tasks
 * that shared a batch with the long one (at most INJECT_BATCH - 1) are off by
 * much. A preempted worker can make one more batch late: allow for that.
 */
#define PROBES 64

static _Atomic unsigned nprobe;
static uint64_t probe_entry[PROBES], probe_start[PROBES];

static void probe_task(void *arg)
{
	unsigned i = atomic_fetch_add(&nprobe, 1);

	(void)arg;
	probe_entry[i] = pool_now_ns();
	probe_start[i] = pool_task_enqueue_ns() + pool_task_delay_ns();
	atomic_fetch_add(&counter, 1);
}

static void long_task(void *arg)
{
	uint64_t end = pool_now_ns() + 5000000;

	(void)arg;
	while (pool_now_ns() < end)
		;
	atomic_fetch_add(&counter, 1);
}

static void test_batch_delay_bound(void **state)
{
	struct pool *p;
	struct pool_stats a, b;
	struct pool_interval iv;
	unsigned off = 0;

	(void)state;
	atomic_store(&counter, 0);
	atomic_store(&nprobe, 0);
	atomic_store(&gate_open, 0);
	atomic_store(&gate_entered, 0);
	assert_int_equal(pool_create(&p, &(struct pool_opts){ .workers = 1 }), 0);
	pool_stats(p, &a);
	assert_int_equal(pool_submit(p, gate_task, NULL), 0);
	assert_true(wait_for(&gate_entered, 1));
	/* short tasks first, so that the worker claims batches */
	for (int i = 0; i < 64; i++)
		assert_int_equal(pool_submit(p, count_task, NULL), 0);
	assert_int_equal(pool_submit(p, long_task, NULL), 0);
	for (int i = 0; i < PROBES; i++)
		assert_int_equal(pool_submit(p, probe_task, NULL), 0);
	atomic_store(&gate_open, 1);
	assert_true(wait_for(&counter, 1 + 64 + 1 + PROBES));
	for (int i = 0; i < PROBES; i++) {
		/* never late; 1 us for the TSC conversion's rounding */
		assert_true(probe_start[i] <= probe_entry[i] + 1000);
		if (probe_entry[i] - probe_start[i] > 1000000)
			off++;
	}
	print_message("probes off by more than 1 ms: %u\n", off);
	assert_true(off <= 2 * (INJECT_BATCH - 1));
	pool_stats(p, &b);
	pool_stats_interval(&a, &b, &iv);
	assert_int_equal(iv.started, 1 + 64 + 1 + PROBES);
	assert_true(iv.max_delay_ns >= 4000000);
	pool_destroy(p);
}

/* shutdown: drain runs everything; cancel hands everything back */
static _Atomic long handed;

static void cancel_cb(pool_fn fn, void *arg, void *ctx)
{
	(void)fn;
	(void)arg;
	(void)ctx;
	atomic_fetch_add(&handed, 1);
}

static void test_shutdown_modes(void **state)
{
	struct pool *p;

	(void)state;
	for (int mode = 0; mode < 2; mode++) {
		atomic_store(&counter, 0);
		atomic_store(&handed, 0);
		atomic_store(&gate_open, 0);
		atomic_store(&gate_entered, 0);
		assert_int_equal(pool_create(&p, &(struct pool_opts){ .workers = 1 }),
				 0);
		assert_int_equal(pool_submit(p, gate_task, NULL), 0);
		assert_true(wait_for(&gate_entered, 1));
		for (int i = 0; i < 100; i++)
			assert_int_equal(pool_submit(p, count_task, NULL), 0);
		assert_int_equal(pool_submit_blocking(p, count_task, NULL), 0);
		atomic_store(&gate_open, 1);
		if (mode == 0) {
			assert_int_equal(pool_shutdown(p, POOL_DRAIN, NULL, NULL), 0);
			assert_int_equal(atomic_load(&counter), 102);
		} else {
			assert_int_equal(pool_shutdown(p, POOL_CANCEL, cancel_cb, NULL),
					 0);
			assert_int_equal(atomic_load(&counter) + atomic_load(&handed),
					 102);
		}
		assert_int_equal(pool_submit(p, count_task, NULL), -ESHUTDOWN);
		assert_int_equal(pool_shutdown(p, POOL_DRAIN, NULL, NULL), -ESHUTDOWN);
		pool_destroy(p);
	}
}

/* blocking tasks: a capped number of threads, reaped when idle */
static void blocking_task(void *arg)
{
	(void)arg;
	atomic_fetch_add(&gate_entered, 1);
	while (!atomic_load(&gate_open))
		sleep_ms(1);
	atomic_fetch_add(&counter, 1);
}

static void test_blocking(void **state)
{
	struct pool *p;
	struct pool_stats s;
	int tries = 0;

	(void)state;
	atomic_store(&counter, 0);
	atomic_store(&gate_open, 0);
	atomic_store(&gate_entered, 0);
	assert_int_equal(pool_create(&p, &(struct pool_opts){ .workers = 1,
			 .max_blocking = 3, .blocking_bound = 4,
			 .blocking_idle_ms = 20 }), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pool_submit_blocking(p, blocking_task, NULL), 0);
	assert_true(wait_for(&gate_entered, 3)); /* three threads, blocked */
	for (int i = 0; i < 4; i++) /* the queue's bound */
		assert_int_equal(pool_submit_blocking(p, blocking_task, NULL), 0);
	assert_int_equal(pool_submit_blocking(p, blocking_task, NULL), -EAGAIN);
	pool_stats(p, &s);
	assert_int_equal(s.blocking_threads, 3); /* capped */
	/* the CPU worker is free meanwhile */
	assert_int_equal(pool_submit(p, count_task, NULL), 0);
	assert_true(wait_for(&counter, 1));
	atomic_store(&gate_open, 1);
	assert_true(wait_for(&counter, 8));
	do { /* idle threads go away */
		sleep_ms(10);
		pool_stats(p, &s);
	} while (s.blocking_threads && ++tries < 2000);
	assert_int_equal(s.blocking_threads, 0);
	assert_int_equal(s.blocking_completed, 7);
	pool_destroy(p);
}

static void test_idle_parks(void **state)
{
	struct pool *p;
	struct pool_stats s;
	int tries = 0;

	(void)state;
	assert_int_equal(pool_create(&p, &(struct pool_opts){ .workers = 3 }), 0);
	do {
		sleep_ms(1);
		pool_stats(p, &s);
	} while (s.sleeping < 3 && ++tries < 20000);
	assert_int_equal(s.sleeping, 3);
	pool_destroy(p);
}

/*
 * Submitted tasks are not starved by spawned work: on one worker, a chain of
 * spawned tasks that would run forever (through the continuation slot and
 * through the deque) stops only when a submitted task gets to run.
 */
static _Atomic int chain_stop;
static _Atomic long chain_steps;

static void endless(void *arg)
{
	atomic_fetch_add(&chain_steps, 1);
	if (atomic_load(&chain_stop))
		return;
	if (arg)
		pool_spawn(endless, arg); /* continuation slot */
	else
		pool_group_spawn(NULL, endless, NULL); /* deque */
}

static void stopper(void *arg)
{
	(void)arg;
	atomic_store(&chain_stop, 1);
	atomic_fetch_add(&counter, 1);
}

static void test_no_starvation(void **state)
{
	struct pool *p;

	(void)state;
	for (int kind = 0; kind < 2; kind++) {
		atomic_store(&counter, 0);
		atomic_store(&chain_stop, 0);
		atomic_store(&chain_steps, 0);
		assert_int_equal(pool_create(&p, &(struct pool_opts){ .workers = 1 }),
				 0);
		assert_int_equal(pool_submit(p, endless, kind ? p : NULL), 0);
		while (atomic_load(&chain_steps) < 1000)
			sched_yield();
		assert_int_equal(pool_submit(p, stopper, NULL), 0);
		assert_true(wait_for(&counter, 1));
		pool_destroy(p);
	}
}

/* options: thread names and CPU pinning */
static char seen_name[16];
static _Atomic int seen_ncpus;

static void name_task(void *arg)
{
	cpu_set_t set;

	(void)arg;
	prctl(PR_GET_NAME, seen_name);
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		atomic_store(&seen_ncpus, CPU_COUNT(&set));
	atomic_fetch_add(&counter, 1);
}

static void test_options(void **state)
{
	struct pool *p;

	(void)state;
	atomic_store(&counter, 0);
	assert_int_equal(pool_create(&p, &(struct pool_opts){ .workers = 1,
			 .pin_cpus = 1, .name = "tst" }), 0);
	assert_int_equal(pool_submit(p, name_task, NULL), 0);
	assert_true(wait_for(&counter, 1));
	assert_string_equal(seen_name, "tst-w0");
	assert_int_equal(atomic_load(&seen_ncpus), 1); /* pinned to one CPU */
	pool_destroy(p);
	assert_int_equal(pool_create(&p, &(struct pool_opts){ .deque_size = 3 }),
			 -EINVAL);
}

/*
 * No lost wake-up: one task at a time into a pool whose workers are in every
 * state (spinning, going to sleep, asleep). Nothing else would wake them, so
 * a lost wake-up leaves the task unrun and the bounded wait fails.
 */
static void test_no_lost_wakeup(void **state)
{
	struct pool *p;
	uint64_t rng = 7;
	long rounds = (long)scaled(3000);

	(void)state;
	atomic_store(&counter, 0);
	assert_int_equal(pool_create(&p, &(struct pool_opts){ .workers = 2 }), 0);
	for (long i = 1; i <= rounds; i++) {
		struct timespec ts = { 0, (long)(xrand(&rng) % 300) * 1000 };

		assert_int_equal(pool_submit(p, count_task, NULL), 0);
		for (int k = 0; k < 4000000 && atomic_load(&counter) < i; k++)
			if (k > 1000)
				sched_yield();
		if (atomic_load(&counter) < i)
			assert_true(wait_for(&counter, i));
		if (xrand(&rng) % 2)
			nanosleep(&ts, NULL);
	}
	pool_destroy(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_submit_runs),
		cmocka_unit_test(test_fork_join),
		cmocka_unit_test(test_group_wait_outside),
		cmocka_unit_test(test_bound_rejects),
		cmocka_unit_test(test_task_delay),
		cmocka_unit_test(test_batch_delay_bound),
		cmocka_unit_test(test_shutdown_modes),
		cmocka_unit_test(test_blocking),
		cmocka_unit_test(test_idle_parks),
		cmocka_unit_test(test_no_lost_wakeup),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_no_starvation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
