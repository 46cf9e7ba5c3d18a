/* SPDX-License-Identifier: MIT */
/*
 * The pinned state of sluice: open the maps pinned by name under the pin
 * directory, check that they are what this build expects (type, key and
 * value sizes, SL_ABI_VERSION in sl_config), and explain what is missing
 * when they cannot be opened (no CAP_BPF, no bpffs, nothing attached yet).
 *
 * Besides the data-plane maps of abi.h, the pin dir holds state that only
 * user space reads:
 *   sl_attach         HASH ifname -> struct sl_attach_rec, one per attached
 *                     interface (mode, what was created, program id)
 *   links/<ifname>    the pinned bpf_link of an XDP attachment
 *   conns/<ifname>    the pinned link of an attachment's connection counter
 *   sl_conn_sk        the counter's socket storage (abi.h), not opened here
 *
 * API:
 *   sl_pins_check_env(dir)   0, or -EPERM (no CAP_BPF) / -ENODEV (dir is not
 *                            on bpffs), logged
 *   sl_pins_exist(dir)       1 if the state exists, 0 if not, -errno
 *   sl_pins_open(dir, &p)    open every map and check it; logged errors:
 *                            -ENOENT no state, -EPROTO ABI mismatch
 *   sl_pins_close(&p)
 *   sl_pins_port_get(p, key)            sl_ports[key] (sl_port_key()), 0: none
 *   sl_pins_port_set(p, key, slot)      sl_ports[key] = slot, in place (abi.h)
 *   sl_pins_path(dir, name, buf, len)   "<dir>/<name>"
 *   sl_pins_lock(dir, &fd)              exclusive advisory lock (flock) on the
 *                                       pin dir, for read-modify-write of the
 *                                       maps; sl_pins_unlock(fd) releases it
 *   sl_pins_trylock(dir, &fd)           the same without waiting: -EWOULDBLOCK
 *                                       (not logged) while another holds it
 *   sl_pins_dir_open(dir, &fd)          the pin dir open, unlocked, for a
 *                                       writer that locks it often (below)
 *   sl_pins_trylock_fd(fd)              sl_pins_trylock on that descriptor, its
 *                                       errors not logged (the caller reports
 *                                       them); sl_pins_unlock_fd(fd) releases it.
 *                                       Opening and closing a bpffs
 *                                       directory each time frees a dentry
 *                                       (its cursor) through RCU: a grace
 *                                       period, softirqs on every CPU
 *   sl_attach_list(p, out, max, &n)     attachment records, sorted by name
 *   sl_mode_name(mode)                  "native", "generic", "tc"
 *   sl_clock_name(clock)                "precise", "coarse" (enum sl_clock)
 */
#ifndef SLUICE_PINS_H
#define SLUICE_PINS_H

#include <limits.h>
#include <stddef.h>
#include <linux/types.h>
#include <sluice/abi.h>

#define SL_MAP_ATTACH "sl_attach"
#define SL_ATTACH_MAX 1024
#define SL_LINKS_SUBDIR "links"
#define SL_CONNS_SUBDIR "conns"

/* sl_attach_rec.mode */
enum sl_attach_mode {
	SL_MODE_NONE = 0,
	SL_MODE_NATIVE = 1,	/* XDP in the driver */
	SL_MODE_GENERIC = 2,	/* XDP on the skb (any driver) */
	SL_MODE_TC = 3,		/* TC clsact ingress */
};

struct sl_attach_key {
	char ifname[16];	/* IFNAMSIZ, NUL-padded */
};

struct sl_attach_rec {
	__u32 ifindex;
	__u8 mode;		/* enum sl_attach_mode */
	__u8 qdisc_created;	/* TC: sluice created the clsact qdisc */
	__u16 pad0;
	__u32 prog_id;
	__u32 tc_handle;	/* TC: filter handle and priority used */
	__u32 tc_priority;
	__u32 pad1;
};
_Static_assert(sizeof(struct sl_attach_rec) == 24, "sl_attach_rec layout");

struct sl_attachment {
	char ifname[16];
	struct sl_attach_rec rec;
};

struct sl_pins {
	char dir[PATH_MAX];
	int config_fd;
	int ports_fd;
	__u8 *port_slots;	/* sl_ports, mapped (SL_PORT_KEYS bytes) */
	int services_fd;
	int admission_fd;
	int gen_fd;
	int buckets_fd;
	int sources_fd;
	int sources6_fd;
	int src_fast_fd;
	int prefix4_fd;
	int prefix6_fd;
	int stats_fd;
	int src_quota_fd;
	int src_seen_fd;
	int src_conns_fd;
	int held_fd;
	int attach_fd;		/* -1 until the first attach creates it */
	__u32 abi_version;
	__u32 sources_max;	/* sl_config: entries of each per-source table */
	__u8 clock;		/* sl_config: enum sl_clock of the buckets */
	__u64 clock_slack_ns;	/* sl_config: slack of the coarse clock */
};

int sl_pins_check_env(const char *dir);
int sl_pins_exist(const char *dir);
int sl_pins_open(const char *dir, struct sl_pins *p);
void sl_pins_close(struct sl_pins *p);
__u8 sl_pins_port_get(const struct sl_pins *p, __u32 key);
void sl_pins_port_set(const struct sl_pins *p, __u32 key, __u8 slot);
int sl_pins_path(const char *dir, const char *name, char *buf, size_t len);
int sl_pins_lock(const char *dir, int *fd);
int sl_pins_trylock(const char *dir, int *fd);
void sl_pins_unlock(int fd);
int sl_pins_dir_open(const char *dir, int *fd);
int sl_pins_trylock_fd(int fd);
void sl_pins_unlock_fd(int fd);
int sl_attach_list(const struct sl_pins *p, struct sl_attachment *out, size_t max, size_t *n);
const char *sl_mode_name(unsigned int mode);
const char *sl_clock_name(unsigned int clock);

#endif /* SLUICE_PINS_H */
