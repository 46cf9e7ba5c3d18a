/* SPDX-License-Identifier: MIT */
/*
 * sluicectl internals shared by main.c and the cmd_<object>.c files:
 * global options, the command-table dispatcher, usage errors and JSON
 * output.
 *
 * Conventions: every do_<cmd>(argc, argv) gets argv[0] = its command name
 * and returns 0 or -errno. A usage error is reported with cli_usage(),
 * which makes main() exit with 2 instead of 1.
 */
#ifndef SLUICECTL_H
#define SLUICECTL_H

#include <getopt.h>
#include <stdbool.h>

#include "json.h"
#include "pins.h"

#define SLUICECTL_VERSION "0.1.0"

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
};

extern bool cli_json_mode;
extern bool cli_pretty;
extern const char *cli_pin_dir;

int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_dispatch(const char *object, const struct cli_cmd *cmds, const char *dflt, int argc,
		 char **argv);

/*
 * getopt_long over a command's own options plus the global ones (-j,
 * -p, --pin-dir), which may also follow the command. Returns the option
 * character, -1 at the end, or -EINVAL after reporting a usage error.
 * Non-option arguments are left in argv[optind..]. cli_getopt_idx also
 * gives the index of the long option found in longopts (-1 if none).
 */
#define CLI_GLOBAL_LONGOPTS                                                    \
	{ "json", no_argument, NULL, 'j' },                                   \
	{ "pretty", no_argument, NULL, 'p' },                                 \
	{ "pin-dir", required_argument, NULL, 'P' }
int cli_getopt(int argc, char **argv, const struct option *longopts);
int cli_getopt_idx(int argc, char **argv, const struct option *longopts, int *longindex);
void cli_getopt_reset(void);
int cli_expect_args(int argc, char **argv, int min, int max, const char *synopsis);
/* For a command with no options of its own: the global options, then
 * min..max positional arguments (cli_expect_args). */
int cli_plain_args(int argc, char **argv, int min, int max, const char *synopsis);

/*
 * Open the pins or report why not (returns -errno, already logged). The
 * _for_write form also takes the pin dir lock, held until exit, before
 * any read that a write depends on.
 */
int cli_open_pins(struct sl_pins *p);
int cli_open_pins_for_write(struct sl_pins *p);

/* JSON output on stdout. */
void cli_json_start(struct sl_json *w);
int cli_json_finish(struct sl_json *w);

/* Objects (one cmd_<object>.c each). */
int do_attach(int argc, char **argv);
int do_detach(int argc, char **argv);
int do_status(int argc, char **argv);
int do_service(int argc, char **argv);
int do_prefix(int argc, char **argv);
int do_level(int argc, char **argv);
int do_stats(int argc, char **argv);

void usage_full(void);

#endif /* SLUICECTL_H */
