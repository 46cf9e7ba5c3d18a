/* SPDX-License-Identifier: MIT */
/*
 * What kind of device an interface is, where that decides how the data
 * plane can answer on it.
 *
 * API:
 *   sl_netdev_driver(ifname, buf, len)   the driver's name (ethtool's),
 *                                        0 or -errno
 *   sl_netdev_native_tx_lost(ifname)     true when a native-mode XDP_TX
 *                                        (the RST of a 'reject') is lost
 *                                        unless the peer runs XDP: veth
 */
#ifndef SLUICE_NETDEV_H
#define SLUICE_NETDEV_H

#include <stdbool.h>
#include <stddef.h>

int sl_netdev_driver(const char *ifname, char *buf, size_t len);
bool sl_netdev_native_tx_lost(const char *ifname);

#endif /* SLUICE_NETDEV_H */
