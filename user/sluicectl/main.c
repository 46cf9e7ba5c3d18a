// SPDX-License-Identifier: MIT
/*
 * sluicectl: command line for sluice's pinned state. Global options, the
 * object table, usage errors and JSON error reporting; each object lives
 * in its own cmd_<object>.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sluicectl.h"
#include "state.h"

bool cli_json_mode;
bool cli_pretty;
const char *cli_pin_dir = SL_PIN_DIR_DEFAULT;

static bool usage_failed;
static char first_error[1024];
static bool have_error;

static const char help_text[] =
"Usage: sluicectl [OPTIONS] OBJECT [COMMAND] [ARGS]\n"
"\n"
"Sheds new connections to protected services in the kernel (XDP or TC),\n"
"with the limits held in BPF maps pinned under the pin directory.\n"
"\n"
"Commands:\n"
"  sluicectl attach DEV [--mode native|generic|tc] [--sources N]\n"
"                       [--clock precise|coarse]\n"
"  sluicectl detach DEV\n"
"  sluicectl status\n"
"  sluicectl service add PROTO/PORT [SERVICE OPTIONS]\n"
"  sluicectl service set PROTO/PORT [SERVICE OPTIONS]\n"
"  sluicectl service del PROTO/PORT\n"
"  sluicectl service list\n"
"  sluicectl prefix add CIDR allow|deny|class N\n"
"  sluicectl prefix del CIDR\n"
"  sluicectl prefix list\n"
"  sluicectl level set N\n"
"  sluicectl level show\n"
"  sluicectl stats [PROTO/PORT] [--watch SECONDS]\n"
"A bare object shows its list: 'sluicectl service' is 'service list',\n"
"'prefix' is 'prefix list', 'level' is 'level show'.\n"
"\n"
"Options (before or after the command):\n"
"  -j, --json         stdout is JSON only; errors too, as {\"error\": \"...\"}\n"
"  -p, --pretty       indented JSON (implies --json)\n"
"      --pin-dir DIR  pinned state (default " SL_PIN_DIR_DEFAULT ")\n"
"  -v, --verbose      more messages on stderr; twice adds libbpf's\n"
"  -h, --help         this help\n"
"      --version      print the version\n"
"\n"
"attach DEV: load the data plane and attach it to interface DEV. The first\n"
"attach creates the maps in the pin dir; later ones share them, so limits\n"
"belong to the service, not to the interface. Attaching DEV again in the\n"
"same mode does nothing; in another mode it is an error (detach first).\n"
"  --mode MODE        native (XDP in the driver), generic (XDP on the skb) or\n"
"                     tc (clsact ingress); default native if the driver has\n"
"                     it, else generic (the output says which)\n"
"  --sources N        entries of each service's per-source table (an LRU,\n"
"                     ~100 bytes an entry, made for a service with a\n"
"                     per-source rate), 1..16777216; only used when this\n"
"                     attach creates the maps (default 65536)\n"
"  --clock CLOCK      the token buckets' clock, chosen when this attach\n"
"                     creates the maps and shared by every attachment (a\n"
"                     later attach asking for another one fails): coarse\n"
"                     (default; ~5 ns; moves once a kernel tick, so a\n"
"                     flooded bucket admits a tick's worth at once, and\n"
"                     every bucket is deeper by rate x 3 ticks: 12 ms at\n"
"                     HZ=250) or precise (exact and even, ~25-30 ns more\n"
"                     per judged packet on a VM)\n"
"detach DEV: remove what sluice attached to DEV, and the clsact qdisc only\n"
"if sluice created it. The maps stay after the last detach (limits and\n"
"counters survive; the open-connection counts, no longer kept up, are\n"
"cleared); remove the pin dir to clear them.\n"
"status: attachments (interface, mode, program id), pin dir, ABI version,\n"
"number of services, admission level, source entries, clock, and the\n"
"services a sluiced --guard controls, with the age of its last heartbeat,\n"
"its concurrency limit and the connections the service holds.\n"
"\n"
"service: PROTO is tcp or udp, PORT 1..65535. RATE is 1..100M with an\n"
"optional k (x1000) or M (x1000000) suffix, in new connections per second\n"
"(TCP) or packets per second (UDP). A service uses one of 255 slots; add\n"
"picks a free one and zeroes its counters and bucket state. Options\n"
"(defaults for add; on set an omitted option keeps its current value):\n"
"  --rate RATE|none          service bucket rate (none: no service limit,\n"
"                            the service is counted only; default none)\n"
"  --burst N                 service bucket depth, 1..100M (default: the rate)\n"
"  --per-source RATE|0       rate per source prefix (0: none; default 0)\n"
"  --per-source-burst N      per-source depth, 1..100M (default: its rate)\n"
"  --per-source-conns N|0    TCP: open connections per source prefix,\n"
"                            0..1000000; a source holding N gets its new\n"
"                            SYNs refused (src_conns); 0: none (default 0)\n"
"  --source-prefix4 LEN      IPv4 prefix that makes one source, 1..32 (32)\n"
"  --source-prefix6 LEN      IPv6 prefix that makes one source, 1..128 (64)\n"
"  --action drop|reject|mark what refused connections get (drop); reject\n"
"                            (TCP RST) is TCP only; mark needs every\n"
"                            attachment in tc mode\n"
"  --mark N                  skb mark for --action mark, 1..0xffffffff (0x5c)\n"
"  --monitor, --enforce      only count what would be refused, or act\n"
"                            (default enforce)\n"
"\n"
"prefix: CIDR is an IPv4 or IPv6 prefix such as 198.18.0.0/15; host bits\n"
"past the length are an error; a bare address is a host prefix. allow\n"
"bypasses every limit, deny always refuses, class N (1..7, higher is more\n"
"important) sets the priority class of matching sources (others are in\n"
"class 4). The longest matching prefix wins. Adding a rule for a prefix\n"
"that already has one is an error: delete it first.\n"
"level set N: static admission level 0..8; sources in a class below N\n"
"are shed (0 and 1 shed nothing, 8 sheds all but allow prefixes).\n"
"stats: counters per service, one per decision reason, summed over CPUs,\n"
"and the unattributed ones (slot 0: packets that could not be tied to a\n"
"service, such as parse errors and fragments). --watch SECONDS (1..3600)\n"
"shows per-second rates, refreshed every SECONDS until interrupted\n"
"(Ctrl-C). With -j, stats prints {\"services\": [...], \"unattributed\": {...}},\n"
"each service with \"service\" (\"tcp/8080\"), \"slot\" and one integer per\n"
"reason; --watch -j prints one such object per line per interval.\n"
"Reasons:";
static const char help_tail[] =
"\n"
"Exit status: 0 success, 1 runtime failure (including state that does not\n"
"allow the change), 2 usage error. A failed command changes no map.\n";

void usage_full(void)
{
	FILE *f = cli_json_mode ? stderr : stdout;

	fputs(help_text, f);
	/* The reason names come from SL_REASONS, like every column and key. */
	for (unsigned int r = 0; r < SL_R__COUNT; r++)
		fprintf(f, "%s%s%s", r % 6 ? " " : "\n  ", sl_reason_name(r),
			r + 1 < SL_R__COUNT ? "," : ".\n");
	fputs(help_tail, f);
}

static void log_handler(enum sl_log_level level, const char *msg)
{
	if (level == SL_LOG_ERR && !have_error) {
		snprintf(first_error, sizeof(first_error), "%s", msg);
		have_error = true;
		if (cli_json_mode)
			return;	/* printed as {"error": ...} on exit */
	} else if (level == SL_LOG_ERR && cli_json_mode) {
		fprintf(stderr, "sluicectl: error: %s\n", msg);
		return;
	}
	fprintf(stderr, "sluicectl: %s: %s\n", sl_log_level_name(level), msg);
}

int cli_usage(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	usage_failed = true;
	pr_err("%s", msg);
	return -EINVAL;
}

static const struct option global_longopts[] = {
	CLI_GLOBAL_LONGOPTS,
	{ "help", no_argument, NULL, 'h' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ 0 },
};

void cli_getopt_reset(void)
{
	optind = 0;	/* glibc: full reinitialisation */
	opterr = 0;
}

int cli_getopt(int argc, char **argv, const struct option *longopts)
{
	return cli_getopt_idx(argc, argv, longopts, NULL);
}

int cli_getopt_idx(int argc, char **argv, const struct option *longopts, int *longindex)
{
	struct option all[48];
	size_t n = 0, n0;
	int c, idx = -1;

	for (; longopts && longopts[n].name && n < 40; n++)
		all[n] = longopts[n];
	n0 = n;
	for (size_t i = 0; i < 4; i++)
		all[n++] = global_longopts[i];
	memset(&all[n], 0, sizeof(all[n]));

	/* Leading ':' tells a missing value (':') from an unknown option ('?'). */
	c = getopt_long(argc, argv, ":jph", all, &idx);
	if (longindex)
		*longindex = idx >= 0 && (size_t)idx < n0 ? idx : -1;
	switch (c) {
	case 'h':
		usage_full();
		exit(0);
	case 'j':
		cli_json_mode = true;
		return cli_getopt_idx(argc, argv, longopts, longindex);
	case 'p':
		cli_json_mode = cli_pretty = true;
		return cli_getopt_idx(argc, argv, longopts, longindex);
	case 'P':
		cli_pin_dir = optarg;
		return cli_getopt_idx(argc, argv, longopts, longindex);
	case '?':
		if (optopt > 0 && optopt < 128)
			return cli_usage("%s: unknown option '-%c'; see sluicectl --help", argv[0],
					 optopt);
		return cli_usage("%s: unknown option '%s'; see sluicectl --help", argv[0],
				 argv[optind - 1]);
	case ':':
		return cli_usage("%s: option '%s' needs a value", argv[0], argv[optind - 1]);
	default:
		return c;
	}
}

int cli_expect_args(int argc, char **argv, int min, int max, const char *synopsis)
{
	int n = argc - optind;

	if (n < min)
		return cli_usage("missing argument, expected: sluicectl %s", synopsis);
	if (n > max)
		return cli_usage("unexpected argument '%s', expected: sluicectl %s", argv[optind + max],
				 synopsis);
	return 0;
}

int cli_plain_args(int argc, char **argv, int min, int max, const char *synopsis)
{
	int c;

	cli_getopt_reset();
	while ((c = cli_getopt(argc, argv, NULL)) != -1)
		if (c < 0)
			return c;
	return cli_expect_args(argc, argv, min, max, synopsis);
}

int cli_open_pins(struct sl_pins *p)
{
	return sl_pins_open(cli_pin_dir, p);
}

int cli_open_pins_for_write(struct sl_pins *p)
{
	static int lock_fd = -1;	/* held until exit */
	int err;

	err = sl_pins_open(cli_pin_dir, p);
	if (err || lock_fd >= 0)
		return err;
	err = sl_pins_lock(cli_pin_dir, &lock_fd);
	if (err)
		sl_pins_close(p);
	return err;
}

void cli_json_start(struct sl_json *w)
{
	sl_json_init(w, stdout, cli_pretty);
}

int cli_json_finish(struct sl_json *w)
{
	int err = sl_json_end(w);

	if (err)
		pr_err("writing JSON to stdout failed: %s", strerror(-err));
	return err;
}

int cli_dispatch(const char *object, const struct cli_cmd *cmds, const char *dflt, int argc,
		 char **argv)
{
	const char *name = argc > 0 ? argv[0] : dflt;
	char *fake[] = { (char *)dflt, NULL };
	char list[256] = "";

	if (argc > 0 && argv[0][0] == '-') {
		/* "service -j": options but no command, the default command takes them. */
		name = dflt;
	}
	for (const struct cli_cmd *c = cmds; c->name; c++) {
		if (strcmp(c->name, name))
			continue;
		if (argc == 0)
			return c->fn(1, fake);
		if (name == dflt && argv[0][0] == '-') {
			/* argv[0] is an option: give the command a name slot before it. */
			char **args = calloc((size_t)argc + 2, sizeof(*args));
			int err;

			if (!args)
				return -ENOMEM;
			args[0] = (char *)dflt;
			memcpy(args + 1, argv, (size_t)argc * sizeof(*args));
			err = c->fn(argc + 1, args);
			free(args);
			return err;
		}
		return c->fn(argc, argv);
	}
	for (const struct cli_cmd *c = cmds; c->name; c++) {
		strncat(list, c->name, sizeof(list) - strlen(list) - 1);
		if (c[1].name)
			strncat(list, ", ", sizeof(list) - strlen(list) - 1);
	}
	return cli_usage("unknown command '%s %s', expected one of: %s", object, name, list);
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} objects[] = {
	{ "attach", do_attach },
	{ "detach", do_detach },
	{ "status", do_status },
	{ "service", do_service },
	{ "prefix", do_prefix },
	{ "level", do_level },
	{ "stats", do_stats },
};

static void emit_error_json(void)
{
	struct sl_json w;

	cli_json_start(&w);
	sl_json_obj_begin(&w);
	sl_json_kv_str(&w, "error", first_error);
	sl_json_obj_end(&w);
	sl_json_end(&w);
}

/* Removes -j, -p, -v and --pin-dir DIR (long forms too) from argv; new argc. */
static int take_global_opts(int argc, char **argv, int *verbose)
{
	int out = 1, i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--"))
			break;
		if (!strcmp(a, "-j") || !strcmp(a, "--json")) {
			cli_json_mode = true;
		} else if (!strcmp(a, "-p") || !strcmp(a, "--pretty")) {
			cli_json_mode = cli_pretty = true;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			(*verbose)++;
		} else if (!strncmp(a, "--pin-dir=", 10)) {
			cli_pin_dir = a + 10;
		} else if (!strcmp(a, "--pin-dir") && i + 1 < argc) {
			cli_pin_dir = argv[++i];
		} else {
			argv[out++] = argv[i];
		}
	}
	while (i < argc)
		argv[out++] = argv[i++];
	argv[out] = NULL;
	return out;
}

int main(int argc, char **argv)
{
	int verbose = 0, err = 0, c;

	/*
	 * Global options may stand anywhere (sluicectl service -j list): take
	 * them out of argv first, so that commands only see their own, and so
	 * that even an early usage error comes out as JSON.
	 */
	argc = take_global_opts(argc, argv, &verbose);
	sl_log_set_handler(log_handler);
	sl_log_route_libbpf();

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:jpvh", global_longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			cli_json_mode = true;
			break;
		case 'p':
			cli_json_mode = cli_pretty = true;
			break;
		case 'P':
			cli_pin_dir = optarg;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage_full();
			return 0;
		case 'V':
			if (cli_json_mode)
				printf("{\"version\":\"%s\",\"abi_version\":%d}\n", SLUICECTL_VERSION,
				       SL_ABI_VERSION);
			else
				printf("sluicectl %s (ABI %d)\n", SLUICECTL_VERSION, SL_ABI_VERSION);
			return 0;
		case ':':
			err = cli_usage("option '%s' needs a value", argv[optind - 1]);
			goto out;
		default:
			err = cli_usage("unknown option '%s'; see sluicectl --help", argv[optind - 1]);
			goto out;
		}
	}
	sl_log_set_level(verbose >= 2 ? SL_LOG_TRACE : verbose ? SL_LOG_DEBUG : SL_LOG_WARN);

	if (optind >= argc) {
		err = cli_usage("missing OBJECT, expected one of: attach, detach, status, service, "
				"prefix, level, stats (see sluicectl --help)");
		goto out;
	}
	if (!strcmp(argv[optind], "help")) {
		usage_full();
		return 0;
	}
	for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
		if (!strcmp(argv[optind], objects[i].name)) {
			err = objects[i].fn(argc - optind, argv + optind);
			goto out;
		}
	}
	err = cli_usage("unknown object '%s', expected one of: attach, detach, status, service, "
			"prefix, level, stats", argv[optind]);
out:
	if (!err)
		return 0;
	if (!have_error)
		pr_err("%s", strerror(-err));
	if (cli_json_mode)
		emit_error_json();
	else if (usage_failed)
		fprintf(stderr, "Try 'sluicectl --help' for more information.\n");
	return usage_failed ? 2 : 1;
}
