/* SPDX-License-Identifier: MIT */
/*
 * How long received bytes waited in the kernel before we read them, from
 * the arrival stamp the kernel puts on each packet (SO_TIMESTAMPNS):
 *
 *   sld_rxstamp_enable(fd)              stamp what fd receives (a listener's
 *                                       accepted sockets inherit it)
 *   sld_recv_stamped(fd, buf, len, &age_ns)
 *                                       recv without blocking; age_ns is how
 *                                       long the first byte read waited (0
 *                                       when unstamped or the clock was set)
 */
#ifndef SLUICED_RXSTAMP_H
#define SLUICED_RXSTAMP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

int sld_rxstamp_enable(int fd);
ssize_t sld_recv_stamped(int fd, void *buf, size_t len, uint64_t *age_ns);

#endif /* SLUICED_RXSTAMP_H */
