/* SPDX-License-Identifier: MIT */
/*
 * The running daemon's shared state and the API between its parts, each
 * in the folder of its part (build.mk lists the parts); the HTTP codec
 * (http/) and the control law (control/control.c) have headers of their own:
 *
 *   server/server.c     the IO loops, one per worker: epoll acceptor,
 *                       connections, timeouts, request dispatch to the pool
 *                       and completion hand-back
 *   server/fastpath.c   503 + Retry-After without a worker: the shed mark, the
 *                       pool at its bound, the expired deadline
 *   server/handlers.c   the pool task of a request: deadline check, then the
 *                       built-in handlers (/work, /health) or the proxy
 *   proxy/proxy.c       reverse proxy to --upstream: the HTTP side
 *   proxy/upstream.c    the exchange with the upstream, non-blocking on the
 *                       client's loop, over that loop's keep-alive connections
 *   proxy/upqueue.c     the proxy's queue: requests in flight to the upstream
 *                       held to an adaptive limit (uplimit.c)
 *   control/controlloop.c the controller thread: signals -> ctl_tick -> sl_admission,
 *                       one controller per service (the served one, or each
 *                       guarded port)
 *   guard/guard.c       guard mode: the guarded ports, their listeners, their
 *                       kernel signals (guardsig.c) for the controller
 *   guard/guardbpf.c    guard mode's BPF object: checks, load, attach, counters
 *   control/dataplane.c attach (--iface), the pinned service, re-adoption, the
 *                       admission writes, kernel counters
 *   metrics/metrics.c   the Prometheus endpoint, its own thread
 *   fleet/fleet.c       fleet quotas: heavy sources shared through Redis, per-source
 *                       exceptions in the maps; its own thread (fleet_share.c: the
 *                       arithmetic)
 *   main.c              start, signals, reload, drain
 *
 * Threads: each pool worker runs an IO loop between its tasks (server.c),
 * which owns the connections it accepted outside a task; a worker owns a
 * connection while its request runs; the main thread waits for signals;
 * the controller and metrics threads only read counters.
 * Counters are relaxed atomics: each is a statistic on its own, no reader
 * infers anything about other memory from it.
 */
#ifndef SLUICED_SLUICED_H
#define SLUICED_SLUICED_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <sluice/abi.h>
#include <sluice/pool.h>

#include "config.h"
#include "control.h"
#include "http_parse.h"
#include "pins.h"
#include "signals.h"
#include "guardsig.h"
#include "sockdiag.h"
#include "procsock.h"
#include "standing.h"

struct conn;

#define SLD_IN_INITIAL 4096		/* a connection's head buffer to start */
#define SLD_MAX_BODY (64u << 10)	/* buffered request body */
#define SLD_OUT_INLINE 512		/* built-in responses fit here */
#define SLD_MAX_RESPONSE (4u << 20)	/* proxied response, buffered */

/* Fast-path reasons: answered 503 without working the request. */
#define SLD_FAST(X)                                                          \
	X(mark,     "connection carried the kernel's shed mark")              \
	X(full,     "pool at its bound when the request was ready")           \
	X(expired,  "queue wait exceeded the deadline when dequeued")         \
	X(draining, "daemon draining (SIGTERM)")                              \
	X(rate,     "over the controller's rate, enforced here: no data plane") \
	X(memory,   "proxied responses held for slow readers at their bound")

enum sld_fast {
#define SLD_X(n, d) SLD_FAST_##n,
	SLD_FAST(SLD_X)
#undef SLD_X
	SLD_FAST__COUNT
};

/* Response statuses counted by code; anything else is "other". */
#define SLD_STATUS_CODES 200, 400, 404, 405, 408, 411, 413, 414, 417, 431, \
			 500, 501, 502, 503, 504, 505
#define SLD_N_STATUS 17

/* Request latency, head received to response written, in seconds. */
#define SLD_LAT_BOUNDS 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, \
		       0.2, 0.5, 1, 2, 5
#define SLD_N_LAT 13

struct sld_counters {
	_Atomic uint64_t accepted;	/* connections accepted */
	_Atomic uint64_t closed;	/* connections closed */
	_Atomic uint64_t requests;	/* request heads read, plus connections
					 * answered at accept */
	_Atomic uint64_t dispatched;	/* requests read on admitted connections:
					 * requests per connection for the controller */
	_Atomic uint64_t worked;	/* requests a handler completed */
	_Atomic uint64_t worked_wait_max_ns;	/* longest queue wait of a worked request */
	_Atomic uint64_t late_worked;	/* worked past the deadline: the queue
					 * did not stand (standing.h) */
	_Atomic uint64_t fast[SLD_FAST__COUNT];
	_Atomic uint64_t status[SLD_N_STATUS];
	_Atomic uint64_t lat[SLD_N_LAT + 1];
	_Atomic uint64_t lat_sum_ns;
	_Atomic uint64_t unsent;	/* responses not written: the client had
					 * gone, or stopped reading past the
					 * request timeout */
	_Atomic uint64_t timeouts;	/* connections closed by a timeout */
	_Atomic uint64_t at_max;	/* times accepting paused at max-connections */
	_Atomic uint64_t upstream_errors;
	_Atomic uint64_t upstream_requests;
	_Atomic uint64_t upstream_lat_ns;	/* sum */
};

/* What the controller publishes for the other threads. */
struct sld_ctl_view {
	_Atomic uint32_t rate_cap;
	_Atomic uint32_t level;
	_Atomic uint32_t retry_after_s;
	_Atomic uint64_t delay_ns;
	_Atomic uint32_t overloaded;
	_Atomic uint64_t ticks;
	_Atomic uint64_t map_writes;
	_Atomic uint64_t map_errors;
	_Atomic uint32_t backlog;
	_Atomic uint32_t psi_milli;	/* some avg10 x 1000; UINT32_MAX: none */
	_Atomic uint64_t goodput_milli;	/* per second x 1000 */
	_Atomic uint64_t demand_milli;
	_Atomic uint64_t req_per_conn_milli;
	_Atomic uint64_t busy_milli;
	_Atomic uint64_t depth;
	_Atomic uint64_t oldest_ns;
	_Atomic uint64_t min_delay_ns;
	_Atomic uint64_t kernel_wait_min_ns;	/* last tick; 0: none */
	_Atomic uint64_t upstream_excess_ns;
	_Atomic uint64_t upstream_floor_ns;
	_Atomic uint32_t upstream_limit;
	_Atomic uint32_t upstream_inflight;
	_Atomic uint32_t upstream_queued;
	_Atomic uint64_t target_ns;
	_Atomic uint64_t engaged_until_ns;	/* overloaded within the last second */
};

struct sld_dataplane {
	bool have_pins;
	struct sl_pins pins;
	int dir_fd;			/* the pin dir, open while have_pins (its lock) */
	/* sl_services slot of (tcp, port) while the daemon holds it, 0 after
	 * the operator deleted it; controller thread writes, metrics reads */
	_Atomic uint32_t slot;
	uint16_t port;
	_Atomic uint32_t mark;		/* sl_service.mark: the shed mark */
	_Atomic uint32_t svc_rate, svc_burst;	/* the entry's static rate and burst */
	/* The sl_admission entry last written, and its slot (0: none yet, or
	 * claimed again since): unchanged limits are written again only as a
	 * heartbeat (dataplane.c). Controller thread. */
	struct sl_admission written;
	uint32_t written_slot;
	bool adopted;			/* a fresh sl_admission was there at start */
	bool fleet;			/* --fleet: SL_ADM_FLEET in sl_admission */
	bool guard;			/* a guarded port's (SL_SVC_GUARD) */
	struct sl_admission adopted_adm;
};

/* Guard mode: the BPF object measuring the guarded ports' waits. */
struct guard_bpf;
struct sld_guard_bpf {
	struct guard_bpf *skel;
	int ncpu;
	struct sl_guard_stats *percpu;	/* ncpu entries, for reads */
};

/* What a guarded port's measurements were at the last tick (metrics). */
struct sld_guard_view {
	_Atomic uint32_t listening;	/* a listener on the port at the last tick */
	_Atomic uint32_t listeners;	/* listening sockets (SO_REUSEPORT) */
	_Atomic uint32_t accept_queue;	/* connections waiting for accept() */
	_Atomic uint32_t accept_limit;	/* the listen() backlog */
	_Atomic uint64_t wait_ns;	/* the window's p99 socket wait */
	_Atomic uint64_t sojourn_ns;	/* the window's p99 sojourn, */
	_Atomic uint64_t base_ns;	/* its level while keeping up, */
	_Atomic uint64_t unloaded_ns;	/* its p99 at low load (the base's bound), */
	_Atomic uint64_t rise_ns;	/* and the rise above it */
	_Atomic uint64_t sojourn_p50_ns;	/* the window's median sojourn */
	_Atomic uint32_t sample_shift;	/* keep-alive requests measured: 1 in 2^this */
	_Atomic uint64_t pending;	/* measured requests unanswered now */
	_Atomic uint64_t open;		/* established connections open */
	_Atomic uint64_t held;		/* connections held (sl_held) at the last tick */
	_Atomic uint32_t conc_limit;	/* the concurrency limit written (0: none) */
	_Atomic uint64_t sat_cpu_milli;	/* CPUs the service uses saturated, x 1000 */
	struct sl_guard_stats total;	/* the kernel's counters (controller thread
					 * writes, metrics reads: under lock) */
	pthread_mutex_t lock;
};

struct sld_guard {
	uint16_t port;
	char name[16];			/* "tcp/PORT" */
	struct sld_dataplane dp;	/* its service entry */
	struct sld_ctl_view view;	/* its controller's outputs */
	struct sld_guard_view gv;
	/* controller thread only: */
	struct gsig_state sig;
	bool told_down;			/* "no listener" said */
	uint32_t inode;			/* the listener whose owner is in cpu */
	bool have_cpu;			/* the owner's CPU clock is readable */
	struct sld_cpu cpu;
	struct gsig_busy busy;		/* its busy fraction, learnt */
	bool shedding;			/* the data plane refused some last tick */
	struct sld_listener ls;		/* the listener, as last read, */
	int ls_err;			/* or why not (-ENOENT: none) */
	unsigned ls_ticks;		/* ticks since it was read */
	uint32_t shift;			/* the sampling shift in the kernel */
	uint32_t held_slot;		/* the slot its programs count in (0: none) */
	uint64_t said_base_ns, said_unloaded_ns;	/* last logged (guard.c) */
};

struct sld {
	struct sld_config cfg;		/* written by the main thread on reload,
					 * under cfg_lock; others copy fields */
	pthread_mutex_t cfg_lock;
	_Atomic uint32_t cfg_gen;	/* bumped on each applied reload */
	/* values the hot paths read without the lock */
	_Atomic uint64_t deadline_ns;
	_Atomic uint64_t standing_interval_ns;	/* standing.h's interval */
	_Atomic uint32_t max_connections;
	_Atomic uint32_t max_header_line, max_header_size;

	struct pool *pool;
	uint32_t loops;			/* IO loops, one per worker (server.c) */
	struct sld_dataplane dp;
	struct sld_counters c;
	struct sld_ctl_view view;

	_Atomic int listen_fd;	/* -1 once draining; the controller reads it
				 * for the backlog and tolerates a failure */
	_Atomic uint32_t queued;	/* requests submitted and not yet started */
	struct standing standing;	/* the deadline drop acts while it stands */
	_Atomic uint64_t shedding_until_ns;	/* the data plane shed within the last
						 * second (the queue stands: standing.h) */
	_Atomic uint32_t open_conns;
	_Atomic uint64_t conns_admitted;	/* accepted and not shed at accept */
	/* smallest wait in the kernel of a request dispatched this tick
	 * (server.c); UINT64_MAX: none. The controller takes it each tick. */
	_Atomic uint64_t kernel_wait_min_ns;
	uint32_t queue_bound;
	_Atomic bool proxy;	/* --upstream set; a reload may switch it */
	/* Proxied responses written to clients that have not read them yet
	 * (slow readers), bytes: held within resp_budget, which the memory
	 * bound counts (sld_resp_hold). */
	_Atomic uint64_t resp_held;
	uint64_t resp_budget;

	volatile sig_atomic_t *stop;	/* set by SIGTERM/SIGINT */
	_Atomic bool ctl_stop;
	pthread_t ctl_thread;

	/* guard mode (--guard): no listener, no pool */
	struct sld_guard guards[SLD_MAX_GUARDS];
	uint32_t n_guards;
	struct sld_guard_bpf gbpf;
	struct sld_sockdiag diag;	/* the guards' listener dumps (controller thread) */
};

/* server.c */
/* Bound before the data plane is up (the port is ours, or nothing is
 * attached), listening after it (no connection arrives unjudged). */
int sld_server_bind(struct sld *d);
int sld_server_listen(struct sld *d);
/* Before the pool: one IO loop per worker (*workers 0: the pool's default,
 * set to the number), and the driver through which the workers run them.
 * They serve from sld_server_run on. */
struct pool_driver;
int sld_server_init(struct sld *d, unsigned *workers, const struct pool_driver **drv);
/*
 * Serve until SIGTERM, then drain. The calling (main) thread waits for
 * signals: on SIGHUP main.c's handler sets *reload and this calls back
 * into main through on_reload, so the server includes nothing of main.
 */
typedef void sld_reload_fn(struct sld *d);
int sld_server_run(struct sld *d, volatile sig_atomic_t *reload, sld_reload_fn *on_reload);
void sld_conn_done(struct sld *d, struct conn *c);	/* from a task */
/* How long every IO loop's worker has gone without running while not
 * waiting for work (descheduled: another process has the CPU), or 0 when
 * one ran within the last 2 ms or waits for work. Any thread. */
uint64_t sld_server_starved_ns(uint64_t now);
/* On c's loop: c has its response, write it. */
void sld_loop_respond(struct conn *c);
/* c has a place in flight upstream: start its exchange on its loop (at
 * once when called there, else handed over). */
void sld_loop_launch(struct conn *c);
/* Count n bytes of c's response in resp_held; -ENOBUFS past the budget
 * (nothing counted). The server releases them when c's output is freed. */
int sld_resp_hold(struct sld *d, struct conn *c, uint64_t n);
void sld_response_finished(struct sld *d, struct conn *c);

/* fastpath.c */
int sld_fast_answer(char *buf, size_t cap, struct sld *d, enum sld_fast why,
		    bool keep_alive);
void sld_count_status(struct sld *d, int status);
void sld_count_latency(struct sld *d, uint64_t ns);
const char *sld_fast_name(unsigned i);
extern const int sld_status_codes[SLD_N_STATUS - 1];
extern const double sld_lat_bounds[SLD_N_LAT];

/* handlers.c */
void sld_request_task(void *arg);
/* From a task: answer 503 on the fast path and hand the connection back. */
void sld_task_shed(struct sld *d, struct conn *c, enum sld_fast why);
/* From a task: false (and the request answered 503) when it waited past
 * the deadline while the queue stands (standing.h), unless !enforce (a
 * wait that was no load's: upqueue.c). */
bool sld_request_admit(struct sld *d, struct conn *c, uint64_t waited, bool enforce);
/* The deadline drop's rule for a request seen at now after waiting
 * `waited` (leaving the queue, or the oldest still in it). */
bool sld_deadline_drop(struct sld *d, uint64_t now, uint64_t waited);

/* proxy.c */
/* Resolve and switch to cfg's upstream (blocks on DNS: never an IO loop). */
int sld_proxy_configure(const struct sld_config *cfg);

/* upqueue.c */
struct sld_upq_signals {
	uint64_t wait_min_ns;	/* smallest wait of those that left the queue (0: none) */
	uint64_t head_age_ns;	/* the oldest waiting request's wait (0: none) */
	uint64_t rtt_ns;	/* mean upstream round trip of the tick (0: none) */
	uint64_t floor_ns;	/* the upstream's round trip with nothing queued (0: unknown) */
	double busy;		/* share of the places in flight in use, 0..1 */
	unsigned limit, inflight, queued;
};
void sld_upq_init(struct sld *d);
void sld_upq_submit(struct conn *c, uint64_t since_ns);
/* An exchange ended (rtt 0: it failed): its place opens for the next. */
void sld_upq_done(uint64_t rtt, bool alone);
/* Once a tick, from the controller: the tick's signals; moves the limit. */
void sld_upq_tick(uint64_t now, struct sld_upq_signals *s);

/* dataplane.c: attach, then one service entry for the served port or for
 * each guarded port */
int sld_dataplane_up(struct sld *d);
/* sld_dataplane_write: 1 written, 0 nothing to write (or not ours now), -errno;
 * quiet: the tick saw no new connection (heartbeat.h) */
int sld_dataplane_write(struct sld_dataplane *dp, const struct ctl_output *o,
			uint64_t stale_after_ns, uint32_t stale_policy, bool quiet);
int sld_dataplane_stats(struct sld_dataplane *dp, struct sl_stats *s);
bool sld_dataplane_claimed(struct sld_dataplane *dp);
void sld_dataplane_refresh(struct sld_dataplane *dp);
void sld_dataplane_down(struct sld *d, bool detach);

/* guardbpf.c */
int sld_guard_bpf_check(void);	/* BTF and the tracepoints, logged */
/* held_fd: the pinned sl_held to count in (-1: none, nothing counted) */
int sld_guard_bpf_open(struct sld_guard_bpf *gb, int held_fd);
/* the guard's service slot in the data plane (0: its connections not counted) */
void sld_guard_bpf_slot(struct sld_guard_bpf *gb, int idx, uint32_t slot);
int sld_guard_bpf_port(struct sld_guard_bpf *gb, uint16_t port, int idx, uint32_t shift);
int sld_guard_bpf_read(struct sld_guard_bpf *gb, int idx, struct sl_guard_stats *sum);
void sld_guard_bpf_close(struct sld_guard_bpf *gb);

/* guard.c */
int sld_guard_init(struct sld *d);	/* the guards of cfg; nothing attached */
int sld_guard_up(struct sld *d);	/* load and attach the BPF object */
/* One tick's measurements of guard g: -EAGAIN while it has no listener
 * or on its first tick. done: connections served in ns. */
int sld_guard_measure(struct sld *d, struct sld_guard *g, uint64_t now,
		      struct ctl_signals *s, uint64_t *done, uint64_t *ns);
/* Wait for SIGTERM (0) , rereading the options on SIGHUP. */
int sld_guard_run(struct sld *d, volatile sig_atomic_t *reload, sld_reload_fn *on_reload);
void sld_guard_down(struct sld *d);

/* controlloop.c */
int sld_control_start(struct sld *d);
void sld_control_stop(struct sld *d);
void sld_ctl_params_from(const struct sld_config *cfg, struct ctl_params *p);

/* fleet.c */
struct prom_buf;
int sld_fleet_start(struct sld *d);
void sld_fleet_stop(void);
void sld_fleet_metrics(struct prom_buf *b);

/* metrics.c */
int sld_metrics_start(struct sld *d);
void sld_metrics_stop(void);
uint64_t sld_memory_bound(struct sld *d);

static inline uint64_t sld_now_ns(void)
{
	return pool_now_ns();
}

#endif /* SLUICED_SLUICED_H */
