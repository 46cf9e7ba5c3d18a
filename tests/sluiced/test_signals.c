// SPDX-License-Identifier: MIT
/*
 * Unit tests of the load-signal readers: the PSI parser on sample texts
 * (as kernels print them, and broken), the reader on a file, on a missing
 * file and on this machine's /proc/pressure/cpu; the accept backlog on a
 * real loopback listener with connections left unaccepted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "signals.h"

static void test_psi_parse_full(void **state)
{
	(void)state;
	struct sld_psi p;
	const char *t = "some avg10=5.57 avg60=4.78 avg300=1.65 total=7655463\n"
			"full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";

	assert_int_equal(sld_psi_parse(t, &p), 0);
	assert_true(p.valid);
	assert_true(p.some.present);
	assert_true(p.some.avg10 > 5.56 && p.some.avg10 < 5.58);
	assert_true(p.some.avg60 > 4.77 && p.some.avg60 < 4.79);
	assert_true(p.some.avg300 > 1.64 && p.some.avg300 < 1.66);
	assert_int_equal(p.some.total_us, 7655463);
	assert_true(p.full.present);
	assert_int_equal(p.full.total_us, 0);
}

static void test_psi_parse_some_only(void **state)
{
	(void)state;
	struct sld_psi p;

	/* kernels 4.20 .. 5.12 print no "full" line for cpu */
	assert_int_equal(sld_psi_parse("some avg10=100.00 avg60=0.10 avg300=0.00 "
				       "total=18446744073709551615\n", &p), 0);
	assert_true(p.valid);
	assert_false(p.full.present);
	assert_true(p.some.avg10 == 100.0);
	assert_true(p.some.total_us == UINT64_MAX);
	/* no final newline */
	assert_int_equal(sld_psi_parse("some avg10=1.00 avg60=2.00 avg300=3.00 total=4", &p), 0);
	/* unknown extra lines are ignored */
	assert_int_equal(sld_psi_parse("some avg10=1.00 avg60=2.00 avg300=3.00 total=4\n"
				       "future x=1\n", &p), 0);
}

static void test_psi_parse_errors(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"\n",
		"full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
		"some avg10=abc avg60=0.00 avg300=0.00 total=0\n",
		"some avg10=-1.00 avg60=0.00 avg300=0.00 total=0\n",
		"some avg10=100.01 avg60=0.00 avg300=0.00 total=0\n",
		"some avg60=0.00 avg10=0.00 avg300=0.00 total=0\n",
		"some avg10=0.00 avg60=0.00 avg300=0.00\n",
		"some avg10=0.00 avg60=0.00 avg300=0.00 total=x\n",
		"some avg10=0.00 avg60=0.00 avg300=0.00 total=12x\n",
		"some avg10=0.00 avg60=0.00 avg300=0.00 total=99999999999999999999999\n",
		"some avg10=1 avg60=0.00 avg300=0.00 total=0\n"
		"some avg10=2 avg60=0.00 avg300=0.00 total=0\n",
		"some avg10=nan avg60=0.00 avg300=0.00 total=0\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sld_psi p = { .valid = true };

		if (sld_psi_parse(bad[i], &p) != -EINVAL)
			fail_msg("accepted: \"%s\"", bad[i]);
	}
}

static void test_psi_reader_file_and_absent(void **state)
{
	(void)state;
	char path[] = "/tmp/sluiced-psi-XXXXXX";
	int fd = mkstemp(path);
	const char *t = "some avg10=12.50 avg60=1.00 avg300=0.50 total=42\n";
	struct sld_psi_reader r;
	struct sld_psi p;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, t, strlen(t)), (ssize_t)strlen(t));
	close(fd);
	assert_int_equal(sld_psi_open(&r, path), 0);
	assert_true(r.fd >= 0);
	for (int i = 0; i < 2; i++) {	/* rereads from the start */
		assert_int_equal(sld_psi_read(&r, &p), 0);
		assert_true(p.valid);
		assert_true(p.some.avg10 == 12.5);
	}
	sld_psi_close(&r);
	unlink(path);

	/* no file: "unavailable", not an error */
	assert_int_equal(sld_psi_open(&r, "/proc/pressure/does-not-exist"), 0);
	assert_int_equal(r.fd, -1);
	p.valid = true;
	assert_int_equal(sld_psi_read(&r, &p), 0);
	assert_false(p.valid);
	sld_psi_close(&r);
}

static void test_psi_this_machine(void **state)
{
	(void)state;
	struct sld_psi_reader r;
	struct sld_psi p;

	assert_int_equal(sld_psi_open(&r, NULL), 0);
	if (r.fd < 0) {
		print_message("no %s on this kernel\n", SLD_PSI_CPU_PATH);
		skip();
	}
	int rc = sld_psi_read(&r, &p);

	sld_psi_close(&r);
	assert_int_equal(rc, 0);
	if (!p.valid) {
		print_message("PSI disabled (psi=0)\n");
		skip();
	}
	assert_true(p.some.avg10 >= 0 && p.some.avg10 <= 100);
	print_message("cpu some avg10 = %.2f%%\n", p.some.avg10);
}

/* A loopback listener on an ephemeral port. */
static int listener(int backlog, struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)addr, sizeof(*addr)), 0);
	assert_int_equal(listen(fd, backlog), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)addr, &len), 0);
	return fd;
}

/* The handshake completes in softirq context; wait (bounded) until the
 * accept queue shows what we expect. */
static uint32_t wait_queued(int lfd, uint32_t want)
{
	struct sld_backlog b = { 0, 0 };

	for (int i = 0; i < 200; i++) {
		assert_int_equal(sld_accept_backlog(lfd, &b), 0);
		if (b.queued == want)
			break;
		nanosleep(&(struct timespec){ 0, 5000000 }, NULL);
	}
	return b.queued;
}

static void test_accept_backlog(void **state)
{
	(void)state;
	struct sockaddr_in addr;
	struct sld_backlog b;
	int lfd = listener(8, &addr);
	int clients[5];

	assert_int_equal(sld_accept_backlog(lfd, &b), 0);
	assert_int_equal(b.queued, 0);
	assert_int_equal(b.limit, 8);
	for (int i = 0; i < 5; i++) {
		clients[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(clients[i] >= 0);
		assert_int_equal(connect(clients[i], (struct sockaddr *)&addr,
					 sizeof(addr)), 0);
	}
	assert_int_equal(wait_queued(lfd, 5), 5);
	for (int i = 0; i < 2; i++) {
		int a = accept(lfd, NULL, NULL);

		assert_true(a >= 0);
		close(a);
	}
	assert_int_equal(wait_queued(lfd, 3), 3);
	assert_int_equal(sld_accept_backlog(lfd, &b), 0);
	assert_int_equal(b.limit, 8);
	for (int i = 0; i < 5; i++)
		close(clients[i]);
	close(lfd);
}

static void test_backlog_not_a_listener(void **state)
{
	(void)state;
	struct sockaddr_in addr;
	struct sld_backlog b;
	int lfd = listener(4, &addr);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_int_equal(connect(c, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(sld_accept_backlog(c, &b), -EINVAL);	/* ESTABLISHED */
	assert_true(sld_accept_backlog(u, &b) < 0);	/* not TCP */
	assert_int_equal(sld_accept_backlog(-1, &b), -EBADF);
	close(u);
	close(c);
	close(lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_psi_parse_full),
		cmocka_unit_test(test_psi_parse_some_only),
		cmocka_unit_test(test_psi_parse_errors),
		cmocka_unit_test(test_psi_reader_file_and_absent),
		cmocka_unit_test(test_psi_this_machine),
		cmocka_unit_test(test_accept_backlog),
		cmocka_unit_test(test_backlog_not_a_listener),
	};

	return cmocka_run_group_tests_name("signals", tests, NULL, NULL);
}
