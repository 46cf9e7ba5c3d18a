// SPDX-License-Identifier: MIT
/*
 * Guard mode's BPF object (bpf/guard.bpf.c): check that the kernel has
 * what it needs before anything is loaded (BTF, the four tracepoints),
 * load it for our network namespace (with the data plane's sl_held, where
 * it counts the connections each guarded service holds), attach it, add
 * the guarded ports and their slots, and read a port's counters summed
 * over CPUs.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guard.skel.h"
#include "log.h"
#include "netns.h"
#include "sluiced.h"

#define VMLINUX_BTF "/sys/kernel/btf/vmlinux"

/* The BTF tracepoints attached, by their kernel names. */
static const char *const tracepoints[] = { "inet_sock_set_state", "sk_data_ready",
					   "tcp_rcv_space_adjust", "sock_send_length" };

int sld_guard_bpf_check(void)
{
	struct btf *btf;
	int err = 0;

	if (access(VMLINUX_BTF, R_OK)) {
		pr_err("guard mode needs the kernel's BTF (%s: %s): build the kernel "
		       "with CONFIG_DEBUG_INFO_BTF=y", VMLINUX_BTF, strerror(errno));
		return -ENOTSUP;
	}
	btf = btf__load_vmlinux_btf();
	if (!btf) {
		err = -errno;
		pr_err("cannot read the kernel's BTF (%s): %s", VMLINUX_BTF, strerror(-err));
		return err;
	}
	for (size_t i = 0; i < sizeof(tracepoints) / sizeof(tracepoints[0]); i++) {
		char name[64];

		snprintf(name, sizeof(name), "btf_trace_%s", tracepoints[i]);
		if (btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF) < 0) {
			pr_err("guard mode needs the %s tracepoint, which this kernel "
			       "lacks (Linux 6.6 or later has it)", tracepoints[i]);
			err = -ENOTSUP;
		}
	}
	btf__free(btf);
	return err;
}

int sld_guard_bpf_open(struct sld_guard_bpf *gb, int held_fd)
{
	struct guard_bpf *skel;
	uint32_t netns;
	int err;

	memset(gb, 0, sizeof(*gb));
	err = sld_guard_bpf_check();
	if (err)
		return err;
	err = sl_netns_inode(&netns);
	if (err)
		return err;
	skel = guard_bpf__open();
	if (!skel) {
		err = -errno;
		pr_err("cannot open the guard's BPF object: %s", strerror(-err));
		return err;
	}
	skel->rodata->guard_netns = netns;
	/* The data plane's pinned sl_held, so that it reads what we count;
	 * without pins the object keeps its own, and nothing is counted. */
	if (held_fd >= 0) {
		err = bpf_map__reuse_fd(skel->maps.sl_held, held_fd);
		if (err) {
			pr_err("cannot share %s with the guard's programs: %s", SL_MAP_HELD,
			       strerror(-err));
			goto out;
		}
	}
	err = guard_bpf__load(skel);
	if (err) {
		pr_err("cannot load the guard's BPF programs: %s (needs CAP_BPF and "
		       "CAP_PERFMON, or root)", strerror(-err));
		goto out;
	}
	err = guard_bpf__attach(skel);
	if (err) {
		pr_err("cannot attach the guard's tracepoints: %s", strerror(-err));
		goto out;
	}
	gb->ncpu = libbpf_num_possible_cpus();
	if (gb->ncpu <= 0) {
		err = gb->ncpu ? gb->ncpu : -EINVAL;
		pr_err("cannot count the CPUs: %s", strerror(-err));
		goto out;
	}
	gb->percpu = calloc((size_t)gb->ncpu, sizeof(*gb->percpu));
	if (!gb->percpu) {
		err = -ENOMEM;
		goto out;
	}
	gb->skel = skel;
	return 0;
out:
	guard_bpf__destroy(skel);
	return err;
}

int sld_guard_bpf_port(struct sld_guard_bpf *gb, uint16_t port, int idx, uint32_t shift)
{
	__u32 key = port, val = idx < 0 ? 0 : SL_GUARD_PORT(idx, shift);

	if (bpf_map_update_elem(bpf_map__fd(gb->skel->maps.guard_ports), &key, &val, BPF_ANY))
		return -errno;
	/* The filter in front of guard_ports (guard_abi.h), in the object's
	 * mmapped .bss: a bit is never cleared, as another port may share it. */
	if (val)
		gb->skel->bss->guard_port_bits[SL_GUARD_PORT_WORD(port)] |= SL_GUARD_PORT_BIT(port);
	return 0;
}

void sld_guard_bpf_slot(struct sld_guard_bpf *gb, int idx, uint32_t slot)
{
	/* The object's mmapped .bss: a connection established from now on is
	 * counted in the new slot; one counted before comes off the old. */
	if (idx >= 0 && idx < SL_GUARD_MAX)
		__atomic_store_n(&gb->skel->bss->guard_slot[idx], slot, __ATOMIC_RELAXED);
}

int sld_guard_bpf_read(struct sld_guard_bpf *gb, int idx, struct sl_guard_stats *sum)
{
	struct sl_guard_stats *per = gb->percpu;
	__u32 key = (__u32)idx;

	if (bpf_map_lookup_elem(bpf_map__fd(gb->skel->maps.guard_stats), &key, per))
		return -errno;
	memset(sum, 0, sizeof(*sum));
	for (int c = 0; c < gb->ncpu; c++) {
		sum->started += per[c].started;
		sum->answered += per[c].answered;
		sum->sojourn_ns += per[c].sojourn_ns;
		sum->conns += per[c].conns;
		sum->served += per[c].served;
		sum->closed += per[c].closed;
		sum->abandoned += per[c].abandoned;
		for (int b = 0; b < SL_GUARD_BUCKETS; b++) {
			sum->hist[b] += per[c].hist[b];
			sum->whist[b] += per[c].whist[b];
		}
	}
	return 0;
}

void sld_guard_bpf_close(struct sld_guard_bpf *gb)
{
	if (gb->skel)
		guard_bpf__destroy(gb->skel);
	free(gb->percpu);
	gb->skel = NULL;
	gb->percpu = NULL;
}
