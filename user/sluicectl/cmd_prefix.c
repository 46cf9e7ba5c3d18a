// SPDX-License-Identifier: MIT
/*
 * sluicectl prefix add|del|list: allow, deny and class rules on source
 * prefixes, in the LPM tries sl_prefix4 and sl_prefix6. `list` also shows
 * the per-source exceptions a daemon set (sl_src_quota: a source prefix of
 * one service with its own rate, or refused; sluiced's fleet quotas).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "parse.h"
#include "sluicectl.h"
#include "srcquota.h"
#include "state.h"

#define ADD_SYNOPSIS "prefix add CIDR allow|deny|class N"

static int parse_rule(int argc, char **argv, struct sl_prefix_rule *r)
{
	int n = argc - optind - 1;	/* words after CIDR */
	const char *kind = argv[optind + 1];

	memset(r, 0, sizeof(*r));
	if (!strcmp(kind, "allow") || !strcmp(kind, "deny")) {
		if (n != 1)
			return cli_usage("unexpected argument '%s' after '%s', expected: sluicectl "
					 ADD_SYNOPSIS, argv[optind + 2], kind);
		r->kind = kind[0] == 'a' ? SL_RULE_ALLOW : SL_RULE_DENY;
		return 0;
	}
	if (!strcmp(kind, "class")) {
		uint32_t cls;

		if (n < 2)
			return cli_usage("'class' needs a class 1..%d, expected: sluicectl " ADD_SYNOPSIS,
					 SL_MAX_CLASS);
		if (n > 2)
			return cli_usage("unexpected argument '%s', expected: sluicectl " ADD_SYNOPSIS,
					 argv[optind + 3]);
		if (sl_parse_u32(argv[optind + 2], 1, SL_MAX_CLASS, &cls))
			return cli_usage("class: %s", sl_parse_errmsg());
		r->kind = SL_RULE_CLASS;
		r->cls = (__u8)cls;
		return 0;
	}
	return cli_usage("unknown rule '%s', expected allow, deny or class N", kind);
}

static void json_prefix(struct sl_json *w, const struct sl_cidr *c, const struct sl_prefix_rule *r)
{
	char text[SL_CIDR_STRLEN];

	sl_format_cidr(c, text, sizeof(text));
	sl_json_obj_begin(w);
	sl_json_kv_str(w, "prefix", text);
	sl_json_kv_str(w, "rule", r->kind == SL_RULE_ALLOW ? "allow" :
				  r->kind == SL_RULE_DENY ? "deny" :
				  r->kind == SL_RULE_CLASS ? "class" : "unknown");
	if (r->kind == SL_RULE_CLASS)
		sl_json_kv_u64(w, "class", r->cls);
	sl_json_obj_end(w);
}

static int do_add(int argc, char **argv)
{
	struct sl_prefix_rule rule;
	struct sl_cidr cidr;
	struct sl_pins p;
	char text[SL_CIDR_STRLEN], rtext[32];
	int err;

	err = cli_plain_args(argc, argv, 2, 3, ADD_SYNOPSIS);
	if (err)
		return err;
	if (sl_parse_cidr(argv[optind], &cidr))
		return cli_usage("%s", sl_parse_errmsg());
	err = parse_rule(argc, argv, &rule);
	if (err)
		return err;
	err = cli_open_pins_for_write(&p);
	if (err)
		return err;
	err = sl_prefix_add(&p, &cidr, &rule);
	sl_pins_close(&p);
	if (err)
		return err;
	if (cli_json_mode) {
		struct sl_json w;

		cli_json_start(&w);
		json_prefix(&w, &cidr, &rule);
		return cli_json_finish(&w);
	}
	sl_format_cidr(&cidr, text, sizeof(text));
	sl_rule_format(&rule, rtext, sizeof(rtext));
	printf("added %s %s\n", text, rtext);
	return 0;
}

static int do_del(int argc, char **argv)
{
	struct sl_cidr cidr;
	struct sl_pins p;
	char text[SL_CIDR_STRLEN];
	int err;

	err = cli_plain_args(argc, argv, 1, 1, "prefix del CIDR");
	if (err)
		return err;
	if (sl_parse_cidr(argv[optind], &cidr))
		return cli_usage("%s", sl_parse_errmsg());
	sl_format_cidr(&cidr, text, sizeof(text));
	err = cli_open_pins_for_write(&p);
	if (err)
		return err;
	err = sl_prefix_del(&p, &cidr);
	sl_pins_close(&p);
	if (err == -ENOENT)
		pr_err("prefix %s has no rule", text);
	if (err)
		return err;
	if (cli_json_mode) {
		struct sl_json w;

		cli_json_start(&w);
		sl_json_obj_begin(&w);
		sl_json_kv_str(&w, "prefix", text);
		sl_json_kv_bool(&w, "deleted", true);
		sl_json_obj_end(&w);
		return cli_json_finish(&w);
	}
	printf("deleted %s\n", text);
	return 0;
}

/* The service of a slot as text, "slot N" if it has none. */
static void slot_service(const struct sl_pins *p, uint32_t slot, char *buf, size_t len)
{
	struct sl_service svc;

	if (sl_service_get(p, slot, &svc) == 0)
		sl_format_service(svc.proto, svc.port, buf, len);
	else
		snprintf(buf, len, "slot %u", slot);
}

static void json_exception(struct sl_json *w, const struct sl_pins *p,
			   const struct sl_src_quota_entry *e)
{
	char text[SL_CIDR_STRLEN], svc[32];
	struct sl_cidr c;

	sl_src_key_cidr(&e->key, &c);
	sl_format_cidr(&c, text, sizeof(text));
	slot_service(p, e->key.slot, svc, sizeof(svc));
	sl_json_obj_begin(w);
	sl_json_kv_str(w, "prefix", text);
	sl_json_kv_str(w, "service", svc);
	sl_json_kv_str(w, "rule", e->quota.rate_milli ? "quota" : "refused");
	if (e->quota.rate_milli) {
		sl_json_kv_u64(w, "rate_milli", e->quota.rate_milli);
		sl_json_kv_u64(w, "burst", e->quota.burst ? e->quota.burst : 1);
	}
	sl_json_obj_end(w);
}

static void print_exceptions(const struct sl_pins *p, const struct sl_src_quota_entry *ex,
			     size_t nex)
{
	printf("\n%-44s %-12s %s\n", "SOURCE (EXCEPTION)", "SERVICE", "RULE");
	for (size_t i = 0; i < nex; i++) {
		char text[SL_CIDR_STRLEN], svc[32], rule[48];
		struct sl_cidr c;

		sl_src_key_cidr(&ex[i].key, &c);
		sl_format_cidr(&c, text, sizeof(text));
		slot_service(p, ex[i].key.slot, svc, sizeof(svc));
		sl_src_quota_format(&ex[i].quota, rule, sizeof(rule));
		printf("%-44s %-12s %s\n", text, svc, rule);
	}
}

static int do_list(int argc, char **argv)
{
	struct sl_src_quota_entry *ex = NULL;
	struct sl_prefix_entry *list = NULL;
	struct sl_pins p;
	size_t n, nex = 0;
	int err;

	err = cli_plain_args(argc, argv, 0, 0, "prefix list");
	if (err)
		return err;
	err = cli_open_pins(&p);
	if (err)
		return err;
	err = sl_prefix_list(&p, &list, &n);
	if (!err)
		err = sl_src_quota_list(&p, &ex, &nex);
	if (err)
		goto out;
	if (cli_json_mode) {
		struct sl_json w;

		cli_json_start(&w);
		sl_json_obj_begin(&w);
		sl_json_key(&w, "prefixes");
		sl_json_arr_begin(&w);
		for (size_t i = 0; i < n; i++)
			json_prefix(&w, &list[i].cidr, &list[i].rule);
		sl_json_arr_end(&w);
		sl_json_key(&w, "exceptions");
		sl_json_arr_begin(&w);
		for (size_t i = 0; i < nex; i++)
			json_exception(&w, &p, &ex[i]);
		sl_json_arr_end(&w);
		sl_json_obj_end(&w);
		err = cli_json_finish(&w);
		goto out;
	}
	if (!n) {
		printf("no prefix rules\n");
	} else {
		printf("%-44s %s\n", "PREFIX", "RULE");
		for (size_t i = 0; i < n; i++) {
			char text[SL_CIDR_STRLEN], rtext[32];

			sl_format_cidr(&list[i].cidr, text, sizeof(text));
			sl_rule_format(&list[i].rule, rtext, sizeof(rtext));
			printf("%-44s %s\n", text, rtext);
		}
	}
	if (nex)
		print_exceptions(&p, ex, nex);
out:
	sl_pins_close(&p);
	free(list);
	free(ex);
	return err;
}

static const struct cli_cmd prefix_cmds[] = {
	{ "add", do_add },
	{ "del", do_del },
	{ "list", do_list },
	{ 0 },
};

int do_prefix(int argc, char **argv)
{
	return cli_dispatch("prefix", prefix_cmds, "list", argc - 1, argv + 1);
}
