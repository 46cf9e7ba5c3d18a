// SPDX-License-Identifier: MIT
/*
 * Helper of test_actions_netns.sh: loads the data plane without pinning,
 * fills its maps with the test defaults (tests/prog/env.c: TCP 443 reject,
 * TCP 8080 mark 0x5a, 198.18.2.0/24 denied), attaches it to IFNAME (XDP
 * native, or TC clsact ingress), prints "attached", waits for its standard
 * input to close, prints the counters of those two services, detaches.
 *
 * usage: action_loader IFNAME xdp|tc
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "env.h"

int main(int argc, char **argv)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts);
	struct sl_stats rej, mark;
	char why[256], buf[64];
	bool xdp, made_qdisc = false;
	int ifindex, err;

	if (argc != 3 || (strcmp(argv[2], "xdp") && strcmp(argv[2], "tc"))) {
		fprintf(stderr, "usage: action_loader IFNAME xdp|tc\n");
		return 2;
	}
	xdp = !strcmp(argv[2], "xdp");
	ifindex = if_nametoindex(argv[1]);
	if (!ifindex) {
		fprintf(stderr, "action_loader: no interface %s\n", argv[1]);
		return 2;
	}
	if (env_open(1024, why, sizeof(why))) {
		fprintf(stderr, "action_loader: %s\n", why);
		return 1;
	}
	err = env_reset();
	if (!err && xdp) {
		err = bpf_xdp_attach(ifindex, env_xdp_fd, XDP_FLAGS_DRV_MODE, NULL);
	} else if (!err) {
		hook.ifindex = ifindex;
		err = bpf_tc_hook_create(&hook);
		made_qdisc = !err;
		if (err == -EEXIST)
			err = 0;
		opts.prog_fd = env_tc_fd;
		err = err ?: bpf_tc_attach(&hook, &opts);
	}
	if (err) {
		fprintf(stderr, "action_loader: attach %s: %s\n", argv[2], strerror(-err));
		return 1;
	}
	printf("attached\n");
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0)
		;
	env_stats(SLOT_TCP443, &rej);
	env_stats(SLOT_TCP8080, &mark);
	printf("denied=%llu rejected=%llu marked=%llu would_drop=%llu\n",
	       (unsigned long long)(rej.denied + mark.denied), (unsigned long long)rej.rejected,
	       (unsigned long long)mark.marked,
	       (unsigned long long)(rej.would_drop + mark.would_drop));
	fflush(stdout);
	if (xdp) {
		bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
	} else {
		opts.prog_fd = 0;
		opts.prog_id = 0;
		opts.flags = 0;
		bpf_tc_detach(&hook, &opts);
		if (made_qdisc) {	/* only the clsact qdisc this program made */
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
		}
	}
	env_close();
	return 0;
}
