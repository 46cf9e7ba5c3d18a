// SPDX-License-Identifier: MIT
/*
 * pingpong ADDR PORT ROUNDS: the CPU time of one keep-alive request and
 * its answer through the kernel, a byte each way on one TCP connection to
 * a listener of its own at ADDR:PORT, both ends in this one thread. On
 * loopback the receiver's softirq runs in the sender's call, so the
 * process's CPU time holds all of a round's kernel work: every socket
 * tracepoint it fires (sk_data_ready, tcp_rcv_space_adjust and
 * sock_send_length on each side) and every program on them, dispatch
 * included. scripts/bench-guard.sh runs it with ADDR:PORT guarded and not.
 * Prints the CPU ns per round.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *what)
{
	fprintf(stderr, "pingpong: %s: %s\n", what, strerror(errno));
	return 1;
}

/* One byte out on from, the same byte in on to. */
static int hop(int from, int to)
{
	char b = 'x';

	return write(from, &b, 1) == 1 && read(to, &b, 1) == 1 ? 0 : -1;
}

/* A whole number in [min, max], or -1. */
static long number(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	return errno || end == s || *end || v < min || v > max ? -1 : v;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct timespec t0, t1;
	int one = 1, l, c, s;
	long rounds, port;
	double ns;

	if (argc != 4 || inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1 ||
	    (port = number(argv[2], 1, 65535)) < 0 || (rounds = number(argv[3], 1, LONG_MAX)) < 0) {
		fprintf(stderr, "usage: pingpong IPV4-ADDR PORT ROUNDS (PORT 1..65535, ROUNDS >= 1)\n");
		return 2;
	}
	sa.sin_port = htons((unsigned short)port);
	l = socket(AF_INET, SOCK_STREAM, 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || c < 0)
		return fail("socket");
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 1)) {
		fprintf(stderr, "pingpong: cannot listen on %s port %ld: %s\n", argv[1], port,
			strerror(errno));
		return 1;
	}
	if (connect(c, (struct sockaddr *)&sa, sizeof(sa)))
		return fail("connect");
	s = accept(l, NULL, NULL);
	if (s < 0)
		return fail("accept");
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	for (long i = 0; i < rounds; i++)
		if (hop(c, s) || hop(s, c))
			return fail("round trip");
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
	printf("%.1f\n", ns / (double)rounds);
	return 0;
}
