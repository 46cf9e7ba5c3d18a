// SPDX-License-Identifier: MIT
/*
 * The proxy's exchange with the upstream, without blocking, on the IO
 * loop that owns the client connection (upstream.h has the API).
 *
 * Why here and not on a thread of its own: the profile of the blocking
 * exchange (a pool worker handing each request to a blocking thread,
 * which handed the answer back to the IO thread through an eventfd) was
 * dominated by the scheduler: three threads and two wake-ups per
 * request on one core. HAProxy and nginx run a connection and its
 * upstream exchange on one thread, and so does this: the request is
 * written to an idle keep-alive connection of the same loop, its answer
 * read when epoll says so, and written back from the same loop, with no
 * hand-off and no lock.
 *
 * Upstream connections stay registered in their loop's epoll while idle
 * (level-triggered), so reuse costs no epoll_ctl; an idle connection
 * that becomes readable was closed by the upstream (or sent what it
 * should not have) and is dropped. A request that fails on a reused
 * connection before any byte of the answer came back is retried once on
 * a new one: the upstream may have closed it as we reused it.
 *
 * A connection is freed only after the epoll batch that closed it
 * (sld_up_reap), since an event for it may still be further on in the
 * batch.
 *
 * Which idle connection a request takes: the one idle the longest, and a
 * connection whose answer just came back goes to the idle list only after
 * the place it freed has started the next request. The upstream may still
 * be busy on the connection it just answered on: Go's net/http, for one,
 * runs the goroutine that wrote the answer on until it reads again, and a
 * request already there is read at once, without the runtime polling the
 * network; a busy runtime polls only when it runs out of work (or every
 * 10 ms, from its monitor thread). Reusing the warmest connection fed that
 * goroutine request after request, while the requests on the other
 * connections waited for a poll: on the Go service's core (one P) they
 * were overtaken by 15-30 later ones and answered 20-30 ms late, the
 * proxy's whole p99 (bench-overload traced: the upstream's share of the
 * slowest 1% was 20-31 ms of their 22-34). Taken in turn, each request
 * lands on a connection whose reader is waiting, and the upstream sees
 * the requests in the order its poll finds them, which is the order they
 * were written.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "conn.h"
#include "log.h"
#include "proxy.h"
#include "rxstamp.h"
#include "sluiced.h"
#include "upstream.h"

#define IDLE_MAX 64		/* idle upstream connections kept per loop */

struct sld_upconn {
	uint8_t ev_kind;	/* SLD_EV_UPSTREAM: first, it tags epoll events */
	bool connecting;	/* connect() in progress */
	bool reused;		/* taken from the idle list for this exchange */
	bool got_bytes;		/* some of the answer came back */
	bool dead;		/* closed; freed by sld_up_reap */
	int fd;
	uint32_t events;	/* registered with epoll */
	uint64_t gen;		/* sld_proxy_gen() when connected */
	struct sld_uplink *u;
	struct sld_upconn *next;	/* idle or dead list */
	struct conn *c;		/* the exchange; NULL when idle */
	uint64_t t0;		/* request written from here */
	uint64_t rx_age_ns;	/* the answer's first bytes waited in the
				 * kernel this long before the loop read them */
	struct http_buf req;
	size_t req_off;
	struct sld_up_resp r;
	size_t have;		/* bytes of a head that came in part, in part */
	char *part;		/* SLD_UP_READ_CHUNK bytes; NULL while the loop's
				 * own buffer will do (nothing held) */
};

/* Upstream connections open (a gauge for the metrics: the fds they hold
 * come and go with the idle pool, not with a leak). */
static _Atomic unsigned n_open;

unsigned sld_up_open(void)
{
	return atomic_load_explicit(&n_open, memory_order_relaxed);
}

void sld_up_loop_init(struct sld_uplink *u, int ep)
{
	memset(u, 0, sizeof(*u));
	u->ep = ep;
}

static void reset_exchange(struct sld_upconn *x)
{
	http_buf_free(&x->req);
	x->req_off = 0;
	sld_up_resp_free(&x->r);
	free(x->part);
	x->part = NULL;
	x->have = 0;
	x->c = NULL;
	x->got_bytes = false;
	x->rx_age_ns = 0;
}

static void drop(struct sld_upconn *x)
{
	reset_exchange(x);
	close(x->fd);	/* also takes it out of the epoll */
	atomic_fetch_sub_explicit(&n_open, 1, memory_order_relaxed);
	x->fd = -1;
	x->dead = true;
	x->next = x->u->dead;
	x->u->dead = x;
}

void sld_up_reap(struct sld_uplink *u)
{
	while (u->dead) {
		struct sld_upconn *x = u->dead;

		u->dead = x->next;
		free(x);
	}
}

/* The idle list, FIFO: append at the end, take from the front. */
static void idle_append(struct sld_uplink *u, struct sld_upconn *x)
{
	x->next = NULL;
	if (u->idle_last)
		u->idle_last->next = x;
	else
		u->idle = x;
	u->idle_last = x;
	u->n_idle++;
}

static struct sld_upconn *idle_take(struct sld_uplink *u)
{
	struct sld_upconn *x = u->idle;

	if (x) {
		u->idle = x->next;
		if (!u->idle)
			u->idle_last = NULL;
		u->n_idle--;
	}
	return x;
}

/* x out of the idle list, if it is there. */
static void idle_remove(struct sld_uplink *u, struct sld_upconn *x)
{
	struct sld_upconn **pp = &u->idle, *prev = NULL;

	while (*pp && *pp != x) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = x->next;
	if (u->idle_last == x)
		u->idle_last = prev;
	u->n_idle--;
}

void sld_up_loop_fini(struct sld_uplink *u)
{
	struct sld_upconn *x;

	while ((x = idle_take(u)))
		drop(x);
	sld_up_reap(u);
	free(u->bufs);
	u->bufs = NULL;
}

static int watch(struct sld_upconn *x, uint32_t events)
{
	struct epoll_event e = { .events = events | EPOLLRDHUP, .data.ptr = x };
	int op = x->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	if (x->events == events)
		return 0;
	if (epoll_ctl(x->u->ep, op, x->fd, &e) < 0)
		return -errno;
	x->events = events;
	return 0;
}

/* A new connection, connecting. */
static struct sld_upconn *open_new(struct sld_uplink *u, int *err)
{
	struct sld_up_target t;
	struct sld_upconn *x;
	int one = 1;

	sld_proxy_target(&t);
	*err = -EHOSTUNREACH;
	for (unsigned i = 0; i < t.n_addr; i++) {
		int fd = socket(t.addr[i].ss_family,
				SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			*err = -errno;
			return NULL;
		}
		if (connect(fd, (struct sockaddr *)&t.addr[i], t.addrlen[i]) < 0 &&
		    errno != EINPROGRESS) {
			*err = -errno;
			close(fd);
			continue;	/* the next address */
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		sld_rxstamp_enable(fd);	/* without it, the round trip has the loop's delay */
		x = calloc(1, sizeof(*x));
		if (!x) {
			close(fd);
			*err = -ENOMEM;
			return NULL;
		}
		atomic_fetch_add_explicit(&n_open, 1, memory_order_relaxed);
		x->ev_kind = SLD_EV_UPSTREAM;
		x->fd = fd;
		x->u = u;
		x->gen = t.gen;
		x->connecting = true;
		*err = watch(x, EPOLLOUT);
		if (*err) {
			drop(x);
			return NULL;
		}
		return x;
	}
	return NULL;
}

/* The longest idle connection of the current upstream, or a new one. */
static struct sld_upconn *acquire(struct sld_uplink *u, bool fresh, int *err)
{
	uint64_t gen = sld_proxy_gen();
	struct sld_upconn *x;

	while (!fresh && (x = idle_take(u))) {
		if (x->gen == gen) {
			x->reused = true;
			return x;
		}
		drop(x);	/* to an upstream a reload replaced */
	}
	return open_new(u, err);
}

static void release(struct sld_upconn *x)
{
	struct sld_uplink *u = x->u;

	reset_exchange(x);
	if (u->n_idle >= IDLE_MAX || watch(x, EPOLLIN)) {
		drop(x);
		return;
	}
	x->reused = false;
	idle_append(u, x);
}

/* c's exchange is over: its response is set; hand it to the loop and
 * give the place in flight back. */
static void finish(struct conn *c, uint64_t rtt)
{
	bool alone = c->up_alone;

	c->upc = NULL;
	sld_loop_respond(c);	/* c may be closed from here on */
	sld_upq_done(rtt, alone);
}

static void fail(struct sld_upconn *x, int err);

static void send_more(struct sld_upconn *x)
{
	while (x->req_off < x->req.len) {
		ssize_t n = send(x->fd, x->req.p + x->req_off, x->req.len - x->req_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			x->req_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int err = watch(x, EPOLLIN | EPOLLOUT);

			if (err)
				fail(x, err);
			return;
		}
		fail(x, n < 0 && errno != EPIPE ? -errno : -EPIPE);
		return;
	}
	if (watch(x, EPOLLIN))
		fail(x, -EIO);
}

/* Begin on x: the request is built into x->req. */
static void begin(struct sld_upconn *x, struct conn *c)
{
	x->c = c;
	c->upc = x;
	x->t0 = sld_now_ns();
	sld_up_resp_init(&x->r, c);
	if (!x->u->bufs && !(x->u->bufs = malloc(2 * SLD_UP_READ_CHUNK))) {
		fail(x, -ENOMEM);
		return;
	}
	if (!x->connecting)
		send_more(x);
}

static void start(struct sld_uplink *u, struct conn *c, bool fresh)
{
	struct sld_upconn *x;
	int err;

	x = acquire(u, fresh, &err);
	if (!x) {
		atomic_fetch_add_explicit(&c->d->c.upstream_errors, 1, memory_order_relaxed);
		pr_debug("upstream: %s", strerror(-err));
		sld_proxy_error(c, 502);
		finish(c, 0);
		return;
	}
	x->req = HTTP_BUF_INIT(SIZE_MAX);
	err = sld_proxy_request(c, &x->req);
	if (err) {
		x->c = c;	/* fail() answers c and drops x */
		c->upc = x;
		fail(x, err);
		return;
	}
	begin(x, c);
}

void sld_up_start(struct sld_uplink *u, struct conn *c)
{
	c->state = CS_UPSTREAM;
	c->up_retried = false;
	c->timer_ns = sld_now_ns() + (uint64_t)sld_proxy_timeout_s() * 1000000000ull;
	start(u, c, false);
}

static void fail(struct sld_upconn *x, int err)
{
	struct conn *c = x->c;

	/* Retry, once, only what the upstream cannot have acted on (proxy.c):
	 * nothing of the answer came back, and nothing of the request went
	 * out, or it is idempotent and went out on a reused connection. */
	if (!c->up_retried && err != -ETIMEDOUT && !x->got_bytes &&
	    (x->req_off == 0 || (x->reused && sld_proxy_idempotent(c->parser.req.method)))) {
		struct sld_uplink *u = x->u;
		struct http_buf req = x->req;

		pr_debug("upstream: %s on a %s connection; retrying on a new one",
			 strerror(-err), x->reused ? "reused" : "new");
		x->req = HTTP_BUF_INIT(SIZE_MAX);	/* moves to the new connection */
		drop(x);
		c->up_retried = true;
		x = acquire(u, true, &err);
		if (x) {
			x->req = req;
			begin(x, c);
			return;
		}
		http_buf_free(&req);
	} else {
		drop(x);
	}
	atomic_fetch_add_explicit(&c->d->c.upstream_errors, 1, memory_order_relaxed);
	pr_debug("upstream: %s", strerror(-err));
	sld_proxy_error(c, err == -ETIMEDOUT ? 504 : 502);
	finish(c, 0);
}

static void complete(struct sld_upconn *x)
{
	struct conn *c = x->c;
	struct sld *d = c->d;
	uint64_t rtt = sld_now_ns() - x->t0;

	rtt = rtt > x->rx_age_ns ? rtt - x->rx_age_ns : 1;

	atomic_fetch_add_explicit(&d->c.upstream_requests, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&d->c.upstream_lat_ns, rtt, memory_order_relaxed);
	bool reusable = sld_up_resp_reusable(&x->r);

	/* Past the held-response budget it is a 503, not an upstream error. */
	if (sld_proxy_answer(c, &x->r) == 0)
		atomic_fetch_add_explicit(&d->c.worked, 1, memory_order_relaxed);
	if (!reusable) {
		drop(x);
		finish(c, rtt);
		return;
	}
	/* Idle again only once the place has started the next request:
	 * that one goes to another connection (see the top). */
	x->c = NULL;
	finish(c, rtt);
	release(x);
}

static void on_connected(struct sld_upconn *x)
{
	int err = 0;
	socklen_t el = sizeof(err);

	if (getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
		err = errno;
	if (err) {
		fail(x, -err);
		return;
	}
	x->connecting = false;
	send_more(x);
}

static void on_readable(struct sld_upconn *x)
{
	size_t room = SLD_UP_READ_CHUNK;
	char *scratch = x->u->bufs + SLD_UP_READ_CHUNK;

	for (;;) {
		char *raw = x->part ? x->part : x->u->bufs;
		ssize_t n;
		int rc;

		/* The answer's first read is stamped: the round trip is the
		 * upstream's, without the time the answer waited for this
		 * loop (which is busy with other connections, or off the
		 * CPU), or the limit would take the proxy's own delay for a
		 * queue inside the upstream. */
		if (!x->got_bytes)
			n = sld_recv_stamped(x->fd, raw + x->have, room - x->have,
					     &x->rx_age_ns);
		else
			n = recv(x->fd, raw + x->have, room - x->have, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			fail(x, -errno);
			return;
		}
		if (n > 0)
			x->got_bytes = true;
		x->have += (size_t)n;
		rc = sld_up_resp_feed(&x->r, raw, &x->have, n == 0, scratch);
		if (rc == 0) {
			complete(x);
			return;
		}
		if (rc != -EAGAIN) {
			fail(x, rc);
			return;
		}
		if (x->have && !x->part) {
			/* A head come in part: the loop's buffer is the next
			 * exchange's, so it moves to one of its own. */
			x->part = malloc(SLD_UP_READ_CHUNK);
			if (!x->part) {
				fail(x, -ENOMEM);
				return;
			}
			memcpy(x->part, raw, x->have);
		}
	}
}

void sld_up_event(void *p, uint32_t events)
{
	struct sld_upconn *x = p;

	if (x->dead)
		return;
	if (!x->c) {
		/* Idle: the upstream closed it, or sent what it should not. */
		idle_remove(x->u, x);
		drop(x);
		return;
	}
	if (x->connecting) {
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			on_connected(x);
		return;
	}
	if ((events & EPOLLOUT) && x->req_off < x->req.len) {
		send_more(x);
		if (x->dead || !x->c)
			return;
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		on_readable(x);
}

void sld_up_expire(struct conn *c)
{
	struct sld_upconn *x = c->upc;

	c->up_retried = true;	/* no second try after a timeout */
	fail(x, -ETIMEDOUT);
}
