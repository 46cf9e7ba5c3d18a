// SPDX-License-Identifier: MIT
/*
 * The bounded growable buffer of http_buf.h: doubling growth from 4 KiB,
 * never past its bound.
 */
#include "http_buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int http_buf_add(struct http_buf *b, const void *src, size_t n)
{
	if (n > b->max - b->len)
		return -EFBIG;
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n)
			cap *= 2;
		if (cap > b->max)
			cap = b->max;
		p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, src, n);
	b->len += n;
	return 0;
}

int http_buf_adds(struct http_buf *b, const char *s)
{
	return http_buf_add(b, s, strlen(s));
}

int http_buf_addu(struct http_buf *b, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return http_buf_add(b, tmp + i, sizeof(tmp) - i);
}

char *http_buf_take(struct http_buf *b)
{
	char *p = b->p;

	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void http_buf_free(struct http_buf *b)
{
	free(http_buf_take(b));
}
