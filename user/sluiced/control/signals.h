/* SPDX-License-Identifier: MIT */
/*
 * Load signals sluiced reads from the kernel each tick, besides the pool's
 * own measurements: CPU pressure (PSI) and the listening socket's accept
 * backlog. Both feed the controller (control.h).
 *
 * API:
 *   sld_psi_parse(text, &psi)        parse pressure-file text ("some avg10=...")
 *   sld_psi_open(&r, path)           path NULL: /proc/pressure/cpu; a cgroup's
 *                                    cpu.pressure works too. Absent (no PSI in
 *                                    this kernel, or psi=0): 0, r.fd = -1
 *   sld_psi_read(&r, &psi)           psi.valid false when unavailable
 *   sld_psi_close(&r)
 *   sld_accept_backlog(fd, &b)       queued connections and the limit of a
 *                                    listening TCP socket
 * All return 0 or -errno.
 */
#ifndef SLUICED_SIGNALS_H
#define SLUICED_SIGNALS_H

#include <stdbool.h>
#include <stdint.h>

#define SLD_PSI_CPU_PATH "/proc/pressure/cpu"

/* One line of a pressure file: share of wall time (percent) in which some
 * (or all) runnable tasks were stalled, over 10, 60 and 300 s. */
struct sld_psi_line {
	bool present;
	double avg10, avg60, avg300;
	uint64_t total_us;	/* cumulative stall time */
};

struct sld_psi {
	bool valid;		/* false: PSI unavailable here */
	struct sld_psi_line some;
	struct sld_psi_line full;	/* CPU "full" exists since Linux 5.13 */
};

struct sld_psi_reader {
	int fd;			/* -1 when unavailable */
};

int sld_psi_parse(const char *text, struct sld_psi *out);
int sld_psi_open(struct sld_psi_reader *r, const char *path);
int sld_psi_read(struct sld_psi_reader *r, struct sld_psi *out);
void sld_psi_close(struct sld_psi_reader *r);

struct sld_backlog {
	uint32_t queued;	/* connections completed, waiting for accept() */
	uint32_t limit;		/* the listen() backlog, as the kernel applies it */
};

int sld_accept_backlog(int listen_fd, struct sld_backlog *out);

#endif /* SLUICED_SIGNALS_H */
