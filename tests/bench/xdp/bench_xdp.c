// SPDX-License-Identifier: MIT
/*
 * Data-plane benchmark: the cost per packet of each path through sluice's
 * XDP (and TC) program, measured with BPF_PROG_TEST_RUN and a large repeat
 * count, next to an empty program run the same way in the same rounds.
 * Prints a table of ns/packet and ratio to the empty program (each
 * program's least of its rounds: see least()), for two setups of the maps: every limiter in play (a daemon
 * entry on each service, 2000 prefix rules per family) and bare static
 * limits (no daemon, no prefix rule: what `sluicectl service add` alone
 * gives); the verifier's instruction counts, and a comparison of the
 * bucket-update mechanisms (compare-and-exchange, spin lock, plain) with
 * one CPU and with both CPUs flooding one bucket.
 *
 * First, the bar of issue 11 on one 64-byte SYN: a judged SYN (admitted,
 * and dropped by the service bucket, every limiter in play) against
 * xdp-filter (xdp-tools' xdpfilt_dny_all with a few port, IP and Ethernet
 * rules the packet misses, so it walks every lookup) and a SYN to an
 * unprotected port against the empty program, all in the same rounds;
 * then, in the same rounds, what each limiter costs alone: a judged SYN
 * that meets only the prefix rules, and one service per limiter beside
 * them (no bar: they say where the time of the first row goes).
 *
 * Environment: BENCH_REPEAT (runs per measurement, default 1000000),
 * BENCH_ROUNDS (default 9), BENCH_BAR_REPEAT (default 1000000) and
 * BENCH_BAR_ROUNDS (default 21) for the bar, BENCH_BAR_ONLY=1 to stop after
 * it (a quick check, or a run to profile), XDP_FILTER_OBJ (xdp-tools'
 * object). Needs root; says so and exits 0 otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "env.h"
#include "loader.h"
#include "pkt.h"
#include "empty.skel.h"
#include "lockcmp.skel.h"
#include "parts.skel.h"

#define MAX_ROUNDS 64

/* The path table is positional with trailing fields left to zero. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static int repeat = 1000000;
static int rounds = 9;

/* Bench-only services, beside env_reset()'s defaults. */
enum {
	SLOT_ADMIT = SLOT_TCP82,	/* TCP 82: every limiter on, never refuses */
	SLOT_SVCFULL = 8,		/* TCP 83: service bucket empty */
	SLOT_SRCFULL = 9,		/* TCP 84: source bucket empty, LRU full */
	SLOT_STATIC = 10,		/* TCP 85: as TCP 83, without a daemon */
	/* The cost of each limiter alone (the bar's extra rows), FULL only:
	 * TCP 90 + i, slot 11 + i, never refusing. */
	SLOT_FEATURES = 11,
};

/*
 * One service per limiter, each alone beside the prefix rules that every
 * judged SYN of the FULL setup meets: what that limiter adds to a judged
 * SYN. Rates that a 64-byte SYN per 10 ns would not empty.
 */
enum feature { F_NONE, F_DAEMON, F_SVC, F_SRC, F_CONNS, F_FLEET, NFEATURES };

static const char *const feature_name[NFEATURES] = {
	[F_NONE] = "SYN admitted, prefix rules alone",
	[F_DAEMON] = "  + daemon entry (heartbeat, level)",
	[F_SVC] = "  + service bucket",
	[F_SRC] = "  + per-source bucket",
	[F_CONNS] = "  + per-source connection limit",
	[F_FLEET] = "  + fleet quotas (seen counter)",
};

enum prog_kind { XDP, TC };

/* The maps' contents a path runs against (setup_maps). */
enum setup { FULL, BARE, NSETUPS };

struct path {
	const char *name;
	enum prog_kind kind;
	struct pkt spec;
	int bar;		/* 0: baseline; 13 = 1.3x; 25 = 2.5x */
	bool empty;		/* the baseline program itself */
	bool rules;		/* judged by a prefix rule: not in the BARE table */
	__u8 pkt[512];
	int len;
	/* [setup][0]: buckets on bpf_ktime_get_ns (default), [1]: on the coarse clock */
	double ns[NSETUPS][2][MAX_ROUNDS];
};

#define V6Q .family = 6, .vlans = 2, .ext = "HD"

static struct path paths[] = {
	{ "empty XDP program (baseline)", XDP, { 0 }, 0, true },
	{ "TCP ACK to a protected port", XDP, { .flags = TH_ACK }, 13 },
	{ "TCP ACK, IPv6", XDP, { .family = 6, .flags = TH_ACK }, 13 },
	{ "TCP ACK, IPv6 + QinQ + 2 ext hdrs", XDP, { V6Q, .flags = TH_ACK }, 13 },
	{ "SYN to an unprotected port", XDP, { .dport = 22 }, 13 },
	{ "UDP to an unprotected port", XDP, { .l4 = IPPROTO_UDP, .dport = 5353 }, 13 },
	{ "SYN admitted, no bucket set", XDP, { 0 }, 25 },
	{ "SYN admitted, all limiters on", XDP, { .dport = 82 }, 25 },
	{ "SYN admitted, IPv6 + QinQ + ext", XDP, { V6Q, .dport = 82 }, 25 },
	{ "SYN dropped: service bucket", XDP, { .dport = 83 }, 25 },
	{ "  same, no daemon (static limits)", XDP, { .dport = 85 }, 25 },
	{ "SYN dropped: source bucket, LRU full", XDP, { .dport = 84 }, 25 },
	{ "  same, IPv6 /64 + QinQ + ext", XDP, { V6Q, .dport = 84 }, 25 },
	{ "SYN dropped: deny prefix", XDP, { .src = "198.18.2.7" }, 25, .rules = true },
	{ "empty TC program (baseline)", TC, { 0 }, 0, true },
	{ "TC: TCP ACK to a protected port", TC, { .flags = TH_ACK }, 13 },
	{ "TC: SYN admitted, all limiters on", TC, { .dport = 82 }, 25 },
	{ "TC: SYN dropped: source bucket", TC, { .dport = 84 }, 25 },
};
#define NPATHS (sizeof(paths) / sizeof(paths[0]))

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * A program's cost per packet: the least of its rounds. What disturbs a
 * round on a shared machine (an interrupt, a page of another process's in
 * the cache, a slower clock while another core works) only ever adds
 * time, so the least is the nearest to the program's own cost, and the
 * ratio of two programs' least is the ratio of their own costs. Medians
 * of per-round ratios moved by a few tenths of a ns between runs of the
 * same build (1.28 to 1.40x for one path), more than a bar's margin. Every
 * per-packet row is summarised so; lockcmp's 2-CPU figures, which measure
 * contention itself, keep their medians.
 */
static double least(const double *v, int n)
{
	double m = v[0];

	for (int i = 1; i < n; i++)
		m = v[i] < m ? v[i] : m;
	return m;
}

static double median(const double *v, int n)
{
	double s[MAX_ROUNDS];

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* The services of the feature rows (SLOT_FEATURES + enum feature). */
static int setup_features(const struct sl_admission *fresh)
{
	struct sl_admission fleet = *fresh;
	struct sl_src_key k = { .slot = SLOT_FEATURES + F_CONNS, .family = 4, .prefixlen = 32 };
	struct sl_src_conns one = { .open = 1 };
	int f, err = 0;

	fleet.flags = SL_ADM_FLEET;
	for (f = 0; f < NFEATURES && !err; f++) {
		struct sl_service svc = { .port = 90 + f, .proto = SL_PROTO_TCP,
					  .action = SL_ACT_DROP };

		if (f == F_SVC)
			svc.rate = 100000000, svc.burst = 1000;
		if (f == F_SRC)
			svc.src_rate = 100000000, svc.src_burst = 1000;
		if (f == F_CONNS)
			svc.src_conns = 1000;
		err = env_set_service(SLOT_FEATURES + f, &svc);
		if (!err && f == F_DAEMON)
			err = env_set_admission(SLOT_FEATURES + f, fresh);
		if (!err && f == F_FLEET)
			err = env_set_admission(SLOT_FEATURES + f, &fleet);
	}
	/* The source holds one open connection of its 1000. */
	inet_pton(AF_INET, "198.18.0.10", k.addr);
	if (!err && bpf_map_update_elem(bpf_map__fd(env_skel->maps.sl_src_conns), &k, &one,
					BPF_ANY))
		err = -errno;
	return err;
}

static int setup_maps(enum setup setup)
{
	/* 10^8/s: a SYN per 10 ns, more than one CPU judges; a bucket whose
	 * interval (1e9 / rate) is not 0. */
	struct sl_service admit = { .port = 82, .proto = SL_PROTO_TCP, .action = SL_ACT_DROP,
				    .rate = 100000000, .burst = 1000,
				    .src_rate = 100000000, .src_burst = 1000 };
	struct sl_service svcfull = { .port = 83, .proto = SL_PROTO_TCP,
				      .action = SL_ACT_DROP, .rate = 1, .burst = 1 };
	struct sl_service svcstatic = { .port = 85, .proto = SL_PROTO_TCP,
					.action = SL_ACT_DROP, .rate = 1, .burst = 1 };
	struct sl_service srcfull = { .port = 84, .proto = SL_PROTO_TCP,
				      .action = SL_ACT_DROP, .rate = 4000000000u,
				      .burst = 1000, .src_rate = 1, .src_burst = 1 };
	struct sl_admission adm = { .heartbeat_ns = env_now_ns(),
				    .stale_after_ns = 3600ull * 1000000000ull };
	__u32 i, n = env_src_entries;
	char cidr[64];
	int fd, err;

	err = env_reset();
	if (setup == BARE)
		err = err ?: env_clear_prefixes();
	err = err ?: env_set_service(SLOT_ADMIT, &admit);
	err = err ?: env_set_service(SLOT_SVCFULL, &svcfull);
	err = err ?: env_set_service(SLOT_SRCFULL, &srcfull);
	err = err ?: env_set_service(SLOT_STATIC, &svcstatic);
	if (setup == BARE)
		goto sources;
	err = err ?: setup_features(&adm);
	/* A fresh daemon entry on every judged service but the static one:
	 * the longest path. */
	err = err ?: env_set_admission(SLOT_ADMIT, &adm);
	err = err ?: env_set_admission(SLOT_SVCFULL, &adm);
	err = err ?: env_set_admission(SLOT_SRCFULL, &adm);
	err = err ?: env_set_admission(SLOT_TCP80, &adm);
	/* Tries of a realistic size: 2000 class rules each. */
	for (i = 0; i < 2000 && !err; i++) {
		snprintf(cidr, sizeof(cidr), "10.%u.%u.0/24", i / 256, i % 256);
		err = env_set_prefix4(cidr, SL_RULE_CLASS, 1 + i % 7);
		snprintf(cidr, sizeof(cidr), "2001:db8:%x:%x::/64", 0x100 + i / 256, i % 256);
		err = err ?: env_set_prefix6(cidr, SL_RULE_CLASS, 1 + i % 7);
	}
sources:
	/* Fill the service's table with other sources. */
	fd = err ? -1 : env_src_table_fd(SLOT_SRCFULL);
	if (fd < 0)
		return err ?: fd;
	for (i = 0; i < n && !err; i++) {
		/* IPv4 100.x.y.z/32 (abi.h: struct sl_src_bkey) */
		struct sl_src_bkey k = { .word = { 0xffffffff, htonl(100u << 24 | i) } };
		struct sl_src_bucket b = { .tat_ns = 0 };

		err = bpf_map_update_elem(fd, &k, &b, BPF_ANY);
	}
	close(fd);
	return err;
}

static __u64 thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * One measurement: ns per run. The kernel's own figure (duration) is a
 * whole number of ns, too coarse next to an empty program of a few ns, so
 * the syscall is timed from here, in the thread's CPU time: time lost to
 * other processes on this shared machine is not counted (wall-clock
 * figures doubled under a load average of 4). The syscall's fixed cost
 * (~1-2 us) is spread over `repeat` runs.
 */
static int measure_n(int fd, const void *pkt, int len, int n, double *ns)
{
	struct run_result *res = malloc(sizeof(*res));
	__u64 t0, t1;
	int err;

	if (!res)
		return -ENOMEM;
	t0 = thread_cpu_ns();
	err = env_run(fd, pkt, len, n, res);
	t1 = thread_cpu_ns();
	if (!err)
		*ns = (double)(t1 - t0) / n;
	free(res);
	return err;
}

static int measure(int fd, const void *pkt, int len, double *ns)
{
	return measure_n(fd, pkt, len, repeat, ns);
}

static void print_insns(const char *name, int fd)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		printf("  %-12s (no info: %s)\n", name, strerror(errno));
		return;
	}
	printf("  %-12s verified %6u insns   xlated %5u insns   jited %5u bytes\n", name,
	       info.verified_insns, info.xlated_prog_len / 8, info.jited_prog_len);
}

/* ---- bucket mechanisms ---- */
struct lc_arg {
	int fd, cpu;
	/* go: release/acquire, nothing else to publish but the start;
	 * stop: relaxed, results come back through pthread_join(). */
	int *go, *stop, *ready;
	__u64 runs, ns_total;
	int err;
};

/* Pins the calling thread to one CPU, or (-1) lets it run on any. */
static void pin_cpu(int cpu)
{
	cpu_set_t set;
	int i;

	CPU_ZERO(&set);
	if (cpu >= 0)
		CPU_SET(cpu, &set);
	else
		for (i = 0; i < CPU_SETSIZE && i < sysconf(_SC_NPROCESSORS_ONLN); i++)
			CPU_SET(i, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *lc_thread(void *p)
{
	struct lc_arg *a = p;
	static const __u8 pkt[64] = { 0 };

	pin_cpu(a->cpu);
	__sync_fetch_and_add(a->ready, 1);
	while (!__atomic_load_n(a->go, __ATOMIC_ACQUIRE))
		;
	while (!__atomic_load_n(a->stop, __ATOMIC_RELAXED) && !a->err) {
		double ns;

		a->err = measure_n(a->fd, pkt, sizeof(pkt), 20000, &ns);
		a->runs += 20000;
		a->ns_total += ns * 20000;
	}
	return NULL;
}

static void lc_sum(struct lockcmp_bpf *lc, __u64 *adm, __u64 *ref)
{
	int n = libbpf_num_possible_cpus(), i;
	__u64 v[256];
	__u32 k;

	*adm = *ref = 0;
	for (k = 0; k < 2; k++) {
		memset(v, 0, sizeof(v));
		if (n > 256 || bpf_map_lookup_elem(bpf_map__fd(lc->maps.lc_count), &k, v))
			return;
		for (i = 0; i < n; i++)
			*(k ? ref : adm) += v[i];
	}
}

static void lc_reset(struct lockcmp_bpf *lc)
{
	int n = libbpf_num_possible_cpus();
	__u64 zero[256] = { 0 };
	struct { __u32 lock, pad; __u64 tat; } lb = { 0 };
	__u64 t = 0;
	__u32 k;

	for (k = 0; k < 2; k++)
		bpf_map_update_elem(bpf_map__fd(lc->maps.lc_count), &k, zero, BPF_ANY);
	k = 0;
	bpf_map_update_elem(bpf_map__fd(lc->maps.lc_tat), &k, &t, BPF_ANY);
	bpf_map_update_elem(bpf_map__fd(lc->maps.lc_locked), &k, &lb, BPF_ANY);
	(void)n;
}

static int bench_lockcmp(void)
{
	/* 1M/s: admissions keep coming. 100 ms deep, so that other processes
	 * taking both CPUs for a while do not make a mechanism look lossy. */
	const __u64 rate = 1000000, burst = 100000;
	struct lockcmp_bpf *lc = lockcmp_bpf__open();
	struct { const char *name; int fd; } mech[3];
	int ncpu = sysconf(_SC_NPROCESSORS_ONLN) >= 2 ? 2 : 1;
	int m, r, c, lrounds = rounds < 5 ? rounds : 5;
	double one[3][MAX_ROUNDS], two[3][MAX_ROUNDS], acc[3][MAX_ROUNDS];

	if (!lc)
		return -errno;
	lc->rodata->lc_interval = 1000000000ull / rate;
	lc->rodata->lc_tolerance = burst * (1000000000ull / rate);
	if (lockcmp_bpf__load(lc)) {
		lockcmp_bpf__destroy(lc);
		return -EINVAL;
	}
	mech[0].name = "cmpxchg (sluice)";
	mech[0].fd = bpf_program__fd(lc->progs.lc_cas);
	mech[1].name = "bpf_spin_lock";
	mech[1].fd = bpf_program__fd(lc->progs.lc_lock);
	mech[2].name = "plain (racy)";
	mech[2].fd = bpf_program__fd(lc->progs.lc_plain);

	for (r = 0; r < lrounds; r++) {
		for (m = 0; m < 3; m++) {
			int go = 0, stop = 0, ready = 0;
			struct lc_arg a[2];
			pthread_t th[2];
			__u64 t0, t1, adm, ref;
			static const __u8 pkt[64] = { 0 };

			lc_reset(lc);
			pin_cpu(0);
			measure(mech[m].fd, pkt, sizeof(pkt), &one[m][r]);
			pin_cpu(-1);

			lc_reset(lc);
			for (c = 0; c < ncpu; c++) {
				a[c] = (struct lc_arg){ .fd = mech[m].fd, .cpu = c, .go = &go,
							.stop = &stop, .ready = &ready };
				pthread_create(&th[c], NULL, lc_thread, &a[c]);
			}
			while (__atomic_load_n(&ready, __ATOMIC_ACQUIRE) < ncpu)
				usleep(100);
			t0 = env_now_ns();
			__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
			usleep(300000);
			__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
			for (c = 0; c < ncpu; c++)
				pthread_join(th[c], NULL);
			t1 = env_now_ns();
			lc_sum(lc, &adm, &ref);
			two[m][r] = (double)(a[0].ns_total + a[ncpu - 1].ns_total) /
				    (a[0].runs + a[ncpu - 1].runs);
			acc[m][r] = (double)adm / (rate * ((t1 - t0) / 1e9) + burst);
		}
	}
	printf("\nBucket update mechanisms, one bucket at %llu/s, burst %llu (lockcmp.bpf.c;\n"
	       "%d rounds, medians; 2-CPU = %d CPUs flooding the same bucket for 0.3 s;\n"
	       "accuracy = admitted / (rate x elapsed + burst), elapsed measured around\n"
	       "the threads: above 1 is over-admission, a little below 1 is start-up slack):\n\n",
	       (unsigned long long)rate, (unsigned long long)burst, lrounds, ncpu);
	printf("  %-18s %12s %14s %16s\n", "mechanism", "1 CPU ns/pkt", "2-CPU ns/pkt",
	       "2-CPU accuracy");
	for (m = 0; m < 3; m++)
		printf("  %-18s %12.1f %14.1f %16.4f\n", mech[m].name, median(one[m], lrounds),
		       median(two[m], lrounds), median(acc[m], lrounds));
	lockcmp_bpf__destroy(lc);
	return 0;
}

/* ---- the building blocks, each on its own ---- */
static int bench_parts(int empty_fd)
{
	static const __u8 pkt[64] = { 0 };
	struct parts_bpf *pt = parts_bpf__open();
	struct sl_service svc = { 0 };
	struct sl_prefix_rule rule = { .kind = SL_RULE_CLASS, .cls = 3 };
	__u32 i, key = 6, addr = htonl(0xc612000a);	/* 198.18.0.10 */
	struct { const char *name; int fd; double ns[MAX_ROUNDS]; } part[12];
	int n = 0, r, k, err = 0;

	if (!pt)
		return -errno;
	pt->rodata->pt_addr4 = addr;
	if (parts_bpf__load(pt)) {
		parts_bpf__destroy(pt);
		return -EINVAL;
	}
	err = bpf_map_update_elem(bpf_map__fd(pt->maps.pt_hash), &key, &svc, BPF_ANY);
	for (i = 0; i < 2000 && !err; i++) {
		struct sl_lpm4_key lk = { .prefixlen = 24 };

		lk.addr[0] = 10;
		lk.addr[1] = i / 256;
		lk.addr[2] = i % 256;
		err = bpf_map_update_elem(bpf_map__fd(pt->maps.pt_lpm), &lk, &rule, BPF_ANY);
	}
	for (i = 0; i < 8 && !err; i++) {	/* the default rules' neighbourhood */
		struct sl_lpm4_key lk = { .prefixlen = 24, .addr = { 198, 18, i, 0 } };

		err = bpf_map_update_elem(bpf_map__fd(pt->maps.pt_lpm), &lk, &rule, BPF_ANY);
	}
	for (i = 0; i < SL_SOURCES_DEFAULT && !err; i++) {
		/* IPv4 100.x.y.z/32 (abi.h: struct sl_src_bkey) */
		struct sl_src_bkey sk = { .word = { 0xffffffff, htonl(100u << 24 | i) } };
		struct sl_src_bucket b = { 0 };

		if (i == SL_SOURCES_DEFAULT - 1)	/* the one looked up, inserted last */
			sk.word[1] = addr;
		err = bpf_map_update_elem(bpf_map__fd(pt->maps.pt_lru), &sk, &b, BPF_ANY);
	}
	if (err) {
		parts_bpf__destroy(pt);
		return -errno;
	}
	part[n].name = "empty XDP program";
	part[n++].fd = empty_fd;
	part[n].name = "bpf_ktime_get_ns()";
	part[n++].fd = bpf_program__fd(pt->progs.pt_ktime);
	part[n].name = "bpf_ktime_get_boot_ns()";
	part[n++].fd = bpf_program__fd(pt->progs.pt_boot);
	part[n].name = "bpf_ktime_get_tai_ns()";
	part[n++].fd = bpf_program__fd(pt->progs.pt_tai);
	part[n].name = "bpf_ktime_get_coarse_ns()";
	part[n++].fd = bpf_program__fd(pt->progs.pt_coarse);
	part[n].name = "bpf_jiffies64()";
	part[n++].fd = bpf_program__fd(pt->progs.pt_jiffies);
	part[n].name = "1e9 / rate (64-bit division)";
	part[n++].fd = bpf_program__fd(pt->progs.pt_div);
	part[n].name = "ARRAY lookup (inlined)";
	part[n++].fd = bpf_program__fd(pt->progs.pt_array_lookup);
	part[n].name = "HASH lookup (4-byte key)";
	part[n++].fd = bpf_program__fd(pt->progs.pt_hash_lookup);
	part[n].name = "LPM lookup, 2008 IPv4 rules";
	part[n++].fd = bpf_program__fd(pt->progs.pt_lpm_lookup);
	part[n].name = "LRU_HASH lookup, 65536 full";
	part[n++].fd = bpf_program__fd(pt->progs.pt_lru_lookup);
	part[n].name = "cmpxchg, uncontended";
	part[n++].fd = bpf_program__fd(pt->progs.pt_cmpxchg);

	pin_cpu(0);
	for (r = 0; r < rounds; r++)
		for (k = 0; k < n; k++)
			if ((err = measure(part[k].fd, pkt, sizeof(pkt), &part[k].ns[r])))
				goto out;
	printf("\nBuilding blocks of a judged SYN, each alone in a program (parts.bpf.c):\n\n");
	printf("  %-30s %8s %12s\n", "block", "ns/pkt", "- empty");
	for (k = 0; k < n; k++)
		printf("  %-30s %8.1f %12.1f\n", part[k].name, least(part[k].ns, rounds),
		       least(part[k].ns, rounds) - least(part[0].ns, rounds));
out:
	pin_cpu(-1);
	parts_bpf__destroy(pt);
	return err;
}

/* ---- the bar: against xdp-filter, on the same packet, in the same run ---- */

#define XDP_FILTER_OBJ "/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_dny_all.o"
/* xdp-filter's map values (xdp-tools, xdp-filter/common_kern_user.h). */
#define XF_SRC (1 << 0)
#define XF_DST (1 << 1)
#define XF_TCP (1 << 2)
#define XF_UDP (1 << 3)

/* One rule in one of xdp-filter's per-CPU maps. */
static int xf_rule(struct bpf_object *obj, const char *map, const void *key, __u64 flags)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, map);
	int n = libbpf_num_possible_cpus();
	__u64 v[256];

	if (!m || n <= 0 || n > 256)
		return -ENOENT;
	for (int i = 0; i < n; i++)
		v[i] = flags;
	return bpf_map_update_elem(bpf_map__fd(m), key, v, BPF_ANY) ? -errno : 0;
}

/* xdp-filter as `xdp-filter load --mode skb --policy deny` would run it
 * with a few rules; unpinned. Returns its program fd, or -errno. */
static int xf_load(const char *path, struct bpf_object **objp, char *why, size_t whylen)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = "/nonexistent/sluice-bench");
	struct bpf_object *obj = bpf_object__open_file(path, &oo);
	struct bpf_program *prog;
	struct bpf_map *map;
	__u8 mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
	struct in6_addr a6;
	__u32 key;
	int err;

	if (!obj) {
		snprintf(why, whylen, "cannot open %s (xdp-tools installed?): %s", path,
			 strerror(errno));
		return -errno;
	}
	bpf_object__for_each_map(map, obj)
		bpf_map__set_pin_path(map, NULL);
	err = bpf_object__load(obj);
	prog = err ? NULL : bpf_object__next_program(obj, NULL);
	if (!prog) {
		snprintf(why, whylen, "cannot load %s: %s", path, strerror(err ? -err : ENOENT));
		bpf_object__close(obj);
		return err ? err : -ENOENT;
	}
	/* Port keys are in network order in a __u32; addresses too. */
	key = htons(22);
	err = xf_rule(obj, "filter_ports", &key, XF_DST | XF_TCP);
	key = htons(25);
	err = err ?: xf_rule(obj, "filter_ports", &key, XF_DST | XF_TCP | XF_SRC);
	key = htons(53);
	err = err ?: xf_rule(obj, "filter_ports", &key, XF_DST | XF_UDP);
	key = htonl(0x0a000001);	/* 10.0.0.1 */
	err = err ?: xf_rule(obj, "filter_ipv4", &key, XF_SRC);
	key = htonl(0x0a000002);
	err = err ?: xf_rule(obj, "filter_ipv4", &key, XF_DST);
	inet_pton(AF_INET6, "2001:db8:dead::1", &a6);
	err = err ?: xf_rule(obj, "filter_ipv6", &a6, XF_SRC | XF_DST);
	err = err ?: xf_rule(obj, "filter_ethernet", mac, XF_SRC);
	if (err) {
		snprintf(why, whylen, "cannot set xdp-filter's rules: %s", strerror(-err));
		bpf_object__close(obj);
		return err;
	}
	*objp = obj;
	return bpf_program__fd(prog);
}

/*
 * The rows of the bar, measured in the same rounds: each row's least ns
 * per run over the rounds (least()), and its ratio to its baseline's
 * least; beside it, for comparison, the median of the rounds' ratios. The
 * maps are set up as in the FULL table (every limiter in play) by the
 * caller.
 */
static bool bench_bar(int empty_fd, const char *clock)
{
	/* 64 bytes: Ethernet, IPv4, TCP with 8 bytes of options, 2 of data. */
	struct pkt spec = { .tcp_opt = 8, .payload = 2 };
	struct {
		const char *name;
		int dport, fd, base;	/* base: row of the baseline (-1: none) */
		double bar;		/* 0: not a bar, the cost of one limiter */
		double ns[MAX_ROUNDS], ratio[MAX_ROUNDS];
		__u8 pkt[128];
		int len;
	} row[5 + NFEATURES] = {
		{ "empty XDP program", 80, empty_fd, -1 },
		{ "xdp-filter (xdpfilt_dny_all, 7 rules)", 80, -1, -1 },
		{ "SYN admitted, every limiter in play", 82, env_xdp_fd, 1, 1.0 },
		{ "SYN dropped by the service bucket", 83, env_xdp_fd, 1, 1.0 },
		{ "SYN to an unprotected port", 22, env_xdp_fd, 0, 1.3 },
	};
	const size_t nbar = 5;
	const char *obj_path = getenv("XDP_FILTER_OBJ") ?: XDP_FILTER_OBJ;
	const char *e;
	int brepeat = (e = getenv("BENCH_BAR_REPEAT")) ? atoi(e) : 1000000;
	int brounds = (e = getenv("BENCH_BAR_ROUNDS")) ? atoi(e) : 21;
	struct bpf_object *xf = NULL;
	char why[256];
	bool over = false;
	int r, err = 0;
	size_t i, n = sizeof(row) / sizeof(row[0]);

	for (i = 0; i < NFEATURES; i++)
		row[nbar + i] = (typeof(row[0])){ feature_name[i], 90 + i, env_xdp_fd, 1 };
	if (brounds < 1 || brounds > MAX_ROUNDS || brepeat < 1) {
		fprintf(stderr, "bench_xdp: BENCH_BAR_ROUNDS must be 1..%d, BENCH_BAR_REPEAT >= 1\n",
			MAX_ROUNDS);
		return true;
	}
	row[1].fd = xf_load(obj_path, &xf, why, sizeof(why));
	if (row[1].fd < 0) {
		printf("The bar against xdp-filter: skipped: %s\n\n", why);
		return false;
	}
	for (i = 0; i < n; i++) {
		spec.dport = row[i].dport;
		row[i].len = pkt_build(&spec, row[i].pkt, sizeof(row[i].pkt), NULL);
		if (row[i].len != 64) {
			fprintf(stderr, "bench_xdp: the bar's SYN is %d bytes, not 64\n", row[i].len);
			bpf_object__close(xf);
			return true;
		}
	}
	{
		/* The packet matches no rule of the deny policy: dropped after
		 * every lookup, the full walk is what is timed. */
		struct run_result *res = malloc(sizeof(*res));

		err = res ? env_run(row[1].fd, row[1].pkt, row[1].len, 1, res) : -ENOMEM;
		if (!err && res->retval != XDP_DROP)
			printf("warning: xdp-filter returned %u, not XDP_DROP, on the bar's SYN\n",
			       res->retval);
		free(res);
	}
	pin_cpu(0);
	for (r = 0; r < brounds && !err; r++) {
		for (i = 0; i < n && !err; i++)
			err = measure_n(row[i].fd, row[i].pkt, row[i].len, brepeat, &row[i].ns[r]);
		for (i = 0; i < n; i++)
			row[i].ratio[r] = row[i].base >= 0 ? row[i].ns[r] / row[row[i].base].ns[r] : 0;
	}
	pin_cpu(-1);
	bpf_object__close(xf);
	if (err) {
		fprintf(stderr, "bench_xdp: the bar: %s\n", strerror(-err));
		return true;
	}
	printf("The bar (issue 11), buckets on the %s clock: one 64-byte TCP SYN through\n"
	       "each program, %d runs per measurement, %d rounds; ns/pkt the least of the\n"
	       "rounds, ratio = least / the baseline's least (median: of the rounds' ratios,\n"
	       "not judged); the maps as in the first table below (a daemon entry on each\n"
	       "service, 2000 prefix rules per family):\n\n",
	       clock, brepeat, brounds);
	printf("  %-40s %8s %8s %8s  %-16s %s\n", "row", "ns/pkt", "ratio", "median", "to", "bar");
	for (i = 0; i < n; i++) {
		double ns = least(row[i].ns, brounds), ratio, med;
		bool ok;

		if (i == nbar)
			printf("\n  each limiter alone (no bar)            ns/pkt    ratio   median  to"
			       "               ns over the first\n");
		if (row[i].base < 0) {
			printf("  %-40s %8.1f\n", row[i].name, ns);
			continue;
		}
		ratio = ns / least(row[row[i].base].ns, brounds);
		med = median(row[i].ratio, brounds);
		if (i >= nbar) {
			printf("  %-40s %8.1f %7.2fx %7.2fx  %-16s %+.1f\n", row[i].name, ns, ratio,
			       med, "xdp-filter", ns - least(row[nbar].ns, brounds));
			continue;
		}
		ok = ratio <= row[i].bar;
		printf("  %-40s %8.1f %7.2fx %7.2fx  %-16s <= %.1fx %s\n", row[i].name, ns, ratio,
		       med, row[i].base == 1 ? "xdp-filter" : "empty program", row[i].bar,
		       ok ? "ok" : "OVER");
		over |= !ok;
	}
	printf("\n");
	return over;
}

/* The bare setup runs the XDP paths that are judged by a limit (not by a
 * prefix rule), and their baseline. */
static bool in_setup(const struct path *p, enum setup setup)
{
	return setup == FULL || (p->kind == XDP && !p->rules && (p->empty || p->bar == 25));
}

/* One setup's table; true if a path is over its bar. */
static bool print_table(enum setup setup)
{
	const struct path *base = NULL;	/* the baseline of the rows that follow */
	bool over = false;
	size_t i;
	int r;

	printf("  %-38s %8s %7s %7s  %-14s %8s %7s\n", "", "ktime_get_ns", "", "", "",
	       "coarse", "");
	printf("  %-38s %8s %7s %7s  %-14s %8s %7s\n", "path", "ns/pkt", "spread", "ratio",
	       "bar", "ns/pkt", "ratio");
	for (i = 0; i < NPATHS; i++) {
		struct path *p = &paths[i];
		double *ns = p->ns[setup][0], *coarse = p->ns[setup][1];
		double lo = ns[0], hi = ns[0], ratio;
		char bar[32] = "", spread[32];

		if (!in_setup(p, setup))
			continue;
		if (p->empty)
			base = p;
		ratio = least(ns, rounds) / least(base->ns[setup][0], rounds);
		for (r = 1; r < rounds; r++) {
			lo = ns[r] < lo ? ns[r] : lo;
			hi = ns[r] > hi ? ns[r] : hi;
		}
		snprintf(spread, sizeof(spread), "%.0f-%.0f", lo, hi);
		if (p->bar) {
			bool ok = ratio <= p->bar / 10.0;

			snprintf(bar, sizeof(bar), "<= %.1fx %s", p->bar / 10.0, ok ? "ok" : "OVER");
			over |= !ok;
		}
		printf("  %-38s %8.1f %7s %6.2fx  %-14s %8.1f %6.2fx\n", p->name, least(ns, rounds),
		       spread, ratio, bar, least(coarse, rounds),
		       least(coarse, rounds) / least(base->ns[setup][1], rounds));
	}
	return over;
}

/*
 * The data plane loaded with its buckets on one clock and its maps set
 * up. 0, or main's exit status: 1 for a failure, -1 for "skipped" (said).
 */
static int open_setup(bool coarse, enum setup setup)
{
	char why[256];
	int err;

	env_coarse_clock = coarse;
	err = env_open(0, why, sizeof(why));
	if (err) {
		printf("bench_xdp: skipped: %s\n", why);
		return err == -ENOEXEC ? 1 : -1;
	}
	err = setup_maps(setup);
	if (err) {
		fprintf(stderr, "bench_xdp: cannot set the maps: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}

int main(void)
{
	struct empty_bpf *empty = NULL;
	const char *e;
	size_t i;
	int r, err, clk, run;
	bool over;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((e = getenv("BENCH_REPEAT")))
		repeat = atoi(e);
	if ((e = getenv("BENCH_ROUNDS")))
		rounds = atoi(e);
	if (rounds < 1 || rounds > MAX_ROUNDS || repeat < 1) {
		fprintf(stderr, "bench_xdp: BENCH_ROUNDS must be 1..%d, BENCH_REPEAT >= 1\n",
			MAX_ROUNDS);
		return 2;
	}
	for (i = 0; i < NPATHS; i++) {
		paths[i].len = pkt_build(&paths[i].spec, paths[i].pkt, sizeof(paths[i].pkt), NULL);
		if (paths[i].len < 0)
			return 1;
	}
	printf("sluice data plane, BPF_PROG_TEST_RUN, %d runs per measurement, %d rounds,\n"
	       "paths interleaved within each round; ns/pkt the least of a path's rounds,\n"
	       "ratio = that / the empty program's least (the median of the rounds moves\n"
	       "with what else runs; the least is the nearest to a program's own cost);\n"
	       "for each setup of the maps, two loads of the same object: buckets on\n"
	       "bpf_ktime_get_ns (attach --clock precise) and on the coarse clock (--clock\n"
	       "coarse); attach's default is the %s clock.\n\n",
	       repeat, rounds, sl_clock_name(SL_CLOCK_DEFAULT));

	/* The bar first, on the FULL maps: on the buckets' default clock (what
	 * `sluicectl attach` gives), then on the other one, for comparison. */
	empty = empty_bpf__open_and_load();
	if (!empty) {
		fprintf(stderr, "bench_xdp: cannot load the empty program: %s\n", strerror(errno));
		return 1;
	}
	over = false;
	for (clk = 0; clk < 2; clk++) {
		enum sl_clock other = SL_CLOCK_DEFAULT == SL_CLOCK_PRECISE ? SL_CLOCK_COARSE
									 : SL_CLOCK_PRECISE;
		enum sl_clock c = clk ? other : SL_CLOCK_DEFAULT;
		char title[64];
		bool bar_over;

		err = open_setup(c == SL_CLOCK_COARSE, FULL);
		if (err)
			return err < 0 ? 0 : err;
		snprintf(title, sizeof(title), "%s%s", sl_clock_name(c),
			 clk ? " (not the default: for comparison)" : " (the default)");
		bar_over = bench_bar(bpf_program__fd(empty->progs.empty_xdp), title);
		if (!clk)
			over = bar_over;
		env_close();
	}
	if ((e = getenv("BENCH_BAR_ONLY")) && atoi(e)) {
		empty_bpf__destroy(empty);
		return 0;
	}

	for (run = 0; run < 2 * NSETUPS; run++) {
		enum setup setup = run / 2;

		clk = run % 2;
		err = open_setup(clk == 1, setup);
		if (err)
			return err < 0 ? 0 : err;
		pin_cpu(0);
		for (r = 0; r < rounds; r++) {
			for (i = 0; i < NPATHS; i++) {
				struct path *p = &paths[i];
				int fd = p->empty ? (p->kind == XDP ?
						     bpf_program__fd(empty->progs.empty_xdp) :
						     bpf_program__fd(empty->progs.empty_tc))
						  : (p->kind == XDP ? env_xdp_fd : env_tc_fd);

				if (!in_setup(p, setup))
					continue;
				err = measure(fd, p->pkt, p->len, &p->ns[setup][clk][r]);
				if (err) {
					fprintf(stderr, "bench_xdp: %s: %s\n", p->name,
						strerror(-err));
					return 1;
				}
			}
		}
		if (run == 0) {
			printf("Verifier (bpf_prog_info):\n");
			print_insns("sluice_xdp", env_xdp_fd);
			print_insns("sluice_tc", env_tc_fd);
			print_insns("empty_xdp", bpf_program__fd(empty->progs.empty_xdp));
			printf("\n");
		}
		env_close();
		pin_cpu(-1);
	}

	printf("Every limiter in play: a daemon entry on each judged service (but the one\n"
	       "marked no daemon), 2000 prefix rules per family:\n\n");
	over |= print_table(FULL);
	printf("\nBare static limits: no daemon, no prefix rule (judged paths only):\n\n");
	over |= print_table(BARE);

	err = bench_parts(bpf_program__fd(empty->progs.empty_xdp));
	if (err)
		fprintf(stderr, "bench_xdp: parts: %s\n", strerror(-err));
	err = bench_lockcmp();
	if (err)
		fprintf(stderr, "bench_xdp: lockcmp: %s\n", strerror(-err));
	printf("\n%s\n", over ? "bench_xdp: some path is over its bar (noisy machine? rerun)"
			      : "bench_xdp: every path within its bar");
	empty_bpf__destroy(empty);
	return err ? 1 : 0;
}
