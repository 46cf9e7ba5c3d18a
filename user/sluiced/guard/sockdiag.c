// SPDX-License-Identifier: MIT
/*
 * A listening TCP socket of another process, found by port through the
 * kernel's socket diagnostics (NETLINK_SOCK_DIAG, what `ss -ltn` uses):
 * whether a guarded service listens yet, and its accept queue against
 * its limit (for a listener, idiag_rqueue is the queue and idiag_wqueue
 * the listen() backlog). Only the caller's network namespace is seen.
 */
#include "sockdiag.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TCPF_LISTEN_BIT (1u << TCP_LISTEN)

/* One dump of the listeners of one family; adds those on port to *out. */
static int dump_family(int fd, uint8_t family, uint16_t port, struct sld_listener *out)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg = {
		.nlh = { .nlmsg_len = sizeof(msg), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.req = { .sdiag_family = family, .sdiag_protocol = IPPROTO_TCP,
			 .idiag_states = TCPF_LISTEN_BIT },
	};
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	long buf[8192 / sizeof(long)];

	if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&nl, sizeof(nl)) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			struct inet_diag_msg *m;

			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);

				return e->error ? e->error : -EIO;
			}
			m = NLMSG_DATA(h);
			if (ntohs(m->id.idiag_sport) != port)
				continue;
			if (!out->sockets++)
				out->inode = m->idiag_inode;
			out->queued += m->idiag_rqueue;
			out->limit += m->idiag_wqueue;
		}
	}
}

void sld_sockdiag_init(struct sld_sockdiag *sd)
{
	sd->fd = -1;
}

int sld_listener_find(struct sld_sockdiag *sd, uint16_t port, struct sld_listener *out)
{
	int err;

	memset(out, 0, sizeof(*out));
	if (sd->fd < 0) {
		sd->fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
		if (sd->fd < 0)
			return -errno;
	}
	err = dump_family(sd->fd, AF_INET, port, out);
	if (!err)
		err = dump_family(sd->fd, AF_INET6, port, out);
	if (err) {
		/* A dump cut short may leave its rest in the socket: the next
		 * find starts on a fresh one. */
		sld_sockdiag_close(sd);
		return err;
	}
	return out->sockets ? 0 : -ENOENT;
}

void sld_sockdiag_close(struct sld_sockdiag *sd)
{
	if (sd->fd >= 0)
		close(sd->fd);
	sd->fd = -1;
}
