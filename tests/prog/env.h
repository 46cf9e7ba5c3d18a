/* SPDX-License-Identifier: MIT */
/*
 * The data plane under test: the real skeleton, opened and loaded without
 * pinning, and helpers to set its maps and run packets through it.
 * Shared by the data-plane tests and the benchmark.
 *
 * API:
 *   env_open(src_entries, why, whylen) -> 0 or -errno (why says what is missing);
 *                                      env_coarse_clock set first selects that clock
 *   env_close()
 *   env_reset()                        default services, prefixes; clear state
 *   env_set_service(slot, svc)         sl_services + sl_ports, in update order, and
 *                                      the slot's per-source table if it has none
 *   env_src_table_fd(slot)             a new fd of the slot's table, or -errno
 *   env_src_fast_fd(slot)              the same for its fast table (sl_src_fast)
 *   env_set_prefix4/6(cidr, kind, cls)
 *   env_clear_prefixes()               both tries emptied
 *   env_set_admission(slot, adm)       the entry, and SL_SVC_DAEMON on the service
 *   env_del_admission(slot)
 *   env_set_level(level)
 *   env_stats(slot, out)               summed over CPUs
 *   env_run(fd, pkt, len, repeat, res) one BPF_PROG_TEST_RUN
 *   env_run_tc_gro(pkt, len, segs, size, res)  the TC program on an skb that
 *                                      GRO made of segs datagrams of size bytes
 */
#ifndef SLUICE_TESTS_ENV_H
#define SLUICE_TESTS_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <sluice/abi.h>
#include "sluice.skel.h"

extern struct sluice_bpf *env_skel;
extern int env_xdp_fd, env_tc_fd;
extern bool env_coarse_clock;	/* env_open: buckets on the coarse clock */
extern __u32 env_src_entries;	/* entries of each per-source table */

/* Default services (env_reset). */
enum {
	SLOT_TCP80 = 1,		/* TCP 80, drop, no bucket */
	SLOT_TCP443 = 2,	/* TCP 443, reject */
	SLOT_UDP53 = 3,		/* UDP 53, drop */
	SLOT_TCP8080 = 4,	/* TCP 8080, mark 0x5a */
	SLOT_TCP81 = 5,		/* TCP 81, drop, monitor */
	SLOT_TCP82 = 6,		/* TCP 82, drop; limits set per test */
	SLOT_UDP54 = 7,		/* UDP 54, reject (treated as drop) */
	SLOT_USED = 8,		/* slots 0..SLOT_USED-1 are checked */
};
#define TEST_MARK 0x5a

struct run_result {
	__u32 retval;
	__u32 duration;		/* ns per run, from the kernel */
	__u8 out[2048];
	__u32 out_len;
	__u32 mark;		/* TC: skb->mark after the run */
};

int env_open(__u32 src_entries, char *why, size_t whylen);
void env_close(void);
int env_reset(void);
int env_set_service(__u32 slot, const struct sl_service *svc);
int env_src_table_fd(__u32 slot);
int env_src_fast_fd(__u32 slot);
int env_set_prefix4(const char *cidr, int kind, int cls);
int env_set_prefix6(const char *cidr, int kind, int cls);
int env_clear_prefixes(void);
int env_set_admission(__u32 slot, const struct sl_admission *adm);
int env_del_admission(__u32 slot);
int env_set_level(__u32 level);
int env_clear_state(void);
int env_stats(__u32 slot, struct sl_stats *out);
int env_run(int fd, const void *pkt, __u32 len, int repeat, struct run_result *res);
int env_run_tc_gro(const void *pkt, __u32 len, __u32 segs, __u32 size, struct run_result *res);
__u64 env_now_ns(void);

#endif
