// SPDX-License-Identifier: MIT
/*
 * Fleet quotas (--fleet redis://HOST:PORT[/DB], --fleet-per-source RATE):
 * a thread of its own shares, through Redis, how many new connections the
 * heaviest source prefixes of our service (the served one, or each guarded
 * one in guard mode) made on this host, and writes a
 * per-source exception (sl_src_quota, abi.h) for each source over RATE
 * fleet-wide: its share of RATE on this host. The arithmetic is in
 * fleet_share.c; this file is the loop, Redis (hiredis) and the maps.
 *
 * Every FLEET_SYNC_MS the thread
 *   1. reads sl_src_seen (the kernel counts each judged source of the
 *      service while SL_ADM_FLEET is set, sld_dataplane_write) and keeps
 *      the FLEET_TRACK heaviest increases since the last read;
 *   2. in one pipelined round trip: INCRBY each tracked source's increase
 *      into its key of the current one-second window (EXPIRE with the
 *      window's first INCRBY; wall clock, so the hosts' windows agree to
 *      NTP's precision), GET its key of the window before, complete since
 *      every host has moved on from it; INCR the service's host count of
 *      the window once per window and GET the last one's (the reporting
 *      threshold is a share of RATE per host); keys EXPIRE after
 *      FLEET_TTL_S, so Redis holds a few windows and nothing to clean up;
 *   3. from the last window's fleet count and our own part of it (or the
 *      current window's so far, decide()) sets, changes or removes each
 *      source's exception.
 * What a host sends is bounded by FLEET_TRACK sources whatever the number
 * of clients (the closing note of issue 12 has the numbers).
 *
 * Redis is never in the request path: the data plane judges from the
 * maps. When Redis is down, slow (FLEET_TIMEOUT_MS) or answers an error,
 * the thread removes every exception it set (each host falls back to its
 * local limits), logs it once, and retries with a doubling backoff up to
 * FLEET_BACKOFF_MAX_MS; when Redis answers again it logs that once and the
 * quota applies from the next window. Never fail closed.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fleet_share.h"
#include "log.h"
#include "prom.h"
#include "sluiced.h"

#define FLEET_SYNC_MS 250
#define FLEET_WINDOW_MS 1000
#define FLEET_TTL_S 5
#define FLEET_TRACK 64			/* sources reported per host at most */
#define FLEET_TIMEOUT_MS 500		/* connect, and each round trip */
#define FLEET_BACKOFF_MAX_MS 1000
#define FLEET_SEEN_CHUNK 256		/* entries per batch read of sl_src_seen */

/* A source this host reports: in the heaviest of a sync in this window or
 * the last, or under an exception. */
struct tracked {
	struct sl_src_key key;
	uint64_t delta;		/* increase of this sync, to INCRBY */
	bool expire;		/* the first INCRBY of the window: EXPIRE too */
	uint64_t sent_cur;	/* what we added to this window's key */
	uint64_t sent_prev;	/* ... and to the last window's */
	uint64_t total_prev;	/* the fleet's count of the last window */
	uint64_t total_cur;	/* ... of this one so far (INCRBY's answer) */
	bool limited;
	struct fleet_limit lim;
};

/* One service's state: the served one, or each guarded one. */
struct fleet_svc {
	struct sld_dataplane *dp;
	char service[24];		/* "tcp/8080": part of every key */
	uint32_t slot;			/* the service's slot we work on, 0: none */
	struct fleet_src *prev, *cur;	/* sl_src_seen snapshots of our slot, by key */
	size_t n_prev, n_cur, cap;
	struct tracked t[FLEET_TRACK];
	size_t n_t;
	uint64_t window;
	uint64_t last_read_ms;		/* monotonic time of the last read of sl_src_seen */
	uint32_t hosts;			/* hosts that reported the service last window */
	uint32_t limited;		/* sources under an exception */
};

static struct {
	struct sld *d;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;		/* guards stop, with wake */
	pthread_cond_t wake;
	bool stop;
	char host[SLD_ADDR_MAX];
	uint16_t port;
	uint32_t db;
	redisContext *rc;
	struct fleet_svc *svc;		/* n_svc services */
	size_t n_svc;
	/* for /metrics; relaxed: statistics, each on its own */
	_Atomic uint32_t connected;
	_Atomic uint32_t limited;
	_Atomic uint64_t last_sync_ms;	/* wall clock */
	_Atomic uint64_t syncs, failures, commands, bytes_out, bytes_in;
} F = { .lock = PTHREAD_MUTEX_INITIALIZER };

static uint64_t now_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

/* ---- the maps ---------------------------------------------------------- */

/* Our slot's sl_src_seen entries into s->cur, sorted by key. */
static int read_seen(struct fleet_svc *s)
{
	int fd = s->dp->pins.src_seen_fd;
	struct sl_src_key keys[FLEET_SEEN_CHUNK], batch;
	struct sl_src_seen vals[FLEET_SEEN_CHUNK];
	bool first = true, done = false;

	s->n_cur = 0;
	while (!done) {
		__u32 n = FLEET_SEEN_CHUNK;
		int err = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, keys, vals,
					       &n, NULL);

		if (err && errno != ENOENT)
			return -errno;
		done = err != 0;
		first = false;
		for (__u32 i = 0; i < n; i++) {
			if (keys[i].slot != s->slot)
				continue;
			if (s->n_cur == s->cap) {
				size_t cap = s->cap ? s->cap * 2 : 1024;
				struct fleet_src *c = realloc(s->cur, cap * sizeof(*c));
				struct fleet_src *p = realloc(s->prev, cap * sizeof(*p));

				if (c)
					s->cur = c;
				if (p)
					s->prev = p;
				if (!c || !p)
					return -ENOMEM;
				s->cap = cap;
			}
			s->cur[s->n_cur++] = (struct fleet_src){ .key = keys[i],
							       .count = vals[i].count };
		}
	}
	fleet_src_sort(s->cur, s->n_cur);
	return 0;
}

static int set_exception(struct fleet_svc *s, struct tracked *t)
{
	int fd = s->dp->pins.src_quota_fd;
	struct sl_src_quota q = { 0 };

	/* Keep the bucket's state: a rate change must not refill it. */
	if (bpf_map_lookup_elem(fd, &t->key, &q) == 0 && q.rate_milli == t->lim.rate_milli &&
	    q.burst == t->lim.burst)
		return 0;
	q.rate_milli = t->lim.rate_milli;
	q.burst = t->lim.burst;
	if (bpf_map_update_elem(fd, &t->key, &q, BPF_ANY))
		return -errno;
	return 0;
}

static void clear_exception(struct fleet_svc *s, struct tracked *t)
{
	if (bpf_map_delete_elem(s->dp->pins.src_quota_fd, &t->key) && errno != ENOENT) {
		char src[64];

		fleet_src_text(&t->key, src, sizeof(src));
		pr_warn("fleet: cannot remove the exception of %s: %s", src, strerror(errno));
	}
	t->limited = false;
}

/* Every exception of our slot, ours or a previous daemon's: local limits. */
static void clear_all_exceptions(struct fleet_svc *s)
{
	int fd = s->dp->pins.src_quota_fd;
	struct sl_src_key k, next, *prev = NULL;

	for (size_t i = 0; i < s->n_t; i++)
		s->t[i].limited = false;
	/* Deleting the key just returned would restart the walk: delete
	 * the one before, once the next is known. */
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		if (prev && prev->slot == s->slot)
			bpf_map_delete_elem(fd, prev);
		k = next;
		prev = &k;
	}
	if (prev && prev->slot == s->slot)
		bpf_map_delete_elem(fd, prev);
}

/* ---- Redis ------------------------------------------------------------- */

static size_t digits(long long v)
{
	char b[24];

	return (size_t)snprintf(b, sizeof(b), "%lld", v);
}

/* The bytes of a reply in RESP, as the server sent them. */
static size_t reply_bytes(const redisReply *r)
{
	size_t n = 0;

	switch (r->type) {
	case REDIS_REPLY_INTEGER:
		return 3 + digits(r->integer);
	case REDIS_REPLY_STRING:
		return 5 + digits((long long)r->len) + r->len;
	case REDIS_REPLY_STATUS:
	case REDIS_REPLY_ERROR:
		return 3 + r->len;
	case REDIS_REPLY_NIL:
		return 5;
	case REDIS_REPLY_ARRAY:
		for (size_t i = 0; i < r->elements; i++)
			n += reply_bytes(r->element[i]);
		return n + 3 + digits((long long)r->elements);
	default:
		return 0;
	}
}

static int append(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Queue one command of the pipeline (formatted by hiredis: the counts of
 * commands and bytes are exact). */
static int append(const char *fmt, ...)
{
	char *cmd = NULL;
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = redisvFormatCommand(&cmd, fmt, ap);
	va_end(ap);
	if (len < 0)
		return -ENOMEM;
	if (redisAppendFormattedCommand(F.rc, cmd, (size_t)len) != REDIS_OK) {
		free(cmd);
		return -EIO;
	}
	free(cmd);
	add(&F.commands, 1);
	add(&F.bytes_out, (uint64_t)len);
	return 0;
}

/* The next reply of the pipeline: an integer, or 0 for nil. */
static int reply_int(long long *v)
{
	redisReply *r = NULL;
	int err = 0;

	if (redisGetReply(F.rc, (void **)&r) != REDIS_OK || !r)
		return -EIO;
	add(&F.bytes_in, reply_bytes(r));
	if (r->type == REDIS_REPLY_INTEGER)
		*v = r->integer;
	else if (r->type == REDIS_REPLY_NIL)
		*v = 0;
	else if (r->type == REDIS_REPLY_STRING)
		*v = strtoll(r->str, NULL, 10);
	else if (r->type == REDIS_REPLY_STATUS)
		*v = 0;
	else
		err = -EPROTO;
	if (err)
		pr_debug("fleet: Redis answered %s", r->type == REDIS_REPLY_ERROR ? r->str : "?");
	freeReplyObject(r);
	return err;
}

static int expect_ok(void)
{
	long long v;

	return reply_int(&v);
}

static int redis_connect(void)
{
	struct timeval tv = { 0, FLEET_TIMEOUT_MS * 1000 };
	char password[SLD_SECRET_MAX];
	int err = 0;

	F.rc = redisConnectWithTimeout(F.host, F.port, tv);
	if (!F.rc || F.rc->err)
		return -ECONNREFUSED;
	if (redisSetTimeout(F.rc, tv) != REDIS_OK)
		return -EIO;
	pthread_mutex_lock(&F.d->cfg_lock);
	strcpy(password, F.d->cfg.fleet_password);
	pthread_mutex_unlock(&F.d->cfg_lock);
	if (password[0]) {
		err = append("AUTH %s", password);
		if (!err)
			err = expect_ok();
	}
	memset(password, 0, sizeof(password));
	if (!err && F.db) {
		err = append("SELECT %u", F.db);
		if (!err)
			err = expect_ok();
	}
	return err;
}

static void redis_drop(void)
{
	if (F.rc)
		redisFree(F.rc);
	F.rc = NULL;
}

/* ---- one sync ---------------------------------------------------------- */

static struct tracked *track(struct fleet_svc *s, const struct sl_src_key *k, bool add_it)
{
	for (size_t i = 0; i < s->n_t; i++)
		if (memcmp(&s->t[i].key, k, sizeof(*k)) == 0)
			return &s->t[i];
	if (!add_it || s->n_t == FLEET_TRACK)
		return NULL;
	s->t[s->n_t] = (struct tracked){ .key = *k };
	return &s->t[s->n_t++];
}

/*
 * Which sources we report this sync, and by how much each grew. An
 * increase over more than a window (this thread was kept off the CPU, or
 * Redis was slow) is scaled to one window's worth: the rest belongs to
 * windows already closed, and added to this one it would make a light
 * source look heavy.
 */
static void pick_sources(struct fleet_svc *s, uint32_t quota)
{
	struct fleet_src heavy[FLEET_TRACK], *swap;
	uint64_t min = fleet_min_delta(quota, s->hosts, FLEET_SYNC_MS);
	uint64_t now = now_ms(CLOCK_MONOTONIC), gap = now - s->last_read_ms;
	size_t m;

	m = fleet_heavy(s->cur, s->n_cur, s->prev, s->n_prev, 1, heavy, FLEET_TRACK);
	for (size_t i = 0; i < s->n_t; i++)
		s->t[i].delta = 0;
	for (size_t i = 0; i < m; i++) {
		/* Under the threshold, only a source already reported. */
		struct tracked *t = track(s, &heavy[i].key, heavy[i].delta >= min);

		if (t)
			t->delta = fleet_scale_delta(heavy[i].delta, gap, FLEET_WINDOW_MS);
	}
	s->last_read_ms = now;
	swap = s->prev;
	s->prev = s->cur;
	s->cur = swap;
	s->n_prev = s->n_cur;
}

static void roll_window(struct fleet_svc *s, uint64_t w)
{
	size_t j = 0;

	for (size_t i = 0; i < s->n_t; i++) {
		struct tracked *t = &s->t[i];

		t->sent_prev = w == s->window + 1 ? t->sent_cur : 0;
		t->sent_cur = 0;
		t->total_cur = 0;
		if (t->sent_prev || t->limited || t->delta)
			s->t[j++] = *t;
	}
	s->n_t = j;
}

/*
 * After a (re)connect: the counters grew while nothing was sent (Redis
 * down, or a previous daemon): take them as the baseline, or the first
 * sync would report an outage's worth as one window and limit sources
 * that were never over the rate.
 */
static int rebase(struct fleet_svc *s)
{
	int err = read_seen(s);
	struct fleet_src *swap = s->prev;

	if (err)
		return err;
	s->prev = s->cur;
	s->cur = swap;
	s->n_prev = s->n_cur;
	s->n_t = 0;
	s->window = 0;
	s->last_read_ms = now_ms(CLOCK_MONOTONIC);
	return 0;
}

static int key_of(const struct fleet_svc *s, char *buf, const struct sl_src_key *k, uint64_t w,
		  const char *name)
{
	return fleet_key(buf, FLEET_KEY_MAX, name, s->service, k, w);
}

/* The decision for one source (fleet_decide says how). */
static bool decide(struct tracked *t, uint32_t quota, uint32_t elapsed_ms)
{
	struct fleet_windows w = {
		.mine_prev = t->sent_prev, .total_prev = t->total_prev,
		.mine_cur = t->sent_cur, .total_cur = t->total_cur,
		.elapsed_ms = elapsed_ms, .window_ms = FLEET_WINDOW_MS, .sync_ms = FLEET_SYNC_MS,
	};

	return fleet_decide(&w, quota, &t->lim);
}

static int sync_once(struct fleet_svc *s, const char *name, uint32_t quota)
{
	uint64_t ms = now_ms(CLOCK_REALTIME);
	uint64_t w = ms / FLEET_WINDOW_MS;
	bool new_window = w != s->window;
	char key[FLEET_KEY_MAX];
	long long v, hosts;
	uint32_t limited = 0;
	int err;

	err = read_seen(s);
	if (err) {
		pr_warn("fleet: cannot read %s: %s", SL_MAP_SRC_SEEN, strerror(-err));
		return 0;	/* a map problem, not Redis's: try again next sync */
	}
	pick_sources(s, quota);
	if (new_window) {
		roll_window(s, w);
		s->window = w;
	}

	/* The pipeline. */
	if (new_window) {
		err = append("INCR %s:%s:hosts:%llu", name, s->service,
			     (unsigned long long)w);
		err = err ?: append("EXPIRE %s:%s:hosts:%llu %d", name, s->service,
				    (unsigned long long)w, FLEET_TTL_S);
	}
	err = err ?: append("GET %s:%s:hosts:%llu", name, s->service,
				(unsigned long long)(w - 1));
	for (size_t i = 0; i < s->n_t && !err; i++) {
		struct tracked *t = &s->t[i];

		if (t->delta) {
			/* The key's life starts with the window's first INCRBY;
			 * later ones need not renew it. */
			t->expire = t->sent_cur == 0;
			err = key_of(s, key, &t->key, w, name);
			err = err ?: append("INCRBY %s %llu", key, (unsigned long long)t->delta);
			if (t->expire)
				err = err ?: append("EXPIRE %s %d", key, FLEET_TTL_S);
			t->sent_cur += t->delta;
		}
		err = err ?: key_of(s, key, &t->key, w - 1, name);
		err = err ?: append("GET %s", key);
	}
	/* The replies, in order. */
	if (new_window) {
		err = err ?: reply_int(&v);
		err = err ?: expect_ok();
	}
	err = err ?: reply_int(&hosts);
	for (size_t i = 0; i < s->n_t && !err; i++) {
		struct tracked *t = &s->t[i];

		if (t->delta) {
			err = reply_int(&v);
			if (!err)
				t->total_cur = v > 0 ? (uint64_t)v : 0;
			if (t->expire)
				err = err ?: expect_ok();
		}
		err = err ?: reply_int(&v);
		if (!err)
			t->total_prev = v > 0 ? (uint64_t)v : 0;
	}
	if (err)
		return err;
	s->hosts = hosts > 0 ? (uint32_t)hosts : 1;

	/* The decisions. */
	for (size_t i = 0; i < s->n_t; i++) {
		struct tracked *t = &s->t[i];

		if (decide(t, quota, (uint32_t)(ms % FLEET_WINDOW_MS))) {
			if (set_exception(s, t) == 0) {
				t->limited = true;
				limited++;
			}
		} else if (t->limited) {
			clear_exception(s, t);
		}
	}
	s->limited = limited;
	return 0;
}

/* ---- the thread -------------------------------------------------------- */

/* Sleep ms, or less if asked to stop; true if asked to stop. */
static bool nap(uint32_t ms)
{
	struct timespec until;
	bool stop;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&F.lock);
	while (!F.stop &&
	       pthread_cond_timedwait(&F.wake, &F.lock, &until) != ETIMEDOUT)
		;
	stop = F.stop;
	pthread_mutex_unlock(&F.lock);
	return stop;
}

/*
 * Follow the service's slot: the operator may delete the service and add
 * it again, in another slot (dataplane.c follows it); start afresh there.
 * false while there is no service to share.
 */
static bool follow_slot(struct fleet_svc *s)
{
	uint32_t slot = atomic_load_explicit(&s->dp->slot, memory_order_relaxed);

	if (slot != s->slot) {
		clear_all_exceptions(s);
		s->slot = slot;
		s->n_t = s->n_prev = 0;
		s->window = 0;
		s->last_read_ms = now_ms(CLOCK_MONOTONIC);
	}
	return slot != 0;
}

/* One sync of every service; 0, or the first Redis failure. */
static int sync_all(bool reconnected)
{
	char name[SLD_FLEET_NAME_MAX];
	uint32_t quota, limited = 0;
	int err = 0;

	/* fleet-per-source may change on a reload; the name cannot. */
	pthread_mutex_lock(&F.d->cfg_lock);
	quota = F.d->cfg.fleet_per_source;
	strcpy(name, F.d->cfg.fleet_name);
	pthread_mutex_unlock(&F.d->cfg_lock);
	for (size_t i = 0; i < F.n_svc && !err; i++) {
		struct fleet_svc *s = &F.svc[i];

		if (!follow_slot(s))
			continue;
		if (reconnected)
			err = rebase(s);
		err = err ?: sync_once(s, name, quota);
		limited += s->limited;
	}
	if (!err) {
		atomic_store_explicit(&F.limited, limited, memory_order_relaxed);
		add(&F.syncs, 1);
		atomic_store_explicit(&F.last_sync_ms, now_ms(CLOCK_REALTIME),
				      memory_order_relaxed);
	}
	return err;
}

static void clear_everything(void)
{
	for (size_t i = 0; i < F.n_svc; i++) {
		clear_all_exceptions(&F.svc[i]);
		F.svc[i].limited = 0;
	}
	atomic_store_explicit(&F.limited, 0, memory_order_relaxed);
}

static void *fleet_main(void *arg)
{
	uint32_t backoff = 0;
	uint64_t down_since = 0;
	bool logged_down = false;

	(void)arg;
	clear_everything();
	do {
		uint64_t t0 = now_ms(CLOCK_MONOTONIC), spent;
		bool reconnected = !F.rc;
		int err = 0;

		if (reconnected)
			err = redis_connect();
		err = err ?: sync_all(reconnected);
		if (!err) {
			if (!atomic_load_explicit(&F.connected, memory_order_relaxed)) {
				if (logged_down)
					pr_warn("fleet: Redis at %s:%u answers again after "
						"%.1f s: fleet quotas apply again",
						F.host, F.port, (double)(t0 - down_since) / 1000);
				else
					pr_info("fleet: connected to Redis at %s:%u (db %u) for "
						"%zu service%s", F.host, F.port, F.db, F.n_svc,
						F.n_svc == 1 ? "" : "s");
				atomic_store_explicit(&F.connected, 1, memory_order_relaxed);
			}
			logged_down = false;
			spent = now_ms(CLOCK_MONOTONIC) - t0;
			backoff = spent < FLEET_SYNC_MS ? FLEET_SYNC_MS - (uint32_t)spent : 1;
			continue;
		}
		/* Down, slow or confused: local limits until it answers. */
		add(&F.failures, 1);
		if (!logged_down) {
			pr_warn("fleet: Redis at %s:%u %s: every source is on this host's "
				"local limits until it answers; retrying with backoff",
				F.host, F.port,
				F.rc && F.rc->err ? F.rc->errstr : "does not answer as expected");
			logged_down = true;
			down_since = t0;
			backoff = 0;
		}
		atomic_store_explicit(&F.connected, 0, memory_order_relaxed);
		redis_drop();
		clear_everything();
		backoff = fleet_backoff(backoff, FLEET_BACKOFF_MAX_MS);
	} while (!nap(backoff));
	return NULL;
}

int sld_fleet_start(struct sld *d)
{
	const struct sld_config *c = &d->cfg;
	size_t n = d->n_guards ? d->n_guards : 1;
	pthread_condattr_t ca;
	int err;

	if (!c->fleet[0])
		return 0;
	if (sld_parse_redis_url(c->fleet, F.host, sizeof(F.host), &F.port, &F.db))
		return -EINVAL;	/* checked when the options were read */
	F.svc = calloc(n, sizeof(*F.svc));
	if (!F.svc)
		return -ENOMEM;
	/* The served service, or every guarded one. */
	for (size_t i = 0; i < n; i++) {
		struct fleet_svc *s = &F.svc[F.n_svc];
		struct sld_dataplane *dp = d->n_guards ? &d->guards[i].dp : &d->dp;

		if (!dp->have_pins)
			continue;
		s->dp = dp;
		s->slot = atomic_load_explicit(&dp->slot, memory_order_relaxed);
		snprintf(s->service, sizeof(s->service), "tcp/%u", dp->port);
		F.n_svc++;
	}
	if (!F.n_svc) {
		pr_err("fleet quotas need the data plane: no pinned state in %s "
		       "(give --iface, or attach with sluicectl first)", c->pin_dir);
		free(F.svc);
		F.svc = NULL;
		return -ENOENT;
	}
	F.d = d;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&F.wake, &ca);
	pthread_condattr_destroy(&ca);
	err = pthread_create(&F.thread, NULL, fleet_main, NULL);
	if (err) {
		pr_err("cannot start the fleet thread: %s", strerror(err));
		free(F.svc);
		F.svc = NULL;
		F.n_svc = 0;
		return -err;
	}
	pthread_setname_np(F.thread, "sld-fleet");
	F.running = true;
	return 0;
}

void sld_fleet_stop(void)
{
	if (!F.running)
		return;
	pthread_mutex_lock(&F.lock);
	F.stop = true;
	pthread_cond_signal(&F.wake);
	pthread_mutex_unlock(&F.lock);
	pthread_join(F.thread, NULL);
	F.running = false;
	redis_drop();
	/* A stopped daemon's exceptions lapse with its heartbeat anyway;
	 * removed now, the next daemon starts from local limits. */
	clear_everything();
	for (size_t i = 0; i < F.n_svc; i++) {
		free(F.svc[i].cur);
		free(F.svc[i].prev);
	}
	free(F.svc);
	F.svc = NULL;
	F.n_svc = 0;
}

void sld_fleet_metrics(struct prom_buf *b)
{
	static const struct {
		const char *name, *help;
		enum prom_type type;
	} m[] = {
		{ "sluiced_fleet_connected", "1 while Redis answers; 0: local limits only.",
		  PROM_GAUGE },
		{ "sluiced_fleet_sources_limited",
		  "Source prefixes under a fleet-wide exception on this host.", PROM_GAUGE },
		{ "sluiced_fleet_last_sync_timestamp_seconds",
		  "Wall-clock time of the last sync with Redis.", PROM_GAUGE },
		{ "sluiced_fleet_syncs_total", "Syncs with Redis that succeeded.", PROM_COUNTER },
		{ "sluiced_fleet_failures_total",
		  "Syncs or connections that failed (Redis down, slow or erring).", PROM_COUNTER },
		{ "sluiced_fleet_redis_commands_total", "Commands sent to Redis.", PROM_COUNTER },
		{ "sluiced_fleet_redis_sent_bytes_total", "Bytes of the commands sent to Redis.",
		  PROM_COUNTER },
		{ "sluiced_fleet_redis_received_bytes_total", "Bytes of Redis's replies.",
		  PROM_COUNTER },
	};
	double v[] = {
		atomic_load_explicit(&F.connected, memory_order_relaxed),
		atomic_load_explicit(&F.limited, memory_order_relaxed),
		(double)atomic_load_explicit(&F.last_sync_ms, memory_order_relaxed) / 1000,
		(double)atomic_load_explicit(&F.syncs, memory_order_relaxed),
		(double)atomic_load_explicit(&F.failures, memory_order_relaxed),
		(double)atomic_load_explicit(&F.commands, memory_order_relaxed),
		(double)atomic_load_explicit(&F.bytes_out, memory_order_relaxed),
		(double)atomic_load_explicit(&F.bytes_in, memory_order_relaxed),
	};

	if (!F.running)
		return;
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		prom_family(b, m[i].name, m[i].help, m[i].type);
		prom_sample(b, m[i].name, NULL, 0, v[i]);
	}
}
