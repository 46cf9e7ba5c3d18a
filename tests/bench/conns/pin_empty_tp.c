// SPDX-License-Identifier: MIT
/*
 * pin_empty_tp PATH: attaches the empty tracepoint program (empty_tp.bpf.c)
 * and pins its link at PATH, where it stays attached until the pin is
 * removed; prints the program's id. The baseline of scripts/bench-conns.sh.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "empty_tp.skel.h"

int main(int argc, char **argv)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	struct empty_tp_bpf *skel;
	int err;

	if (argc != 2) {
		fprintf(stderr, "usage: pin_empty_tp PATH\n");
		return 2;
	}
	skel = empty_tp_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "pin_empty_tp: cannot load: %s\n", strerror(errno));
		return 1;
	}
	err = empty_tp_bpf__attach(skel);
	if (!err)
		err = bpf_link__pin(skel->links.empty_tp, argv[1]);
	if (!err)
		err = bpf_obj_get_info_by_fd(bpf_program__fd(skel->progs.empty_tp), &info, &len) ?
			      -errno : 0;
	if (err) {
		fprintf(stderr, "pin_empty_tp: cannot attach and pin at %s: %s\n", argv[1],
			strerror(-err));
	} else {
		printf("%u\n", info.id);
		bpf_link__disconnect(skel->links.empty_tp);	/* the pin keeps it */
	}
	empty_tp_bpf__destroy(skel);
	return err ? 1 : 0;
}
