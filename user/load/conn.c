// SPDX-License-Identifier: MIT
/* One sluice-load connection: connect, send, read, classify. See conn.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"

/* Filled once by the loop: the request bytes, the same for every request. */
static char request_buf[2048];
static size_t request_len;

static int prepare_request(const struct load_opts *o)
{
	int n = snprintf(request_buf, sizeof(request_buf),
			 "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: sluice-load\r\n%s\r\n",
			 o->path, o->host, o->keepalive ? "" : "Connection: close\r\n");
	if (n < 0 || (size_t)n >= sizeof(request_buf))
		return -ENAMETOOLONG;
	request_len = (size_t)n;
	return 0;
}

uint64_t conn_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int conn_open(struct conn *c, const struct load_opts *o)
{
	if (!request_len) {
		int err = prepare_request(o);
		if (err)
			return err;
	}

	c->fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	c->state = CONN_CONNECTING;
	c->has_req = false;
	c->rlen = 0;
	c->sent = 0;
	c->connect_us = o->trace_path ? conn_now_us() : 0;
	if (connect(c->fd, (const struct sockaddr *)&o->addr, o->addrlen) < 0 &&
	    errno != EINPROGRESS) {
		int err = -errno;
		conn_close(c);
		return err;
	}
	return 0;
}

void conn_start(struct conn *c, uint64_t sched_us, uint64_t deadline_us)
{
	c->has_req = true;
	c->sched_us = sched_us;
	c->deadline_us = deadline_us;
	c->sent = 0;
	c->rlen = 0;
	c->sent_us = c->first_us = 0;
	if (c->state == CONN_IDLE)
		c->state = CONN_SENDING;
}

void conn_close(struct conn *c)
{
	if (c->fd >= 0) {
		/* An abortive close leaves no TIME_WAIT behind, so a long run of
		 * new connections does not exhaust the client's ports. */
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(c->fd);
	}
	c->fd = -1;
	c->state = CONN_CLOSED;
	c->has_req = false;
}

static enum load_outcome outcome_of_errno(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return LOAD_refused;
	case ECONNRESET:
	case EPIPE:
		return LOAD_reset;
	default:
		return LOAD_error;
	}
}

/*
 * Parses "HTTP/1.x NNN ...\r\n" and the headers up to the blank line.
 * Returns 1 when the head is complete (status, total_len = head + body
 * length, or SIZE_MAX when the body runs to the close), 0 when more bytes
 * are needed, -EBADMSG when it is not an HTTP response.
 */
int conn_parse_response(const char *buf, size_t len, int *status,
			size_t *total_len, bool *keep_open)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4);
	if (!end)
		return len >= CONN_RBUF ? -EBADMSG : 0;
	size_t head_len = (size_t)(end - buf) + 4;

	if (len < 12 || memcmp(buf, "HTTP/1.", 7) || buf[8] != ' ')
		return -EBADMSG;
	int code = 0;
	for (int i = 9; i < 12; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return -EBADMSG;
		code = code * 10 + (buf[i] - '0');
	}
	*status = code;
	*keep_open = buf[7] == '1';	/* HTTP/1.1 keeps the connection by default */
	*total_len = SIZE_MAX;

	const char *line = memchr(buf, '\n', head_len) + 1;
	while (line < end) {
		const char *eol = memchr(line, '\n', (size_t)(end + 2 - line));
		size_t n = (size_t)(eol - line);
		if (n > 15 && !strncasecmp(line, "Content-Length:", 15)) {
			char *stop;
			unsigned long long cl = strtoull(line + 15, &stop, 10);
			if (stop == line + 15)
				return -EBADMSG;
			*total_len = head_len + (size_t)cl;
		} else if (n > 11 && !strncasecmp(line, "Connection:", 11)) {
			if (memmem(line, n, "close", 5))
				*keep_open = false;
		}
		line = eol + 1;
	}
	/* These have no body whatever the headers say (and so can keep the
	 * connection without a length). */
	if (code == 204 || code == 304 || (code >= 100 && code < 200))
		*total_len = head_len;
	if (*total_len == SIZE_MAX)
		*keep_open = false;	/* the body ends at the close */
	return 1;
}

static int finish_response(struct conn *c, bool at_eof)
{
	int status;
	size_t total;
	bool keep;
	int r = conn_parse_response(c->rbuf, c->rlen, &status, &total, &keep);

	if (r < 0)
		return LOAD_error;
	if (r == 0)
		return at_eof ? (c->rlen ? LOAD_error : LOAD_reset) : CONN_BUSY;
	if (total != SIZE_MAX && c->rlen < total && !at_eof)
		return CONN_BUSY;
	if (total == SIZE_MAX && !at_eof)
		return CONN_BUSY;
	if (total != SIZE_MAX && c->rlen < total)
		return LOAD_reset;	/* closed in the middle of the body */

	c->keep_open = keep && !at_eof;
	if (status >= 200 && status < 300)
		return LOAD_ok;
	return status == 503 ? LOAD_shed : LOAD_other;
}

int conn_advance(struct conn *c, const struct load_opts *o)
{
	if (c->state == CONN_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err == EINPROGRESS)
			return CONN_BUSY;
		if (err)
			return outcome_of_errno(err);
		c->state = c->has_req ? CONN_SENDING : CONN_IDLE;
	}

	if (c->state == CONN_SENDING) {
		while (c->sent < request_len) {
			ssize_t n = send(c->fd, request_buf + c->sent,
					 request_len - c->sent, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EAGAIN)
					return CONN_BUSY;
				return outcome_of_errno(errno);
			}
			c->sent += (size_t)n;
		}
		if (o->trace_path)
			c->sent_us = conn_now_us();
		c->state = CONN_READING;
	}

	if (c->state == CONN_READING) {
		for (;;) {
			/* The built-in handlers answer in far less; a larger
			 * response is not what this generator measures. */
			if (c->rlen == sizeof(c->rbuf))
				return LOAD_error;
			ssize_t n = recv(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen, 0);
			if (n > 0) {
				if (!c->rlen && o->trace_path)
					c->first_us = conn_now_us();
				c->rlen += (size_t)n;
				int r = finish_response(c, false);
				if (r != CONN_BUSY)
					return r;
				continue;
			}
			if (n == 0)
				return finish_response(c, true);
			if (errno == EAGAIN)
				return CONN_BUSY;
			return outcome_of_errno(errno);
		}
	}
	return CONN_BUSY;
}
