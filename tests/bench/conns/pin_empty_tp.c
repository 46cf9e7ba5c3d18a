// SPDX-License-Identifier: MIT
/*
 * pin_empty_tp DIR: attaches each empty tracepoint program (empty_tp.bpf.c)
 * and pins its link at DIR/NAME, where it stays attached until the pin is
 * removed; prints "NAME ID" for each. The baselines of
 * scripts/bench-conns.sh and scripts/bench-guard.sh.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "empty_tp.skel.h"

/* Attaches prog, pins its link at dir/NAME and prints "NAME ID". */
static int pin_one(struct bpf_program *prog, const char *dir)
{
	const char *name = bpf_program__name(prog);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	struct bpf_link *link;
	char path[4096];
	int err;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	link = bpf_program__attach(prog);
	if (!link)
		return -errno;
	err = bpf_link__pin(link, path);
	if (!err)
		err = bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) ? -errno : 0;
	if (!err) {
		printf("%s %u\n", name, info.id);
		bpf_link__disconnect(link);	/* the pin keeps it */
	} else {
		bpf_link__unpin(link);
	}
	bpf_link__destroy(link);
	return err;
}

int main(int argc, char **argv)
{
	struct empty_tp_bpf *skel;
	struct bpf_program *prog;
	int err = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: pin_empty_tp DIR\n");
		return 2;
	}
	skel = empty_tp_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "pin_empty_tp: cannot load: %s\n", strerror(errno));
		return 1;
	}
	bpf_object__for_each_program(prog, skel->obj) {
		err = pin_one(prog, argv[1]);
		if (err) {
			fprintf(stderr, "pin_empty_tp: cannot attach %s and pin it in %s: %s\n",
				bpf_program__name(prog), argv[1], strerror(-err));
			break;
		}
	}
	empty_tp_bpf__destroy(skel);
	return err ? 1 : 0;
}
