// SPDX-License-Identifier: MIT
/*
 * The OpenMP-tasks baseline (libgomp, gcc -fopenmp): the same workloads as
 * bench_pool.c, written with #pragma omp task / taskwait.
 */
#include "bench.h"

#include <malloc.h>
#include <omp.h>
#include <stdatomic.h>

static long fib_rec(int n)
{
	long a, b;

	if (n <= 2)
		return n <= 0 ? 0 : 1;
#pragma omp task shared(a)
	a = fib_rec(n - 1);
#pragma omp task shared(b)
	b = fib_rec(n - 2);
#pragma omp taskwait
	return a + b;
}

long omp_fib(int n)
{
	long r = 0;

#pragma omp parallel num_threads(2)
#pragma omp single
	r = fib_rec(n);
	return r;
}

static _Atomic unsigned long done;

static void empty(void)
{
	atomic_fetch_add_explicit(&done, 1, memory_order_relaxed);
}

void omp_submit(unsigned long n, unsigned threads)
{
	atomic_store(&done, 0);
#pragma omp parallel num_threads(threads)
#pragma omp single
	for (unsigned long i = 0; i < n; i++) {
#pragma omp task
		empty();
	}
}

static void chain_step(unsigned long left)
{
	if (!left)
		return;
#pragma omp task
	chain_step(left - 1);
}

void omp_roundtrip(unsigned long steps)
{
#pragma omp parallel num_threads(2)
#pragma omp single
	for (unsigned long i = 0; i < steps; i++) {
#pragma omp task
		atomic_signal_fence(memory_order_seq_cst);
#pragma omp taskwait
	}
}

void omp_chain(unsigned long steps)
{
#pragma omp parallel num_threads(2)
#pragma omp single
	chain_step(steps);
}

static void skew_task(struct skew *s, unsigned i)
{
	uint64_t start = bench_ns();

	s->delay[i] = start - s->enq[i];
	spin_until(start + s->service[i]);
}

/* as skew_produce in bench_pool.c: naps, then bursts of due arrivals */
void omp_skew(struct skew *s)
{
#pragma omp parallel num_threads(2)
#pragma omp single
	{
		struct timespec nap = { 0, 200000 };
		unsigned i = 0;

		s->t0 = bench_ns();
		while (i < s->n) {
			uint64_t now;

			nanosleep(&nap, NULL);
			now = bench_ns() - s->t0;
			for (; i < s->n && s->arrive[i] <= now; i++) {
				s->enq[i] = bench_ns();
#pragma omp task firstprivate(i)
				skew_task(s, i);
			}
		}
	}
}

void omp_touch(void)
{
#pragma omp parallel num_threads(2)
	{
		(void)omp_get_thread_num();
	}
}

/* Heap bytes per deferred task: the other thread is held inside a task
 * while this one creates k more (k under libgomp's 64-per-thread throttle,
 * beyond which it runs tasks at once instead of queueing them). */
long omp_task_bytes(unsigned k)
{
	static _Atomic int release;
	long before = 0, after = 0;

	atomic_store(&release, 0);
#pragma omp parallel num_threads(2)
#pragma omp single
	{
#pragma omp task
		while (!atomic_load(&release))
			;
		/* give the other thread time to take the holding task */
		spin_until(bench_ns() + 20000000);
		before = (long)(mallinfo2().uordblks + mallinfo2().hblkhd);
		for (unsigned i = 0; i < k; i++) {
#pragma omp task
			empty();
		}
		after = (long)(mallinfo2().uordblks + mallinfo2().hblkhd);
		atomic_store(&release, 1);
	}
	return (after - before) / (long)k;
}
