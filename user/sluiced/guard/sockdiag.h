/* SPDX-License-Identifier: MIT */
/*
 * Listening TCP sockets of any process in our network namespace, by port
 * (sock_diag): guard mode's "is the service up" and its accept backlog.
 *
 * API:
 *   sld_sockdiag_init(&sd)            no socket yet
 *   sld_listener_find(&sd, port, &l)  0 with l filled (the sum over every
 *                                     listener on the port, SO_REUSEPORT
 *                                     groups included), -ENOENT when none
 *                                     listens, or -errno
 *   sld_sockdiag_close(&sd)
 *
 * The netlink socket is opened at the first find and kept for the next
 * ones (closed after an error, opened again at the next): guard mode
 * dumps every tenth tick on the core of the service it guards, and each
 * close frees the socket through RCU, grace periods that both cores pay
 * for (README, the pin dir's lock).
 */
#ifndef SLUICED_SOCKDIAG_H
#define SLUICED_SOCKDIAG_H

#include <stdint.h>

struct sld_listener {
	uint32_t sockets;	/* listening sockets on the port */
	uint32_t queued;	/* connections waiting for accept() */
	uint32_t limit;		/* their listen() backlogs */
	uint32_t inode;		/* the first one's socket inode (its owner: procsock.c) */
};

struct sld_sockdiag {
	int fd;			/* -1: none open */
};

void sld_sockdiag_init(struct sld_sockdiag *sd);
int sld_listener_find(struct sld_sockdiag *sd, uint16_t port, struct sld_listener *out);
void sld_sockdiag_close(struct sld_sockdiag *sd);

#endif /* SLUICED_SOCKDIAG_H */
