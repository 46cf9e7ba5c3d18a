/* SPDX-License-Identifier: MIT */
/*
 * What a reverse proxy changes in the heads it passes on, as pure builders
 * into a bounded growable buffer (http_buf.h), so that any IO design can
 * call them.
 *
 * API:
 *   http_forward_request(out, req, in, fwd)
 *       the request head for the upstream: the request line as HTTP/1.1,
 *       the client's fields without the hop-by-hop ones, X-Forwarded-For
 *       with the client's address, the proxy's own framing (the body is
 *       buffered whole: Content-Length).
 *   http_forward_response(out, resp, buf, fwd)
 *       the response head for the client, and how its body must be passed
 *       (fwd->body): as received, or chunked decoded for an HTTP/1.0 client.
 * Both return 0, -EFBIG (past out's bound), -ENOMEM; the response builder
 * also -ENOTSUP when the body cannot reach this client without losing a
 * coding (Transfer-Encoding: gzip, chunked to an HTTP/1.0 client).
 *
 * Removed in both directions (RFC 9110 7.6.1): Connection, Keep-Alive,
 * Proxy-Connection, TE, Transfer-Encoding, Upgrade, and every field named
 * in a Connection field (except Host, which an HTTP/1.1 upstream needs).
 * Removed from requests: Proxy-Authorization (meant for this proxy),
 * Expect (the proxy answered 100-continue and holds the body),
 * Content-Length (re-framed). A request without Host (HTTP/1.0 allows
 * that) gets fwd->host, as the HTTP/1.1 it is sent as requires one.
 * X-Forwarded-For and Forwarded from a client
 * that is not a trusted proxy are dropped (anyone can write them); from a
 * trusted one they are kept and the peer's address is appended, as
 * HAProxy's `option forwardfor` with `if-none`/`except` and nginx's
 * $proxy_add_x_forwarded_for with set_real_ip_from do.
 *
 * Responses: Content-Length is passed on as the upstream sent it for
 * HEAD, 304 and length-framed answers, never invented; a chunked body goes
 * to an HTTP/1.1 client chunked as it came, with every coding of
 * Transfer-Encoding kept (gzip, chunked); a close-delimited one is passed
 * on close-delimited (fwd->close_after).
 */
#ifndef SLUICED_HTTP_FORWARD_H
#define SLUICED_HTTP_FORWARD_H

#include <stdbool.h>
#include <stdint.h>

#include "http_buf.h"
#include "http_parse.h"
#include "http_resp_parse.h"

struct http_forward_req {
	const char *client_addr;	/* the peer's address, as text */
	bool peer_trusted;		/* the peer is a configured proxy */
	uint64_t body_len;		/* body bytes that follow the head */
	const char *host;		/* Host for a request without one (HTTP/1.0):
					 * the upstream's HOST:PORT, as nginx's $proxy_host */
};

int http_forward_request(struct http_buf *out, const struct http_request *req,
			 const char *in, const struct http_forward_req *fwd);

enum http_client_body {
	HTTP_CB_RAW = 0,	/* the body bytes as the upstream sent them */
	HTTP_CB_DECHUNK,	/* chunked decoded, until close */
};

struct http_forward_resp {
	bool client_http10;	/* in: the client's request was HTTP/1.0 */
	bool close;		/* in: the client connection closes after */
	enum http_client_body body;	/* out */
	bool close_after;	/* out: close-delimited to the client */
};

int http_forward_response(struct http_buf *out, const struct http_resp *resp,
			  const char *buf, struct http_forward_resp *fwd);

#endif /* SLUICED_HTTP_FORWARD_H */
