// SPDX-License-Identifier: MIT
/*
 * The IO loops: one epoll loop per pool worker, run by that worker between
 * its tasks (the pool's driver, pool.h). A loop accepts, reads and parses
 * requests, hands each complete request to the pool as a task, and takes
 * the connection back when the task has answered (keep-alive or close). A
 * connection lives on the loop that accepted it until it closes, as in
 * nginx and HAProxy, so no single thread caps the daemon's IO.
 *
 * Why on the workers: with a thread of its own per loop, each request
 * crossed threads twice (the loop submitted it, a worker ran it and handed
 * the connection back through an eventfd), and on a busy core the
 * scheduler's switches between the two cost more CPU per request than the
 * request itself. Now a request the loop submits into an otherwise idle
 * pool is run next by the same thread, and its task hands the connection
 * back by a plain call; a task another worker takes (the pool balancing
 * its load) still hands back through the loop's completion stack. The
 * pool is still where requests run and where their queueing delay is
 * measured; the main thread only waits for signals.
 *
 * Sockets are registered once, edge-triggered, for reading and writing:
 * no epoll_ctl per request. An event for a connection that is away (its
 * request in a task or in the upstream queue) or busy with its upstream
 * exchange is remembered (ev_pending) and its socket read when the
 * response is out; a write always tries first and waits for an edge only
 * after EAGAIN.
 *
 * The loops share one listening socket, registered in each epoll with
 * EPOLLEXCLUSIVE (one loop woken per arrival, not all) rather than one
 * SO_REUSEPORT socket per loop: one accept queue keeps the controller's
 * backlog signal in one place and never strands a connection behind a
 * loop that is busy while another idles, as a hash over per-loop queues
 * would.
 *
 * The fast path lives at its two doors: on accept (the kernel's shed mark,
 * the pool at its bound) and at dispatch (the pool refuses the task).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <poll.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "conn.h"
#include "http_response.h"
#include "log.h"
#include "memory.h"
#include "rxstamp.h"
#include "sluiced.h"
#include "upstream.h"

#define ACCEPT_BATCH 64
#define SCAN_NS 100000000ull	/* timeouts are checked every 100 ms */
#define LINGER_NS 2000000000ull	/* a shed connection is read until EOF this long */
#define LINGER_BYTES (1u << 20)	/* and for this many bytes at most */

/*
 * Connection memory. A closed connection's struct and head buffer (7 KiB)
 * go to its loop's cache for the next accept, up to CONN_CACHE of them:
 * a loop's turnover at a steady load is served from there, without a
 * malloc. Past that (a burst, or a stall that let the accept queue pile
 * up) they are freed, and once the loop holds few connections again it
 * hands what it freed back to the system (sld_memory_release: glibc
 * would keep it in its heap for reuse; and the daemon has one heap, as a
 * worker thread's own arena never gave back its free end: memory.c).
 * When it falls idle (a timeout of its wait with
 * nothing to do) after closing connections it frees its cache too, and
 * gives that back with what requests and exchanges freed at new places
 * in the heap. So the daemon's RSS follows what it holds, not the
 * largest burst it has seen: kept, each new peak was a step up in RSS
 * that never came down (make soak: +24% at one stall, serving).
 */
#define CONN_CACHE 64
#define TRIM_FREED_BYTES (256u << 10)	/* at least this much freed */
#define TRIM_MIN_NS 1000000000ull	/* and at most a trim a second per loop
					 * under load (idle, at most one a wait) */

/* epoll data for the two fds that are neither a connection nor an
 * upstream connection: what they point at says what they are */
static uint8_t tag_listen = SLD_EV_LISTEN, tag_done = SLD_EV_DONE;

/* One IO loop. Only its worker's thread touches it, but for the
 * completion stack, which other threads push onto. */
struct server {
	struct sld *d;
	unsigned id;
	int ep;
	struct conn head;	/* open connections, a circular list */
	struct conn *closed;	/* closed since the last epoll batch ended (linked by next) */
	struct conn *free;	/* closed conns kept for reuse (linked by next) */
	unsigned n_free;	/* at most CONN_CACHE */
	unsigned n_open;	/* conns in head's list */
	size_t freed;		/* bytes of conns freed since the last trim */
	bool closed_any;	/* a conn closed since the last trim */
	uint64_t trim_ns;	/* the last trim */
	bool started;		/* serving (sld_server_run said go) */
	bool listening;		/* listen fd registered */
	bool draining;
	bool finished;		/* drained: its connections are closed */
	bool in_poll;		/* inside loop_poll (not a task's call) */
	uint64_t next_scan_ns, drain_until_ns;
	bool paused;		/* accepting paused after EMFILE and the like */
	bool pause_logged;
	/* completion hand-back: other threads push, this loop pops */
	_Atomic(struct conn *) done;
	int done_efd;
	struct sld_uplink up;	/* the proxy's upstream connections */
	/* Its worker's heartbeat, for the controller (sld_server_starved_ns):
	 * when it last ran its loop (at least every POLL_NS of the pool
	 * while it works, pool.c), and whether it waits for work now. */
	_Atomic uint64_t beat_ns;
	_Atomic bool waiting;
};

/* The loop this thread runs, if any (a worker's, once it has polled). */
static __thread struct server *self_loop;

/* All the loops, and how many still have the listener registered: the
 * last one to let go closes it (a loop must not remove from its epoll an
 * fd another has closed, whose number may be taken again by then). */
static struct {
	struct server *loops;
	unsigned n;
	struct pool_driver driver;
	_Atomic unsigned listening;
	_Atomic bool go;	/* sld_server_run: start serving */
	/* The main thread sees the signal handler's stop flag and passes it
	 * on here: the loops do not read a flag a handler writes. */
	_Atomic bool stop;
	_Atomic int err;	/* a loop's failure, which stops them all */
	pthread_mutex_t fin_lock;	/* the loops that finished, for main */
	pthread_cond_t fin_cond;
	unsigned finished;
	pthread_mutex_t rate_lock;	/* the GCRA below, shared by the loops */
	uint64_t tat_ns;	/* no data plane: GCRA on the controller's rate */
	uint32_t user_rate;	/* the rate tat_ns was built at */
} L = { .rate_lock = PTHREAD_MUTEX_INITIALIZER, .fin_lock = PTHREAD_MUTEX_INITIALIZER,
	.fin_cond = PTHREAD_COND_INITIALIZER };

#define USER_BURST 4		/* as the service entry the daemon creates */
#define USER_TOL_MIN_NS 20000000ull	/* accepts come in batches of a wakeup */

/*
 * Without a data plane (no pins: nothing attached, or no BPF here) the
 * controller's rate is enforced at accept, with the same GCRA the kernel
 * runs: the excess costs an accept and a 503 instead of nothing, but is
 * still never queued. The tolerance is at least 20 ms because accept()
 * sees arrivals in the batches of the IO loops' wakeups, not spaced as
 * the SYNs were. On a raise, how far ahead the tat is gets rescaled to
 * the new interval, as dataplane.c does for the kernel's bucket.
 */
static bool over_user_rate(struct server *s, uint64_t now)
{
	uint32_t rate = atomic_load_explicit(&s->d->view.rate_cap, memory_order_relaxed);
	uint64_t interval, tol, next;
	bool over = false;

	if (sld_dataplane_claimed(&s->d->dp) || rate == 0)
		return false;
	/* Only while the controller is engaged (an overloaded tick within
	 * the last second). In the kernel the cap costs nothing and its
	 * no-wind-up bound stops a surge before it queues; here each refusal
	 * costs an accept and a write anyway, and after a quiet spell the
	 * rate sits at its floor, so enforcing it on an idle service would
	 * refuse the first burst of a fresh start. A surge while unengaged
	 * queues for a tick, and the deadline answers what waited too long. */
	if (now >= atomic_load_explicit(&s->d->view.engaged_until_ns, memory_order_relaxed))
		return false;
	/* And only while the queue stands (standing.h): an overloaded tick
	 * alone may be a stall of a busy host (a worker descheduled past the
	 * target), and a load the service keeps up with must not have its
	 * connections refused. With keep-alive clients the rate, in
	 * connections, is a trickle: wrk's 64 connections, reopened after a
	 * stall's tick, met it and got 503s (bench-proxy); and held for a
	 * second after a drop, it refused every reconnection of the clients
	 * whose requests the drop had answered 503 (test_fastpath's closed
	 * loop on a loaded machine: 22 drops, 908 refusals). */
	if (!standing_now(&s->d->standing, now,
			  atomic_load_explicit(&s->d->standing_interval_ns, memory_order_relaxed)))
		return false;
	interval = 1000000000ull / rate;
	tol = interval * USER_BURST;
	if (tol < USER_TOL_MIN_NS)
		tol = USER_TOL_MIN_NS;
	pthread_mutex_lock(&L.rate_lock);
	if (rate > L.user_rate && L.user_rate && L.tat_ns > now)
		L.tat_ns = now + (L.tat_ns - now) / rate * L.user_rate;
	L.user_rate = rate;
	next = (L.tat_ns > now ? L.tat_ns : now) + interval;
	if (next - now > tol)
		over = true;
	else
		L.tat_ns = next;
	pthread_mutex_unlock(&L.rate_lock);
	return over;
}

static uint64_t secs(uint32_t s)
{
	return (uint64_t)s * 1000000000ull;
}

static uint32_t cfg_u32(struct sld *d, const uint32_t *field)
{
	uint32_t v;

	pthread_mutex_lock(&d->cfg_lock);
	v = *field;
	pthread_mutex_unlock(&d->cfg_lock);
	return v;
}

int sld_server_bind(struct sld *d)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = -1, one = 1, err;

	err = sld_listen_addr(d->cfg.listen, &ss, &len);
	if (err) {
		pr_err("listen %s: expected HOST:PORT", d->cfg.listen);
		return err;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		pr_err("socket: %s", strerror(errno));
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		err = -errno;
		pr_err("cannot bind %s: %s", d->cfg.listen, strerror(errno));
		goto out;
	}
	d->listen_fd = fd;
	d->dp.port = ntohs(ss.ss_family == AF_INET6 ?
			   ((struct sockaddr_in6 *)&ss)->sin6_port :
			   ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
out:
	if (fd >= 0)
		close(fd);
	return err;
}

int sld_server_listen(struct sld *d)
{
	/* The kernel's accept queue is a queue the controller watches
	 * (sld_accept_backlog); SOMAXCONN caps it (net.core.somaxconn). */
	if (listen(d->listen_fd, 4096) < 0) {
		int err = -errno;

		pr_err("cannot listen on %s: %s", d->cfg.listen, strerror(errno));
		return err;
	}
	pr_info("serving HTTP on %s", d->cfg.listen);
	return 0;
}

/* Once per connection, after its first read (so that what that read took
 * does not come back as an event): edge-triggered, for good. A failure
 * (out of memory in the kernel) leaves it unwatched: its timeout closes
 * it. */
static void watch(struct server *s, struct conn *c)
{
	struct epoll_event e = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
				 .data.ptr = c };

	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, c->fd, &e) < 0)
		pr_warn("epoll_ctl(ADD, fd %d): %s", c->fd, strerror(errno));
}

static void listen_on(struct server *s, bool on)
{
	struct epoll_event e = { .events = EPOLLIN | EPOLLEXCLUSIVE,
				 .data.ptr = &tag_listen };

	if (on == s->listening || s->d->listen_fd < 0)
		return;
	if (epoll_ctl(s->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, s->d->listen_fd,
		      &e) < 0)
		pr_warn("epoll_ctl(listen): %s", strerror(errno));
	s->listening = on;
}

static struct conn *conn_get(struct server *s)
{
	struct conn *c = s->free;

	if (c) {
		s->free = c->next;
		s->n_free--;
	} else {
		c = malloc(sizeof(*c));
		if (!c)
			return NULL;
		c->in = malloc(SLD_IN_INITIAL);
		if (!c->in) {
			free(c);
			return NULL;
		}
		c->in_cap = SLD_IN_INITIAL;
	}
	/* Only the header fields: the buffers are overwritten before use. */
	memset(c, 0, offsetof(struct conn, parser));
	c->body = NULL;
	c->body_len = c->body_need = 0;	/* a reused conn kept its last values */
	c->in_len = 0;
	c->out = c->out_inline;
	c->out_len = c->out_off = 0;
	c->out_held = 0;
	c->d = s->d;
	c->loop = s;
	return c;
}

int sld_resp_hold(struct sld *d, struct conn *c, uint64_t n)
{
	uint64_t held = atomic_fetch_add_explicit(&d->resp_held, n, memory_order_relaxed);

	if (held + n > d->resp_budget) {
		atomic_fetch_sub_explicit(&d->resp_held, n, memory_order_relaxed);
		return -ENOBUFS;
	}
	c->out_held = n;
	return 0;
}

static void conn_reset_out(struct conn *c)
{
	if (c->out_held) {
		atomic_fetch_sub_explicit(&c->d->resp_held, c->out_held, memory_order_relaxed);
		c->out_held = 0;
	}
	if (c->out != c->out_inline)
		free(c->out);
	c->out = c->out_inline;
	c->out_len = c->out_off = 0;
	c->status = 0;
}

static void conn_free(struct conn *c)
{
	free(c->in);
	free(c);
}

/* After an epoll batch: the conns it closed go to the cache, or are
 * freed past it. */
static void conns_release(struct server *s)
{
	while (s->closed) {
		struct conn *c = s->closed;

		s->closed = c->next;
		if (s->n_free < CONN_CACHE) {
			c->next = s->free;
			s->free = c;
			s->n_free++;
		} else {
			s->freed += sizeof(*c) + c->in_cap;
			conn_free(c);
		}
	}
}

/* Free the loop's cache of closed connections. */
static void cache_drop(struct server *s)
{
	while (s->free) {
		struct conn *c = s->free;

		s->free = c->next;
		conn_free(c);
	}
	s->n_free = 0;
}

static void conn_close(struct server *s, struct conn *c)
{
	if (c->status > 0)	/* a response set and never finished */
		atomic_fetch_add_explicit(&s->d->c.unsent, 1, memory_order_relaxed);
	close(c->fd);
	c->prev->next = c->next;
	c->next->prev = c->prev;
	s->n_open--;
	s->closed_any = true;
	free(c->body);
	c->body = NULL;
	conn_reset_out(c);
	c->state = CS_FREE;
	/* Not reused or freed before the epoll batch is over: an event for
	 * it may still be further on in the batch (EPOLLRDHUP or an error,
	 * reported while a task owned it), and must find a closed conn. */
	c->next = s->closed;
	s->closed = c;
	atomic_fetch_sub_explicit(&s->d->open_conns, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->d->c.closed, 1, memory_order_relaxed);
	if (!s->draining && !s->paused &&
	    atomic_load_explicit(&s->d->open_conns, memory_order_relaxed) <
		    atomic_load_explicit(&s->d->max_connections, memory_order_relaxed))
		listen_on(s, true);
}

void sld_conn_set_out_inline(struct conn *c, int len, int status, bool close)
{
	c->out = c->out_inline;
	c->out_len = len > 0 ? (size_t)len : 0;
	c->out_off = 0;
	c->status = status;
	c->close_after |= close;
}

void sld_conn_set_out_heap(struct conn *c, char *buf, size_t len, int status,
			   bool close)
{
	if (c->out != c->out_inline)
		free(c->out);
	c->out = buf;
	c->out_len = len;
	c->out_off = 0;
	c->status = status;
	c->close_after |= close;
}

void sld_conn_try_write(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		/* The client went away: nothing more to write. */
		if (c->status > 0)
			atomic_fetch_add_explicit(&c->d->c.unsent, 1, memory_order_relaxed);
		c->out_off = c->out_len;
		c->close_after = true;
		c->status = -1;
		return;
	}
}

void sld_response_finished(struct sld *d, struct conn *c)
{
	if (c->status > 0) {
		sld_count_status(d, c->status);
		if (c->head_ns)
			sld_count_latency(d, sld_now_ns() - c->head_ns);
	}
	c->status = 0;
}

static void wake(struct server *s)
{
	uint64_t one = 1;

	if (write(s->done_efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_warn("eventfd write: %s", strerror(errno));
}

/* c goes back to its loop through the completion stack (from another
 * thread, or from inside the loop's own poll, where taking it back at
 * once would re-enter what the loop is in the middle of). */
static void hand_back(struct server *s, struct conn *c)
{
	struct conn *old = atomic_load_explicit(&s->done, memory_order_relaxed);

	/* Release: the loop that pops c sees everything the task wrote into
	 * it. */
	do {
		c->done_next = old;
	} while (!atomic_compare_exchange_weak_explicit(&s->done, &old, c,
							memory_order_release,
							memory_order_relaxed));
	/* Only the push onto an empty stack wakes the loop: it reads the
	 * eventfd before taking the stack, so later pushes are seen too. */
	if (!old)
		wake(s);
}

/* On c's loop: c is back from its task or its wait upstream. */
static void take_back(struct conn *c)
{
	c->away = false;
	if (c->state == CS_UPSTART)
		sld_up_start(&c->loop->up, c);
	else
		sld_loop_respond(c);
}

void sld_conn_done(struct sld *d, struct conn *c)
{
	struct server *s = c->loop;

	(void)d;
	/* A task on the loop's own worker, between two polls: the loop is
	 * not in the middle of anything, take c back now. */
	if (s == self_loop && !s->in_poll && !s->finished)
		take_back(c);
	else
		hand_back(s, c);
}

/* Answer from the IO loop (fast path, parse errors, timeouts), then close
 * gracefully: shut down for writing and read until EOF, so that the
 * client's unread request does not turn our close into a RST that could
 * overtake the answer. */
static void conn_close(struct server *s, struct conn *c);

/* Reads and discards what the client sent; true if it is all read (the
 * socket had nothing more for now). */
static bool discard_input(int fd)
{
	static char sink[4096];
	ssize_t n;

	do {
		n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
	} while (n == (ssize_t)sizeof(sink));
	return n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK;
}

/* whole: the client's request is read in full and nothing more is on its
 * way. Then, cheapest (the fast path at 10x runs this for every shed
 * connection), a plain close sends a FIN after the answer, and there is
 * nothing to linger for. Otherwise (413, 408 in a body, a bad chunk, a
 * 503 at accept to a request with a body) the socket being empty now does
 * not mean the client is done, and a close with its next bytes unread
 * becomes a reset that can destroy the answer in flight: shut down the
 * write side and read until EOF, bounded in time and bytes. */
static void answer_and_linger(struct server *s, struct conn *c, int len, int status,
			      bool whole)
{
	bool clean = whole;

	sld_conn_set_out_inline(c, len, status, true);
	sld_conn_try_write(c);
	sld_response_finished(s->d, c);
	if (clean && c->out_off == c->out_len) {
		conn_close(s, c);
		return;
	}
	shutdown(c->fd, SHUT_WR);
	c->state = CS_LINGER;
	c->discarded = 0;
	c->timer_ns = sld_now_ns() + LINGER_NS;
}

static bool read_whole_request(struct conn *c);

static void fast_shed(struct server *s, struct conn *c, enum sld_fast why)
{
	/* At accept no request was read yet: count it as one, answered. */
	bool at_accept = c->state == CS_READ && !c->has_bytes && c->in_len == 0;

	if (at_accept)
		atomic_fetch_add_explicit(&s->d->c.requests, 1, memory_order_relaxed);
	int n = sld_fast_answer(c->out_inline, sizeof(c->out_inline), s->d, why, false);

	/* Later (dispatch) the request and its body were read whole. */
	answer_and_linger(s, c, n, 503, at_accept ? read_whole_request(c) : discard_input(c->fd));
}

static void error_answer(struct server *s, struct conn *c, int status)
{
	struct http_response r = { .status = status, .close = true,
				   .content_type = "text/plain" };
	char body[64];
	int n;

	snprintf(body, sizeof(body), "%d %s\n", status, http_reason(status));
	n = http_write_simple(c->out_inline, sizeof(c->out_inline), &r, body);
	discard_input(c->fd);
	answer_and_linger(s, c, n, status, false);
}

/* fresh: a new connection, which gets the header timeout from the
 * start (nginx's client_header_timeout), not the keep-alive idle one. */
static void new_request(struct server *s, struct conn *c, bool fresh)
{
	struct sld *d = s->d;
	uint32_t line = atomic_load_explicit(&d->max_header_line, memory_order_relaxed);
	struct http_limits lim = {
		.max_head = atomic_load_explicit(&d->max_header_size, memory_order_relaxed),
		.max_target = line,
		.max_line = line,
		.max_headers = HTTP_DEFAULT_MAX_HEADERS,
		.max_body = SLD_MAX_BODY,
	};

	http_parser_init(&c->parser, &lim);
	c->state = CS_READ;
	c->has_bytes = c->in_len > 0;
	c->head_ns = 0;
	c->kernel_wait_ns = 0;	/* a pipelined request did not wait there */
	c->req_start_ns = sld_now_ns();
	c->timer_ns = c->req_start_ns +
		      secs(c->has_bytes || fresh ? cfg_u32(d, &d->cfg.header_timeout_s)
						 : cfg_u32(d, &d->cfg.idle_timeout_s));
}

/* The head buffer is full: double it, up to the head's limit (+1 byte,
 * so the parser sees that a head is too large). false: at the limit. */
static bool grow_in(struct conn *c)
{
	uint32_t max = c->parser.limits.max_head + 1, cap = c->in_cap * 2;
	char *p;

	if (c->in_cap >= max)
		return false;
	if (cap > max)
		cap = max;
	p = realloc(c->in, cap);
	if (!p)
		return false;	/* answered 431 as if at the limit */
	c->in = p;
	c->in_cap = cap;
	return true;
}

/*
 * The blind spot: how long the first bytes of a request waited in the
 * kernel (in the accept queue, then in the socket's buffer) before this
 * loop read them, while sluiced's threads waited for the CPU or were busy
 * elsewhere. No queue of ours sees that wait, yet the request pays it.
 * The kernel stamps each packet on arrival (rxstamp.c; set on the
 * listener and inherited by every accepted socket): the stamp of the
 * first read of a request against the clock now is the wait, at the cost
 * of a recvmsg in place of a recv and a vDSO clock read per request.
 * Measured from the first bytes, not from the whole head, so a client
 * that sends its head slowly is not taken for a queue.
 *
 * It counts in the controller's delay signal (controlloop.c, and the
 * upstream queue's wait, upqueue.c), so the daemon sheds earlier when it
 * is late to read what arrived. It does not count against a request's
 * deadline: that bounds the wait sluiced adds once it holds a request,
 * and a busy host's scheduling delay alone (a few ms to wake a loop)
 * must not turn into 503s for requests sluiced then serves at once.
 */
static ssize_t recv_first(struct conn *c, char *dst, size_t room)
{
	return sld_recv_stamped(c->fd, dst, room, &c->kernel_wait_ns);
}

/* The tick's smallest kernel wait; the controller takes it each tick. */
static void note_kernel_wait(struct sld *d, uint64_t w)
{
	uint64_t min = atomic_load_explicit(&d->kernel_wait_min_ns, memory_order_relaxed);

	while (w < min &&
	       !atomic_compare_exchange_weak_explicit(&d->kernel_wait_min_ns, &min, w,
						      memory_order_relaxed,
						      memory_order_relaxed))
		;
}

static void dispatch(struct server *s, struct conn *c)
{
	struct sld *d = s->d;
	int err;

	atomic_fetch_add_explicit(&d->c.requests, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&d->c.dispatched, 1, memory_order_relaxed);
	note_kernel_wait(d, c->kernel_wait_ns);
	if (s->draining) {
		fast_shed(s, c, SLD_FAST_draining);
		return;
	}
	if (c->parser.req.keep_alive == false)
		c->close_after = true;
	c->state = CS_TASK;
	c->away = true;
	if (d->proxy) {
		/* No pool task: the exchange runs on this loop once the
		 * upstream queue gives it a place; the queue's depth is held
		 * to the same bound as the pool's. */
		if (atomic_fetch_add_explicit(&d->queued, 1, memory_order_relaxed) >=
		    d->queue_bound) {
			atomic_fetch_sub_explicit(&d->queued, 1, memory_order_relaxed);
			c->state = CS_READ;
			c->away = false;
			fast_shed(s, c, SLD_FAST_full);
			return;
		}
		sld_upq_submit(c, c->head_ns);
		return;
	}
	atomic_fetch_add_explicit(&d->queued, 1, memory_order_relaxed);
	err = pool_submit(d->pool, sld_request_task, c);
	if (err) {
		/* -EAGAIN: the pool is at its bound; -ESHUTDOWN: draining. */
		atomic_fetch_sub_explicit(&d->queued, 1, memory_order_relaxed);
		c->state = CS_READ;
		c->away = false;
		fast_shed(s, c, err == -EAGAIN ? SLD_FAST_full : SLD_FAST_draining);
	}
}

/* n raw bytes of a chunked body are at body + body_len: decode them. */
static void chunk_feed(struct server *s, struct conn *c, size_t n)
{
	size_t cons = 0, prod = 0;
	int rc = n ? http_chunked_decode(&c->chunk, c->body + c->body_len, n, &cons, &prod)
		   : -EAGAIN;

	c->body_len += (uint32_t)prod;
	if (rc == 0) {
		/* Bytes after the last chunk would be a pipelined request that
		 * we did not keep: answer, then close. */
		if (cons < n)
			c->close_after = true;
		dispatch(s, c);
		return;
	}
	if (rc != -EAGAIN) {
		error_answer(s, c, c->chunk.status ? c->chunk.status : 400);
		return;
	}
	if (c->body_len >= c->body_need) {
		error_answer(s, c, 413);
		return;
	}
	c->state = CS_BODY;
	c->timer_ns = c->req_start_ns + secs(cfg_u32(s->d, &s->d->cfg.request_timeout_s));
}

/* The head is complete: gather the body if any, then dispatch. */
static void head_complete(struct server *s, struct conn *c)
{
	const struct http_request *req = &c->parser.req;
	uint32_t extra = c->in_len - req->head_len;

	c->head_ns = sld_now_ns();
	if (req->body == HTTP_BODY_CHUNKED) {
		/* Decoded in place into a buffer of SLD_MAX_BODY: raw bytes are
		 * read after the data decoded so far, and the decoder moves
		 * their data down to join it. All of `in` after the head
		 * belongs to the body now. */
		c->chunked = true;
		c->body_need = SLD_MAX_BODY;
		c->body = malloc(SLD_MAX_BODY);
		if (!c->body) {
			error_answer(s, c, 500);
			return;
		}
		http_chunked_init(&c->chunk, SLD_MAX_BODY);
		memcpy(c->body, c->in + req->head_len, extra);
		c->in_len = req->head_len;
		if (req->expect_continue) {
			static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

			if (send(c->fd, cont, sizeof(cont) - 1, MSG_NOSIGNAL) < 0)
				pr_debug("100-continue: %s", strerror(errno));
		}
		chunk_feed(s, c, extra);
		return;
	}
	if (req->body == HTTP_BODY_LENGTH && req->content_length) {
		uint32_t take;

		c->body_need = (uint32_t)req->content_length;	/* <= SLD_MAX_BODY */
		c->body = malloc(c->body_need);
		if (!c->body) {
			error_answer(s, c, 500);
			return;
		}
		take = extra < c->body_need ? extra : c->body_need;
		memcpy(c->body, c->in + req->head_len, take);
		c->body_len = take;
		if (req->expect_continue && c->body_len < c->body_need) {
			static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

			if (send(c->fd, cont, sizeof(cont) - 1, MSG_NOSIGNAL) < 0)
				pr_debug("100-continue: %s", strerror(errno));
		}
		if (c->body_len < c->body_need) {
			c->state = CS_BODY;
			c->timer_ns = c->req_start_ns +
				      secs(cfg_u32(s->d, &s->d->cfg.request_timeout_s));
			return;
		}
	}
	dispatch(s, c);
}

/* At accept, before a shed: reads what the client sent; true if it is one
 * request without a body and nothing after it (a GET, as a shed client
 * mostly sends), so the answer can be followed by a plain close. */
static bool read_whole_request(struct conn *c)
{
	for (;;) {
		ssize_t n;

		if (c->in_len == c->in_cap && !grow_in(c))
			return false;
		n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
		if (n > 0) {
			c->in_len += (uint32_t)n;
			continue;
		}
		if (n == 0)
			return true;	/* the client has sent all it will */
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return false;
		break;
	}
	return http_parse_head(&c->parser, c->in, c->in_len) == 0 &&
	       c->parser.req.body == HTTP_BODY_NONE && c->in_len == c->parser.req.head_len;
}

/* Bytes of `in` the current request used (head, plus body bytes taken
 * from the same read): the rest is the next, pipelined, request. */
static uint32_t consumed(const struct conn *c)
{
	uint32_t n = c->parser.req.head_len;
	uint32_t extra = c->in_len - n;

	if (c->chunked)
		return c->in_len;	/* the rest went to the body */
	uint32_t from_in = extra < c->body_need ? extra : c->body_need;

	return n + from_in;
}

static void parse_more(struct server *s, struct conn *c)
{
	int rc = http_parse_head(&c->parser, c->in, c->in_len);

	if (rc == -EAGAIN) {
		if (!c->has_bytes) {
			c->has_bytes = true;
			c->timer_ns = sld_now_ns() +
				      secs(cfg_u32(s->d, &s->d->cfg.header_timeout_s));
		}
		return;
	}
	if (rc < 0) {
		atomic_fetch_add_explicit(&s->d->c.requests, 1, memory_order_relaxed);
		error_answer(s, c, c->parser.status ? c->parser.status : 400);
		return;
	}
	head_complete(s, c);
}

/*
 * Reads what the socket has. Edge-triggered: it reads until the socket is
 * empty (a short read), or else (a full head buffer, a body read to its
 * end) leaves ev_pending set, or reads on, since no edge will say that
 * bytes are left.
 */
static void on_readable(struct server *s, struct conn *c)
{
	bool drained = false;

	c->ev_pending = false;
	for (;;) {
		ssize_t n;
		char *dst;
		size_t room;

		if (c->state == CS_BODY) {
			dst = c->body + c->body_len;
			room = c->body_need - c->body_len;
		} else if (c->state == CS_LINGER) {
			static char sink[4096];

			dst = sink;
			room = sizeof(sink);
		} else {
			if (c->in_len == c->in_cap)
				grow_in(c);
			dst = c->in + c->in_len;
			room = c->in_cap - c->in_len;
		}
		if (room == 0)
			break;
		if (c->state == CS_READ && c->in_len == 0)
			n = recv_first(c, dst, room);
		else
			n = recv(c->fd, dst, room, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
			       errno != EINTR)) {
			conn_close(s, c);	/* EOF or error: the client is gone */
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			drained = true;
			break;
		}
		if (c->state == CS_LINGER && (c->discarded += (uint64_t)n) > LINGER_BYTES) {
			conn_close(s, c);	/* bounded: the client keeps sending */
			return;
		}
		if (c->state == CS_BODY && c->chunked) {
			chunk_feed(s, c, (size_t)n);
			if ((size_t)n < room)
				drained = true;
			/* dispatched, answered or closed (away is read first:
			 * the state of a conn that is away is not ours) */
			if (c->away || c->state != CS_BODY || drained)
				goto out;
			continue;
		}
		if (c->state == CS_BODY) {
			c->body_len += (uint32_t)n;
			if (c->body_len == c->body_need) {
				dispatch(s, c);
				goto out;
			}
		} else if (c->state == CS_READ) {
			c->in_len += (uint32_t)n;
		}
		if ((size_t)n < room) {
			drained = true;
			break;
		}
	}
	if (c->state == CS_READ && c->in_len)
		parse_more(s, c);
out:
	if (drained)
		return;
	if (c->away || c->state == CS_UPSTREAM || c->state == CS_WRITE)
		c->ev_pending = true;	/* read once the response is out */
	else if (c->state == CS_BODY || c->state == CS_LINGER ||
		 (c->state == CS_READ && c->in_len < c->in_cap))
		on_readable(s, c);	/* a head or body is still coming */
}

static void on_accept(struct server *s)
{
	struct sld *d = s->d;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct conn *c;
		uint32_t mark = 0, want;
		socklen_t ml = sizeof(mark);
		enum sld_fast why;
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int fd, one = 1;

		if (atomic_load_explicit(&d->open_conns, memory_order_relaxed) >=
		    atomic_load_explicit(&d->max_connections, memory_order_relaxed)) {
			/* Leave the rest in the kernel's accept queue, where the
			 * controller sees it (backlog) and the kernel bounds it. */
			atomic_fetch_add_explicit(&d->c.at_max, 1, memory_order_relaxed);
			listen_on(s, false);
			return;
		}
		fd = accept4(d->listen_fd, (struct sockaddr *)&peer, &plen,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* Out of descriptors or memory: the listener stays
				 * readable, so waiting on it would spin. Pause it
				 * until the next timeout scan; the kernel's accept
				 * queue holds (and bounds) what arrives meanwhile. */
				if (!s->pause_logged)
					pr_warn("accept: %s; pausing accepts (max-connections "
						"%u above the descriptor limit?)", strerror(errno),
						atomic_load(&d->max_connections));
				s->pause_logged = true;
				s->paused = true;
				listen_on(s, false);
			} else if (errno != EAGAIN && errno != EWOULDBLOCK &&
				   errno != EINTR && errno != ECONNABORTED) {
				pr_warn("accept: %s", strerror(errno));
			}
			return;
		}
		c = conn_get(s);
		if (!c) {
			close(fd);
			pr_warn("out of memory for a connection");
			return;
		}
		c->fd = fd;
		c->peer = peer;
		c->next = s->head.next;
		c->prev = &s->head;
		s->head.next->prev = c;
		s->head.next = c;
		s->n_open++;
		atomic_fetch_add_explicit(&d->open_conns, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&d->c.accepted, 1, memory_order_relaxed);
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		new_request(s, c, true);
		want = atomic_load_explicit(&d->dp.mark, memory_order_relaxed);
		if (want && getsockopt(fd, SOL_SOCKET, SO_MARK, &mark, &ml) == 0 &&
		    mark == want)
			why = SLD_FAST_mark;
		else if (s->draining)
			why = SLD_FAST_draining;
		else if (atomic_load_explicit(&d->queued, memory_order_relaxed) >=
			 d->queue_bound)
			why = SLD_FAST_full;
		else if (over_user_rate(s, sld_now_ns()))
			why = SLD_FAST_rate;
		else
			why = SLD_FAST__COUNT;
		if (why != SLD_FAST__COUNT) {
			fast_shed(s, c, why);
		} else {
			atomic_fetch_add_explicit(&d->conns_admitted, 1, memory_order_relaxed);
			/* TCP_DEFER_ACCEPT: the request is usually here already. */
			on_readable(s, c);
		}
		/* Still open (its state is read only while it is not away):
		 * watched from now on. */
		if (c->away || c->state != CS_FREE)
			watch(s, c);
	}
}

/* After a response is written: close, or wait for the next request. */
static void after_response(struct server *s, struct conn *c)
{
	uint32_t used;

	sld_response_finished(s->d, c);
	if (c->close_after || s->draining) {
		conn_close(s, c);
		return;
	}
	used = consumed(c);
	memmove(c->in, c->in + used, c->in_len - used);
	c->in_len -= used;
	free(c->body);
	c->body = NULL;
	c->body_len = c->body_need = 0;
	c->chunked = false;
	conn_reset_out(c);
	if (c->in_cap > SLD_IN_INITIAL && c->in_len <= SLD_IN_INITIAL) {
		/* A large head grew the buffer; an idle connection gives it back. */
		char *p = realloc(c->in, SLD_IN_INITIAL);

		if (p) {
			c->in = p;
			c->in_cap = SLD_IN_INITIAL;
		}
	}
	new_request(s, c, false);
	if (c->ev_pending)
		on_readable(s, c);	/* it sent more while it was away; parses */
	else if (c->in_len)
		parse_more(s, c);
}

/* The write timeout (--request-timeout) runs from the last progress, as
 * nginx's send_timeout: a slow reader that reads is served; one that
 * stops is closed, and what it held (sld_resp_hold) freed. */
static void on_writable(struct server *s, struct conn *c)
{
	size_t before = c->out_off;

	sld_conn_try_write(c);
	if (c->out_off < c->out_len) {
		if (c->out_off > before)
			c->timer_ns = sld_now_ns() +
				      secs(cfg_u32(s->d, &s->d->cfg.request_timeout_s));
		return;	/* the next EPOLLOUT edge */
	}
	after_response(s, c);
}

static void take_done(struct server *s)
{
	struct conn *list, *rev = NULL;
	uint64_t v;

	if (read(s->done_efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		pr_warn("eventfd read: %s", strerror(errno));
	/* Acquire: pairs with the release in sld_conn_done. */
	list = atomic_exchange_explicit(&s->done, NULL, memory_order_acquire);
	while (list) {	/* LIFO -> FIFO */
		struct conn *n = list->done_next;

		list->done_next = rev;
		rev = list;
		list = n;
	}
	while (rev) {
		struct conn *c = rev;

		rev = rev->done_next;
		take_back(c);
	}
}

void sld_loop_respond(struct conn *c)
{
	struct server *s = c->loop;

	c->state = CS_WRITE;
	c->timer_ns = sld_now_ns() + secs(cfg_u32(s->d, &s->d->cfg.request_timeout_s));
	on_writable(s, c);
}

void sld_loop_launch(struct conn *c)
{
	/* Started here when this is c's loop, but not from inside another
	 * start: one that fails at once (the upstream refuses) ends its
	 * exchange, whose freed place launches the next, and so on through
	 * the whole queue on one stack. Those go round the loop. */
	static __thread unsigned depth;

	if (c->loop == self_loop && depth == 0) {
		depth++;
		c->away = false;
		sld_up_start(&c->loop->up, c);
		depth--;
		return;
	}
	c->state = CS_UPSTART;
	hand_back(c->loop, c);
}

static void scan_timeouts(struct server *s, uint64_t now)
{
	struct conn *c = s->head.next, *expired = NULL;

	while (c != &s->head) {
		struct conn *next = c->next;

		if (c->away) {
			/* its task or the upstream queue answers it */
		} else if (c->state == CS_UPSTREAM) {
			/* Expired after the walk: ending an exchange may start
			 * or close other connections of this list. */
			if (now >= c->timer_ns) {
				c->done_next = expired;
				expired = c;
			}
		} else if (now >= c->timer_ns) {
			if ((c->state == CS_READ && c->has_bytes) || c->state == CS_BODY) {
				atomic_fetch_add_explicit(&s->d->c.timeouts, 1,
							  memory_order_relaxed);
				error_answer(s, c, 408);
				/* error_answer lingers: close at the next scan */
				c->timer_ns = now;
			} else {
				if (c->state != CS_LINGER)
					atomic_fetch_add_explicit(&s->d->c.timeouts, 1,
								  memory_order_relaxed);
				conn_close(s, c);
			}
		} else if (s->draining && c->state == CS_READ && !c->has_bytes) {
			conn_close(s, c);	/* idle keep-alive: nothing in flight */
		}
		c = next;
	}
	while (expired) {
		c = expired;
		expired = c->done_next;
		atomic_fetch_add_explicit(&s->d->c.timeouts, 1, memory_order_relaxed);
		sld_up_expire(c);
	}
}

/* Give what the loop freed back to the system (see CONN_CACHE): after a
 * burst, or when idle, its cache with it; the daemon's one malloc arena
 * (memory.c) under its lock: the loop holding few connections says the
 * burst is over, or the freed memory would be taken again at once. */
static void trim(struct server *s, uint64_t now, bool idle)
{
	if (idle ? !s->closed_any
		 : s->freed < TRIM_FREED_BYTES || s->n_open >= CONN_CACHE / 2 ||
			   now - s->trim_ns < TRIM_MIN_NS)
		return;
	if (idle)
		cache_drop(s);
	sld_memory_release();
	s->freed = 0;
	s->closed_any = false;
	s->trim_ns = now;
}

static void start_drain(struct server *s)
{
	if (s->id == 0) {
		pr_info("draining: %u connections open",
			atomic_load_explicit(&s->d->open_conns, memory_order_relaxed));
	}
	s->draining = true;
	listen_on(s, false);
	/* Closing the listener makes the kernel refuse new connections at once
	 * (RST) rather than queue them for a process that is leaving. */
	if (atomic_fetch_sub_explicit(&L.listening, 1, memory_order_acq_rel) == 1)
		close(atomic_exchange(&s->d->listen_fd, -1));
	scan_timeouts(s, 0);
}

/* Ask every loop to drain, and wake them so they do it at once. */
static void stop_loops(void)
{
	if (atomic_exchange(&L.stop, true))
		return;
	for (unsigned i = 0; i < L.n; i++)
		wake(&L.loops[i]);
}

static int loop_init(struct server *s, struct sld *d, unsigned id)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &tag_done };

	s->d = d;
	s->id = id;
	s->head.next = s->head.prev = &s->head;
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	s->done_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->ep < 0 || s->done_efd < 0) {
		pr_err("epoll/eventfd: %s", strerror(errno));
		return -errno;
	}
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->done_efd, &e) < 0) {
		pr_err("epoll_ctl(eventfd): %s", strerror(errno));
		return -errno;
	}
	sld_up_loop_init(&s->up, s->ep);
	return 0;
}

/* Drained (or out of time): close what is left and tell main. Connections
 * a task still owns are the pool's to finish (drain): the loop's
 * completion stack stays valid for them, and is never taken again. */
static void loop_finish(struct server *s)
{
	for (struct conn *c = s->head.next, *n; c != &s->head; c = n) {
		n = c->next;
		if (!c->away)
			conn_close(s, c);
	}
	sld_up_loop_fini(&s->up);
	conns_release(s);
	cache_drop(s);
	s->finished = true;
	pthread_mutex_lock(&L.fin_lock);
	L.finished++;
	pthread_cond_broadcast(&L.fin_cond);
	pthread_mutex_unlock(&L.fin_lock);
}

/* One epoll event of loop s. */
static void on_event(struct server *s, void *p, uint32_t events)
{
	struct conn *c = p;
	uint8_t kind = *(uint8_t *)p;
	uint32_t readable = events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);

	if (kind == SLD_EV_LISTEN) {
		if (!s->draining)
			on_accept(s);
	} else if (kind == SLD_EV_DONE) {
		take_done(s);
	} else if (kind == SLD_EV_UPSTREAM) {
		sld_up_event(p, events);
	} else if (c->away || c->state == CS_UPSTREAM || c->state == CS_FREE) {
		/* Away, or busy upstream: read once the response is out (an
		 * edge does not come again). A closed conn's event, left in
		 * this batch by its close: it is not reused before the batch
		 * ends (conns_release). */
		c->ev_pending |= readable != 0;
	} else if (c->state == CS_WRITE) {
		c->ev_pending |= readable != 0;
		on_writable(s, c);
	} else if (readable) {
		on_readable(s, c);	/* CS_READ, CS_BODY, CS_LINGER */
	}
}

/* A loop's worker counts as descheduled past this long without a beat. */
#define STARVED_MIN_NS 2000000ull

uint64_t sld_server_starved_ns(uint64_t now)
{
	uint64_t least = UINT64_MAX;

	for (unsigned i = 0; i < L.n; i++) {
		struct server *s = &L.loops[i];
		uint64_t beat = atomic_load_explicit(&s->beat_ns, memory_order_relaxed);

		if (atomic_load_explicit(&s->waiting, memory_order_relaxed) || !beat)
			return 0;	/* idle, or not started: nothing starves */
		beat = now > beat ? now - beat : 0;
		if (beat < least)
			least = beat;
	}
	return least != UINT64_MAX && least >= STARVED_MIN_NS ? least : 0;
}

/*
 * The pool's driver: worker `id` runs its loop once. wait: the worker is
 * idle, block until an event (the completion eventfd is also the worker's
 * wake-up) or the next timeout scan.
 */
static void loop_poll(void *ctx, unsigned id, int wait)
{
	struct server *s = &L.loops[id];
	struct sld *d = s->d;
	struct epoll_event evs[256];
	uint64_t now;
	int n;

	(void)ctx;
	self_loop = s;
	if (s->finished) {
		struct pollfd pfd = { .fd = s->done_efd, .events = POLLIN };
		uint64_t v;

		/* Only the wake-ups are left to take, until the pool stops
		 * (not the epoll: an upstream connection left in it may stay
		 * readable). */
		if (wait && poll(&pfd, 1, 100) > 0 &&
		    read(s->done_efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			pr_warn("eventfd read: %s", strerror(errno));
		return;
	}
	if (!s->started && atomic_load_explicit(&L.go, memory_order_acquire)) {
		s->started = true;
		listen_on(s, true);
	}
	s->in_poll = true;
	if (wait)
		atomic_store_explicit(&s->waiting, true, memory_order_relaxed);
	n = epoll_wait(s->ep, evs, 256, wait ? 100 : 0);
	atomic_store_explicit(&s->waiting, false, memory_order_relaxed);
	atomic_store_explicit(&s->beat_ns, sld_now_ns(), memory_order_relaxed);
	if (n < 0 && errno != EINTR) {
		int expected = 0;

		pr_err("epoll_wait: %s", strerror(errno));
		atomic_compare_exchange_strong(&L.err, &expected, -errno);
		stop_loops();
	}
	for (int i = 0; i < n; i++)
		on_event(s, evs[i].data.ptr, evs[i].events);
	sld_up_reap(&s->up);
	conns_release(s);
	now = sld_now_ns();
	if (wait && n == 0)	/* a wait's whole timeout with nothing to do */
		trim(s, now, true);
	if (atomic_load_explicit(&L.stop, memory_order_relaxed) && !s->draining) {
		start_drain(s);
		s->drain_until_ns = now + secs(cfg_u32(d, &d->cfg.request_timeout_s)) + LINGER_NS;
	}
	if (now >= s->next_scan_ns || s->draining) {
		scan_timeouts(s, now);
		trim(s, now, false);
		s->next_scan_ns = now + SCAN_NS;
		if (s->paused && !s->draining) {
			s->paused = false;
			listen_on(s, true);
		}
	}
	s->in_poll = false;
	if (!s->draining)
		return;
	if (s->head.next != &s->head && now >= s->drain_until_ns)
		pr_warn("drain: %u connections still open after the request timeout; "
			"closing them",
			atomic_load_explicit(&d->open_conns, memory_order_relaxed));
	if (s->head.next == &s->head || now >= s->drain_until_ns)
		loop_finish(s);
}

static void loop_wake(void *ctx, unsigned id)
{
	(void)ctx;
	wake(&L.loops[id]);
}

int sld_server_init(struct sld *d, unsigned *workers, const struct pool_driver **drv)
{
	unsigned n = *workers ? *workers : pool_default_workers();
	int err = 0;

	L.loops = calloc(n, sizeof(*L.loops));
	if (!L.loops)
		return -ENOMEM;
	L.n = n;
	atomic_store(&L.listening, n);
	for (unsigned i = 0; i < n && !err; i++)
		err = loop_init(&L.loops[i], d, i);
	if (err)
		return err;
	L.driver = (struct pool_driver){ .poll = loop_poll, .wake = loop_wake };
	d->loops = n;
	*workers = n;
	*drv = &L.driver;
	return 0;
}

int sld_server_run(struct sld *d, volatile sig_atomic_t *reload, sld_reload_fn *on_reload)
{
	struct timespec tick = { 0, 100000000 };
	sigset_t waitmask;
	int one = 1, err;

	/* Wake an acceptor only when the request has arrived: one wakeup and
	 * one read per connection instead of two. */
	setsockopt(d->listen_fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &one, sizeof(one));
	/* Inherited by accepted sockets: recv_first's arrival stamps. */
	err = sld_rxstamp_enable(d->listen_fd);
	if (err)
		pr_warn("SO_TIMESTAMPNS: %s; the wait before the queue is not measured",
			strerror(-err));
	/* Release: a loop that sees go sees the listener set up above. */
	atomic_store_explicit(&L.go, true, memory_order_release);
	for (unsigned i = 0; i < L.n; i++)
		wake(&L.loops[i]);
	/* Signals are blocked except while this thread waits here: a flag
	 * set by a handler is always seen before the next wait. */
	sigemptyset(&waitmask);
	while (!*d->stop && !atomic_load(&L.stop)) {
		if (*reload) {
			*reload = 0;
			on_reload(d);
			continue;
		}
		ppoll(NULL, 0, &tick, &waitmask);
	}
	stop_loops();
	pthread_mutex_lock(&L.fin_lock);
	while (L.finished < L.n)
		pthread_cond_wait(&L.fin_cond, &L.fin_lock);
	pthread_mutex_unlock(&L.fin_lock);
	err = atomic_load(&L.err);
	if (!err)
		pr_info("drained");
	/* The loops' memory, epolls and completion eventfds stay: the
	 * workers poll them until the pool stops, and the pool's drain may
	 * still finish a task, which hands its connection back. */
	return err;
}
