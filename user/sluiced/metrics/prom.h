/* SPDX-License-Identifier: MIT */
/*
 * A small writer of the Prometheus text exposition format (version 0.0.4)
 * into a caller's buffer: HELP and TYPE lines, samples with escaped label
 * values, and histograms as cumulative _bucket{le=...}, _sum and _count.
 * Errors are sticky: the first one (no room, a bad name) is what
 * prom_finish returns, so a metrics page is either whole or refused.
 *
 * API:
 *   prom_init(b, mem, cap)
 *   prom_family(b, name, help, type)     "# HELP ..." and "# TYPE ..."
 *   prom_sample(b, name, labels, n, v)   one line, a double value
 *   prom_sample_u64(b, name, labels, n, v)   one line, an exact integer
 *   prom_histogram(b, name, labels, n, h)
 *   prom_finish(b)                        bytes written, or -ENOSPC/-EINVAL
 */
#ifndef SLUICED_PROM_H
#define SLUICED_PROM_H

#include <stddef.h>
#include <stdint.h>

struct prom_buf {
	char *mem;
	size_t len, cap;
	int err;	/* first error, sticky */
};

struct prom_label {
	const char *name;
	const char *value;	/* any bytes but NUL; escaped on output */
};

enum prom_type {
	PROM_COUNTER,
	PROM_GAUGE,
	PROM_HISTOGRAM,
	PROM_UNTYPED,
};

/* Per-bucket (not cumulative) counts: counts[i] observations <= bounds[i]
 * and > bounds[i - 1]; counts[n_bounds] those above the last bound. The
 * writer accumulates; bounds must increase. */
struct prom_histogram {
	const double *bounds;
	size_t n_bounds;
	const uint64_t *counts;	/* n_bounds + 1 entries */
	double sum;
};

void prom_init(struct prom_buf *b, char *mem, size_t cap);
void prom_family(struct prom_buf *b, const char *name, const char *help,
		 enum prom_type type);
void prom_sample(struct prom_buf *b, const char *name,
		 const struct prom_label *labels, size_t n_labels, double v);
void prom_sample_u64(struct prom_buf *b, const char *name,
		     const struct prom_label *labels, size_t n_labels,
		     uint64_t v);
void prom_histogram(struct prom_buf *b, const char *name,
		    const struct prom_label *labels, size_t n_labels,
		    const struct prom_histogram *h);
int prom_finish(struct prom_buf *b);

#endif /* SLUICED_PROM_H */
