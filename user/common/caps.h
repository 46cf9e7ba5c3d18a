/* SPDX-License-Identifier: MIT */
/*
 * The capabilities sluice needs, checked in the effective set (not the
 * euid): root has them all; a service user is granted exactly these.
 *
 *   CAP_BPF        every bpf() call: open pins, read and write maps
 *   CAP_NET_ADMIN  load XDP/TC programs, attach them, clsact qdiscs
 *   CAP_PERFMON    the verifier's full checks for the data plane
 *
 * CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON, as in the kernel.
 *
 * API:
 *   SL_CAPS_MAPS, SL_CAPS_ATTACH      what reading/writing maps and
 *                                     attaching need (masks of CAP_* bits)
 *   sl_caps_require(what, mask)       0, or -EPERM after logging which
 *                                     capability is missing for what
 *   sl_caps_effective(&mask)          the effective set, 0 or -errno
 */
#ifndef SLUICE_CAPS_H
#define SLUICE_CAPS_H

#include <stdint.h>
#include <linux/capability.h>

#define SL_CAP_BIT(c) (1ull << (c))
#define SL_CAPS_MAPS SL_CAP_BIT(CAP_BPF)
#define SL_CAPS_ATTACH (SL_CAP_BIT(CAP_BPF) | SL_CAP_BIT(CAP_NET_ADMIN) | SL_CAP_BIT(CAP_PERFMON))

int sl_caps_effective(uint64_t *mask);
int sl_caps_require(const char *what, uint64_t mask);

#endif /* SLUICE_CAPS_H */
