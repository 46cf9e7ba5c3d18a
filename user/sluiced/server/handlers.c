// SPDX-License-Identifier: MIT
/*
 * The pool task of one request. First the CoDel-style check: a request
 * that waited in the queue longer than its deadline while the queue stands
 * (standing.h: not for a transient) is answered 503 at once, because its
 * client has likely given up and working it would only delay the requests
 * behind it. Then the built-in handlers (with
 * --upstream a request goes from its loop to the proxy's queue instead,
 * upqueue.c, which makes the same check when the request leaves it):
 *   GET /work?cpu_us=N&sleep_us=N   burn N µs of CPU (thread CPU time, so
 *                                   preemption does not shorten it), then
 *                                   sleep on a blocking thread
 *   GET /health                     200 "ok"
 * The task writes the response itself when the socket takes it, and hands
 * the connection back to its IO loop (sld_conn_done).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "http_response.h"
#include "sluiced.h"

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#define LEND_NS 100000	/* a long burn lends its worker to the loop this often */

/* The worker's IO loop runs on it between tasks: a long burn lends it to
 * the loop now and then (pool_task_poll), so that what arrives meanwhile
 * is read and queues in the pool, measured and bounded, as it would
 * behind any other task, instead of waiting unseen in the kernel. The
 * loop's CPU time does not count as the burn's. */
static void burn_cpu_us(uint64_t us)
{
	uint64_t now = thread_cpu_ns(), end = now + us * 1000, lend = now + LEND_NS;
	volatile uint64_t x = 0;

	while ((now = thread_cpu_ns()) < end) {
		if (now >= lend) {
			pool_task_poll();
			lend = thread_cpu_ns();
			end += lend - now;
			lend += LEND_NS;
		}
		for (int i = 0; i < 200; i++)
			x += (uint64_t)i;
	}
}

static void respond(struct conn *c, int status, const char *body)
{
	struct http_response r = { .status = status, .content_type = "text/plain",
				   .close = c->close_after };
	bool head = c->parser.req.method == HTTP_M_HEAD;
	int n;

	if (head) {
		r.content_length = strlen(body);
		n = http_write_head(c->out_inline, sizeof(c->out_inline), &r);
	} else {
		n = http_write_simple(c->out_inline, sizeof(c->out_inline), &r, body);
	}
	sld_conn_set_out_inline(c, n, status, false);
	sld_conn_try_write(c);
}

static void finish(struct sld *d, struct conn *c, bool worked)
{
	if (worked)
		atomic_fetch_add_explicit(&d->c.worked, 1, memory_order_relaxed);
	sld_conn_done(d, c);
}

static void sleep_task(void *arg)
{
	struct conn *c = arg;
	struct http_work_params wp = { 0 };
	struct timespec ts;

	http_work_params_parse(c->in, &c->parser.req, &wp);
	ts.tv_sec = (time_t)(wp.sleep_us / 1000000);
	ts.tv_nsec = (long)(wp.sleep_us % 1000000) * 1000;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	respond(c, 200, "ok\n");
	finish(c->d, c, true);
}

static void builtin(struct sld *d, struct conn *c)
{
	const struct http_request *req = &c->parser.req;
	const char *buf = c->in;
	struct http_work_params wp;

	if (http_span_eq(buf, req->path, "/health")) {
		if (req->method != HTTP_M_GET && req->method != HTTP_M_HEAD)
			goto not_allowed;
		respond(c, 200, "ok\n");
		finish(d, c, true);
		return;
	}
	if (!http_span_eq(buf, req->path, "/work")) {
		respond(c, 404, "not found\n");
		finish(d, c, false);
		return;
	}
	if (req->method != HTTP_M_GET && req->method != HTTP_M_HEAD)
		goto not_allowed;
	if (http_work_params_parse(buf, req, &wp)) {
		respond(c, 400, "expected /work?cpu_us=N&sleep_us=N, N <= 1000000\n");
		finish(d, c, false);
		return;
	}
	if (wp.cpu_us)
		burn_cpu_us(wp.cpu_us);
	if (wp.sleep_us) {
		/* Sleeping on a worker would take a CPU worker out for the
		 * duration: the blocking threads are there for this. */
		if (pool_submit_blocking(d->pool, sleep_task, c) == 0)
			return;
		sleep_task(c);
		return;
	}
	respond(c, 200, "ok\n");
	finish(d, c, true);
	return;
not_allowed:
	respond(c, 405, "method not allowed\n");
	finish(d, c, false);
}

void sld_task_shed(struct sld *d, struct conn *c, enum sld_fast why)
{
	int n = sld_fast_answer(c->out_inline, sizeof(c->out_inline), d, why, false);

	sld_conn_set_out_inline(c, n, 503, true);
	sld_conn_try_write(c);
	sld_conn_done(d, c);
}

bool sld_deadline_drop(struct sld *d, uint64_t now, uint64_t waited)
{
	return standing_drop(&d->standing, now, waited,
			     atomic_load_explicit(&d->deadline_ns, memory_order_relaxed),
			     atomic_load_explicit(&d->standing_interval_ns, memory_order_relaxed),
			     now < atomic_load_explicit(&d->shedding_until_ns,
							memory_order_relaxed));
}

bool sld_request_admit(struct sld *d, struct conn *c, uint64_t waited, bool enforce)
{
	if (enforce && sld_deadline_drop(d, sld_now_ns(), waited)) {
		sld_task_shed(d, c, SLD_FAST_expired);
		return false;
	}
	if (waited > atomic_load_explicit(&d->deadline_ns, memory_order_relaxed))
		atomic_fetch_add_explicit(&d->c.late_worked, 1, memory_order_relaxed);
	/* The longest wait of a request that was worked: the e2e test checks
	 * it against the deadline (metric sluiced_worked_wait_max_seconds). */
	uint64_t max = atomic_load_explicit(&d->c.worked_wait_max_ns, memory_order_relaxed);

	while (waited > max &&
	       !atomic_compare_exchange_weak_explicit(&d->c.worked_wait_max_ns, &max,
						      waited, memory_order_relaxed,
						      memory_order_relaxed))
		;
	return true;
}

void sld_request_task(void *arg)
{
	struct conn *c = arg;
	struct sld *d = c->d;
	uint64_t waited = pool_task_delay_ns();

	atomic_fetch_sub_explicit(&d->queued, 1, memory_order_relaxed);
	if (sld_request_admit(d, c, waited, true))
		builtin(d, c);
}
