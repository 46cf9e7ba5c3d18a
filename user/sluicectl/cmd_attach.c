// SPDX-License-Identifier: MIT
/*
 * sluicectl attach|detach|status: the data plane on interfaces, through
 * the shared loader (user/common/loader.c).
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "loader.h"
#include "log.h"
#include "parse.h"
#include "sluicectl.h"
#include "state.h"

#define ATTACH_SYNOPSIS "attach DEV [--mode native|generic|tc] [--sources N] " \
	"[--clock precise|coarse]"

static int parse_mode(const char *s, enum sl_attach_mode *mode)
{
	if (!strcmp(s, "native"))
		*mode = SL_MODE_NATIVE;
	else if (!strcmp(s, "generic"))
		*mode = SL_MODE_GENERIC;
	else if (!strcmp(s, "tc"))
		*mode = SL_MODE_TC;
	else
		return cli_usage("unknown mode '%s', expected native, generic or tc", s);
	return 0;
}

static int parse_clock(const char *s, enum sl_clock *clock)
{
	if (!strcmp(s, "precise"))
		*clock = SL_CLOCK_PRECISE;
	else if (!strcmp(s, "coarse"))
		*clock = SL_CLOCK_COARSE;
	else
		return cli_usage("unknown clock '%s', expected precise or coarse", s);
	return 0;
}

static int check_ifname(const char *ifname)
{
	if (!*ifname || strlen(ifname) >= 16 || strchr(ifname, '/'))
		return cli_usage("'%s' is not an interface name, expected 1..15 characters without '/'",
				 ifname);
	return 0;
}

int do_attach(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "sources", required_argument, NULL, 's' },
		{ "clock", required_argument, NULL, 'c' },
		{ 0 },
	};
	struct sl_attach_opts o = { .pin_dir = NULL, .mode = SL_MODE_NONE };
	struct sl_attach_result r;
	int c, err;

	cli_getopt_reset();
	while ((c = cli_getopt(argc, argv, longopts)) != -1) {
		if (c < 0)
			return c;
		if (c == 'm') {
			err = parse_mode(optarg, &o.mode);
			if (err)
				return err;
		} else if (c == 's' && sl_parse_u32(optarg, 1, SL_SOURCES_MAX, &o.sources)) {
			return cli_usage("--sources: %s", sl_parse_errmsg());
		} else if (c == 'c') {
			err = parse_clock(optarg, &o.clock);
			if (err)
				return err;
			o.clock_given = true;
		}
	}
	err = cli_expect_args(argc, argv, 1, 1, ATTACH_SYNOPSIS);
	if (err)
		return err;
	o.ifname = argv[optind];
	err = check_ifname(o.ifname);
	if (err)
		return err;
	o.pin_dir = cli_pin_dir;

	err = sl_loader_attach(&o, &r);
	if (err)
		return err;
	if (cli_json_mode) {
		struct sl_json w;

		cli_json_start(&w);
		sl_json_obj_begin(&w);
		sl_json_kv_str(&w, "ifname", o.ifname);
		sl_json_kv_u64(&w, "ifindex", r.ifindex);
		sl_json_kv_str(&w, "mode", sl_mode_name(r.mode));
		sl_json_kv_u64(&w, "prog_id", r.prog_id);
		sl_json_kv_bool(&w, "already_attached", r.already);
		sl_json_kv_bool(&w, "native_unsupported", r.fell_back);
		sl_json_kv_bool(&w, "native_loses_rst", r.native_tx_lost);
		sl_json_kv_bool(&w, "created_maps", r.created_state);
		if (r.mode == SL_MODE_TC)
			sl_json_kv_bool(&w, "created_qdisc", r.qdisc_created);
		sl_json_kv_u64(&w, "sources", r.sources);
		sl_json_kv_str(&w, "clock", sl_clock_name(r.clock));
		sl_json_kv_str(&w, "pin_dir", cli_pin_dir);
		sl_json_obj_end(&w);
		return cli_json_finish(&w);
	}
	if (r.already) {
		printf("%s: already attached (%s, prog id %u)\n", o.ifname, sl_mode_name(r.mode),
		       r.prog_id);
		return 0;
	}
	printf("%s: attached in %s mode%s (prog id %u)\n", o.ifname, sl_mode_name(r.mode),
	       r.fell_back ? ", the driver has no native XDP" :
	       r.native_tx_lost && o.mode == SL_MODE_NONE ?
	       ", a veth: native XDP would lose the RST of a reject" : "", r.prog_id);
	if (r.created_state)
		printf("created maps in %s (%u source entries per service, buckets on the %s clock)\n",
		       cli_pin_dir, r.sources, sl_clock_name(r.clock));
	if (r.mode == SL_MODE_TC && r.qdisc_created)
		printf("created the clsact qdisc on %s (removed again by detach)\n", o.ifname);
	return 0;
}

int do_detach(int argc, char **argv)
{
	struct sl_detach_result r;
	int err;

	err = cli_plain_args(argc, argv, 1, 1, "detach DEV");
	if (!err)
		err = check_ifname(argv[optind]);
	if (err)
		return err;
	err = sl_loader_detach(cli_pin_dir, argv[optind], &r);
	if (err)
		return err;
	if (cli_json_mode) {
		struct sl_json w;

		cli_json_start(&w);
		sl_json_obj_begin(&w);
		sl_json_kv_str(&w, "ifname", argv[optind]);
		sl_json_kv_str(&w, "mode", sl_mode_name(r.mode));
		sl_json_kv_bool(&w, "detached", true);
		sl_json_kv_bool(&w, "was_stale", r.was_stale);
		sl_json_kv_bool(&w, "removed_qdisc", r.qdisc_removed);
		sl_json_obj_end(&w);
		return cli_json_finish(&w);
	}
	printf("%s: detached (%s)%s%s\n", argv[optind], sl_mode_name(r.mode),
	       r.qdisc_removed ? ", removed the clsact qdisc sluice created" : "",
	       r.was_stale ? ", the attachment was already gone" : "");
	return 0;
}

/* Services a sluiced in guard mode controls (SL_SVC_GUARD), with the age
 * of its last heartbeat (-1: none written yet), its concurrency limit
 * (0: none) and the connections the service holds (sl_held). */
struct guarded {
	char name[SL_SERVICE_STRLEN];
	double heartbeat_age_s;
	uint32_t conc_limit;
	int64_t held;
};

static size_t list_guarded(const struct sl_pins *p, const struct sl_service_entry *svcs,
			   size_t nsvc, struct guarded *out)
{
	struct timespec ts;
	uint64_t now;
	size_t n = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);	/* bpf_ktime_get_ns's clock */
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	for (size_t i = 0; i < nsvc; i++) {
		struct sl_admission adm;
		struct sl_held held;

		if (!(svcs[i].svc.flags & SL_SVC_GUARD))
			continue;
		sl_format_service(svcs[i].svc.proto, svcs[i].svc.port, out[n].name,
				  sizeof(out[n].name));
		out[n].heartbeat_age_s = -1;
		out[n].conc_limit = 0;
		if (bpf_map_lookup_elem(p->admission_fd, &svcs[i].slot, &adm) == 0) {
			out[n].heartbeat_age_s = now > adm.heartbeat_ns ?
				(double)(now - adm.heartbeat_ns) / 1e9 : 0;
			out[n].conc_limit = adm.conc_limit;
		}
		out[n].held = 0;
		if (bpf_map_lookup_elem(p->held_fd, &svcs[i].slot, &held) == 0)
			out[n].held = (int64_t)held.held < 0 ? 0 : (int64_t)held.held;
		n++;
	}
	return n;
}

int do_status(int argc, char **argv)
{
	static struct guarded guarded[SL_MAX_SERVICES];
	size_t nguard = 0;
	static struct sl_attachment att[SL_ATTACH_MAX];
	static struct sl_service_entry svcs[SL_MAX_SERVICES];
	uint32_t ids[SL_ATTACH_MAX] = { 0 };
	int alive[SL_ATTACH_MAX] = { 0 };
	struct sl_pins p;
	size_t natt = 0, nsvc = 0;
	uint32_t level = 0;
	int exists, err;

	err = cli_plain_args(argc, argv, 0, 0, "status");
	if (err)
		return err;
	err = sl_pins_check_env(cli_pin_dir);
	if (err)
		return err;
	exists = sl_pins_exist(cli_pin_dir);
	if (exists < 0) {
		pr_err("cannot inspect %s: %s", cli_pin_dir, strerror(-exists));
		return exists;
	}
	if (exists) {
		err = cli_open_pins(&p);
		if (err)
			return err;
		err = sl_attach_list(&p, att, SL_ATTACH_MAX, &natt);
		if (!err)
			err = sl_service_list(&p, svcs, SL_MAX_SERVICES, &nsvc);
		if (!err)
			err = sl_level_get(&p, &level);
		for (size_t i = 0; !err && i < natt; i++)
			alive[i] = sl_attachment_alive(&p, &att[i], &ids[i]) > 0;
		if (!err)
			nguard = list_guarded(&p, svcs, nsvc, guarded);
		sl_pins_close(&p);
		if (err)
			return err;
	}
	if (cli_json_mode) {
		struct sl_json w;

		cli_json_start(&w);
		sl_json_obj_begin(&w);
		sl_json_kv_str(&w, "pin_dir", cli_pin_dir);
		sl_json_kv_bool(&w, "state", exists);
		if (exists) {
			sl_json_kv_u64(&w, "abi_version", p.abi_version);
			sl_json_kv_u64(&w, "services", nsvc);
			sl_json_kv_u64(&w, "level", level);
			sl_json_kv_u64(&w, "sources", p.sources_max);
			sl_json_kv_str(&w, "clock", sl_clock_name(p.clock));
			sl_json_kv_u64(&w, "clock_slack_ns", p.clock_slack_ns);
		}
		sl_json_key(&w, "guarded");
		sl_json_arr_begin(&w);
		for (size_t i = 0; i < nguard; i++) {
			sl_json_obj_begin(&w);
			sl_json_kv_str(&w, "service", guarded[i].name);
			if (guarded[i].heartbeat_age_s >= 0)
				sl_json_kv_u64(&w, "heartbeat_age_ms",
					       (uint64_t)(guarded[i].heartbeat_age_s * 1000));
			sl_json_kv_u64(&w, "conc_limit", guarded[i].conc_limit);
			sl_json_kv_u64(&w, "held", (uint64_t)guarded[i].held);
			sl_json_obj_end(&w);
		}
		sl_json_arr_end(&w);
		sl_json_key(&w, "attachments");
		sl_json_arr_begin(&w);
		for (size_t i = 0; i < natt; i++) {
			sl_json_obj_begin(&w);
			sl_json_kv_str(&w, "ifname", att[i].ifname);
			sl_json_kv_u64(&w, "ifindex", att[i].rec.ifindex);
			sl_json_kv_str(&w, "mode", sl_mode_name(att[i].rec.mode));
			sl_json_kv_u64(&w, "prog_id", alive[i] ? ids[i] : att[i].rec.prog_id);
			sl_json_kv_bool(&w, "active", alive[i]);
			if (att[i].rec.mode == SL_MODE_TC) {
				sl_json_kv_bool(&w, "created_qdisc", att[i].rec.qdisc_created);
				sl_json_kv_u64(&w, "tc_handle", att[i].rec.tc_handle);
				sl_json_kv_u64(&w, "tc_priority", att[i].rec.tc_priority);
			}
			sl_json_obj_end(&w);
		}
		sl_json_arr_end(&w);
		sl_json_obj_end(&w);
		return cli_json_finish(&w);
	}
	printf("pin dir:     %s\n", cli_pin_dir);
	if (!exists) {
		printf("state:       none (run 'sluicectl attach DEV')\n");
		return 0;
	}
	printf("ABI version: %u\n", p.abi_version);
	printf("services:    %zu\n", nsvc);
	printf("level:       %u\n", level);
	printf("sources:     %u entries per service\n", p.sources_max);
	if (p.clock == SL_CLOCK_COARSE)
		printf("clock:       coarse (buckets %.0f ms deeper)\n", p.clock_slack_ns / 1e6);
	else
		printf("clock:       precise\n");
	if (nguard) {
		printf("guarded:     ");
		for (size_t i = 0; i < nguard; i++) {
			printf("%s%s", i ? ", " : "", guarded[i].name);
			if (guarded[i].heartbeat_age_s >= 0)
				printf(" (sluiced --guard, heartbeat %.1f s ago)",
				       guarded[i].heartbeat_age_s);
			else
				printf(" (sluiced --guard, no heartbeat yet)");
			if (guarded[i].conc_limit)
				printf(", holding %" PRId64 " of %u connections", guarded[i].held,
				       guarded[i].conc_limit);
			else
				printf(", holding %" PRId64 " connections, no limit", guarded[i].held);
		}
		printf("\n");
	}
	if (!natt) {
		printf("attachments: none\n");
		return 0;
	}
	printf("attachments:\n");
	printf("  %-16s %-8s %8s  %s\n", "IFNAME", "MODE", "PROG ID", "STATE");
	for (size_t i = 0; i < natt; i++)
		printf("  %-16s %-8s %8u  %s\n", att[i].ifname, sl_mode_name(att[i].rec.mode),
		       alive[i] ? ids[i] : att[i].rec.prog_id,
		       alive[i] ? "active" : "gone (detach to clear)");
	return 0;
}
