// SPDX-License-Identifier: MIT
/*
 * Opening sluice's pinned maps (see pins.h). Every map is checked against
 * what this build expects before anything reads or writes it, so that a
 * sluicectl of another ABI refuses the pins instead of misreading them.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>

#include "caps.h"
#include "log.h"
#include "pins.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

struct map_spec {
	const char *name;
	size_t fd_off;
	__u32 type;
	__u32 key_size;
	__u32 value_size;
	__u32 max_entries;	/* 0: not checked */
};

#define FD(f) offsetof(struct sl_pins, f)

static const struct map_spec specs[] = {
	{ SL_MAP_CONFIG, FD(config_fd), BPF_MAP_TYPE_ARRAY, 4, sizeof(struct sl_config), 1 },
	{ SL_MAP_PORTS, FD(ports_fd), BPF_MAP_TYPE_ARRAY, 4, SL_PORT_KEYS, 1 },
	{ SL_MAP_SERVICES, FD(services_fd), BPF_MAP_TYPE_HASH, 4, sizeof(struct sl_service),
	  SL_MAX_SERVICES },
	{ SL_MAP_ADMISSION, FD(admission_fd), BPF_MAP_TYPE_HASH, 4, sizeof(struct sl_admission),
	  SL_MAX_SERVICES },
	{ SL_MAP_GEN, FD(gen_fd), BPF_MAP_TYPE_ARRAY, 4, 8, 1 },
	{ SL_MAP_BUCKETS, FD(buckets_fd), BPF_MAP_TYPE_ARRAY, 4, sizeof(struct sl_bucket),
	  SL_MAX_SERVICES },
	{ SL_MAP_SOURCES, FD(sources_fd), BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, SL_MAX_SERVICES },
	{ SL_MAP_SOURCES6, FD(sources6_fd), BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, SL_MAX_SERVICES },
	{ SL_MAP_SRC_FAST, FD(src_fast_fd), BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, SL_MAX_SERVICES },
	{ SL_MAP_PREFIX4, FD(prefix4_fd), BPF_MAP_TYPE_LPM_TRIE, sizeof(struct sl_lpm4_key),
	  sizeof(struct sl_prefix_rule), 0 },
	{ SL_MAP_PREFIX6, FD(prefix6_fd), BPF_MAP_TYPE_LPM_TRIE, sizeof(struct sl_lpm6_key),
	  sizeof(struct sl_prefix_rule), 0 },
	{ SL_MAP_STATS, FD(stats_fd), BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(struct sl_stats),
	  SL_MAX_SERVICES },
	{ SL_MAP_SRC_QUOTA, FD(src_quota_fd), BPF_MAP_TYPE_HASH, sizeof(struct sl_src_key),
	  sizeof(struct sl_src_quota), SL_SRC_QUOTA_MAX },
	{ SL_MAP_SRC_SEEN, FD(src_seen_fd), BPF_MAP_TYPE_LRU_HASH, sizeof(struct sl_src_key),
	  sizeof(struct sl_src_seen), SL_SRC_SEEN_MAX },
	{ SL_MAP_SRC_CONNS, FD(src_conns_fd), BPF_MAP_TYPE_HASH, sizeof(struct sl_src_key),
	  sizeof(struct sl_src_conns), SL_SRC_CONNS_MAX },
	{ SL_MAP_HELD, FD(held_fd), BPF_MAP_TYPE_ARRAY, 4, sizeof(struct sl_held),
	  SL_MAX_SERVICES },
	{ SL_MAP_ATTACH, FD(attach_fd), BPF_MAP_TYPE_HASH, sizeof(struct sl_attach_key),
	  sizeof(struct sl_attach_rec), 0 },
};

static int *fd_of(struct sl_pins *p, const struct map_spec *s)
{
	return (int *)((char *)p + s->fd_off);
}

int sl_pins_path(const char *dir, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= len) {
		pr_err("path '%s/%s' is too long, expected at most %zu characters", dir, name,
		       len - 1);
		return -ENAMETOOLONG;
	}
	return 0;
}

/* statfs of dir, or of its closest existing ancestor. */
static int statfs_up(const char *dir, struct statfs *st)
{
	char path[PATH_MAX];
	char *slash;

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	for (;;) {
		if (!statfs(path, st))
			return 0;
		if (errno != ENOENT)
			return -errno;
		slash = strrchr(path, '/');
		if (!slash)
			return statfs(".", st) ? -errno : 0;
		if (slash == path) {
			path[1] = '\0';
			return statfs(path, st) ? -errno : 0;
		}
		*slash = '\0';
	}
}

int sl_pins_check_env(const char *dir)
{
	struct statfs st;
	int err;

	err = sl_caps_require("reaching the pinned maps", SL_CAPS_MAPS);
	if (err)
		return err;
	err = statfs_up(dir, &st);
	if (err) {
		pr_err("cannot inspect pin dir %s: %s", dir, strerror(-err));
		return err;
	}
	if ((unsigned long)st.f_type != BPF_FS_MAGIC) {
		pr_err("pin dir %s is not on a bpf filesystem, expected a directory under a bpffs "
		       "mount (mount -t bpf bpffs /sys/fs/bpf)", dir);
		return -ENODEV;
	}
	return 0;
}

int sl_pins_exist(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;
	int err;

	err = sl_pins_path(dir, SL_MAP_CONFIG, path, sizeof(path));
	if (err)
		return err;
	if (!stat(path, &st))
		return 1;
	return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
}

void sl_pins_close(struct sl_pins *p)
{
	if (p->port_slots)
		munmap((void *)p->port_slots, SL_PORT_KEYS);
	p->port_slots = NULL;
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		int *fd = fd_of(p, &specs[i]);

		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
}

static int check_map(const char *path, int fd, const struct map_spec *s)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int err;

	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (err) {
		err = -errno;
		pr_err("cannot read map info of %s: %s", path, strerror(errno));
		return err;
	}
	if (info.type != s->type || info.key_size != s->key_size ||
	    info.value_size != s->value_size ||
	    (s->max_entries && info.max_entries != s->max_entries)) {
		pr_err("pinned map %s does not match this sluicectl (type %u key %u value %u "
		       "entries %u, expected type %u key %u value %u%s): pins of another sluice "
		       "version?", path, info.type, info.key_size, info.value_size,
		       info.max_entries, s->type, s->key_size, s->value_size,
		       s->max_entries ? "" : " any entries");
		return -EPROTO;
	}
	return 0;
}

/*
 * sl_ports is the data plane's .bss (abi.h): one value of a byte per
 * (proto, port), read and written in place through a shared mapping, a
 * byte at a time, where a map update would copy all 128 KiB.
 */
static int map_ports(struct sl_pins *p)
{
	void *m = mmap(NULL, SL_PORT_KEYS, PROT_READ | PROT_WRITE, MAP_SHARED, p->ports_fd, 0);

	if (m == MAP_FAILED) {
		int err = -errno;

		pr_err("cannot map %s/%s: %s", p->dir, SL_MAP_PORTS, strerror(errno));
		return err;
	}
	p->port_slots = m;
	return 0;
}

__u8 sl_pins_port_get(const struct sl_pins *p, __u32 key)
{
	return __atomic_load_n(&p->port_slots[key], __ATOMIC_RELAXED);
}

/*
 * One byte, stored whole: the data plane sees the old slot or the new.
 * Ordered after the writes of abi.h's update order by the bpf() calls
 * that made them (each a full barrier); a release store says so.
 */
void sl_pins_port_set(const struct sl_pins *p, __u32 key, __u8 slot)
{
	__atomic_store_n(&p->port_slots[key], slot, __ATOMIC_RELEASE);
}

int sl_pins_open(const char *dir, struct sl_pins *p)
{
	struct sl_config cfg;
	__u32 zero = 0;
	int err, n;

	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
		*fd_of(p, &specs[i]) = -1;
	n = snprintf(p->dir, sizeof(p->dir), "%s", dir);
	if (n < 0 || (size_t)n >= sizeof(p->dir)) {
		pr_err("pin dir '%s' is too long", dir);
		return -ENAMETOOLONG;
	}
	err = sl_pins_check_env(dir);
	if (err)
		return err;

	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		const struct map_spec *s = &specs[i];
		char path[PATH_MAX];
		int fd;

		err = sl_pins_path(dir, s->name, path, sizeof(path));
		if (err)
			goto out;
		fd = bpf_obj_get(path);
		if (fd < 0) {
			err = -errno;
			if (err == -ENOENT && s->fd_off == FD(attach_fd))
				continue;	/* created by the first attach */
			if (err == -ENOENT && s->fd_off == FD(config_fd))
				pr_err("no sluice state in %s: run 'sluicectl attach DEV' first", dir);
			else if (err == -ENOENT)
				pr_err("incomplete sluice state in %s: %s is missing", dir, s->name);
			else if (err == -EPERM || err == -EACCES)
				pr_err("cannot open %s: permission denied (the pins are the "
				       "creator's, mode 0600: run as their owner, uid %u here)", path,
				       (unsigned int)geteuid());
			else
				pr_err("cannot open %s: %s", path, strerror(-err));
			goto out;
		}
		*fd_of(p, s) = fd;
		err = check_map(path, fd, s);
		if (err)
			goto out;
		if (s->fd_off != FD(config_fd))
			continue;
		/* The version first (sl_config comes first): pins of another
		 * version are named as such, not as a map of the wrong shape. */
		err = bpf_map_lookup_elem(p->config_fd, &zero, &cfg);
		if (err) {
			err = -errno;
			pr_err("cannot read %s/%s: %s", dir, SL_MAP_CONFIG, strerror(errno));
			goto out;
		}
		p->abi_version = cfg.abi_version;
		if (cfg.abi_version != SL_ABI_VERSION) {
			pr_err("pins in %s have ABI version %u, this sluicectl expects %u: detach with "
			       "the matching sluicectl, or remove %s", dir, cfg.abi_version,
			       SL_ABI_VERSION, dir);
			err = -EPROTO;
			goto out;
		}
	}
	p->clock = cfg.clock;
	p->clock_slack_ns = cfg.clock_slack_ns;
	p->sources_max = cfg.src_entries;
	err = map_ports(p);
out:
	if (err)
		sl_pins_close(p);
	return err;
}

const char *sl_clock_name(unsigned int clock)
{
	return clock == SL_CLOCK_COARSE ? "coarse" : "precise";
}

const char *sl_mode_name(unsigned int mode)
{
	switch (mode) {
	case SL_MODE_NATIVE:
		return "native";
	case SL_MODE_GENERIC:
		return "generic";
	case SL_MODE_TC:
		return "tc";
	default:
		return "none";
	}
}

static int cmp_attachment(const void *a, const void *b)
{
	return strncmp(((const struct sl_attachment *)a)->ifname,
		       ((const struct sl_attachment *)b)->ifname, 16);
}

int sl_attach_list(const struct sl_pins *p, struct sl_attachment *out, size_t max, size_t *n)
{
	struct sl_attach_key key, next, *prev = NULL;
	size_t cnt = 0;

	*n = 0;
	if (p->attach_fd < 0)
		return 0;
	while (cnt < max && !bpf_map_get_next_key(p->attach_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(p->attach_fd, &key, &out[cnt].rec)) {
			int err = -errno;

			if (err == -ENOENT)
				continue;
			pr_err("cannot read %s: %s", SL_MAP_ATTACH, strerror(-err));
			return err;
		}
		memcpy(out[cnt].ifname, key.ifname, sizeof(key.ifname));
		out[cnt].ifname[sizeof(out[cnt].ifname) - 1] = '\0';
		cnt++;
	}
	qsort(out, cnt, sizeof(*out), cmp_attachment);
	*n = cnt;
	return 0;
}

/*
 * Two sluicectl (or sluicectl and sluiced) changing the maps at once could
 * pick the same free slot; writers hold this lock from their first read to
 * their last write. The data plane does not take it and needs not: each
 * write is a whole value, in the order of abi.h.
 */
int sl_pins_dir_open(const char *dir, int *fd_out)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		int err = -errno;

		pr_err("cannot open pin dir %s: %s", dir, strerror(errno));
		return err;
	}
	*fd_out = fd;
	return 0;
}

/* Not logged: the caller names the dir (lock_dir) or reports the error. */
static int lock_fd(int fd, int how)
{
	return flock(fd, how) ? -errno : 0;
}

static int lock_dir(const char *dir, int *fd_out, int how)
{
	int fd, err;

	err = sl_pins_dir_open(dir, &fd);
	if (err)
		return err;
	err = lock_fd(fd, how);
	if (err) {
		if (err != -EWOULDBLOCK)
			pr_err("cannot lock pin dir %s: %s", dir, strerror(-err));
		close(fd);
		return err;
	}
	*fd_out = fd;
	return 0;
}

int sl_pins_lock(const char *dir, int *fd_out)
{
	return lock_dir(dir, fd_out, LOCK_EX);
}

int sl_pins_trylock(const char *dir, int *fd_out)
{
	return lock_dir(dir, fd_out, LOCK_EX | LOCK_NB);
}

void sl_pins_unlock(int fd)
{
	if (fd >= 0)
		close(fd);	/* releases the flock */
}

int sl_pins_trylock_fd(int fd)
{
	return lock_fd(fd, LOCK_EX | LOCK_NB);
}

void sl_pins_unlock_fd(int fd)
{
	flock(fd, LOCK_UN);
}
