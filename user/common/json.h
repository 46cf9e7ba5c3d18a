/* SPDX-License-Identifier: MIT */
/*
 * A small streaming JSON writer: values are written as they come, commas
 * and nesting are tracked, strings are escaped. No allocation.
 *
 * API:
 *   sl_json_init(&w, FILE *, pretty)     start a document on a stream
 *   sl_json_obj_begin/obj_end(&w)        { ... }
 *   sl_json_arr_begin/arr_end(&w)        [ ... ]
 *   sl_json_key(&w, name)                next value belongs to this key
 *   sl_json_str/u64/i64/bool/null(&w, v) a value
 *   sl_json_kv_str/kv_u64/kv_i64/kv_bool(&w, key, v)   key and value
 *   sl_json_end(&w)                      newline after the top value; returns
 *                                        -EINVAL if nesting was unbalanced or
 *                                        -EIO if the stream failed
 *   sl_json_escape(s, buf, len)          escape into a buffer (for tests/logs)
 */
#ifndef SLUICE_JSON_H
#define SLUICE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SL_JSON_MAX_DEPTH 32

struct sl_json {
	FILE *f;
	bool pretty;
	bool after_key;		/* a key was written; the next value needs no comma */
	bool error;		/* misuse (too deep, unbalanced) */
	int depth;
	bool has_items[SL_JSON_MAX_DEPTH + 1];
};

void sl_json_init(struct sl_json *w, FILE *f, bool pretty);
void sl_json_obj_begin(struct sl_json *w);
void sl_json_obj_end(struct sl_json *w);
void sl_json_arr_begin(struct sl_json *w);
void sl_json_arr_end(struct sl_json *w);
void sl_json_key(struct sl_json *w, const char *name);
void sl_json_str(struct sl_json *w, const char *s);
void sl_json_u64(struct sl_json *w, uint64_t v);
void sl_json_i64(struct sl_json *w, int64_t v);
void sl_json_bool(struct sl_json *w, bool v);
void sl_json_null(struct sl_json *w);
void sl_json_kv_str(struct sl_json *w, const char *key, const char *v);
void sl_json_kv_u64(struct sl_json *w, const char *key, uint64_t v);
void sl_json_kv_i64(struct sl_json *w, const char *key, int64_t v);
void sl_json_kv_bool(struct sl_json *w, const char *key, bool v);
int sl_json_end(struct sl_json *w);
int sl_json_escape(const char *s, char *buf, size_t len);

#endif /* SLUICE_JSON_H */
