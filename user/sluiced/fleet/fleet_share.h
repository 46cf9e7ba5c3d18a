/* SPDX-License-Identifier: MIT */
/*
 * The arithmetic of fleet quotas, apart from Redis and the maps so that it
 * can be tested alone (fleet.c runs it):
 *
 *   - which sources this host reports: the increase of each source's
 *     counter in sl_src_seen since the last sync (both snapshots sorted by
 *     key), and of those the k largest at or above a threshold; so what a
 *     host sends to Redis is bounded by k, whatever the number of clients;
 *   - the threshold: a source is worth reporting when it makes a quarter of
 *     its fair per-host share of the quota on this host;
 *   - a source's local share: over the quota fleet-wide (the fleet's count
 *     in the last window above quota x window), this host admits the quota
 *     in proportion to its own part of the demand, quota x mine / total; the
 *     shares of all hosts add up to the quota. Demand counts refused
 *     attempts too, so a limited source stays limited while it keeps
 *     coming, and is released when the fleet sees it under the quota; the
 *     current window counts too once half of it has passed, as a lower
 *     bound of its rate (fleet_decide);
 *   - the Redis key of a source's window, with the source as the Redis
 *     Cluster hash tag so that a source's keys live on one shard and the
 *     sources spread over all of them;
 *   - the retry backoff after a Redis failure.
 *
 * API:
 *   fleet_src_sort(v, n)                    sort by key
 *   fleet_heavy(cur, n, prev, np, min, out, k) -> m   the m <= k heaviest
 *                                           increases >= min, heaviest first
 *   fleet_min_delta(quota, hosts, sync_ms)  threshold of fleet_heavy
 *   fleet_share(mine, total, quota, window_ms, &lim) -> true if limited
 *   fleet_decide(&win, quota, &lim) -> true if limited: the last window,
 *                                           else the current one so far
 *   fleet_scale_delta(delta, gap_ms, window_ms)  an increase over more than
 *                                           a window, scaled to one
 *   fleet_src_text(key, buf, len)           "198.18.1.2/32", "2001:db8::/64"
 *   fleet_key(buf, len, name, service, key, window) -> 0 or -ENAMETOOLONG
 *   fleet_backoff(ms, max_ms)               the next wait after a failure
 */
#ifndef SLUICED_FLEET_SHARE_H
#define SLUICED_FLEET_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sluice/abi.h>

struct fleet_src {
	struct sl_src_key key;
	uint64_t count;		/* sl_src_seen counter */
	uint64_t delta;		/* fleet_heavy: increase since the last snapshot */
};

/* What fleet_share decides for a source over the quota. */
struct fleet_limit {
	uint32_t rate_milli;	/* this host's share, per 1000 s; 0 = refused */
	uint32_t burst;
};

/* A source's counts in the last window and the current one so far. */
struct fleet_windows {
	uint64_t mine_prev, total_prev;	/* ours and the fleet's, last window */
	uint64_t mine_cur, total_cur;	/* ... this window so far */
	uint32_t elapsed_ms;		/* of this window */
	uint32_t window_ms, sync_ms;
};

#define FLEET_KEY_MAX 192

void fleet_src_sort(struct fleet_src *v, size_t n);
size_t fleet_heavy(const struct fleet_src *cur, size_t n, const struct fleet_src *prev,
		   size_t np, uint64_t min_delta, struct fleet_src *out, size_t k);
uint64_t fleet_min_delta(uint32_t quota, uint32_t hosts, uint32_t sync_ms);
bool fleet_share(uint64_t mine, uint64_t total, uint32_t quota, uint32_t window_ms,
		 struct fleet_limit *lim);
bool fleet_decide(const struct fleet_windows *w, uint32_t quota, struct fleet_limit *lim);
uint64_t fleet_scale_delta(uint64_t delta, uint64_t gap_ms, uint32_t window_ms);
void fleet_src_text(const struct sl_src_key *k, char *buf, size_t len);
int fleet_key(char *buf, size_t len, const char *name, const char *service,
	      const struct sl_src_key *k, uint64_t window);
uint32_t fleet_backoff(uint32_t ms, uint32_t max_ms);

#endif /* SLUICED_FLEET_SHARE_H */
