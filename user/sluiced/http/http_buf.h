/* SPDX-License-Identifier: MIT */
/*
 * A growable byte buffer with a hard bound, for the heads and bodies the
 * proxy builds: nothing is formatted through a fixed line buffer, so a
 * header is as long as the limits allow and never truncated.
 *
 * API:
 *   struct http_buf b = HTTP_BUF_INIT(max)   empty, at most max bytes
 *   http_buf_add(b, src, n)                  0, -EFBIG past max, -ENOMEM
 *   http_buf_adds(b, str)                    a NUL-terminated string
 *   http_buf_addu(b, v)                      a decimal number
 *   http_buf_take(b)                         the bytes, now the caller's
 *   http_buf_free(b)
 */
#ifndef SLUICED_HTTP_BUF_H
#define SLUICED_HTTP_BUF_H

#include <stddef.h>
#include <stdint.h>

struct http_buf {
	char *p;
	size_t len, cap, max;
};

#define HTTP_BUF_INIT(m) ((struct http_buf){ .max = (m) })

int http_buf_add(struct http_buf *b, const void *src, size_t n);
int http_buf_adds(struct http_buf *b, const char *s);
int http_buf_addu(struct http_buf *b, uint64_t v);
char *http_buf_take(struct http_buf *b);
void http_buf_free(struct http_buf *b);

#endif /* SLUICED_HTTP_BUF_H */
