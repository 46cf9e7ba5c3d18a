// SPDX-License-Identifier: MIT
/*
 * Unit tests of guard mode's signal math (guardsig.c) and of the wait
 * buckets the BPF object and user space share (guard_abi.h); and of the
 * listener lookup (sockdiag.c) on a real loopback listener with
 * connections left unaccepted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "guardsig.h"
#include "sockdiag.h"

#define MS 1000000ull
#define US 1000ull

/* Every wait falls in the bucket whose bounds hold it; buckets increase. */
static void test_bucket_bounds(void **state)
{
	(void)state;
	uint32_t prev = 0;

	for (uint64_t ns = 0; ns < 20000000000ull; ns = ns * 9 / 8 + 97) {
		uint32_t b = sl_guard_bucket(ns);

		assert_true(b < SL_GUARD_BUCKETS);
		assert_true(b >= prev);
		prev = b;
		assert_true(sl_guard_bucket_lo_ns(b) <= ns);
		if (b + 1 < SL_GUARD_BUCKETS)
			assert_true(ns < sl_guard_bucket_lo_ns(b + 1));
	}
	assert_int_equal(sl_guard_bucket(UINT64_MAX), SL_GUARD_BUCKETS - 1);
	/* Four buckets an octave: neighbours within 25% of each other. */
	for (uint32_t b = 8; b + 1 < SL_GUARD_BUCKETS; b++) {
		double r = (double)sl_guard_bucket_lo_ns(b + 1) / (double)sl_guard_bucket_lo_ns(b);

		assert_true(r > 1.0 && r <= 1.25 + 1e-9);
	}
}

static void add_wait(struct sl_guard_stats *s, uint64_t ns, bool new_conn)
{
	s->waits++;
	s->wait_ns += ns;
	s->hist[sl_guard_bucket(ns)]++;
	if (new_conn)
		s->served++;
}

/* A new connection that was read after ns. */
static void conn_served(struct sl_guard_stats *s, uint64_t ns)
{
	s->conns++;
	add_wait(s, ns, true);
}

static void test_quantile(void **state)
{
	(void)state;
	uint64_t h[SL_GUARD_BUCKETS] = { 0 };
	uint64_t q;

	assert_int_equal(gsig_quantile(h, 0, 0.5), 0);
	h[sl_guard_bucket(50 * US)] = 90;
	h[sl_guard_bucket(20 * MS)] = 10;
	q = gsig_quantile(h, 100, 0);
	assert_true(q >= 40 * US && q <= 60 * US);
	q = gsig_quantile(h, 100, 0.5);
	assert_true(q >= 40 * US && q <= 60 * US);
	q = gsig_quantile(h, 100, 0.99);
	assert_true(q >= 16 * MS && q <= 24 * MS);
	q = gsig_quantile(h, 100, 1);
	assert_true(q >= 16 * MS && q <= 24 * MS);
}

/* The first tick only primes; the next ones see the tick's waits only. */
static void test_tick_differences(void **state)
{
	(void)state;
	struct gsig_state st;
	struct sl_guard_stats s = { 0 };
	struct gsig_tick t;

	gsig_init(&st);
	for (int i = 0; i < 100; i++)
		conn_served(&s, 100 * MS);	/* history before we started */
	gsig_tick(&st, 1000 * MS, &s, 0, &t);
	assert_int_equal(t.interval_ns, 0);
	assert_int_equal(t.delay_min_ns, 0);

	for (int i = 0; i < 10; i++)
		conn_served(&s, (uint64_t)(i + 1) * 2 * MS);	/* 2..20 ms */
	gsig_tick(&st, 1010 * MS, &s, 0, &t);
	assert_int_equal(t.interval_ns, 10 * MS);
	assert_int_equal(t.waits, 10);
	assert_int_equal(t.served, 10);
	assert_int_equal(t.conns, 10);
	/* the smallest of the tick (2 ms), within a bucket */
	assert_true(t.delay_min_ns >= 1800 * US && t.delay_min_ns <= 2400 * US);
	assert_true(t.p99_ns >= 16 * MS && t.p99_ns <= 24 * MS);
	/* the tail: the tick's p90 (18 ms) */
	assert_true(t.oldest_age_ns >= 16 * MS && t.oldest_age_ns <= 20 * MS);
	assert_int_equal(t.pending, 0);
}

/* No read and nothing waiting is an idle service: no delay at all. */
static void test_idle_is_not_delay(void **state)
{
	(void)state;
	struct gsig_state st;
	struct sl_guard_stats s = { 0 };
	struct gsig_tick t;

	gsig_init(&st);
	gsig_tick(&st, 0, &s, 0, &t);
	for (uint64_t now = 10 * MS; now < 5000 * MS; now += 10 * MS) {
		gsig_tick(&st, now, &s, 0, &t);
		assert_int_equal(t.delay_min_ns, 0);
		assert_int_equal(t.oldest_age_ns, 0);
	}
}

/* Work waiting and nothing read: the oldest waited at least since the
 * later of the last read and the last tick that saw nothing waiting. */
static void test_stuck_service(void **state)
{
	(void)state;
	struct gsig_state st;
	struct sl_guard_stats s = { 0 };
	struct gsig_tick t;
	uint64_t now = 0;

	gsig_init(&st);
	gsig_tick(&st, now, &s, 0, &t);
	/* a long idle spell, then connections that are never read */
	for (now = 10 * MS; now <= 3000 * MS; now += 10 * MS)
		gsig_tick(&st, now, &s, 0, &t);
	s.conns += 5;
	gsig_tick(&st, now, &s, 0, &t);
	assert_int_equal(t.pending, 5);
	assert_int_equal(t.oldest_age_ns, 10 * MS);	/* not the idle 3 s */
	now += 10 * MS;
	gsig_tick(&st, now, &s, 0, &t);
	assert_int_equal(t.oldest_age_ns, 20 * MS);
	now += 180 * MS;
	gsig_tick(&st, now, &s, 0, &t);
	assert_int_equal(t.oldest_age_ns, 200 * MS);

	/* reads resume: the waits carry the signal, the age is theirs */
	for (int i = 0; i < 5; i++)
		add_wait(&s, 200 * MS, true);
	now += 10 * MS;
	gsig_tick(&st, now, &s, 0, &t);
	assert_true(t.oldest_age_ns >= 160 * MS && t.oldest_age_ns <= 240 * MS);
	assert_int_equal(t.pending, 0);
	assert_true(t.delay_min_ns >= 160 * MS && t.delay_min_ns <= 240 * MS);
}

/* Connections in the accept queue are waiting work too, and ones closed
 * unread stop counting as waiting. */
static void test_backlog_and_abandoned(void **state)
{
	(void)state;
	struct gsig_state st;
	struct sl_guard_stats s = { 0 };
	struct gsig_tick t;

	gsig_init(&st);
	gsig_tick(&st, 0, &s, 0, &t);
	gsig_tick(&st, 10 * MS, &s, 3, &t);
	assert_int_equal(t.oldest_age_ns, 10 * MS);
	s.conns += 2;
	s.abandoned += 2;
	gsig_tick(&st, 20 * MS, &s, 0, &t);
	assert_int_equal(t.pending, 0);
	assert_int_equal(t.abandoned, 2);
	assert_int_equal(t.oldest_age_ns, 0);
	/* open connections: established minus those that left */
	s.closed = 1;
	gsig_tick(&st, 30 * MS, &s, 0, &t);
	assert_int_equal(t.open, 1);
}

/* A one-thread service on 2 CPUs: half the CPUs while saturated is busy 1
 * once an overload taught it; before, it reads half (the CPU count). */
static void test_busy_learns_saturation(void **state)
{
	(void)state;
	struct gsig_busy b;
	uint64_t now = 0, cpu = 0;
	double busy;

	gsig_busy_init(&b, 2, cpu, now);
	now += 10 * MS, cpu += 10 * MS;	/* one CPU for the whole tick */
	busy = gsig_busy(&b, cpu, now, false);
	assert_true(busy > 0.49 && busy < 0.51);
	for (int i = 0; i < 200; i++) {	/* two seconds overloaded */
		now += 10 * MS, cpu += 10 * MS;
		busy = gsig_busy(&b, cpu, now, true);
	}
	assert_true(b.sat > 0.99 && b.sat < 1.01);
	assert_true(busy > 0.99);
	now += 10 * MS, cpu += 3 * MS;	/* then 30% of its CPU */
	busy = gsig_busy(&b, cpu, now, false);
	assert_true(busy > 0.29 && busy < 0.31);
	/* a clock that did not move, or went back: unknown */
	assert_true(gsig_busy(&b, cpu, now, false) == 0);
	assert_true(gsig_busy(&b, cpu - 1, now + MS, false) == 0);
}

/* The listener lookup on a real loopback listener of our own. */
static void test_listener_find(void **state)
{
	(void)state;
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	struct sld_listener l;
	int lfd = socket(AF_INET, SOCK_STREAM, 0), c[3];
	uint16_t port;

	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 7), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	for (int i = 0; i < 3; i++) {
		c[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_int_equal(connect(c[i], (struct sockaddr *)&a, sizeof(a)), 0);
	}
	/* the handshakes complete in the kernel: poll for the queue */
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(sld_listener_find(port, &l), 0);
		if (l.queued == 3)
			break;
		usleep(1000);
	}
	assert_int_equal(l.sockets, 1);
	assert_int_equal(l.queued, 3);
	assert_int_equal(l.limit, 7);
	for (int i = 0; i < 3; i++)
		close(c[i]);
	close(lfd);
	assert_int_equal(sld_listener_find(port, &l), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_bounds),
		cmocka_unit_test(test_quantile),
		cmocka_unit_test(test_tick_differences),
		cmocka_unit_test(test_idle_is_not_delay),
		cmocka_unit_test(test_stuck_service),
		cmocka_unit_test(test_backlog_and_abandoned),
		cmocka_unit_test(test_busy_learns_saturation),
		cmocka_unit_test(test_listener_find),
	};

	return cmocka_run_group_tests_name("guardsig", tests, NULL, NULL);
}
