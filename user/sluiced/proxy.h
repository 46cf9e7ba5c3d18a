/* SPDX-License-Identifier: MIT */
/*
 * The proxy's HTTP side (proxy.c), used by the exchange on the IO loop
 * (upstream.c):
 *
 *   sld_proxy_request(c, &buf)     the request as the upstream gets it
 *   sld_up_resp_init/free(r)       a response being gathered
 *   sld_up_resp_feed(r, raw, &n, eof)
 *                                  take the n bytes read into raw (n is 0
 *                                  after: they are in r now); 0 when the
 *                                  response is whole, -EAGAIN for more,
 *                                  -EPIPE when the connection closed before
 *                                  any byte (a reused one: retry), -EPROTO,
 *                                  -EFBIG
 *   sld_up_resp_room()             how much raw must hold
 *   sld_proxy_answer(c, r)         c's response from r (502 if it fails)
 *   sld_proxy_error(c, status)     c's response: 502 or 504
 *   sld_proxy_target(&t)           the upstream's addresses, a copy
 *   sld_proxy_gen()                bumped when a reload changes them
 *   sld_proxy_timeout_s()          how long one exchange may take
 */
#ifndef SLUICED_PROXY_H
#define SLUICED_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "http_parse.h"

struct conn;

/* A growable byte buffer, bounded by SLD_MAX_RESPONSE. */
struct sld_buf {
	char *p;
	size_t len, cap;
};

struct sld_up_resp {
	int status;
	struct sld_buf head;	/* status line + end-to-end headers */
	struct sld_buf body;	/* decoded */
	bool head_req, have_head, chunked, no_body;
	bool close_after;	/* the upstream connection is not reusable */
	int64_t clen;		/* -1: none */
	struct http_chunked ch;
};

struct sld_up_target {
	struct sockaddr_storage addr[4];	/* as resolved, tried in order */
	socklen_t addrlen[4];
	unsigned n_addr;
	uint32_t timeout_s;	/* of one exchange */
	unsigned gen;
};

int sld_proxy_request(const struct conn *c, struct sld_buf *out);
void sld_up_resp_init(struct sld_up_resp *r, bool head_req);
void sld_up_resp_free(struct sld_up_resp *r);
int sld_up_resp_feed(struct sld_up_resp *r, char *raw, size_t *have, bool eof);
size_t sld_up_resp_room(void);
int sld_proxy_answer(struct conn *c, const struct sld_up_resp *r);
void sld_proxy_error(struct conn *c, int status);
void sld_proxy_target(struct sld_up_target *t);
unsigned sld_proxy_gen(void);
uint32_t sld_proxy_timeout_s(void);

#endif /* SLUICED_PROXY_H */
