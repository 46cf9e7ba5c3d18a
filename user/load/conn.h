/* SPDX-License-Identifier: MIT */
/*
 * One client connection of sluice-load and the request it carries: a
 * non-blocking connect, the request written, the response read and
 * classified. The event loop owns the connections; this file only moves
 * one connection forward when epoll says it is ready.
 *
 *   conn_open(c, o)        start a non-blocking connect; 0 or -errno
 *   conn_start(c, o, ...)  put a request on an open (or opening) connection
 *   conn_advance(c, o)     after an epoll event: CONN_BUSY, or an outcome
 *   conn_close(c)          close without TIME_WAIT (SO_LINGER 0)
 *   conn_now_us()          CLOCK_MONOTONIC in microseconds
 */
#ifndef SLUICE_LOAD_CONN_H
#define SLUICE_LOAD_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "load.h"

enum conn_state {
	CONN_CLOSED,
	CONN_CONNECTING,
	CONN_SENDING,
	CONN_READING,
	CONN_IDLE,		/* keep-alive connection waiting for a request */
};

#define CONN_RBUF 8192

struct conn {
	int fd;
	enum conn_state state;
	bool has_req;
	bool keep_open;		/* the response allows another request */
	uint64_t sched_us;	/* the request's scheduled time (absolute) */
	uint64_t deadline_us;
	/* --trace only (0 otherwise): when connect() was called, the request
	 * was written whole, and the answer's first bytes were read */
	uint64_t connect_us, sent_us, first_us;
	size_t sent;
	size_t rlen;
	char rbuf[CONN_RBUF];
	struct conn *prev, *next;	/* the loop's in-flight list, by deadline */
};

/* conn_advance's answer when the request is still under way. */
#define CONN_BUSY (-1)

int conn_open(struct conn *c, const struct load_opts *o);
void conn_start(struct conn *c, uint64_t sched_us, uint64_t deadline_us);
int conn_advance(struct conn *c, const struct load_opts *o);
void conn_close(struct conn *c);
uint64_t conn_now_us(void);

/* Exposed for tests: parse a response head; see conn.c. */
int conn_parse_response(const char *buf, size_t len, int *status,
			size_t *total_len, bool *keep_open);

#endif
