/* SPDX-License-Identifier: MIT */
/*
 * The proxy's exchange with the upstream, run without blocking on the IO
 * loop that owns the client connection (upstream.c). Each loop keeps its
 * own idle keep-alive connections to the upstream, registered in its own
 * epoll, so an exchange never leaves its loop and needs no lock.
 *
 *   sld_up_loop_init(u, ep)   a loop's upstream side, on its epoll
 *   sld_up_loop_fini(u)       close its idle connections
 *   sld_up_start(u, c)        begin c's exchange (c's loop, c has a place
 *                             in flight from upqueue.c)
 *   sld_up_event(p, events)   an epoll event whose tag is SLD_EV_UPSTREAM
 *   sld_up_expire(c)          c's exchange passed its timeout: 504
 *   sld_up_reap(u)            free what the last epoll batch closed
 *   sld_up_open()             upstream connections open, every loop's
 *
 * When the exchange ends, c has its response (or a 502/504), the place in
 * flight is returned (sld_upq_done) and the loop writes the response
 * (sld_loop_respond).
 *
 * Memory: a loop reads every answer into one buffer of its own (bufs,
 * allocated at its first exchange, with the scratch of chunked decoding),
 * since it reads one socket at a time; an exchange holds a read buffer
 * of its own only while its answer's head has come in part. An upstream
 * connection keeps its response parser. So an exchange allocates only its
 * request and its response, whose sizes are theirs, and a peak of
 * exchanges in flight leaves no buffers behind.
 */
#ifndef SLUICED_UPSTREAM_H
#define SLUICED_UPSTREAM_H

#include <stdint.h>

struct conn;
struct sld_upconn;

struct sld_uplink {
	int ep;
	char *bufs;		/* the loop's read buffer, then its scratch */
	struct sld_upconn *idle;	/* FIFO: the longest idle first (upstream.c) */
	struct sld_upconn *idle_last;
	unsigned n_idle;
	struct sld_upconn *dead;	/* closed in this batch */
};

void sld_up_loop_init(struct sld_uplink *u, int ep);
void sld_up_loop_fini(struct sld_uplink *u);
void sld_up_start(struct sld_uplink *u, struct conn *c);
void sld_up_event(void *p, uint32_t events);
void sld_up_expire(struct conn *c);
void sld_up_reap(struct sld_uplink *u);
unsigned sld_up_open(void);

#endif /* SLUICED_UPSTREAM_H */
