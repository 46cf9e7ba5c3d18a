// SPDX-License-Identifier: MIT
/*
 * The kind of a network device (see netdev.h), asked of the kernel with
 * ETHTOOL_GDRVINFO in the caller's network namespace (sysfs may show
 * another one's devices).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>

#include "netdev.h"

int sl_netdev_driver(const char *ifname, char *buf, size_t len)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = { .ifr_data = (char *)&info };
	int fd, err = 0;

	if (strlen(ifname) >= sizeof(ifr.ifr_name))
		return -ENAMETOOLONG;
	memcpy(ifr.ifr_name, ifname, strlen(ifname) + 1);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCETHTOOL, &ifr))
		err = -errno;
	close(fd);
	if (!err)
		snprintf(buf, len, "%.*s", (int)sizeof(info.driver), info.driver);
	return err;
}

/*
 * A veth's native XDP_TX hands the frame to the peer's XDP receive ring,
 * which exists only while the peer runs an XDP program: otherwise the
 * frame is dropped (and enabling GRO on the peer does not help on 6.18).
 * Generic XDP_TX and TC go through the peer's normal receive path.
 */
bool sl_netdev_native_tx_lost(const char *ifname)
{
	char drv[32];

	return !sl_netdev_driver(ifname, drv, sizeof(drv)) && !strcmp(drv, "veth");
}
