/* SPDX-License-Identifier: MIT */
/*
 * Writers for HTTP/1.1 response heads: pure functions on a caller's buffer,
 * so the fast path can answer "503, Retry-After" without allocating.
 *
 * API:
 *   http_reason(status)                      reason phrase ("" if unknown)
 *   http_write_head(buf, cap, resp)          status line + headers + blank line
 *   http_write_simple(buf, cap, resp, body)  head + a small text body
 * Both return the number of bytes written (no NUL is counted), -ENOSPC if
 * cap is too small (buf is then unspecified), or -EINVAL for a status
 * outside 100..599 or a content type with a CR or LF in it.
 */
#ifndef SLUICED_HTTP_RESPONSE_H
#define SLUICED_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_response {
	int status;
	uint64_t content_length;	/* always sent: keep-alive needs framing */
	const char *content_type;	/* NULL: not sent */
	uint32_t retry_after_s;		/* 0: no Retry-After */
	bool close;			/* Connection: close */
};

const char *http_reason(int status);
int http_write_head(char *buf, size_t cap, const struct http_response *resp);
int http_write_simple(char *buf, size_t cap, const struct http_response *resp,
		      const char *body);

#endif /* SLUICED_HTTP_RESPONSE_H */
