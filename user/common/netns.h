/* SPDX-License-Identifier: MIT */
/*
 * The network namespace this process runs in, as the BPF programs on the
 * socket path see it (struct net's ns.inum, bpf/sock.bpf.h): they count
 * only sockets of the namespace they were loaded for.
 *
 * API:
 *   sl_netns_inode(&ino)   inode of /proc/self/ns/net; 0, or -errno logged
 */
#ifndef SLUICE_NETNS_H
#define SLUICE_NETNS_H

#include <stdint.h>

int sl_netns_inode(uint32_t *ino);

#endif /* SLUICE_NETNS_H */
