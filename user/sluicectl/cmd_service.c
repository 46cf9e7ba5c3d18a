// SPDX-License-Identifier: MIT
/*
 * sluicectl service add|set|del|list: protected services and their limits
 * in sl_services/sl_ports. Everything given is validated, and the state
 * checked, before the first map write.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "netdev.h"
#include "parse.h"
#include "sluicectl.h"
#include "state.h"

#define SVC_SYNOPSIS_OPTS                                                      \
	"[--rate RATE|none] [--burst N] [--per-source RATE|0] "                \
	"[--per-source-burst N] [--per-source-conns N|0] "                     \
	"[--source-prefix4 LEN] [--source-prefix6 LEN] "                        \
	"[--action drop|reject|mark] [--mark N] [--monitor|--enforce]"

/* Every option maps to sl_svc_opt_set() by its name (see state.c). */
static const struct option svc_longopts[] = {
	{ "rate", required_argument, NULL, 0 },
	{ "burst", required_argument, NULL, 0 },
	{ "per-source", required_argument, NULL, 0 },
	{ "per-source-burst", required_argument, NULL, 0 },
	{ "per-source-conns", required_argument, NULL, 0 },
	{ "source-prefix4", required_argument, NULL, 0 },
	{ "source-prefix6", required_argument, NULL, 0 },
	{ "action", required_argument, NULL, 0 },
	{ "mark", required_argument, NULL, 0 },
	{ "monitor", no_argument, NULL, 0 },
	{ "enforce", no_argument, NULL, 0 },
	{ 0 },
};

/* Parses the service options of add/set; argv[optind] is PROTO/PORT after. */
static int parse_svc_opts(int argc, char **argv, struct sl_svc_opts *o)
{
	int c, idx;

	memset(o, 0, sizeof(*o));
	cli_getopt_reset();
	while ((c = cli_getopt_idx(argc, argv, svc_longopts, &idx)) != -1) {
		if (c < 0)
			return c;
		if (c != 0 || idx < 0)
			return cli_usage("%s: unexpected option", argv[0]);
		if (sl_svc_opt_set(o, svc_longopts[idx].name, optarg))
			return cli_usage("--%s: %s", svc_longopts[idx].name, sl_parse_errmsg());
	}
	return 0;
}

static int parse_service_arg(const char *arg, enum sl_proto *proto, uint16_t *port)
{
	if (sl_parse_proto_port(arg, proto, port))
		return cli_usage("%s", sl_parse_errmsg());
	return 0;
}

/*
 * What the attachments can do for this action: mark needs skb->mark, which
 * XDP does not have (refused); a reject's RST is lost on a veth attached in
 * native mode unless its peer runs XDP (warned: the peer is out of sight).
 */
static int check_action_vs_attachments(const struct sl_pins *p, const struct sl_service *svc)
{
	struct sl_attachment att[SL_ATTACH_MAX];
	size_t n;
	int err;

	if (svc->action != SL_ACT_MARK && svc->action != SL_ACT_REJECT)
		return 0;
	err = sl_attach_list(p, att, SL_ATTACH_MAX, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		if (svc->action == SL_ACT_REJECT) {
			if (att[i].rec.mode == SL_MODE_NATIVE &&
			    sl_netdev_native_tx_lost(att[i].ifname))
				pr_warn("%s is a veth attached in native mode: the RST of %s/%u reaches "
					"the peer only if the peer runs an XDP program, else rejects "
					"become drops (re-attach %s with --mode generic or tc)",
					att[i].ifname, sl_proto_name(svc->proto), svc->port,
					att[i].ifname);
		} else if (att[i].rec.mode == SL_MODE_NATIVE || att[i].rec.mode == SL_MODE_GENERIC) {
			pr_err("action 'mark' on %s/%u needs TC, but %s is attached with XDP (%s), which "
			       "cannot mark packets: use drop or reject, or re-attach %s with --mode tc",
			       sl_proto_name(svc->proto), svc->port, att[i].ifname,
			       sl_mode_name(att[i].rec.mode), att[i].ifname);
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

/*
 * A UDP service needs its datagrams judged one by one, which generic XDP
 * cannot do after GRO has merged them (loader.c says why): refuse one
 * while a generic XDP attachment exists.
 */
static int check_udp_vs_generic(const struct sl_pins *p, const struct sl_service *svc)
{
	struct sl_attachment att[SL_ATTACH_MAX];
	size_t n;
	int err;

	if (svc->proto != SL_PROTO_UDP)
		return 0;
	err = sl_attach_list(p, att, SL_ATTACH_MAX, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		if (att[i].rec.mode == SL_MODE_GENERIC) {
			pr_err("service udp/%u cannot be protected while %s is attached in generic XDP "
			       "mode: generic XDP runs after GRO, which merges UDP datagrams into one "
			       "packet (rx-udp-gro-forwarding, rx-gro-list, or a socket with UDP_GRO as "
			       "QUIC servers use), judged once; re-attach %s with --mode tc (judges each "
			       "datagram) or native XDP", svc->port, att[i].ifname, att[i].ifname);
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

static void json_service(struct sl_json *w, uint32_t slot, const struct sl_service *s)
{
	char name[SL_SERVICE_STRLEN];

	sl_format_service(s->proto, s->port, name, sizeof(name));
	sl_json_obj_begin(w);
	sl_json_kv_str(w, "service", name);
	sl_json_kv_u64(w, "slot", slot);
	sl_json_kv_str(w, "proto", sl_proto_name(s->proto));
	sl_json_kv_u64(w, "port", s->port);
	sl_json_kv_u64(w, "rate", s->rate);
	sl_json_kv_u64(w, "burst", s->burst);
	sl_json_kv_u64(w, "per_source", s->src_rate);
	sl_json_kv_u64(w, "per_source_burst", s->src_burst);
	sl_json_kv_u64(w, "per_source_conns", s->src_conns);
	sl_json_kv_u64(w, "source_prefix4", s->src_prefix4);
	sl_json_kv_u64(w, "source_prefix6", s->src_prefix6);
	sl_json_kv_str(w, "action", sl_action_name(s->action));
	sl_json_kv_u64(w, "mark", s->mark);
	sl_json_kv_str(w, "mode", s->flags & SL_SVC_MONITOR ? "monitor" : "enforce");
	sl_json_kv_bool(w, "daemon", s->flags & SL_SVC_DAEMON);
	sl_json_kv_bool(w, "guard", s->flags & SL_SVC_GUARD);
	sl_json_obj_end(w);
}

static void text_header(void)
{
	printf("%-10s %5s %10s %10s %10s %10s %10s %5s %5s %-7s %-8s %s\n", "SERVICE", "SLOT",
	       "RATE", "BURST", "PER-SRC", "SRC-BURST", "SRC-CONNS", "PFX4", "PFX6", "ACTION", "MODE",
	       "MARK");
}

static void text_limit(uint32_t v)
{
	if (v)
		printf(" %10u", v);
	else
		printf(" %10s", "-");
}

static void text_service(uint32_t slot, const struct sl_service *s)
{
	char name[SL_SERVICE_STRLEN];

	sl_format_service(s->proto, s->port, name, sizeof(name));
	printf("%-10s %5u", name, slot);
	text_limit(s->rate);
	text_limit(s->burst);
	text_limit(s->src_rate);
	text_limit(s->src_burst);
	text_limit(s->src_conns);
	printf(" %5u %5u %-7s %-8s ", s->src_prefix4, s->src_prefix6, sl_action_name(s->action),
	       s->flags & SL_SVC_MONITOR ? "monitor" : "enforce");
	if (s->action == SL_ACT_MARK)
		printf("0x%x\n", s->mark);
	else
		printf("-\n");
}

static int print_one(uint32_t slot, const struct sl_service *s)
{
	struct sl_json w;

	cli_json_start(&w);
	json_service(&w, slot, s);
	return cli_json_finish(&w);
}

static int do_add_or_set(int argc, char **argv, bool add)
{
	const char *synopsis = add ? "service add PROTO/PORT " SVC_SYNOPSIS_OPTS
				   : "service set PROTO/PORT " SVC_SYNOPSIS_OPTS;
	struct sl_svc_opts o;
	struct sl_service svc;
	struct sl_pins p = { .attach_fd = -1 };
	enum sl_proto proto;
	uint16_t port;
	uint32_t slot = 0;
	char why[256], name[SL_SERVICE_STRLEN];
	bool opened = false;
	int err;

	/* 1. Arguments alone (usage errors, exit 2). */
	err = parse_svc_opts(argc, argv, &o);
	if (err)
		return err;
	err = cli_expect_args(argc, argv, 1, 1, synopsis);
	if (!err)
		err = parse_service_arg(argv[optind], &proto, &port);
	if (err)
		return err;
	sl_format_service(proto, port, name, sizeof(name));
	if (add) {
		sl_service_defaults(&svc, proto, port);
		sl_service_apply(&svc, &o);
		if (sl_service_check(&svc, why, sizeof(why)))
			return cli_usage("%s", why);
	}

	/* 2. The state (runtime errors, exit 1). */
	err = cli_open_pins_for_write(&p);
	if (err)
		goto out;
	opened = true;
	err = sl_service_find(&p, proto, port, &slot);
	if (add && !err) {
		pr_err("service %s already exists (slot %u): use 'sluicectl service set %s'", name,
		       slot, name);
		err = -EEXIST;
		goto out;
	}
	if (!add && err == -ENOENT) {
		pr_err("service %s does not exist: add it with 'sluicectl service add %s'", name, name);
		goto out;
	}
	if (err && err != -ENOENT)
		goto out;
	if (!add) {
		err = sl_service_get(&p, slot, &svc);
		if (err) {
			if (err == -ENOENT)
				pr_err("service %s points at slot %u, which holds no service", name, slot);
			goto out;
		}
		sl_service_apply(&svc, &o);
		if (sl_service_check(&svc, why, sizeof(why))) {
			err = cli_usage("%s", why);
			goto out;
		}
	}
	err = check_action_vs_attachments(&p, &svc);
	if (!err && add)
		err = check_udp_vs_generic(&p, &svc);
	if (err)
		goto out;

	/* 3. Writes. */
	if (add)
		err = sl_service_add(&p, &svc, &slot);
	else
		err = sl_service_set(&p, slot, &svc);
	if (err)
		goto out;
	if (cli_json_mode)
		err = print_one(slot, &svc);
	else
		printf("%s %s in slot %u\n", add ? "added" : "updated", name, slot);
out:
	if (opened)
		sl_pins_close(&p);
	return err;
}

static int do_add(int argc, char **argv)
{
	return do_add_or_set(argc, argv, true);
}

static int do_set(int argc, char **argv)
{
	return do_add_or_set(argc, argv, false);
}

static int do_del(int argc, char **argv)
{
	struct sl_pins p;
	enum sl_proto proto;
	uint16_t port;
	uint32_t slot;
	char name[SL_SERVICE_STRLEN];
	int err;

	err = cli_plain_args(argc, argv, 1, 1, "service del PROTO/PORT");
	if (!err)
		err = parse_service_arg(argv[optind], &proto, &port);
	if (err)
		return err;
	sl_format_service(proto, port, name, sizeof(name));
	err = cli_open_pins_for_write(&p);
	if (err)
		return err;
	err = sl_service_find(&p, proto, port, &slot);
	if (err == -ENOENT)
		pr_err("service %s does not exist", name);
	if (!err)
		err = sl_service_del(&p, slot);
	if (!err) {
		if (cli_json_mode) {
			struct sl_json w;

			cli_json_start(&w);
			sl_json_obj_begin(&w);
			sl_json_kv_str(&w, "service", name);
			sl_json_kv_u64(&w, "slot", slot);
			sl_json_kv_bool(&w, "deleted", true);
			sl_json_obj_end(&w);
			err = cli_json_finish(&w);
		} else {
			printf("deleted %s (slot %u)\n", name, slot);
		}
	}
	sl_pins_close(&p);
	return err;
}

static int do_list(int argc, char **argv)
{
	static struct sl_service_entry list[SL_MAX_SERVICES];
	struct sl_pins p;
	size_t n;
	int err;

	err = cli_plain_args(argc, argv, 0, 0, "service list");
	if (err)
		return err;
	err = cli_open_pins(&p);
	if (err)
		return err;
	err = sl_service_list(&p, list, SL_MAX_SERVICES, &n);
	sl_pins_close(&p);
	if (err)
		return err;
	if (cli_json_mode) {
		struct sl_json w;

		cli_json_start(&w);
		sl_json_obj_begin(&w);
		sl_json_key(&w, "services");
		sl_json_arr_begin(&w);
		for (size_t i = 0; i < n; i++)
			json_service(&w, list[i].slot, &list[i].svc);
		sl_json_arr_end(&w);
		sl_json_obj_end(&w);
		return cli_json_finish(&w);
	}
	if (!n) {
		printf("no services\n");
		return 0;
	}
	text_header();
	for (size_t i = 0; i < n; i++)
		text_service(list[i].slot, &list[i].svc);
	return 0;
}

static const struct cli_cmd service_cmds[] = {
	{ "add", do_add },
	{ "set", do_set },
	{ "del", do_del },
	{ "list", do_list },
	{ 0 },
};

int do_service(int argc, char **argv)
{
	return cli_dispatch("service", service_cmds, "list", argc - 1, argv + 1);
}
