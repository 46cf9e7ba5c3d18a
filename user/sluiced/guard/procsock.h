/* SPDX-License-Identifier: MIT */
/*
 * The process behind a socket, and the CPU time it uses: guard mode's
 * busy fraction of a service it does not run. The owner is found once
 * per listener (a scan of /proc/PID/fd, like `ss -p`); its CPU time is
 * then one clock read a tick (the kernel's per-process CPU clock, in ns,
 * summed over its threads).
 *
 * API:
 *   sld_socket_owner(inode, &pid)   0, -ENOENT if no process we may see
 *                                   holds it, or -errno
 *   sld_cpu_open(pid, &c)           the process's CPU clock and the CPUs
 *                                   it may run on (its affinity)
 *   sld_cpu_read(&c, &ns)           CPU time used so far, ns; -ESRCH once
 *                                   the process is gone
 */
#ifndef SLUICED_PROCSOCK_H
#define SLUICED_PROCSOCK_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct sld_cpu {
	pid_t pid;
	clockid_t clock;
	unsigned cpus;		/* CPUs in its affinity mask, >= 1 */
};

int sld_socket_owner(uint32_t inode, pid_t *pid);
int sld_cpu_open(pid_t pid, struct sld_cpu *c);
int sld_cpu_read(const struct sld_cpu *c, uint64_t *ns);

#endif /* SLUICED_PROCSOCK_H */
