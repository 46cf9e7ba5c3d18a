// SPDX-License-Identifier: MIT
/*
 * sluicectl level set|show: the static admission level in sl_config.
 * Sources in a priority class below the level are shed.
 */
#include <errno.h>
#include <stdio.h>

#include "parse.h"
#include "sluicectl.h"
#include "state.h"

static int print_level(uint32_t level)
{
	if (cli_json_mode) {
		struct sl_json w;

		cli_json_start(&w);
		sl_json_obj_begin(&w);
		sl_json_kv_u64(&w, "level", level);
		sl_json_obj_end(&w);
		return cli_json_finish(&w);
	}
	printf("level %u\n", level);
	return 0;
}

static int do_set(int argc, char **argv)
{
	struct sl_pins p;
	uint32_t level;
	int err;

	err = cli_plain_args(argc, argv, 1, 1, "level set N");
	if (err)
		return err;
	if (sl_parse_u32(argv[optind], 0, SL_LEVEL_MAX, &level))
		return cli_usage("level: %s", sl_parse_errmsg());
	err = cli_open_pins_for_write(&p);
	if (err)
		return err;
	err = sl_level_set(&p, level);
	sl_pins_close(&p);
	return err ? err : print_level(level);
}

static int do_show(int argc, char **argv)
{
	struct sl_pins p;
	uint32_t level;
	int err;

	err = cli_plain_args(argc, argv, 0, 0, "level show");
	if (err)
		return err;
	err = cli_open_pins(&p);
	if (err)
		return err;
	err = sl_level_get(&p, &level);
	sl_pins_close(&p);
	return err ? err : print_level(level);
}

static const struct cli_cmd level_cmds[] = {
	{ "set", do_set },
	{ "show", do_show },
	{ 0 },
};

int do_level(int argc, char **argv)
{
	return cli_dispatch("level", level_cmds, "show", argc - 1, argv + 1);
}
