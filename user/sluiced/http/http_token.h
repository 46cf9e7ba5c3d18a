/* SPDX-License-Identifier: MIT */
/*
 * Character classes of HTTP (RFC 9110 5.6), shared by the parser, the
 * chunked decoder and the query helpers. Locale-free on purpose: <ctype.h>
 * answers depend on the locale, and a header's meaning must not.
 *
 * API: http_is_tchar, http_is_digit, http_is_hex, http_hex_value,
 *      http_is_ows, http_is_field_vchar, http_lower, http_mem_eq_nocase.
 */
#ifndef SLUICED_HTTP_TOKEN_H
#define SLUICED_HTTP_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

static inline bool http_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool http_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* tchar: the characters of a token (method, field name, coding). */
static inline bool http_is_tchar(char c)
{
	return http_is_digit(c) || http_is_alpha(c) ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static inline int http_hex_value(char c)
{
	if (http_is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Optional whitespace: SP or HTAB. */
static inline bool http_is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* field-vchar: visible ASCII or obs-text (bytes >= 0x80). */
static inline bool http_is_field_vchar(char c)
{
	unsigned char u = (unsigned char)c;

	return (u > 0x20 && u < 0x7f) || u >= 0x80;
}

static inline char http_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static inline bool http_mem_eq_nocase(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (http_lower(a[i]) != http_lower(b[i]))
			return false;
	return true;
}

#endif /* SLUICED_HTTP_TOKEN_H */
