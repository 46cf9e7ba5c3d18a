// SPDX-License-Identifier: MIT
/*
 * Response heads: the status line, Content-Length (always, so a keep-alive
 * client knows where the body ends), and Retry-After and Connection: close
 * when asked for.
 */
#include "http_response.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
	int status;
	const char *reason;
} reasons[] = {
	{ 100, "Continue" },
	{ 200, "OK" },
	{ 204, "No Content" },
	{ 400, "Bad Request" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 408, "Request Timeout" },
	{ 413, "Content Too Large" },
	{ 414, "URI Too Long" },
	{ 417, "Expectation Failed" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" },
	{ 501, "Not Implemented" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" },
	{ 505, "HTTP Version Not Supported" },
};

const char *http_reason(int status)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "";	/* the reason phrase may be empty (RFC 9112 4) */
}

/* Appends printf output at *len; -ENOSPC when it does not fit. */
static int append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= cap)
		return -ENOSPC;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *len)
		return -ENOSPC;
	*len += (size_t)n;
	return 0;
}

int http_write_head(char *buf, size_t cap, const struct http_response *resp)
{
	size_t len = 0;
	int err;

	if (resp->status < 100 || resp->status > 599)
		return -EINVAL;
	if (resp->content_type && strpbrk(resp->content_type, "\r\n"))
		return -EINVAL;	/* no header injection through a type */
	err = append(buf, cap, &len, "HTTP/1.1 %d %s\r\n", resp->status,
		     http_reason(resp->status));
	if (!err && resp->content_type)
		err = append(buf, cap, &len, "Content-Type: %s\r\n",
			     resp->content_type);
	if (!err)
		err = append(buf, cap, &len, "Content-Length: %" PRIu64 "\r\n",
			     resp->content_length);
	if (!err && resp->retry_after_s)
		err = append(buf, cap, &len, "Retry-After: %" PRIu32 "\r\n",
			     resp->retry_after_s);
	if (!err && resp->close)
		err = append(buf, cap, &len, "Connection: close\r\n");
	if (!err)
		err = append(buf, cap, &len, "\r\n");
	return err ? err : (int)len;
}

int http_write_simple(char *buf, size_t cap, const struct http_response *resp,
		      const char *body)
{
	struct http_response r = *resp;
	size_t blen = body ? strlen(body) : 0;
	int n;

	r.content_length = blen;
	n = http_write_head(buf, cap, &r);
	if (n < 0)
		return n;
	if (cap - (size_t)n < blen)
		return -ENOSPC;
	if (blen)
		memcpy(buf + n, body, blen);
	return n + (int)blen;
}
