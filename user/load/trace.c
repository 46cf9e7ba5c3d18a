// SPDX-License-Identifier: MIT
/*
 * sluice-load --trace: a record per request that had a connection, written
 * when the run ends, so that the slowest requests can be followed against
 * the server's own records of them (the client's port is the server's
 * peer port; both sides read CLOCK_MONOTONIC, which network namespaces
 * share). A percentile says how slow the tail is; only such a timeline
 * says where it spent its time: before the client sent, in the handshake,
 * or after the server answered.
 *
 * The file: a header line, then one line per request, tab-separated:
 * scheduled, connect() called, request written whole, first bytes of the
 * answer read, outcome known (microseconds, 0 where it did not get that
 * far), the client's port, the outcome's name. Requests that never had a
 * connection (overflow, late, an error of connect() itself) are counted
 * in the report, not here.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conn.h"
#include "load.h"

static uint16_t local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void load_trace_add(struct load_trace *t, const struct conn *c, enum load_outcome o,
		    uint64_t done_us)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 4096;
		struct load_trace_rec *v = realloc(t->v, cap * sizeof(*v));

		if (!v) {
			t->short_of_memory = true;
			return;
		}
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = (struct load_trace_rec){
		.sched_us = c->sched_us, .connect_us = c->connect_us,
		.sent_us = c->sent_us, .first_us = c->first_us, .done_us = done_us,
		.port = local_port(c->fd), .outcome = (uint8_t)o,
	};
}

int load_trace_write(const char *path, const struct load_trace *t)
{
	FILE *f = fopen(path, "w");
	int err;

	if (!f) {
		err = -errno;
		fprintf(stderr, "sluice-load: cannot write %s: %s\n", path, strerror(errno));
		return err;
	}
	fputs("# sched_us\tconnect_us\tsent_us\tfirst_us\tdone_us\tport\toutcome\n", f);
	for (size_t i = 0; i < t->n; i++) {
		const struct load_trace_rec *r = &t->v[i];

		fprintf(f, "%llu\t%llu\t%llu\t%llu\t%llu\t%u\t%s\n",
			(unsigned long long)r->sched_us, (unsigned long long)r->connect_us,
			(unsigned long long)r->sent_us, (unsigned long long)r->first_us,
			(unsigned long long)r->done_us, r->port, load_outcome_names[r->outcome]);
	}
	err = ferror(f) ? -EIO : 0;
	if (fclose(f))
		err = -errno;
	if (err)
		fprintf(stderr, "sluice-load: writing %s failed\n", path);
	else if (t->short_of_memory)
		fprintf(stderr, "sluice-load: out of memory: %s lacks some requests\n", path);
	return err;
}

void load_trace_free(struct load_trace *t)
{
	free(t->v);
	*t = (struct load_trace){ 0 };
}
