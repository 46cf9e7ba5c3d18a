// SPDX-License-Identifier: MIT
/*
 * Streaming JSON writer (see json.h). Strings are written as UTF-8 with
 * the characters JSON forbids raw (quote, backslash, controls) escaped;
 * other bytes pass through unchanged.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "json.h"

void sl_json_init(struct sl_json *w, FILE *f, bool pretty)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
	w->pretty = pretty;
}

static void indent(struct sl_json *w)
{
	if (!w->pretty)
		return;
	fputc('\n', w->f);
	for (int i = 0; i < w->depth; i++)
		fputs("  ", w->f);
}

/* Before any value or key: the comma and the indentation it needs. */
static void before_item(struct sl_json *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth > 0) {
		if (w->has_items[w->depth])
			fputc(',', w->f);
		indent(w);
	}
	w->has_items[w->depth] = true;
}

static void open_(struct sl_json *w, char c)
{
	before_item(w);
	fputc(c, w->f);
	if (w->depth >= SL_JSON_MAX_DEPTH) {
		w->error = true;
		return;
	}
	w->depth++;
	w->has_items[w->depth] = false;
}

static void close_(struct sl_json *w, char c)
{
	if (w->depth == 0 || w->after_key) {
		w->error = true;
		return;
	}
	w->depth--;
	if (w->has_items[w->depth + 1])
		indent(w);
	fputc(c, w->f);
}

void sl_json_obj_begin(struct sl_json *w)
{
	open_(w, '{');
}

void sl_json_obj_end(struct sl_json *w)
{
	close_(w, '}');
}

void sl_json_arr_begin(struct sl_json *w)
{
	open_(w, '[');
}

void sl_json_arr_end(struct sl_json *w)
{
	close_(w, ']');
}

/* Escaped form of c, or NULL if c is written as is. */
static const char *escape_char(unsigned char c, char tmp[7])
{
	switch (c) {
	case '"':
		return "\\\"";
	case '\\':
		return "\\\\";
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	case '\t':
		return "\\t";
	case '\b':
		return "\\b";
	case '\f':
		return "\\f";
	default:
		if (c < 0x20 || c == 0x7f) {
			snprintf(tmp, 7, "\\u%04x", c);
			return tmp;
		}
		return NULL;
	}
}

static void write_string(struct sl_json *w, const char *s)
{
	char tmp[7];

	fputc('"', w->f);
	for (; s && *s; s++) {
		const char *e = escape_char((unsigned char)*s, tmp);

		if (e)
			fputs(e, w->f);
		else
			fputc(*s, w->f);
	}
	fputc('"', w->f);
}

void sl_json_key(struct sl_json *w, const char *name)
{
	if (w->after_key || w->depth == 0) {
		w->error = true;
		return;
	}
	before_item(w);
	write_string(w, name);
	fputs(w->pretty ? ": " : ":", w->f);
	w->after_key = true;
}

void sl_json_str(struct sl_json *w, const char *s)
{
	before_item(w);
	write_string(w, s);
}

void sl_json_u64(struct sl_json *w, uint64_t v)
{
	before_item(w);
	fprintf(w->f, "%" PRIu64, v);
}

void sl_json_i64(struct sl_json *w, int64_t v)
{
	before_item(w);
	fprintf(w->f, "%" PRId64, v);
}

void sl_json_bool(struct sl_json *w, bool v)
{
	before_item(w);
	fputs(v ? "true" : "false", w->f);
}

void sl_json_null(struct sl_json *w)
{
	before_item(w);
	fputs("null", w->f);
}

void sl_json_kv_str(struct sl_json *w, const char *key, const char *v)
{
	sl_json_key(w, key);
	sl_json_str(w, v);
}

void sl_json_kv_u64(struct sl_json *w, const char *key, uint64_t v)
{
	sl_json_key(w, key);
	sl_json_u64(w, v);
}

void sl_json_kv_i64(struct sl_json *w, const char *key, int64_t v)
{
	sl_json_key(w, key);
	sl_json_i64(w, v);
}

void sl_json_kv_bool(struct sl_json *w, const char *key, bool v)
{
	sl_json_key(w, key);
	sl_json_bool(w, v);
}

int sl_json_end(struct sl_json *w)
{
	fputc('\n', w->f);
	if (fflush(w->f) || ferror(w->f))
		return -EIO;
	return w->error || w->depth || w->after_key ? -EINVAL : 0;
}

int sl_json_escape(const char *s, char *buf, size_t len)
{
	size_t n = 0;
	char tmp[7];

	if (!len)
		return -ENOSPC;
	for (; *s; s++) {
		const char *e = escape_char((unsigned char)*s, tmp);
		char one[2] = { *s, '\0' };
		size_t l;

		if (!e)
			e = one;
		l = strlen(e);
		if (n + l >= len) {
			buf[n] = '\0';
			return -ENOSPC;
		}
		memcpy(buf + n, e, l);
		n += l;
	}
	buf[n] = '\0';
	return 0;
}
