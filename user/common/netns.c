// SPDX-License-Identifier: MIT
/* The current network namespace's inode (see netns.h). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "netns.h"

int sl_netns_inode(uint32_t *ino)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st)) {
		int err = -errno;

		pr_err("cannot read our network namespace (/proc/self/ns/net): %s", strerror(-err));
		return err;
	}
	*ino = (uint32_t)st.st_ino;
	return 0;
}
