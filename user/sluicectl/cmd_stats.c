// SPDX-License-Identifier: MIT
/*
 * sluicectl stats: decision counters per service (one per reason of
 * SL_REASONS, summed over CPUs) and the unattributed ones of slot 0; with
 * --watch, per-second rates refreshed in place until SIGINT/SIGTERM.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "parse.h"
#include "sluicectl.h"
#include "state.h"

#define SYNOPSIS "stats [PROTO/PORT] [--watch SECONDS]"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* One reading: the services (or the one asked for) and slot 0. */
struct snapshot {
	size_t n;
	struct sl_service_entry svc[SL_MAX_SERVICES];
	struct sl_stats stats[SL_MAX_SERVICES];
	struct sl_stats unattributed;
	struct timespec at;
};

static int take(const struct sl_pins *p, bool one, uint32_t one_slot, struct snapshot *s)
{
	int err;

	clock_gettime(CLOCK_MONOTONIC, &s->at);
	if (one) {
		s->n = 1;
		s->svc[0].slot = one_slot;
		err = sl_service_get(p, one_slot, &s->svc[0].svc);
		if (err == -ENOENT)
			pr_err("service in slot %u was deleted", one_slot);
		if (err)
			return err;
	} else {
		err = sl_service_list(p, s->svc, SL_MAX_SERVICES, &s->n);
		if (err)
			return err;
	}
	for (size_t i = 0; i < s->n; i++) {
		err = sl_stats_read(p, s->svc[i].slot, &s->stats[i]);
		if (err)
			return err;
	}
	return sl_stats_read(p, 0, &s->unattributed);
}

/*
 * Value of counter r for entry i: the total, or with prev the rate per
 * second since prev (0 for a service that was not there, or whose slot
 * changed hands).
 */
static uint64_t value(const struct snapshot *cur, const struct snapshot *prev, ssize_t i,
		      unsigned int r)
{
	const struct sl_stats *now = i < 0 ? &cur->unattributed : &cur->stats[i];
	const struct sl_stats *then = NULL;
	double secs, d;

	if (!prev)
		return sl_stats_field(now, r);
	if (i < 0) {
		then = &prev->unattributed;
	} else {
		for (size_t j = 0; j < prev->n; j++) {
			if (prev->svc[j].slot == cur->svc[i].slot &&
			    prev->svc[j].svc.port == cur->svc[i].svc.port &&
			    prev->svc[j].svc.proto == cur->svc[i].svc.proto)
				then = &prev->stats[j];
		}
	}
	if (!then || sl_stats_field(now, r) < sl_stats_field(then, r))
		return 0;
	secs = (double)(cur->at.tv_sec - prev->at.tv_sec) +
	       (double)(cur->at.tv_nsec - prev->at.tv_nsec) / 1e9;
	if (secs <= 0)
		return 0;
	d = (double)(sl_stats_field(now, r) - sl_stats_field(then, r)) / secs;
	return (uint64_t)(d + 0.5);
}

static int print_json(const struct snapshot *cur, const struct snapshot *prev, unsigned int watch)
{
	struct sl_json w;

	cli_json_start(&w);
	sl_json_obj_begin(&w);
	if (watch) {
		sl_json_kv_u64(&w, "interval", watch);
		sl_json_kv_bool(&w, "per_second", prev != NULL);
	}
	sl_json_key(&w, "services");
	sl_json_arr_begin(&w);
	for (size_t i = 0; i < cur->n; i++) {
		char name[SL_SERVICE_STRLEN];

		sl_format_service(cur->svc[i].svc.proto, cur->svc[i].svc.port, name, sizeof(name));
		sl_json_obj_begin(&w);
		sl_json_kv_str(&w, "service", name);
		sl_json_kv_u64(&w, "slot", cur->svc[i].slot);
		for (unsigned int r = 0; r < SL_R__COUNT; r++)
			sl_json_kv_u64(&w, sl_reason_name(r), value(cur, prev, (ssize_t)i, r));
		sl_json_obj_end(&w);
	}
	sl_json_arr_end(&w);
	sl_json_key(&w, "unattributed");
	sl_json_obj_begin(&w);
	for (unsigned int r = 0; r < SL_R__COUNT; r++)
		sl_json_kv_u64(&w, sl_reason_name(r), value(cur, prev, -1, r));
	sl_json_obj_end(&w);
	sl_json_obj_end(&w);
	return cli_json_finish(&w);
}

/* Reasons down, services across: the reason list stays readable at any width. */
static int print_text(const struct snapshot *cur, const struct snapshot *prev, unsigned int watch)
{
	if (watch)
		printf("%s every %us (Ctrl-C to stop)\n",
		       prev ? "per-second rates" : "totals; rates follow", watch);
	printf("%-12s", "REASON");
	for (size_t i = 0; i < cur->n; i++) {
		char name[SL_SERVICE_STRLEN];

		sl_format_service(cur->svc[i].svc.proto, cur->svc[i].svc.port, name, sizeof(name));
		printf(" %14s", name);
	}
	printf(" %14s\n", "unattributed");
	for (unsigned int r = 0; r < SL_R__COUNT; r++) {
		printf("%-12s", sl_reason_name(r));
		for (size_t i = 0; i < cur->n; i++)
			printf(" %14llu", (unsigned long long)value(cur, prev, (ssize_t)i, r));
		printf(" %14llu\n", (unsigned long long)value(cur, prev, -1, r));
	}
	return fflush(stdout) ? -EIO : 0;
}

static int print(const struct snapshot *cur, const struct snapshot *prev, unsigned int watch)
{
	if (cli_json_mode)
		return print_json(cur, prev, watch);
	if (watch && isatty(STDOUT_FILENO))
		fputs("\033[H\033[2J", stdout);	/* refresh in place */
	return print_text(cur, prev, watch);
}

/* Sleeps for secs, returning early (true) when a stop signal arrives. */
static bool sleep_or_stop(unsigned int secs)
{
	struct timespec ts = { .tv_sec = secs };

	while (!stop) {
		if (!nanosleep(&ts, &ts))
			return stop;
		if (errno != EINTR)
			return stop;
	}
	return true;
}

int do_stats(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "watch", required_argument, NULL, 'w' },
		{ 0 },
	};
	static struct snapshot a, b;
	struct snapshot *cur = &a, *prev = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	struct sl_pins p;
	enum sl_proto proto = SL_PROTO_TCP;
	uint16_t port = 0;
	uint32_t slot = 0, watch = 0;
	bool one = false;
	int c, err;

	cli_getopt_reset();
	while ((c = cli_getopt(argc, argv, longopts)) != -1) {
		if (c < 0)
			return c;
		if (c == 'w' && sl_parse_u32(optarg, 1, 3600, &watch))
			return cli_usage("--watch: %s seconds", sl_parse_errmsg());
	}
	err = cli_expect_args(argc, argv, 0, 1, SYNOPSIS);
	if (err)
		return err;
	if (optind < argc) {
		if (sl_parse_proto_port(argv[optind], &proto, &port))
			return cli_usage("%s", sl_parse_errmsg());
		one = true;
	}

	err = cli_open_pins(&p);
	if (err)
		return err;
	if (one) {
		char name[SL_SERVICE_STRLEN];

		err = sl_service_find(&p, proto, port, &slot);
		sl_format_service(proto, port, name, sizeof(name));
		if (err == -ENOENT)
			pr_err("service %s does not exist", name);
		if (err)
			goto out;
	}
	err = take(&p, one, slot, cur);
	if (err || !watch) {
		if (!err)
			err = print(cur, NULL, 0);
		goto out;
	}

	/* No SA_RESTART: the signal must interrupt the sleep. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	err = print(cur, NULL, watch);
	while (!err && !sleep_or_stop(watch)) {
		prev = cur;
		cur = cur == &a ? &b : &a;
		err = take(&p, one, slot, cur);
		if (!err)
			err = print(cur, prev, watch);
	}
out:
	sl_pins_close(&p);
	return err;
}
