// SPDX-License-Identifier: MIT
/*
 * The process behind a socket and its CPU time (procsock.h).
 */
#define _GNU_SOURCE
#include "procsock.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Does process pid hold a descriptor of the socket "socket:[inode]"? */
static bool holds(const char *pid, const char *want)
{
	char path[300], link[64];
	struct dirent *e;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	d = opendir(path);
	if (!d)
		return false;	/* gone, or not ours to see */
	while (!found && (e = readdir(d))) {
		char fd[600];
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(fd, sizeof(fd), "%s/%s", path, e->d_name);
		n = readlink(fd, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		found = strcmp(link, want) == 0;
	}
	closedir(d);
	return found;
}

int sld_socket_owner(uint32_t inode, pid_t *pid)
{
	char want[32];
	struct dirent *e;
	DIR *d = opendir("/proc");
	int err = -ENOENT;

	if (!d)
		return -errno;
	snprintf(want, sizeof(want), "socket:[%u]", inode);
	while ((e = readdir(d))) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		if (holds(e->d_name, want)) {
			*pid = (pid_t)atoi(e->d_name);
			err = 0;
			break;
		}
	}
	closedir(d);
	return err;
}

int sld_cpu_open(pid_t pid, struct sld_cpu *c)
{
	cpu_set_t set;
	int err;

	c->pid = pid;
	err = clock_getcpuclockid(pid, &c->clock);
	if (err)
		return -err;
	c->cpus = 1;
	if (sched_getaffinity(pid, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		c->cpus = (unsigned)CPU_COUNT(&set);
	return 0;
}

int sld_cpu_read(const struct sld_cpu *c, uint64_t *ns)
{
	struct timespec ts;

	if (clock_gettime(c->clock, &ts))
		return errno == EINVAL ? -ESRCH : -errno;
	*ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	return 0;
}
