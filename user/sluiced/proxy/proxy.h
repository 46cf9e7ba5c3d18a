/* SPDX-License-Identifier: MIT */
/*
 * The proxy's HTTP side (proxy.c), used by the exchange on the IO loop
 * (upstream.c):
 *
 *   sld_proxy_request(c, &buf)     the request as the upstream gets it
 *   sld_proxy_idempotent(method)   may it be sent twice (a retry)
 *   sld_up_resp_init/free(r, c)    a response being gathered for c
 *   sld_up_resp_feed(r, raw, &n, eof, scratch)
 *                                  take the n bytes read into raw (n is 0
 *                                  after, unless they are the start of a
 *                                  head: then raw must keep them and the
 *                                  next read go after them); 0 when the
 *                                  response is whole, -EAGAIN for more,
 *                                  -EPIPE when the connection ended before
 *                                  the head, -EPROTO, -EFBIG, -ENOMEM.
 *                                  scratch: SLD_UP_READ_CHUNK bytes the
 *                                  call may use (chunked decoding), the
 *                                  caller's, holding nothing across calls
 *   SLD_UP_READ_CHUNK              how much raw must hold
 *   sld_up_resp_reusable(r)        may the upstream connection carry another
 *   sld_proxy_answer(c, r)         c's response from r (a 503 past the
 *                                  held-response budget: -ENOBUFS)
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

#include "config.h"
#include "http_buf.h"
#include "http_forward.h"
#include "http_parse.h"
#include "http_resp_parse.h"
#include "trusted.h"

struct conn;

#define SLD_UP_MAX_ADDRS 4
#define SLD_UP_READ_CHUNK 65536	/* one recv; a response head must fit in it */

struct sld_up_resp {
	struct http_resp_parser p;	/* the header table: kept with its
					 * upstream connection, not allocated
					 * per exchange */
	struct http_resp_body body;
	struct http_forward_resp f;
	struct http_buf out;	/* 1xx heads passed on, the head, the body */
	int status;
	bool head_req, client_http11, have_head;
	bool extra;		/* bytes after the response: not reusable */
};

struct sld_up_target {
	struct sockaddr_storage addr[SLD_UP_MAX_ADDRS];	/* as resolved, tried in order */
	socklen_t addrlen[SLD_UP_MAX_ADDRS];
	unsigned n_addr;
	uint32_t timeout_s;	/* of one exchange, a retry included */
	struct sld_trusted trusted;
	char hostport[SLD_ADDR_MAX];	/* as configured: the Host of a request without one */
	uint64_t gen;		/* bumped by each change of the upstream */
};

int sld_proxy_request(const struct conn *c, struct http_buf *out);
bool sld_proxy_idempotent(enum http_method m);
void sld_up_resp_init(struct sld_up_resp *r, const struct conn *c);
void sld_up_resp_free(struct sld_up_resp *r);
int sld_up_resp_feed(struct sld_up_resp *r, char *raw, size_t *have, bool eof,
		     char *scratch);
bool sld_up_resp_reusable(const struct sld_up_resp *r);
int sld_proxy_answer(struct conn *c, struct sld_up_resp *r);
void sld_proxy_error(struct conn *c, int status);
void sld_proxy_target(struct sld_up_target *t);
uint64_t sld_proxy_gen(void);
uint32_t sld_proxy_timeout_s(void);

#endif /* SLUICED_PROXY_H */
