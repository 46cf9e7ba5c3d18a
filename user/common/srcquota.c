// SPDX-License-Identifier: MIT
/*
 * Reading the per-source exceptions of sl_src_quota for sluicectl
 * (srcquota.h).
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "srcquota.h"

static int cmp_entry(const void *a, const void *b)
{
	return memcmp(&((const struct sl_src_quota_entry *)a)->key,
		      &((const struct sl_src_quota_entry *)b)->key, sizeof(struct sl_src_key));
}

int sl_src_quota_list(const struct sl_pins *p, struct sl_src_quota_entry **out, size_t *n)
{
	struct sl_src_quota_entry *v = NULL;
	struct sl_src_key cur, next;
	bool walking = false;
	size_t cap = 0;
	int err = 0;

	*n = 0;
	while (!bpf_map_get_next_key(p->src_quota_fd, walking ? &cur : NULL, &next)) {
		cur = next;
		walking = true;
		if (*n == cap) {
			struct sl_src_quota_entry *nv;

			cap = cap ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				err = -ENOMEM;
				goto out;
			}
			v = nv;
		}
		/* Removed since the walk found it: skip it. */
		v[*n].key = next;
		if (bpf_map_lookup_elem(p->src_quota_fd, &next, &v[*n].quota) == 0)
			(*n)++;
	}
	if (errno != ENOENT) {
		err = -errno;
		pr_err("cannot walk %s: %s", SL_MAP_SRC_QUOTA, strerror(errno));
	}
out:
	if (err) {
		free(v);
		v = NULL;
		*n = 0;
	} else if (*n > 1) {
		qsort(v, *n, sizeof(*v), cmp_entry);
	}
	*out = v;
	return err;
}

void sl_src_key_cidr(const struct sl_src_key *k, struct sl_cidr *c)
{
	memset(c, 0, sizeof(*c));
	c->family = k->family;
	c->prefixlen = k->prefixlen;
	memcpy(c->addr, k->addr, sizeof(c->addr));
}

int sl_src_quota_format(const struct sl_src_quota *q, char *buf, size_t len)
{
	int n;

	if (!q->rate_milli)
		n = snprintf(buf, len, "refused");
	else
		n = snprintf(buf, len, "%u.%03u/s burst %u", q->rate_milli / 1000,
			     q->rate_milli % 1000, q->burst ? q->burst : 1);
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}
