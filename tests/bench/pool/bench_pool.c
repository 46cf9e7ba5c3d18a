// SPDX-License-Identifier: MIT
/*
 * Pool benchmarks against baselines measured in the same run: the sluice pool,
 * a naive pool (one mutex + condvar + queue), libuv's threadpool
 * (uv_queue_work), OpenMP tasks (libgomp) and Go (gochan/main.go: a buffered
 * channel feeding two goroutines, a goroutine per fib call; rows 1 and 2
 * only, n/a when the program was not built). Each figure is the median of
 * several runs; the table gives each one's ratio to the naive pool.
 *
 *   bench_pool [-q] [-n REPS] [-r ROW]
 *     -q      one repetition and a 1 s idle window (smoke)
 *     -n      repetitions per row (default 7, at most 15)
 *     -r ROW  only the rows whose label starts with ROW ("2", "3a", ...)
 *
 * The Go program is $BENCH_GOCHAN, else `gochan` next to this binary.
 */
#include <sluice/pool.h>
#include "bench.h"
#include "naive.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#define WORKERS 2
#define FIB_N 30
#define SUBMIT_N 10000000ul
#define CHAIN_N 1000000ul
#define SKEW_N 40000u

enum { P_POOL, P_NAIVE, P_UV, P_OMP, P_GO, NPOOLS };
static const char *pool_names[NPOOLS] = { "sluice", "naive", "libuv", "openmp",
					  "go" };

static int reps = 7;
static unsigned idle_s = 5;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The main thread sleeps until the last task opens the latch: no core is
 * spent polling while the pool under test runs. */
struct latch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int open;
};

static struct latch g_latch = { PTHREAD_MUTEX_INITIALIZER,
				PTHREAD_COND_INITIALIZER, 0 };

static void latch_reset(void)
{
	pthread_mutex_lock(&g_latch.mu);
	g_latch.open = 0;
	pthread_mutex_unlock(&g_latch.mu);
}

static void latch_open(void)
{
	pthread_mutex_lock(&g_latch.mu);
	g_latch.open = 1;
	pthread_cond_signal(&g_latch.cv);
	pthread_mutex_unlock(&g_latch.mu);
}

static void latch_wait(void)
{
	pthread_mutex_lock(&g_latch.mu);
	while (!g_latch.open)
		pthread_cond_wait(&g_latch.cv, &g_latch.mu);
	pthread_mutex_unlock(&g_latch.mu);
}

/* ---- the Go baseline: a program of its own ------------------------------ */

static char go_prog[PATH_MAX]; /* empty: not built, the column says n/a */

static void find_go_prog(void)
{
	const char *env = getenv("BENCH_GOCHAN");
	char self[PATH_MAX];
	ssize_t n;

	if (env && *env) {
		snprintf(go_prog, sizeof(go_prog), "%s", env);
	} else {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0)
			return;
		self[n] = 0;
		snprintf(go_prog, sizeof(go_prog), "%s/gochan", dirname(self));
	}
	if (access(go_prog, X_OK)) {
		fprintf(stderr, "bench_pool: no Go baseline (%s): column n/a\n",
			go_prog);
		go_prog[0] = 0;
	}
}

/* Runs `gochan MODE N`, which times itself and prints ns per task. */
static double run_go(const char *mode, unsigned long n)
{
	char cmd[PATH_MAX + 64];
	double v = NAN;
	FILE *f;

	if (!go_prog[0])
		return NAN;
	snprintf(cmd, sizeof(cmd), "'%s' %s %lu", go_prog, mode, n);
	f = popen(cmd, "r");
	if (!f)
		return NAN;
	if (fscanf(f, "%lf", &v) != 1)
		v = NAN;
	if (pclose(f) != 0) {
		fprintf(stderr, "bench_pool: %s failed\n", cmd);
		exit(1);
	}
	return v;
}

/* ---- fib: a task per call, down to n <= 2 ------------------------------- */

struct pfib {
	int n;
	long r;
};

static void pool_fib(void *arg)
{
	struct pfib *f = arg, a, b;
	struct pool_group g = POOL_GROUP_INIT;

	if (f->n <= 2) {
		f->r = f->n <= 0 ? 0 : 1;
		return;
	}
	a.n = f->n - 1;
	b.n = f->n - 2;
	pool_group_spawn(&g, pool_fib, &a);
	pool_group_spawn(&g, pool_fib, &b);
	pool_group_wait(&g);
	f->r = a.r + b.r;
}

struct proot {
	struct pfib f;
	_Atomic int done;
};

static void pool_fib_root(void *arg)
{
	struct proot *r = arg;

	pool_fib(&r->f);
	latch_open();
}

static struct naive_pool *g_np;

struct nfib {
	int n;
	long r;
	_Atomic int *pending; /* parent's counter */
	int r_parent;         /* 0 for the root */
};

static void naive_fib(void *arg)
{
	struct nfib *f = arg, a, b;
	_Atomic int pending = 2;

	if (f->n <= 2) {
		f->r = f->n <= 0 ? 0 : 1;
	} else {
		a = (struct nfib){ f->n - 1, 0, &pending, 1 };
		b = (struct nfib){ f->n - 2, 0, &pending, 1 };
		naive_submit(g_np, naive_fib, &a);
		naive_submit(g_np, naive_fib, &b);
		while (atomic_load(&pending)) /* help while waiting */
			if (!naive_try_run_one(g_np))
				sched_yield();
		f->r = a.r + b.r;
	}
	/* f lives in the parent's frame, which may be gone once the count
	 * reaches zero: read everything before the decrement */
	bool root = !f->r_parent;

	if (f->pending && atomic_fetch_sub(f->pending, 1) == 1 && root)
		latch_open();
}

static long fib_ref(int n)
{
	return n <= 2 ? (n <= 0 ? 0 : 1) : fib_ref(n - 1) + fib_ref(n - 2);
}

static unsigned long fib_calls(int n)
{
	return n <= 2 ? 1 : 1 + fib_calls(n - 1) + fib_calls(n - 2);
}

static double run_fib(int which)
{
	uint64_t t0, t1;

	latch_reset();
	long want = fib_ref(FIB_N), got = -1;

	if (which == P_POOL) {
		struct pool *p;
		struct proot r = { .f = { FIB_N, 0 } };

		pool_create(&p, &(struct pool_opts){ .workers = WORKERS });
		t0 = bench_ns();
		pool_submit(p, pool_fib_root, &r);
		latch_wait();
		t1 = bench_ns();
		got = r.f.r;
		pool_destroy(p);
	} else if (which == P_NAIVE) {
		struct naive_pool np;
		struct nfib f = { FIB_N, 0, NULL, 0 };
		_Atomic int pending = 1;

		f.pending = &pending;
		naive_create(&np, WORKERS);
		g_np = &np;
		t0 = bench_ns();
		naive_submit(&np, naive_fib, &f);
		latch_wait();
		t1 = bench_ns();
		got = f.r;
		naive_shutdown(&np);
	} else if (which == P_OMP) {
		t0 = bench_ns();
		got = omp_fib(FIB_N);
		t1 = bench_ns();
	} else if (which == P_GO) {
		return run_go("fib", FIB_N);
	} else {
		return NAN; /* libuv cannot join inside its threadpool */
	}
	if (got != want) {
		fprintf(stderr, "fib: %s got %ld, want %ld\n", pool_names[which],
			got, want);
		exit(1);
	}
	return (double)(t1 - t0) / (double)fib_calls(FIB_N);
}

/* ---- external submit: one producer, tiny tasks -------------------------- */

static _Thread_local unsigned long tl_count;

static void tiny(void *arg)
{
	(void)arg;
	tl_count++;
}

static uv_work_t *uv_reqs;
static uv_work_t **uv_free; /* requests not in flight */
static unsigned long uv_done, uv_nfree;

static void uv_tiny(uv_work_t *req)
{
	(void)req;
	tl_count++;
}

static void uv_after(uv_work_t *req, int status)
{
	(void)status;
	uv_free[uv_nfree++] = req;
	uv_done++;
}

static double run_submit(int which, unsigned long n)
{
	uint64_t t0, t1;

	if (which == P_POOL) {
		struct pool *p;
		struct pool_stats s;

		pool_create(&p, &(struct pool_opts){ .workers = WORKERS });
		t0 = bench_ns();
		for (unsigned long i = 0; i < n; i++)
			while (pool_submit(p, tiny, NULL) == -EAGAIN)
				sched_yield();
		pool_shutdown(p, POOL_DRAIN, NULL, NULL);
		t1 = bench_ns();
		pool_stats(p, &s);
		if (s.completed != n) {
			fprintf(stderr, "submit: ran %lu of %lu\n",
				(unsigned long)s.completed, n);
			exit(1);
		}
		pool_destroy(p);
	} else if (which == P_NAIVE) {
		struct naive_pool np;

		naive_create(&np, WORKERS);
		t0 = bench_ns();
		for (unsigned long i = 0; i < n; i++)
			naive_submit(&np, tiny, NULL);
		naive_shutdown(&np);
		t1 = bench_ns();
	} else if (which == P_UV) {
		/* the loop thread submits, keeping at most `window` requests
		 * (uv_work_t is caller memory) in flight */
		const unsigned long window = 65536;
		uv_loop_t *loop = uv_default_loop();
		unsigned long next = 0;

		uv_done = 0;
		for (uv_nfree = 0; uv_nfree < window; uv_nfree++)
			uv_free[uv_nfree] = &uv_reqs[uv_nfree];
		t0 = bench_ns();
		while (uv_done < n) {
			while (next < n && uv_nfree) {
				uv_queue_work(loop, uv_free[--uv_nfree],
					      uv_tiny, uv_after);
				next++;
			}
			uv_run(loop, UV_RUN_ONCE);
		}
		t1 = bench_ns();
	} else if (which == P_GO) {
		return run_go("submit", n);
	} else {
		/* a team of WORKERS + 1: the producer and two that run tasks */
		t0 = bench_ns();
		omp_submit(n, WORKERS + 1);
		t1 = bench_ns();
	}
	return (double)(t1 - t0) / (double)n;
}

/* ---- chained spawn and ping-pong ---------------------------------------- */

struct chain {
	unsigned long left;
	_Atomic int done;
	struct pool *p;
	struct naive_pool *np;
};

static void pool_chain_step(void *arg)
{
	struct chain *c = arg;

	if (--c->left)
		pool_spawn(pool_chain_step, c);
	else
		latch_open();
}

/* ping-pong: the parent spawns a child and waits for it, over and over */
static void nop(void *arg)
{
	(void)arg;
}

static void pool_roundtrip(void *arg)
{
	struct chain *c = arg;

	for (unsigned long i = 0; i < c->left; i++) {
		struct pool_group g = POOL_GROUP_INIT;

		pool_group_spawn(&g, nop, NULL);
		pool_group_wait(&g);
	}
	latch_open();
}

static void naive_nop(void *arg)
{
	atomic_fetch_sub((_Atomic int *)arg, 1);
}

static void naive_roundtrip(void *arg)
{
	struct chain *c = arg;

	for (unsigned long i = 0; i < c->left; i++) {
		_Atomic int pending = 1;

		naive_submit(c->np, naive_nop, &pending);
		while (atomic_load(&pending))
			if (!naive_try_run_one(c->np))
				sched_yield();
	}
	latch_open();
}

static void pool_pingpong_step(void *arg)
{
	struct chain *c = arg;

	if (--c->left)
		pool_submit(c->p, pool_pingpong_step, c);
	else
		latch_open();
}

static void naive_chain_step(void *arg)
{
	struct chain *c = arg;

	if (--c->left)
		naive_submit(c->np, naive_chain_step, c);
	else
		latch_open();
}

static struct chain uv_c;

static void uv_chain_work(uv_work_t *req)
{
	(void)req;
	uv_c.left--;
}

static void uv_chain_after(uv_work_t *req, int status)
{
	(void)status;
	if (uv_c.left)
		uv_queue_work(uv_default_loop(), req, uv_chain_work, uv_chain_after);
}

/* kind 0: chained spawn (each task spawns the next); 1: ping-pong, a task
 * spawns a child and joins it; 2: chained submit, each task submits the
 * next from inside the pool through the FIFO queue */
static double run_chain(int which, unsigned long steps, int kind)
{
	static pool_fn pool_kinds[] = { pool_chain_step, pool_roundtrip,
					pool_pingpong_step };
	struct chain c = { .left = steps };
	uint64_t t0, t1;

	latch_reset();
	if (which == P_UV) /* ~50 us per step: fewer steps */
		c.left = steps = steps / 50;
	if (which == P_POOL) {
		pool_create(&c.p, &(struct pool_opts){ .workers = WORKERS });
		t0 = bench_ns();
		pool_submit(c.p, pool_kinds[kind], &c);
		latch_wait();
		t1 = bench_ns();
		pool_destroy(c.p);
	} else if (which == P_NAIVE) {
		struct naive_pool np;

		naive_create(&np, WORKERS);
		c.np = &np;
		t0 = bench_ns();
		naive_submit(&np, kind == 1 ? naive_roundtrip : naive_chain_step,
			     &c);
		latch_wait();
		t1 = bench_ns();
		naive_shutdown(&np);
	} else if (which == P_UV) {
		uv_work_t req;

		if (kind == 1)
			return NAN; /* no join inside libuv's threadpool */
		uv_c.left = steps;
		t0 = bench_ns();
		uv_queue_work(uv_default_loop(), &req, uv_chain_work,
			      uv_chain_after);
		uv_run(uv_default_loop(), UV_RUN_DEFAULT);
		t1 = bench_ns();
	} else {
		if (kind == 2)
			return NAN; /* one kind of task creation: see 3a */
		t0 = bench_ns();
		if (kind == 1)
			omp_roundtrip(steps);
		else
			omp_chain(steps);
		t1 = bench_ns();
	}
	return (double)(t1 - t0) / (double)steps;
}

/* ---- skewed load, heavy-tailed service: p99 queue delay ---------------- */

static struct skew g_skew;

static void skew_task_ptr(void *arg)
{
	unsigned i = (unsigned)(uintptr_t)arg;
	uint64_t start = bench_ns();

	g_skew.delay[i] = start - g_skew.enq[i];
	spin_until(start + g_skew.service[i]);
}

/* The producer sleeps 200 us at a time and then queues every task whose
 * arrival time has passed, stamping each as it goes: bursts of arrivals,
 * without a spinning producer taking a core from the workers. */
static void skew_produce(void (*put)(unsigned i, void *ctx), void *ctx)
{
	struct timespec nap = { 0, 200000 };
	unsigned i = 0;

	g_skew.t0 = bench_ns();
	while (i < g_skew.n) {
		uint64_t now;

		nanosleep(&nap, NULL);
		now = bench_ns() - g_skew.t0;
		for (; i < g_skew.n && g_skew.arrive[i] <= now; i++) {
			g_skew.enq[i] = bench_ns();
			put(i, ctx);
		}
	}
}

/* sluice: the producer runs as a task on one worker and spawns everything
 * there, so the other worker gets work only by stealing it */
static void pool_put(unsigned i, void *ctx)
{
	pool_group_spawn(ctx, skew_task_ptr, (void *)(uintptr_t)i);
}

static void pool_skew_producer(void *arg)
{
	struct pool_group g = POOL_GROUP_INIT;

	(void)arg;
	skew_produce(pool_put, &g);
	pool_group_wait(&g);
	latch_open();
}

/* naive: the producer is a task on one of its workers, like sluice's */
static void naive_put(unsigned i, void *ctx)
{
	naive_submit(ctx, skew_task_ptr, (void *)(uintptr_t)i);
}

static void naive_skew_producer(void *arg)
{
	skew_produce(naive_put, arg);
	latch_open();
}

static void uv_skew_work(uv_work_t *req)
{
	skew_task_ptr(req->data);
}

static void uv_skew_after(uv_work_t *req, int status)
{
	(void)req;
	(void)status;
}

static uv_work_t *uv_skew_reqs;

static void uv_put(unsigned i, void *ctx)
{
	(void)ctx;
	uv_skew_reqs[i].data = (void *)(uintptr_t)i;
	uv_queue_work(uv_default_loop(), &uv_skew_reqs[i], uv_skew_work,
		      uv_skew_after);
}

static void make_skew(unsigned n, uint64_t seed)
{
	uint64_t t = 0;

	g_skew.n = n;
	g_skew.arrive = calloc(n, sizeof(uint64_t));
	g_skew.service = calloc(n, sizeof(uint64_t));
	g_skew.delay = calloc(n, sizeof(uint64_t));
	g_skew.enq = calloc(n, sizeof(uint64_t));
	for (unsigned i = 0; i < n; i++) {
		double u1, u2;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		u1 = ((double)(seed >> 11) + 1) / 9007199254740993.0;
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		u2 = ((double)(seed >> 11) + 1) / 9007199254740993.0;
		/* Poisson arrivals, mean gap 8 us; Pareto(1.5) service from
		 * 1 us, capped at 2 ms: mean ~2.9 us, a heavy tail */
		t += (uint64_t)(-log(u1) * 8000.0);
		g_skew.arrive[i] = t;
		g_skew.service[i] = (uint64_t)fmin(1000.0 / pow(u2, 1 / 1.5),
						   2e6);
	}
}

static double run_skew(int which)
{
	double *d = calloc(g_skew.n, sizeof(double)), p99;

	memset(g_skew.delay, 0, g_skew.n * sizeof(uint64_t));
	latch_reset();
	if (which == P_POOL) {
		struct pool *p;

		pool_create(&p, &(struct pool_opts){ .workers = WORKERS });
		pool_submit(p, pool_skew_producer, NULL);
		latch_wait();
		pool_destroy(p);
	} else if (which == P_NAIVE) {
		struct naive_pool np;

		naive_create(&np, WORKERS);
		naive_submit(&np, naive_skew_producer, &np);
		latch_wait();
		naive_shutdown(&np);
	} else if (which == P_UV) {
		/* the producer is the loop thread, so libuv's two pool threads
		 * both serve: one more thread than the others get */
		uv_skew_reqs = calloc(g_skew.n, sizeof(*uv_skew_reqs));
		skew_produce(uv_put, NULL);
		uv_run(uv_default_loop(), UV_RUN_DEFAULT);
		free(uv_skew_reqs);
	} else {
		omp_skew(&g_skew);
	}
	for (unsigned i = 0; i < g_skew.n; i++)
		d[i] = (double)g_skew.delay[i];
	qsort(d, g_skew.n, sizeof(double), cmp_double);
	p99 = d[(size_t)(0.99 * (g_skew.n - 1))];
	free(d);
	return p99 / 1000.0; /* us */
}

/* ---- idle CPU ----------------------------------------------------------- */

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static double run_idle(int which)
{
	double c0, c1;
	struct pool *p = NULL;
	struct naive_pool np;

	/* each pool first runs some work, then sits idle */
	if (which == P_POOL) {
		pool_create(&p, &(struct pool_opts){ .workers = WORKERS });
		run_chain(P_POOL, 1000, 0);
		for (int i = 0; i < 1000; i++)
			pool_submit(p, tiny, NULL);
	} else if (which == P_NAIVE) {
		naive_create(&np, WORKERS);
		for (int i = 0; i < 1000; i++)
			naive_submit(&np, tiny, NULL);
	} else if (which == P_UV) {
		run_submit(P_UV, 1000);
	} else {
		omp_submit(1000, WORKERS);
	}
	usleep(100000);
	c0 = cpu_s();
	sleep(idle_s);
	c1 = cpu_s();
	if (p)
		pool_destroy(p);
	if (which == P_NAIVE)
		naive_shutdown(&np);
	return (c1 - c0) * 1000.0 / idle_s; /* ms of CPU per second */
}

/* ---- memory per queued task --------------------------------------------- */

static long heap(void)
{
	struct mallinfo2 m = mallinfo2();

	/* small chunks in the arenas plus mmap'd large ones */
	return (long)(m.uordblks + m.hblkhd);
}

static _Atomic int gate;

static void hold(void *arg)
{
	(void)arg;
	while (!atomic_load(&gate))
		usleep(100);
}

static void uv_hold(uv_work_t *r)
{
	(void)r;
	hold(NULL);
}

static double run_mem(int which)
{
	const unsigned n = 1u << 20;
	long h0, h1;

	atomic_store(&gate, 0);
	if (which == P_POOL) {
		/* queue storage is allocated up front: the cost of a queued
		 * task is the heap that one more slot of bound costs; then
		 * check that queueing allocates nothing */
		struct pool *p;
		long a, b, c;

		h0 = heap();
		pool_create(&p, &(struct pool_opts){ .workers = WORKERS,
						     .queue_bound = 1024 });
		a = heap() - h0;
		pool_destroy(p);
		h0 = heap();
		pool_create(&p, &(struct pool_opts){ .workers = WORKERS,
						     .queue_bound = n });
		b = heap() - h0;
		for (int i = 0; i < WORKERS; i++)
			pool_submit(p, hold, NULL);
		usleep(20000);
		h1 = heap();
		for (unsigned i = 0; i < n; i++)
			pool_submit(p, tiny, NULL);
		c = heap() - h1;
		atomic_store(&gate, 1);
		pool_destroy(p);
		return (double)(b - a + c) / (n - 1024);
	}
	if (which == P_NAIVE) {
		struct naive_pool np;

		naive_create(&np, WORKERS);
		for (int i = 0; i < WORKERS; i++)
			naive_submit(&np, hold, NULL);
		usleep(20000);
		h0 = heap();
		for (unsigned i = 0; i < n; i++)
			naive_submit(&np, tiny, NULL);
		h1 = heap();
		atomic_store(&gate, 1);
		naive_shutdown(&np);
		return (double)(h1 - h0) / n;
	}
	if (which == P_UV) {
		/* uv_work_t is the caller's, one per pending request */
		const unsigned k = 100000;
		uv_work_t *reqs = calloc(k + WORKERS, sizeof(*reqs));

		for (int i = 0; i < WORKERS; i++)
			uv_queue_work(uv_default_loop(), &reqs[i], uv_hold, uv_skew_after);
		usleep(20000);
		h0 = heap();
		for (unsigned i = 0; i < k; i++)
			uv_queue_work(uv_default_loop(), &reqs[WORKERS + i],
				      uv_tiny, uv_skew_after);
		h1 = heap();
		atomic_store(&gate, 1);
		uv_run(uv_default_loop(), UV_RUN_DEFAULT);
		free(reqs);
		return (double)(h1 - h0) / k + (double)sizeof(uv_work_t);
	}
	return (double)omp_task_bytes(100);
}

/* ---- the table ---------------------------------------------------------- */

struct row {
	const char *name, *unit;
	double (*fn)(int which, int arg);
	int arg, runs;
	bool lower_better;
	double v[NPOOLS];
};

static double b_fib(int w, int a) { (void)a; return run_fib(w); }
static double b_submit(int w, int a) { (void)a; return run_submit(w, SUBMIT_N); }
/* Go: rows 1 and 2 only */
static double b_chain(int w, int a) { return w == P_GO ? NAN : run_chain(w, CHAIN_N, a); }
static double b_skew(int w, int a) { (void)a; return w == P_GO ? NAN : run_skew(w); }
static double b_idle(int w, int a) { (void)a; return w == P_GO ? NAN : run_idle(w); }
static double b_mem(int w, int a) { (void)a; return w == P_GO ? NAN : run_mem(w); }

int main(int argc, char **argv)
{
	static uv_work_t window_reqs[65536], *window_free[65536];
	struct row rows[] = {
		{ "1. fib(30), task per call", "ns/task", b_fib, 0, 0, 1, { 0 } },
		{ "2. external submit, 10M", "ns/task", b_submit, 0, 0, 1, { 0 } },
		{ "3a. chained spawn", "ns/step", b_chain, 0, 0, 1, { 0 } },
		{ "3b. ping-pong spawn+join", "ns/step", b_chain, 1, 0, 1, { 0 } },
		{ "3c. chained submit inside", "ns/step", b_chain, 2, 0, 1, { 0 } },
		{ "4. skewed load p99 delay", "us", b_skew, 0, 0, 1, { 0 } },
		{ "5. idle CPU", "ms/s", b_idle, 0, 1, 1, { 0 } },
		{ "6. memory per queued task", "bytes", b_mem, 0, 1, 1, { 0 } },
	};
	const int nrows = (int)(sizeof(rows) / sizeof(rows[0]));
	const char *only = NULL;
	int opt;

	while ((opt = getopt(argc, argv, "qn:r:")) != -1) {
		switch (opt) {
		case 'q':
			reps = 1;
			idle_s = 1;
			break;
		case 'n':
			reps = atoi(optarg);
			if (reps < 1 || reps > 15) {
				fprintf(stderr, "bench_pool: bad -n %s: want 1..15\n",
					optarg);
				return 2;
			}
			break;
		case 'r':
			only = optarg;
			break;
		default:
			fprintf(stderr,
				"usage: bench_pool [-q] [-n REPS] [-r ROW]\n");
			return 2;
		}
	}
	find_go_prog();
	/* before libuv's first use: two threads, like the others */
	setenv("UV_THREADPOOL_SIZE", "2", 1);
	uv_reqs = window_reqs;
	uv_free = window_free;
	make_skew(SKEW_N, 12345);
	omp_touch();

	/* Runs are interleaved (sluice, naive, libuv, openmp, sluice, ...) so
	 * that the load of a shared machine, which drifts, weighs on each
	 * contender alike; every run is printed to stderr, the medians below. */
	for (int r = 0; r < nrows; r++) {
		int runs = rows[r].runs ? rows[r].runs : reps;
		double v[NPOOLS][16];

		if (only && strncmp(rows[r].name, only, strlen(only))) {
			for (int w = 0; w < NPOOLS; w++)
				rows[r].v[w] = NAN;
			continue;
		}
		for (int i = 0; i < runs; i++) {
			for (int w = 0; w < NPOOLS; w++) {
				v[w][i] = rows[r].fn(w, rows[r].arg);
				if (isnan(v[w][i]))
					continue;
				fprintf(stderr, "  %-28s %-7s run %d %10.1f %s\n",
					rows[r].name, pool_names[w], i + 1,
					v[w][i], rows[r].unit);
			}
		}
		for (int w = 0; w < NPOOLS; w++)
			rows[r].v[w] = median(v[w], runs);
	}

	printf("\nsluice pool vs baselines, %d workers, median of %d interleaved "
	       "runs (5 and 6: one run)\n(ratio: value / naive pool; lower is "
	       "better everywhere)\n\n", WORKERS, reps);
	printf("%-28s %-8s", "benchmark", "unit");
	for (int w = 0; w < NPOOLS; w++)
		printf(" %16s", pool_names[w]);
	printf("\n");
	for (int r = 0; r < nrows; r++) {
		double base = rows[r].v[P_NAIVE];

		if (only && strncmp(rows[r].name, only, strlen(only)))
			continue;
		printf("%-28s %-8s", rows[r].name, rows[r].unit);
		for (int w = 0; w < NPOOLS; w++) {
			double v = rows[r].v[w];
			char cell[32];

			if (isnan(v))
				snprintf(cell, sizeof(cell), "n/a");
			else if (base > 0)
				snprintf(cell, sizeof(cell), "%.1f (%.2fx)", v,
					 v / base);
			else
				snprintf(cell, sizeof(cell), "%.1f", v);
			printf(" %16s", cell);
		}
		printf("\n");
	}
	if (!isnan(rows[1].v[P_POOL]))
		printf("\nsubmit throughput: sluice %.1f M tasks/s, naive %.1f "
		       "M/s, go %.1f M/s\n", 1e3 / rows[1].v[P_POOL],
		       1e3 / rows[1].v[P_NAIVE], 1e3 / rows[1].v[P_GO]);
	return 0;
}
