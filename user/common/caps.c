// SPDX-License-Identifier: MIT
/*
 * Capability checks (see caps.h), with capget(2) directly: the effective
 * set is one syscall away, libcap would be a dependency for it. glibc
 * exports capget() without declaring it (libcap's header does).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "caps.h"
#include "log.h"

int capget(cap_user_header_t hdr, cap_user_data_t data);

static const struct {
	int cap;
	const char *name;
} needed[] = {
	{ CAP_BPF, "CAP_BPF" },
	{ CAP_NET_ADMIN, "CAP_NET_ADMIN" },
	{ CAP_PERFMON, "CAP_PERFMON" },
};

int sl_caps_effective(uint64_t *mask)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};

	if (capget(&hdr, data))
		return -errno;
	*mask = (uint64_t)data[1].effective << 32 | data[0].effective;
	return 0;
}

int sl_caps_require(const char *what, uint64_t mask)
{
	uint64_t have;
	int err = sl_caps_effective(&have);

	if (err) {
		pr_err("cannot read this process's capabilities: %s", strerror(-err));
		return err;
	}
	/* The kernel's bpf_capable() and perfmon_capable() accept CAP_SYS_ADMIN. */
	if (have & SL_CAP_BIT(CAP_SYS_ADMIN))
		have |= SL_CAP_BIT(CAP_BPF) | SL_CAP_BIT(CAP_PERFMON);
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		if (!(mask & SL_CAP_BIT(needed[i].cap)) || (have & SL_CAP_BIT(needed[i].cap)))
			continue;
		pr_err("%s needs %s, which this process lacks (uid %u): run as root, or grant "
		       "CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON (see the man page, LEAST PRIVILEGE)",
		       what, needed[i].name, (unsigned int)geteuid());
		return -EPERM;
	}
	return 0;
}
