/* SPDX-License-Identifier: MIT */
/*
 * sluice-load: an open-loop HTTP load generator. Requests are scheduled at
 * a fixed rate (or with Poisson arrivals) and sent on schedule whatever the
 * server does; latency is measured from each request's scheduled time, so
 * a stalled server cannot hide its delay (no coordinated omission).
 *
 * Modules:
 *   main.c     options, the schedule and the event loop
 *   conn.c     one request on one connection: connect, send, read, classify
 *   report.c   results: totals, histograms, 100 ms series, table and JSON
 *   trace.c    --trace: a record per request, to set against a server's own
 */
#ifndef SLUICE_LOAD_H
#define SLUICE_LOAD_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "hist.h"

/* How a request ended. */
#define LOAD_OUTCOMES(X)                                                       \
	X(ok,        "2xx response")                                          \
	X(shed,      "503 response (shed by the server)")                     \
	X(other,     "any other HTTP status")                                 \
	X(refused,   "connection refused (RST to the SYN)")                   \
	X(reset,     "connection reset after it was established")             \
	X(timeout,   "no complete response within the timeout")              \
	X(error,     "other socket error or malformed response")              \
	X(overflow,  "not sent: the client's own in-flight bound was reached")   \
	X(late,      "not sent: past its timeout before the client could send it")

enum load_outcome {
#define LOAD_X_ENUM(name, desc) LOAD_##name,
	LOAD_OUTCOMES(LOAD_X_ENUM)
#undef LOAD_X_ENUM
	LOAD__COUNT
};

extern const char *const load_outcome_names[LOAD__COUNT];

#define LOAD_MAX_STEPS 16

struct load_opts {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char host[256];		/* for the Host header */
	char path[1024];
	double rate;		/* requests per second (with steps: their mean) */
	unsigned nsteps;	/* --steps: piecewise-constant rates, in order */
	double step_rate[LOAD_MAX_STEPS];
	double step_s[LOAD_MAX_STEPS];
	double duration_s;
	bool poisson;
	unsigned keepalive;	/* 0: a new connection per request; else this many connections */
	unsigned closed;	/* closed loop over this many connections (rate unused) */
	unsigned timeout_ms;
	unsigned max_inflight;
	unsigned seed;
	const char *json_path;	/* NULL: no JSON; "-": stdout */
	const char *trace_path;	/* NULL: no per-request records (trace.c) */
	bool quiet;		/* no table on stdout */
};

/* One bin of the time series, by scheduled time. */
struct load_bin {
	uint64_t outcomes[LOAD__COUNT];
	struct hist ok_latency;
};

/* --trace: one request that had a connection, its moments on
 * CLOCK_MONOTONIC in microseconds (0: it did not get that far). */
struct load_trace_rec {
	uint64_t sched_us, connect_us, sent_us, first_us, done_us;
	uint16_t port;		/* the client's port: the server's peer port */
	uint8_t outcome;	/* enum load_outcome */
};

struct load_trace {
	struct load_trace_rec *v;
	size_t n, cap;
	bool short_of_memory;	/* some records were not kept */
};

struct load_result {
	uint64_t scheduled;
	uint64_t outcomes[LOAD__COUNT];
	struct hist ok_latency;		/* from scheduled time, 2xx only */
	struct hist shed_latency;	/* from scheduled time, 503 only */
	struct hist lateness;		/* actual send - scheduled */
	double elapsed_s;
	unsigned nbins;
	struct load_bin *bins;		/* 100 ms each */
	struct load_trace trace;	/* --trace */
};

#define LOAD_BIN_US 100000

/* report.c */
void load_result_record(struct load_result *r, enum load_outcome o,
			uint64_t sched_us_rel, uint64_t latency_us);
void load_report_table(const struct load_opts *o, const struct load_result *r);
int load_report_json(const struct load_opts *o, const struct load_result *r);

/* trace.c */
struct conn;
void load_trace_add(struct load_trace *t, const struct conn *c, enum load_outcome o,
		    uint64_t done_us);
int load_trace_write(const char *path, const struct load_trace *t);
void load_trace_free(struct load_trace *t);

#endif
