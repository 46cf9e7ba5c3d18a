// SPDX-License-Identifier: MIT
/*
 * Readers of the kernel's load signals: the PSI pressure files and a
 * listening socket's accept queue (through TCP_INFO).
 */
#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* "avg10=1.23 avg60=4.56 avg300=7.89 total=12345": each field once, in
 * this order, as every kernel since 4.20 prints it. */
static int parse_line(const char *s, struct sld_psi_line *l)
{
	static const char *const keys[] = { "avg10=", "avg60=", "avg300=" };
	double *vals[] = { &l->avg10, &l->avg60, &l->avg300 };
	char *end;

	for (int i = 0; i < 3; i++) {
		size_t n = strlen(keys[i]);

		while (*s == ' ')
			s++;
		if (strncmp(s, keys[i], n) != 0)
			return -EINVAL;
		s += n;
		if (*s < '0' || *s > '9')
			return -EINVAL;
		errno = 0;
		*vals[i] = strtod(s, &end);
		if (errno || end == s || *vals[i] > 100.0)
			return -EINVAL;
		s = end;
	}
	while (*s == ' ')
		s++;
	if (strncmp(s, "total=", 6) != 0 || s[6] < '0' || s[6] > '9')
		return -EINVAL;
	errno = 0;
	l->total_us = strtoull(s + 6, &end, 10);
	if (errno || (*end && *end != '\n' && *end != ' '))
		return -EINVAL;
	l->present = true;
	return 0;
}

int sld_psi_parse(const char *text, struct sld_psi *out)
{
	struct sld_psi p = { .valid = false };
	const char *line = text;
	int err = 0;

	while (*line) {
		const char *nl = strchr(line, '\n');

		if (strncmp(line, "some ", 5) == 0) {
			err = p.some.present ? -EINVAL : parse_line(line + 5, &p.some);
		} else if (strncmp(line, "full ", 5) == 0) {
			err = p.full.present ? -EINVAL : parse_line(line + 5, &p.full);
		}
		/* other lines: a future kernel's additions, ignored */
		if (err)
			goto out;
		if (!nl)
			break;
		line = nl + 1;
	}
	if (!p.some.present) {
		err = -EINVAL;
		goto out;
	}
	p.valid = true;
	*out = p;
out:
	return err;
}

int sld_psi_open(struct sld_psi_reader *r, const char *path)
{
	r->fd = open(path ? path : SLD_PSI_CPU_PATH, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		/* No PSI in this kernel: a missing signal, not an error. */
		if (errno == ENOENT)
			return 0;
		return -errno;
	}
	return 0;
}

int sld_psi_read(struct sld_psi_reader *r, struct sld_psi *out)
{
	char buf[512];
	ssize_t n;

	out->valid = false;
	if (r->fd < 0)
		return 0;
	/* The kernel builds the text afresh on each read from offset 0. */
	n = pread(r->fd, buf, sizeof(buf) - 1, 0);
	if (n < 0) {
		/* Built with PSI but booted with psi=0: reads fail so. */
		if (errno == EOPNOTSUPP)
			return 0;
		return -errno;
	}
	buf[n] = '\0';
	return sld_psi_parse(buf, out);
}

void sld_psi_close(struct sld_psi_reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

/*
 * For a socket in LISTEN state, tcp_get_info() reports the accept queue in
 * fields that mean something else on a connection: tcpi_unacked is the
 * number of connections waiting for accept() (sk_ack_backlog) and
 * tcpi_sacked the backlog limit (sk_max_ack_backlog). The test checks this
 * on a real listener.
 */
int sld_accept_backlog(int listen_fd, struct sld_backlog *out)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(listen_fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return -errno;
	if (ti.tcpi_state != TCP_LISTEN)
		return -EINVAL;
	out->queued = ti.tcpi_unacked;
	out->limit = ti.tcpi_sacked;
	return 0;
}
