/* SPDX-License-Identifier: MIT */
/*
 * Listening TCP sockets of any process in our network namespace, by port
 * (sock_diag): guard mode's "is the service up" and its accept backlog.
 *
 * API:
 *   sld_listener_find(port, &l)   0 with l filled (the sum over every
 *                                 listener on the port, SO_REUSEPORT
 *                                 groups included), -ENOENT when none
 *                                 listens, or -errno
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

int sld_listener_find(uint16_t port, struct sld_listener *out);

#endif /* SLUICED_SOCKDIAG_H */
