// SPDX-License-Identifier: MIT
/*
 * The arithmetic of fleet quotas: heavy sources, local shares, Redis key
 * names and backoff (fleet_share.h says what and why).
 */
#include "fleet_share.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int key_cmp(const struct sl_src_key *a, const struct sl_src_key *b)
{
	return memcmp(a, b, sizeof(*a));
}

static int src_cmp(const void *a, const void *b)
{
	return key_cmp(&((const struct fleet_src *)a)->key, &((const struct fleet_src *)b)->key);
}

void fleet_src_sort(struct fleet_src *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), src_cmp);
}

/* Keep out[0..*m) as the heaviest seen so far, heaviest first (k is small:
 * an insertion into a sorted array of k beats a heap at these sizes). */
static void keep_heaviest(struct fleet_src *out, size_t *m, size_t k, const struct fleet_src *s)
{
	size_t i = *m;

	if (i == k) {
		if (out[k - 1].delta >= s->delta)
			return;
		i = k - 1;
	} else {
		(*m)++;
	}
	while (i > 0 && out[i - 1].delta < s->delta) {
		out[i] = out[i - 1];
		i--;
	}
	out[i] = *s;
}

size_t fleet_heavy(const struct fleet_src *cur, size_t n, const struct fleet_src *prev,
		   size_t np, uint64_t min_delta, struct fleet_src *out, size_t k)
{
	size_t j = 0, m = 0;

	if (!k)
		return 0;
	for (size_t i = 0; i < n; i++) {
		struct fleet_src s = cur[i];
		int c = 1;

		while (j < np && (c = key_cmp(&prev[j].key, &s.key)) < 0)
			j++;
		/* A counter below its last value was evicted and counted
		 * afresh: all of it is new. */
		s.delta = c == 0 && s.count >= prev[j].count ? s.count - prev[j].count : s.count;
		if (s.delta && s.delta >= min_delta)
			keep_heaviest(out, &m, k, &s);
	}
	return m;
}

uint64_t fleet_min_delta(uint32_t quota, uint32_t hosts, uint32_t sync_ms)
{
	uint64_t d = (uint64_t)quota * sync_ms / (4000ull * (hosts ? hosts : 1));

	return d ? d : 1;
}

bool fleet_share(uint64_t mine, uint64_t total, uint32_t quota, uint32_t window_ms,
		 struct fleet_limit *lim)
{
	uint64_t r;

	/* The fleet's rate, total / window, within the quota: no exception. */
	if (!window_ms || total * 1000 <= (uint64_t)quota * window_ms)
		return false;
	/* Redis may have lost part of a window (a restart, an eviction):
	 * never more than the whole. */
	if (mine > total)
		mine = total;
	r = (uint64_t)quota * 1000 * mine / total;
	lim->rate_milli = r > UINT32_MAX ? UINT32_MAX : (uint32_t)r;
	/* A tenth of a second's worth: arrivals jitter, and a deeper bucket
	 * lets a burst through every time the share moves. */
	r /= 10000;
	lim->burst = r < 1 ? 1 : r > 64 ? 64 : (uint32_t)r;
	return true;
}

/*
 * The last window is complete; the current one, once half of it has
 * passed, is a lower bound of its rate: hosts that have not sent their
 * part yet count as nothing, and the part a host sent at the window's
 * start may be up to a sync older than the window (hence the divisor of
 * elapsed + one sync). So a source that starts, or a Redis that comes
 * back empty, is limited within the window instead of after the next,
 * and a source under the rate is not taken for over it.
 */
bool fleet_decide(const struct fleet_windows *w, uint32_t quota, struct fleet_limit *lim)
{
	if (fleet_share(w->mine_prev, w->total_prev, quota, w->window_ms, lim))
		return true;
	return w->elapsed_ms >= w->window_ms / 2 &&
	       fleet_share(w->mine_cur, w->total_cur, quota, w->elapsed_ms + w->sync_ms, lim);
}

uint64_t fleet_scale_delta(uint64_t delta, uint64_t gap_ms, uint32_t window_ms)
{
	return gap_ms > window_ms ? delta * window_ms / gap_ms : delta;
}

void fleet_src_text(const struct sl_src_key *k, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(k->family == 6 ? AF_INET6 : AF_INET, k->addr, a, sizeof(a)))
		strcpy(a, "?");
	snprintf(buf, len, "%s/%u", a, k->prefixlen);
}

int fleet_key(char *buf, size_t len, const char *name, const char *service,
	      const struct sl_src_key *k, uint64_t window)
{
	char src[INET6_ADDRSTRLEN + 8];
	int n;

	fleet_src_text(k, src, sizeof(src));
	n = snprintf(buf, len, "%s:%s:{%s}:%llu", name, service, src,
		     (unsigned long long)window);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

uint32_t fleet_backoff(uint32_t ms, uint32_t max_ms)
{
	uint64_t next = ms ? (uint64_t)ms * 2 : 100;

	return next > max_ms ? max_ms : (uint32_t)next;
}
