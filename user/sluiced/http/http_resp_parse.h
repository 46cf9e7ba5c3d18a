/* SPDX-License-Identifier: MIT */
/*
 * The proxy's parser of an upstream's response head, and the framing of
 * its body (RFC 9112 6.3): incremental, strict, bounded and pure (no
 * allocation, no I/O), so any IO design can drive it.
 *
 * API:
 *   http_resp_parser_init(p, max_head, head_request)
 *   http_resp_parse(p, buf, len)   0 head complete, -EAGAIN need more,
 *                                  -EPROTO malformed or unsupported (502)
 *   http_resp_body_init(b, resp)   start reading the body the head framed
 *   http_resp_body_feed(b, raw, n, scratch, &used, &data)
 *                                  0 body complete, -EAGAIN need more,
 *                                  -EPROTO malformed chunked framing
 *
 * Framing, in RFC 9112 6.3's order (the first that applies):
 *   1. a response to HEAD, any 1xx, 204 and 304: no body, whatever
 *      Content-Length or Transfer-Encoding say (HTTP_RF_NONE);
 *   2. Transfer-Encoding with chunked last: chunked (a Content-Length with
 *      it is ignored, and the connection is not reused: a smuggling sign);
 *      Transfer-Encoding without chunked last: until close;
 *   3. Content-Length, a valid one (equal repeated values allowed);
 *      differing or malformed values are -EPROTO;
 *   4. otherwise: until close (HTTP_RF_CLOSE).
 * A 1xx head (other than 101) is interim: the final response follows in
 * the same stream; the caller forwards or drops it and parses again after
 * head_len bytes. 101 is -EPROTO: the proxy never asks for an upgrade.
 *
 * Strictness (the same reasons as the request parser's, http_parse.h):
 * lines end in CRLF, obs-fold and whitespace before a colon are -EPROTO,
 * at most HTTP_MAX_HEADERS_CAP fields and max_head bytes.
 */
#ifndef SLUICED_HTTP_RESP_PARSE_H
#define SLUICED_HTTP_RESP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_parse.h"

enum http_resp_framing {
	HTTP_RF_NONE = 0,	/* the response ends with its head */
	HTTP_RF_LENGTH,		/* content_length bytes */
	HTTP_RF_CHUNKED,	/* chunked, the last coding */
	HTTP_RF_CLOSE,		/* until the upstream closes */
};

struct http_resp {
	int status;
	uint8_t version_minor;
	struct http_span reason;
	enum http_resp_framing framing;
	uint64_t content_length;	/* HTTP_RF_LENGTH only */
	bool keep_alive;	/* the connection may carry another exchange
				 * once this response is read whole */
	bool te_only_chunked;	/* Transfer-Encoding is exactly "chunked": decoding
				 * it loses no coding (gzip, chunked would) */
	uint32_t head_len;	/* bytes of the head, incl. the blank line */
	uint32_t n_headers;
	struct http_header headers[HTTP_MAX_HEADERS_CAP];
};

struct http_resp_parser {
	uint32_t max_head;
	bool head_request;	/* the request was HEAD: no body, ever */
	int state;		/* private */
	uint32_t line, scan;	/* private: as in struct http_parser */
	uint32_t n_te_codings;	/* private */
	bool has_cl, has_te, te_chunked_last, conn_close, conn_keep_alive;	/* private */
	struct http_resp resp;
};

void http_resp_parser_init(struct http_resp_parser *p, uint32_t max_head,
			   bool head_request);
int http_resp_parse(struct http_resp_parser *p, const char *buf, size_t len);

struct http_resp_body {
	enum http_resp_framing framing;
	uint64_t left;		/* HTTP_RF_LENGTH: bytes still to come */
	struct http_chunked chunk;
};

void http_resp_body_init(struct http_resp_body *b, const struct http_resp *resp);
/* raw[0, n) came from the upstream. *used: how many of them belong to the
 * body (a chunked body's framing included); bytes past it are not this
 * response's. For chunked, scratch (n bytes) receives the decoded data,
 * *data bytes of it; otherwise *data = *used and scratch is untouched.
 * HTTP_RF_CLOSE never completes: the caller ends it at EOF. */
int http_resp_body_feed(struct http_resp_body *b, const char *raw, size_t n,
			char *scratch, size_t *used, size_t *data);

#endif /* SLUICED_HTTP_RESP_PARSE_H */
