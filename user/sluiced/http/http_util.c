// SPDX-License-Identifier: MIT
/*
 * Helpers on a parsed request: span comparison, header lookup, and the
 * bounded query-string reading behind GET /work?cpu_us=N&sleep_us=N.
 */
#include "http_parse.h"

#include <errno.h>
#include <string.h>

#include "http_token.h"

bool http_span_eq(const char *buf, struct http_span s, const char *str)
{
	return strlen(str) == s.len && memcmp(buf + s.off, str, s.len) == 0;
}

bool http_span_eq_nocase(const char *buf, struct http_span s, const char *str)
{
	return strlen(str) == s.len && http_mem_eq_nocase(buf + s.off, str, s.len);
}

bool http_field_split(const char *l, size_t len, size_t *nlen, size_t *vs, size_t *ve)
{
	const char *colon;
	size_t s, e;

	/* A line that starts with whitespace is obs-fold (or whitespace
	 * before the first field): RFC 9112 5.2 lets a recipient reject it. */
	if (!len || http_is_ows(l[0]))
		return false;
	colon = memchr(l, ':', len);
	if (!colon || colon == l)
		return false;
	/* A space before the colon fails here too: RFC 9112 5.1 says 400. */
	for (const char *c = l; c < colon; c++)
		if (!http_is_tchar(*c))
			return false;
	s = (size_t)(colon - l) + 1;
	e = len;
	while (s < e && http_is_ows(l[s]))
		s++;
	while (e > s && http_is_ows(l[e - 1]))
		e--;
	for (size_t i = s; i < e; i++)
		if (!http_is_field_vchar(l[i]) && l[i] != ' ' && l[i] != '\t')
			return false;	/* NUL, bare CR, other CTLs */
	*nlen = (size_t)(colon - l);
	*vs = s;
	*ve = e;
	return true;
}

const char *http_list_next(const char *v, size_t len, size_t *pos, size_t *tlen)
{
	size_t i = *pos;

	while (i < len) {
		size_t start, end;

		while (i < len && (http_is_ows(v[i]) || v[i] == ','))
			i++;
		start = i;
		while (i < len && v[i] != ',')
			i++;
		end = i;
		while (end > start && http_is_ows(v[end - 1]))
			end--;
		if (end > start) {
			*pos = i;
			*tlen = end - start;
			return v + start;
		}
	}
	*pos = len;
	return NULL;
}

const struct http_header *http_header_find(const struct http_request *req,
					   const char *buf, const char *name)
{
	for (uint32_t i = 0; i < req->n_headers; i++)
		if (http_span_eq_nocase(buf, req->headers[i].name, name))
			return &req->headers[i];
	return NULL;
}

/* A decimal value of at most 19 digits (no sign, no spaces, no '+'). */
static int parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t n = 0;

	if (len == 0 || len > 19)
		return len ? -ERANGE : -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (!http_is_digit(s[i]))
			return -EINVAL;
		n = n * 10 + (uint64_t)(s[i] - '0');
	}
	if (n > max)
		return -ERANGE;
	*out = n;
	return 0;
}

/*
 * Finds key=value in "a=1&b=2" and reads the value as a number <= max.
 * Keys compare exactly (no percent-decoding: our keys and values are
 * plain). Returns 0, -ENOENT if absent, -EINVAL if malformed or given
 * twice (which one would win is a guess we refuse to make), -ERANGE if
 * larger than max.
 */
int http_query_get_u64(const char *buf, struct http_span query,
		       const char *key, uint64_t max, uint64_t *out)
{
	const char *q = buf + query.off, *end = q + query.len;
	size_t klen = strlen(key);
	bool found = false;
	uint64_t v = 0;

	while (q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		const char *pe = amp ? amp : end;
		const char *eq = memchr(q, '=', (size_t)(pe - q));

		if (eq && (size_t)(eq - q) == klen && memcmp(q, key, klen) == 0) {
			int err;

			if (found)
				return -EINVAL;
			err = parse_u64(eq + 1, (size_t)(pe - eq - 1), max, &v);
			if (err)
				return err;
			found = true;
		} else if (!eq && (size_t)(pe - q) == klen &&
			   memcmp(q, key, klen) == 0) {
			return -EINVAL;	/* "key" without a value */
		}
		q = amp ? amp + 1 : end;
	}
	if (!found)
		return -ENOENT;
	*out = v;
	return 0;
}

int http_work_params_parse(const char *buf, const struct http_request *req,
			   struct http_work_params *out)
{
	struct http_work_params w = { 0, 0 };
	int err;

	err = http_query_get_u64(buf, req->query, "cpu_us", HTTP_WORK_MAX_US,
				 &w.cpu_us);
	if (err && err != -ENOENT)
		goto out;
	err = http_query_get_u64(buf, req->query, "sleep_us", HTTP_WORK_MAX_US,
				 &w.sleep_us);
	if (err && err != -ENOENT)
		goto out;
	err = 0;
	*out = w;
out:
	return err;
}
