// SPDX-License-Identifier: MIT
/*
 * Arrival stamps of received bytes (rxstamp.h). The stamp is CLOCK_REALTIME,
 * taken by the kernel when the packet arrived; against the same clock now
 * it is the time the bytes sat in the kernel's queues. An age below 0 or
 * above 10 s means the clock was set meanwhile, and counts as 0. The cost
 * is a recvmsg in place of a recv and a vDSO clock read.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include "rxstamp.h"

int sld_rxstamp_enable(int fd)
{
	int one = 1;

	return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0 ? -errno : 0;
}

ssize_t sld_recv_stamped(int fd, void *buf, size_t len, uint64_t *age_ns)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	ssize_t n = recvmsg(fd, &m, MSG_DONTWAIT);

	*age_ns = 0;
	if (n <= 0)
		return n;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts, now;
			int64_t age;

			memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
			clock_gettime(CLOCK_REALTIME, &now);
			age = (int64_t)(now.tv_sec - ts.tv_sec) * 1000000000 +
			      (now.tv_nsec - ts.tv_nsec);
			if (age > 0 && age < 10000000000)
				*age_ns = (uint64_t)age;
		}
	}
	return n;
}
