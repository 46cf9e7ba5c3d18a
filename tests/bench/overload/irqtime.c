// SPDX-License-Identifier: MIT
/*
 * irqtime: runs a command and prints the softirq time of all CPUs while it
 * ran, in ns, as JSON: {"all_ns":N,"net_rx_ns":N,"net_tx_ns":N,"veth_ns":N,
 * "wall_ns":N}, veth_ns being the NAPI poll time of the veth devices named
 * with -d (at most two). The overload bench wraps each load run in it (see
 * irqtime.bpf.c).
 *
 * Usage: irqtime [-o FILE] [-d DEV [-d DEV]] -- COMMAND [ARGS]
 * Exit status: the command's, or 1 when the measure could not be set up.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "irqtime.skel.h"

#define NR_VEC 10
#define NET_TX 2
#define NET_RX 3

/* Sums a per-CPU array of n counters over the CPUs. */
static int read_sums(int fd, unsigned n, unsigned long long *out)
{
	int ncpu = libbpf_num_possible_cpus();
	unsigned long long *v;

	if (ncpu <= 0)
		return -EINVAL;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (__u32 k = 0; k < n; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, v)) {
			free(v);
			return -errno;
		}
		for (int c = 0; c < ncpu; c++)
			out[k] += v[c];
	}
	free(v);
	return 0;
}

static unsigned long long mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	const char *out_path = NULL, *devs[2] = { 0 };
	int c, ndev = 0;

	while ((c = getopt(argc, argv, "+o:d:h")) != -1) {
		if (c == 'o') {
			out_path = optarg;
		} else if (c == 'd' && ndev < 2 && strlen(optarg) < 16) {
			devs[ndev++] = optarg;
		} else {
			fprintf(c == 'h' ? stdout : stderr,
				"Usage: irqtime [-o FILE] [-d DEV [-d DEV]] -- COMMAND [ARGS]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "irqtime: expected a command to run\n");
		return 2;
	}

	struct irqtime_bpf *skel = irqtime_bpf__open();
	if (skel) {
		for (int d = 0; d < ndev; d++)
			memcpy((char *)skel->rodata->dev_names[d], devs[d], strlen(devs[d]));
		if (irqtime_bpf__load(skel)) {
			irqtime_bpf__destroy(skel);
			skel = NULL;
		}
	}
	if (!skel) {
		fprintf(stderr, "irqtime: cannot load the BPF program (root? BTF?)\n");
		return 1;
	}
	if (irqtime_bpf__attach(skel)) {
		fprintf(stderr, "irqtime: cannot attach to the softirq raw tracepoints\n");
		irqtime_bpf__destroy(skel);
		return 1;
	}

	unsigned long long before[NR_VEC], after[NR_VEC], vb[2], va[2];
	int fd_ns = bpf_map__fd(skel->maps.irqt_ns), fd_veth = bpf_map__fd(skel->maps.irqt_veth_ns);
	unsigned long long t0 = mono_ns();
	int status = 0, rc = 1;
	if (read_sums(fd_ns, NR_VEC, before) || read_sums(fd_veth, 2, vb))
		goto out;
	pid_t pid = fork();
	if (pid < 0)
		goto out;
	if (pid == 0) {
		execvp(argv[optind], &argv[optind]);
		fprintf(stderr, "irqtime: cannot run %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (read_sums(fd_ns, NR_VEC, after) || read_sums(fd_veth, 2, va))
		goto out;

	unsigned long long all = 0;
	for (int k = 0; k < NR_VEC; k++)
		all += after[k] - before[k];
	FILE *f = out_path ? fopen(out_path, "w") : stdout;
	if (!f) {
		fprintf(stderr, "irqtime: cannot write %s: %s\n", out_path, strerror(errno));
		goto out;
	}
	fprintf(f, "{\"all_ns\":%llu,\"net_rx_ns\":%llu,\"net_tx_ns\":%llu,\"veth_ns\":%llu,"
		   "\"wall_ns\":%llu}\n",
		all, after[NET_RX] - before[NET_RX], after[NET_TX] - before[NET_TX],
		(va[0] - vb[0]) + (va[1] - vb[1]), mono_ns() - t0);
	if (f != stdout)
		fclose(f);
	rc = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
out:
	irqtime_bpf__destroy(skel);
	return rc;
}
