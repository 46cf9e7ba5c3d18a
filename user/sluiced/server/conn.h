/* SPDX-License-Identifier: MIT */
/*
 * One client connection. Owned by the IO loop that accepted it, except while
 * it is away (its request runs as a pool task, or waits in the upstream
 * queue): then only the task or the queue touches it, and hands it back with
 * sld_conn_done(). Its socket is registered once, edge-triggered; an event
 * that arrives while it is away only sets ev_pending, which the loop alone
 * reads and writes, as `away`.
 *
 * Memory: the struct holds the parser inline (sizeof(struct conn)); the
 * request head buffer starts at SLD_IN_INITIAL bytes and grows, as a head
 * needs it, up to max-header-size (shrunk back between requests); a
 * request body (at most SLD_MAX_BODY) and a proxied response (at most
 * SLD_MAX_RESPONSE) are allocated while the request lives. A closed conn
 * goes back to its loop's cache, or is freed past it (server.c,
 * CONN_CACHE). sld_memory_bound() adds it up.
 */
#ifndef SLUICED_CONN_H
#define SLUICED_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "http_parse.h"
#include "sluiced.h"

/* What an epoll event's pointer is: the first byte of what it points at
 * (a struct conn starts with it too). */
enum sld_ev_kind {
	SLD_EV_CONN = 0,	/* a client connection */
	SLD_EV_LISTEN,		/* the listening socket */
	SLD_EV_DONE,		/* the loop's completion eventfd */
	SLD_EV_UPSTREAM,	/* a proxy's upstream connection (upstream.c) */
};

enum conn_state {
	CS_FREE = 0,
	CS_READ,	/* reading a request head (or idle between requests) */
	CS_BODY,	/* reading a Content-Length body */
	CS_TASK,	/* a pool task owns it, or it waits in the upstream queue */
	CS_UPSTART,	/* handed to its loop to start its upstream exchange */
	CS_UPSTREAM,	/* its loop runs its upstream exchange (upstream.c) */
	CS_WRITE,	/* the IO loop writes the rest of the response */
	CS_LINGER,	/* answered and shut down for writing: read until EOF */
};

struct conn {
	uint8_t ev_kind;	/* SLD_EV_CONN */
	int fd;
	enum conn_state state;
	bool close_after;	/* close once the response is written */
	bool has_bytes;		/* some of the current request has arrived */
	bool chunked;		/* the body is chunked: decoded into body */
	uint64_t timer_ns;	/* when the current timeout fires */
	uint64_t req_start_ns;	/* first byte of the request (request timeout) */
	uint64_t head_ns;	/* head complete: latency is measured from here */
	uint64_t kernel_wait_ns;	/* its first bytes waited this long in the
					 * kernel before the loop read them */
	/* The loop's own, even while the conn is away: in a word that nothing
	 * a task or the upstream queue writes shares. The loop tests `away`
	 * before the state (`c->away || c->state != CS_FREE`); with `away`
	 * next to state and close_after, gcc folded such a test into one
	 * masked 8-byte load of state..away, which read close_after while the
	 * controller's tick wrote it into a conn it had taken off the
	 * upstream queue (sld_upq_tick -> sld_task_shed): a race in the
	 * machine code, reported by TSan, though none in the C. */
	_Alignas(8) bool away;	/* in a task or the upstream queue */
	bool ev_pending;	/* an event came while it could not read */
	struct conn *prev, *next;	/* its loop's list of open conns */
	struct conn *done_next;		/* completion stack */
	/* the proxy's upstream queue (upqueue.c) */
	struct conn *up_next;
	uint64_t wait_since_ns;		/* entered the pool's queue */
	bool up_alone;			/* no other exchange in flight at its start */
	bool up_retried;		/* the exchange was tried a second time */
	struct sld_upconn *upc;		/* the exchange's upstream connection */

	struct sockaddr_storage peer;	/* the client's address */

	/* request */
	struct http_parser parser;
	char *in;		/* the head (and pipelined bytes), malloc'd */
	uint32_t in_len, in_cap;
	char *body;		/* request body (decoded if chunked), malloc'd */
	uint32_t body_len, body_need;	/* chunked: body_need is the buffer's size */
	struct http_chunked chunk;

	/* response: out points at out_inline or a malloc'd buffer */
	char out_inline[SLD_OUT_INLINE];
	char *out;
	size_t out_len, out_off;
	uint64_t out_held;	/* bytes of out counted in sld.resp_held */
	uint64_t discarded;	/* CS_LINGER: bytes read and dropped */
	int status;
	struct sld *d;
	struct server *loop;	/* the IO loop that accepted it, for good */
};

_Static_assert(offsetof(struct conn, prev) == offsetof(struct conn, away) + 8,
	       "away and ev_pending have their 8-byte word to themselves");

/* Set the response (copied into the conn's buffer or taken over when heap). */
void sld_conn_set_out_inline(struct conn *c, int len, int status, bool close);
void sld_conn_set_out_heap(struct conn *c, char *buf, size_t len, int status,
			   bool close);
/* From a task: write what can be written now, without blocking. */
void sld_conn_try_write(struct conn *c);

#endif /* SLUICED_CONN_H */
