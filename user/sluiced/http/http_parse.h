/* SPDX-License-Identifier: MIT */
/*
 * sluiced's HTTP/1.1 request parser: incremental, strict, bounded, and pure
 * (no allocation, no I/O). The server appends the bytes it reads to one
 * buffer per request and calls the parser again on the whole buffer; the
 * parser remembers how far it got, so byte-at-a-time input costs no rescans.
 *
 * Why our own parser: Debian 12 ships only nodejs' http-parser 2.9.4
 * (libhttp-parser-dev), which upstream deprecated in favour of llhttp, and
 * llhttp is not packaged as a C library there (only node-llhttp's sources).
 * The part of HTTP/1.1 a load shedder needs is small, and being strict about
 * framing (the request-smuggling cases below) matters more than breadth.
 * tests/sluiced/fuzz_http_parse.c is a libFuzzer harness for it.
 *
 * API:
 *   http_parser_init(p, limits)       start a request (limits may be NULL: defaults)
 *   http_parse_head(p, buf, len)      0 head complete, -EAGAIN need more,
 *                                     -EPROTO malformed: answer p->status, close
 *   http_chunked_init(c, max_body)    start a chunked body
 *   http_chunked_decode(c, buf, len, &consumed, &produced)
 *                                     decode in place; same returns
 *   http_span_eq(buf, span, str)      compare a span with a string
 *   http_field_split(line, len, &nlen, &vs, &ve)  a field line without its
 *                                     CRLF: name length and the trimmed value's
 *                                     bounds; false if malformed (obs-fold, space
 *                                     before the colon, a control character)
 *   http_list_next(v, len, &pos, &tlen)  next element of a comma-separated
 *                                     list (RFC 9110 5.6.1), trimmed; NULL at the end
 *   http_header_find(req, buf, name)  first header of that name, or NULL
 *   http_query_get_u64(buf, query, key, max, &out)
 *   http_work_params_parse(buf, req, &params)   /work?cpu_us=N&sleep_us=N
 *
 * Strictness, on purpose (each is a known request-smuggling or desync
 * vector when two parsers on a path disagree):
 *   - lines end in CRLF; a bare LF or CR is 400;
 *   - exactly one SP between the parts of the request line;
 *   - no whitespace between a field name and its colon (400);
 *   - obs-fold (a header line starting with SP/HT) is 400;
 *   - Content-Length and Transfer-Encoding together are 400;
 *   - several Content-Length values are accepted only if all are equal;
 *   - Transfer-Encoding other than a single "chunked" is 501
 *     ("chunked" twice is 400); Transfer-Encoding in HTTP/1.0 is 400;
 *   - HTTP/1.1 without exactly one Host header is 400.
 */
#ifndef SLUICED_HTTP_PARSE_H
#define SLUICED_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes [off, off + len) of the request buffer. Offsets, not pointers, so
 * the caller may move or grow its buffer between calls. */
struct http_span {
	uint32_t off;
	uint32_t len;
};

enum http_method {
	HTTP_M_UNKNOWN = 0,
	HTTP_M_GET,
	HTTP_M_HEAD,
	HTTP_M_POST,
	HTTP_M_PUT,
	HTTP_M_DELETE,
	HTTP_M_OPTIONS,
	HTTP_M_PATCH,
	HTTP_M_TRACE,
	/* CONNECT is not here: sluiced tunnels nothing, so it is 501 */
};

enum http_body_kind {
	HTTP_BODY_NONE = 0,	/* no Content-Length, no Transfer-Encoding */
	HTTP_BODY_LENGTH,	/* content_length bytes follow the head */
	HTTP_BODY_CHUNKED,	/* decode with http_chunked_decode */
};

#define HTTP_MAX_HEADERS_CAP 128	/* hard cap: size of the header array */

struct http_limits {
	uint32_t max_head;	/* request line + headers, bytes -> 431 (414 if the line) */
	uint32_t max_target;	/* request-target, bytes -> 414 */
	uint32_t max_line;	/* one header line, bytes -> 431 (0: max_head) */
	uint32_t max_headers;	/* header lines, <= HTTP_MAX_HEADERS_CAP -> 431 */
	uint64_t max_body;	/* Content-Length or decoded chunked size -> 413 */
};

/* nginx's defaults (large_client_header_buffers 4 8k): a line or a
 * target up to 8 KiB, the head up to 32 KiB. A session cookie or a long
 * signed URL passes; HAProxy's 16 KiB buffer is of the same order. */
#define HTTP_DEFAULT_MAX_HEAD    32768
#define HTTP_DEFAULT_MAX_TARGET  8192
#define HTTP_DEFAULT_MAX_LINE    8192
#define HTTP_DEFAULT_MAX_HEADERS 64
#define HTTP_DEFAULT_MAX_BODY    (1u << 20)

struct http_header {
	struct http_span name;
	struct http_span value;	/* without surrounding whitespace */
};

struct http_request {
	enum http_method method;
	struct http_span method_name;
	struct http_span target;	/* as sent */
	struct http_span path;		/* target without query (absolute-form: without scheme and authority) */
	struct http_span query;		/* after '?', without it; len 0 if none */
	uint8_t version_minor;		/* HTTP/1.x; 2..9 are read as 1.1 */
	bool keep_alive;		/* after version defaults and Connection */
	bool expect_continue;		/* Expect: 100-continue */
	enum http_body_kind body;
	uint64_t content_length;	/* HTTP_BODY_LENGTH only */
	uint32_t head_len;		/* bytes of the head, incl. the blank line */
	uint32_t n_headers;
	struct http_header headers[HTTP_MAX_HEADERS_CAP];
};

struct http_parser {
	struct http_limits limits;
	int state;		/* private */
	uint32_t line;		/* private: start of the line being read */
	uint32_t scan;		/* private: where the search for LF resumes */
	uint32_t blank_lines;	/* private: empty lines before the request line */
	uint32_t n_host;	/* private */
	uint32_t n_te_chunked;	/* private */
	bool has_cl, has_te;	/* private */
	bool te_unsupported;	/* private: a coding other than chunked */
	bool conn_close, conn_keep_alive;	/* private: Connection tokens */
	int status;		/* HTTP status to answer when -EPROTO */
	struct http_request req;
};

void http_parser_init(struct http_parser *p, const struct http_limits *limits);
int http_parse_head(struct http_parser *p, const char *buf, size_t len);

struct http_chunked {
	int state;		/* private */
	uint64_t remaining;	/* private: data bytes left in this chunk */
	uint64_t total;		/* decoded bytes so far */
	uint64_t max_body;
	uint32_t line_len;	/* private: bytes of the current size/ext/trailer line */
	uint32_t trailer_len;	/* private: bytes of trailers so far */
	uint32_t digits;	/* private */
	int status;		/* HTTP status to answer when -EPROTO */
};

void http_chunked_init(struct http_chunked *c, uint64_t max_body);
int http_chunked_decode(struct http_chunked *c, char *buf, size_t len,
			size_t *consumed, size_t *produced);

bool http_span_eq(const char *buf, struct http_span s, const char *str);
bool http_span_eq_nocase(const char *buf, struct http_span s, const char *str);
bool http_field_split(const char *l, size_t len, size_t *nlen, size_t *vs, size_t *ve);
const char *http_list_next(const char *v, size_t len, size_t *pos, size_t *tlen);
const struct http_header *http_header_find(const struct http_request *req,
					   const char *buf, const char *name);

int http_query_get_u64(const char *buf, struct http_span query,
		       const char *key, uint64_t max, uint64_t *out);

/* GET /work?cpu_us=N&sleep_us=N: each at most HTTP_WORK_MAX_US, default 0. */
#define HTTP_WORK_MAX_US 1000000u
struct http_work_params {
	uint64_t cpu_us;
	uint64_t sleep_us;
};
int http_work_params_parse(const char *buf, const struct http_request *req,
			   struct http_work_params *out);

#endif /* SLUICED_HTTP_PARSE_H */
