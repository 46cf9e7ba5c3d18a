// SPDX-License-Identifier: MIT
/*
 * The Prometheus text format writer: escaping, number formatting and the
 * histogram's cumulative buckets. See prom.h.
 */
#include "prom.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void prom_init(struct prom_buf *b, char *mem, size_t cap)
{
	b->mem = mem;
	b->len = 0;
	b->cap = cap;
	b->err = 0;
}

static void fail(struct prom_buf *b, int err)
{
	if (!b->err)
		b->err = err;
}

static void put(struct prom_buf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->cap - b->len < n) {
		fail(b, -ENOSPC);
		return;
	}
	memcpy(b->mem + b->len, s, n);
	b->len += n;
}

static void puts_(struct prom_buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static bool name_char(char c, bool first, bool colon)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (colon && c == ':') || (!first && c >= '0' && c <= '9');
}

/* Metric names: [a-zA-Z_:][a-zA-Z0-9_:]*. Label names: no ':', and names
 * starting with "__" are reserved for Prometheus itself. */
static bool valid_name(const char *s, bool metric)
{
	if (!s || !*s || (!metric && s[0] == '_' && s[1] == '_'))
		return false;
	for (size_t i = 0; s[i]; i++)
		if (!name_char(s[i], i == 0, metric))
			return false;
	return true;
}

/* HELP text escapes \ and newline; label values also escape ". */
static void put_escaped(struct prom_buf *b, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			puts_(b, "\\\\");
		else if (*s == '\n')
			puts_(b, "\\n");
		else if (quote && *s == '"')
			puts_(b, "\\\"");
		else
			put(b, s, 1);
	}
}

/* Shortest text that reads back as the same double (as Go's 'g', -1,
 * which Prometheus' own clients use): 0.005, not 0.0050000000000000001. */
static void format_double(double v, char *buf, size_t len)
{
	if (isnan(v)) {
		snprintf(buf, len, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

void prom_family(struct prom_buf *b, const char *name, const char *help,
		 enum prom_type type)
{
	static const char *const types[] = { "counter", "gauge", "histogram",
					     "untyped" };

	if (!valid_name(name, true) || (unsigned)type > PROM_UNTYPED) {
		fail(b, -EINVAL);
		return;
	}
	puts_(b, "# HELP ");
	puts_(b, name);
	puts_(b, " ");
	put_escaped(b, help ? help : "", false);
	puts_(b, "\n# TYPE ");
	puts_(b, name);
	puts_(b, " ");
	puts_(b, types[type]);
	puts_(b, "\n");
}

/* name{l1="v1",l2="v2"[,le="x"]} */
static void put_series(struct prom_buf *b, const char *name, const char *suffix,
		       const struct prom_label *labels, size_t n,
		       const char *le)
{
	if (!valid_name(name, true)) {
		fail(b, -EINVAL);
		return;
	}
	puts_(b, name);
	puts_(b, suffix);
	if (n == 0 && !le)
		return;
	puts_(b, "{");
	for (size_t i = 0; i < n; i++) {
		if (!valid_name(labels[i].name, false) || !labels[i].value ||
		    (le && strcmp(labels[i].name, "le") == 0)) {
			fail(b, -EINVAL);
			return;
		}
		if (i)
			puts_(b, ",");
		puts_(b, labels[i].name);
		puts_(b, "=\"");
		put_escaped(b, labels[i].value, true);
		puts_(b, "\"");
	}
	if (le) {
		puts_(b, n ? ",le=\"" : "le=\"");
		puts_(b, le);
		puts_(b, "\"");
	}
	puts_(b, "}");
}

/* One sample line: the series, a space, the formatted value. */
static void put_sample(struct prom_buf *b, const char *name,
		       const struct prom_label *labels, size_t n_labels, const char *num)
{
	put_series(b, name, "", labels, n_labels, NULL);
	puts_(b, " ");
	puts_(b, num);
	puts_(b, "\n");
}

void prom_sample(struct prom_buf *b, const char *name,
		 const struct prom_label *labels, size_t n_labels, double v)
{
	char num[40];

	format_double(v, num, sizeof(num));
	put_sample(b, name, labels, n_labels, num);
}

void prom_sample_u64(struct prom_buf *b, const char *name,
		     const struct prom_label *labels, size_t n_labels,
		     uint64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRIu64, v);
	put_sample(b, name, labels, n_labels, num);
}

void prom_histogram(struct prom_buf *b, const char *name,
		    const struct prom_label *labels, size_t n_labels,
		    const struct prom_histogram *h)
{
	uint64_t cum = 0;
	char le[40], num[40];

	for (size_t i = 0; i <= h->n_bounds; i++) {
		if (i < h->n_bounds &&
		    (isnan(h->bounds[i]) || (i && h->bounds[i] <= h->bounds[i - 1]))) {
			fail(b, -EINVAL);
			return;
		}
		cum += h->counts[i];
		if (i < h->n_bounds)
			format_double(h->bounds[i], le, sizeof(le));
		else
			strcpy(le, "+Inf");
		snprintf(num, sizeof(num), "%" PRIu64, cum);
		put_series(b, name, "_bucket", labels, n_labels, le);
		puts_(b, " ");
		puts_(b, num);
		puts_(b, "\n");
	}
	format_double(h->sum, num, sizeof(num));
	put_series(b, name, "_sum", labels, n_labels, NULL);
	puts_(b, " ");
	puts_(b, num);
	puts_(b, "\n");
	snprintf(num, sizeof(num), "%" PRIu64, cum);
	put_series(b, name, "_count", labels, n_labels, NULL);
	puts_(b, " ");
	puts_(b, num);
	puts_(b, "\n");
}

int prom_finish(struct prom_buf *b)
{
	if (b->err)
		return b->err;
	if (b->len > (size_t)INT32_MAX)
		return -ENOSPC;
	return (int)b->len;
}
