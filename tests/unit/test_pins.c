// SPDX-License-Identifier: MIT
/*
 * Unit tests for user/common/pins.c with the kernel faked out (-Wl,--wrap
 * of geteuid, capget, statfs, bpf_obj_get, bpf_obj_get_info_by_fd,
 * bpf_map_lookup_elem, close): the messages for a missing capability, no
 * bpffs, no state, and pins of another ABI version or layout.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/magic.h>
#include <bpf/bpf.h>

#include "caps.h"
#include "log.h"
#include "pins.h"

#define FD_BASE 100

static const struct {
	const char *name;
	__u32 type, key, value, entries;
} fake[] = {
	{ SL_MAP_CONFIG, BPF_MAP_TYPE_ARRAY, 4, sizeof(struct sl_config), 1 },
	{ SL_MAP_PORTS, BPF_MAP_TYPE_ARRAY, 4, SL_PORT_KEYS, 1 },
	{ SL_MAP_SERVICES, BPF_MAP_TYPE_HASH, 4, sizeof(struct sl_service), SL_MAX_SERVICES },
	{ SL_MAP_ADMISSION, BPF_MAP_TYPE_HASH, 4, sizeof(struct sl_admission), SL_MAX_SERVICES },
	{ SL_MAP_GEN, BPF_MAP_TYPE_ARRAY, 4, 8, 1 },
	{ SL_MAP_BUCKETS, BPF_MAP_TYPE_ARRAY, 4, sizeof(struct sl_bucket), SL_MAX_SERVICES },
	{ SL_MAP_SOURCES, BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, SL_MAX_SERVICES },
	{ SL_MAP_SOURCES6, BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, SL_MAX_SERVICES },
	{ SL_MAP_SRC_FAST, BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, SL_MAX_SERVICES },
	{ SL_MAP_PREFIX4, BPF_MAP_TYPE_LPM_TRIE, 8, 4, 16384 },
	{ SL_MAP_PREFIX6, BPF_MAP_TYPE_LPM_TRIE, 20, 4, 16384 },
	{ SL_MAP_STATS, BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(struct sl_stats), SL_MAX_SERVICES },
	{ SL_MAP_SRC_QUOTA, BPF_MAP_TYPE_HASH, sizeof(struct sl_src_key),
	  sizeof(struct sl_src_quota), SL_SRC_QUOTA_MAX },
	{ SL_MAP_SRC_SEEN, BPF_MAP_TYPE_LRU_HASH, sizeof(struct sl_src_key),
	  sizeof(struct sl_src_seen), SL_SRC_SEEN_MAX },
	{ SL_MAP_SRC_CONNS, BPF_MAP_TYPE_HASH, sizeof(struct sl_src_key),
	  sizeof(struct sl_src_conns), SL_SRC_CONNS_MAX },
	{ SL_MAP_HELD, BPF_MAP_TYPE_ARRAY, 4, sizeof(struct sl_held), SL_MAX_SERVICES },
	{ SL_MAP_ATTACH, BPF_MAP_TYPE_HASH, sizeof(struct sl_attach_key),
	  sizeof(struct sl_attach_rec), SL_ATTACH_MAX },
};
#define NFAKE (sizeof(fake) / sizeof(fake[0]))

static uid_t euid;
static __u64 cap_eff;		/* the effective set capget reports */
static long fs_type;
static const char *missing;		/* bpf_obj_get fails with ENOENT for this name */
static const char *wrong_value;		/* this map reports another value size */
static __u32 abi;
static int open_fds;
static int mapped;			/* sl_ports mapped and not unmapped */
static __u8 port_slots[SL_PORT_KEYS];	/* what the mapping of sl_ports shows */
static char last_err[512];

uid_t __wrap_geteuid(void);
uid_t __wrap_geteuid(void)
{
	return euid;
}

int __wrap_capget(cap_user_header_t hdr, cap_user_data_t data);
int __wrap_capget(cap_user_header_t hdr, cap_user_data_t data)
{
	assert_int_equal(hdr->version, _LINUX_CAPABILITY_VERSION_3);
	data[0].effective = (__u32)cap_eff;
	data[1].effective = (__u32)(cap_eff >> 32);
	return 0;
}

int __wrap_statfs(const char *path, struct statfs *st);
int __wrap_statfs(const char *path, struct statfs *st)
{
	(void)path;
	memset(st, 0, sizeof(*st));
	st->f_type = fs_type;
	return 0;
}

int __wrap_bpf_obj_get(const char *path);
int __wrap_bpf_obj_get(const char *path)
{
	const char *name = strrchr(path, '/') + 1;

	for (size_t i = 0; i < NFAKE; i++) {
		if (strcmp(name, fake[i].name))
			continue;
		if (missing && !strcmp(name, missing))
			break;
		open_fds++;
		return FD_BASE + (int)i;
	}
	errno = ENOENT;
	return -ENOENT;
}

int __wrap_bpf_obj_get_info_by_fd(int fd, void *info, __u32 *len);
int __wrap_bpf_obj_get_info_by_fd(int fd, void *info, __u32 *len)
{
	struct bpf_map_info *mi = info;
	size_t i = (size_t)(fd - FD_BASE);

	(void)len;
	memset(mi, 0, sizeof(*mi));
	mi->type = fake[i].type;
	mi->key_size = fake[i].key;
	mi->value_size = fake[i].value;
	mi->max_entries = fake[i].entries;
	if (wrong_value && !strcmp(fake[i].name, wrong_value))
		mi->value_size += 8;
	return 0;
}

int __wrap_bpf_map_lookup_elem(int fd, const void *key, void *value);
int __wrap_bpf_map_lookup_elem(int fd, const void *key, void *value)
{
	struct sl_config cfg = { .abi_version = abi, .src_entries = 1000 };

	(void)key;
	assert_int_equal(fd, FD_BASE);	/* only sl_config is read */
	memcpy(value, &cfg, sizeof(cfg));
	return 0;
}

/* Only sl_ports is mapped, whole (abi.h: the data plane's .bss). */
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	assert_null(addr);
	assert_int_equal(len, SL_PORT_KEYS);
	assert_int_equal(prot, PROT_READ | PROT_WRITE);
	assert_int_equal(flags, MAP_SHARED);
	assert_string_equal(fake[fd - FD_BASE].name, SL_MAP_PORTS);
	assert_int_equal(off, 0);
	mapped++;
	return port_slots;
}

int __wrap_munmap(void *addr, size_t len);
int __wrap_munmap(void *addr, size_t len)
{
	assert_ptr_equal(addr, port_slots);
	assert_int_equal(len, SL_PORT_KEYS);
	mapped--;
	return 0;
}

int __real_close(int fd);
int __wrap_close(int fd);
int __wrap_close(int fd)
{
	if (fd >= FD_BASE && fd < FD_BASE + (int)NFAKE) {
		open_fds--;
		return 0;
	}
	return __real_close(fd);
}

static void capture(enum sl_log_level level, const char *msg)
{
	if (level == SL_LOG_ERR)
		snprintf(last_err, sizeof(last_err), "%s", msg);
}

static int setup(void **state)
{
	(void)state;
	euid = 0;
	cap_eff = ~0ull;	/* root */
	fs_type = BPF_FS_MAGIC;
	missing = NULL;
	wrong_value = NULL;
	abi = SL_ABI_VERSION;
	open_fds = 0;
	mapped = 0;
	memset(port_slots, 0, sizeof(port_slots));
	last_err[0] = '\0';
	sl_log_set_handler(capture);
	return 0;
}

#define assert_err_has(s) assert_non_null(strstr(last_err, (s)))

static void test_ok(void **state)
{
	struct sl_pins p;

	(void)state;
	assert_int_equal(sl_pins_open("/sys/fs/bpf/t", &p), 0);
	assert_int_equal(p.config_fd, FD_BASE);
	assert_int_equal(p.stats_fd, FD_BASE + 11);	/* the 12th of the fake maps */
	assert_int_equal(p.abi_version, SL_ABI_VERSION);
	assert_int_equal(p.sources_max, 1000);
	assert_string_equal(p.dir, "/sys/fs/bpf/t");
	assert_int_equal(open_fds, (int)NFAKE);
	assert_int_equal(mapped, 1);
	sl_pins_close(&p);
	assert_int_equal(open_fds, 0);
	assert_int_equal(mapped, 0);
	assert_int_equal(p.config_fd, -1);
}

/* sl_ports is read and written in place, a byte per key of sl_port_key(). */
static void test_port_slots(void **state)
{
	struct sl_pins p;
	__u32 key = sl_port_key(SL_PROTO_UDP, 5353);

	(void)state;
	assert_int_equal(sl_pins_open("/sys/fs/bpf/t", &p), 0);
	assert_int_equal(sl_pins_port_get(&p, key), 0);
	sl_pins_port_set(&p, key, 255);
	assert_int_equal(port_slots[key], 255);
	assert_int_equal(sl_pins_port_get(&p, key), 255);
	assert_int_equal(sl_pins_port_get(&p, sl_port_key(SL_PROTO_TCP, 5353)), 0);
	sl_pins_close(&p);
}

static void test_attach_map_optional(void **state)
{
	struct sl_pins p;

	(void)state;
	missing = SL_MAP_ATTACH;
	assert_int_equal(sl_pins_open("/sys/fs/bpf/t", &p), 0);
	assert_int_equal(p.attach_fd, -1);
	sl_pins_close(&p);
	assert_int_equal(open_fds, 0);
}

/* The capability is checked, not the uid, and the error names it. */
static void test_no_cap_bpf(void **state)
{
	struct sl_pins p;

	(void)state;
	euid = 1000;
	cap_eff = SL_CAP_BIT(CAP_NET_ADMIN) | SL_CAP_BIT(CAP_PERFMON);
	assert_int_equal(sl_pins_open("/sys/fs/bpf/t", &p), -EPERM);
	assert_err_has("needs CAP_BPF");
	assert_err_has("uid 1000");
	assert_int_equal(open_fds, 0);
}

/* A non-root user with CAP_BPF alone opens the pins; CAP_SYS_ADMIN stands
 * in for it (the kernel's bpf_capable()). */
static void test_caps_not_uid(void **state)
{
	struct sl_pins p;

	(void)state;
	euid = 65534;
	cap_eff = SL_CAP_BIT(CAP_BPF);
	assert_int_equal(sl_pins_open("/sys/fs/bpf/t", &p), 0);
	sl_pins_close(&p);
	cap_eff = SL_CAP_BIT(CAP_SYS_ADMIN);
	assert_int_equal(sl_pins_open("/sys/fs/bpf/t", &p), 0);
	sl_pins_close(&p);
	assert_int_equal(open_fds, 0);
	cap_eff = SL_CAP_BIT(CAP_BPF) | SL_CAP_BIT(CAP_NET_ADMIN);
	assert_int_equal(sl_caps_require("attaching", SL_CAPS_ATTACH), -EPERM);
	assert_err_has("attaching needs CAP_PERFMON");
}

static void test_no_bpffs(void **state)
{
	struct sl_pins p;

	(void)state;
	fs_type = 0xEF53;	/* ext4 */
	assert_int_equal(sl_pins_open("/tmp/sluice", &p), -ENODEV);
	assert_err_has("/tmp/sluice");
	assert_err_has("bpf");
	assert_int_equal(open_fds, 0);
}

static void test_no_state(void **state)
{
	struct sl_pins p;

	(void)state;
	missing = SL_MAP_CONFIG;
	assert_int_equal(sl_pins_open("/sys/fs/bpf/none", &p), -ENOENT);
	assert_err_has("no sluice state in /sys/fs/bpf/none");
	assert_err_has("attach");
}

static void test_incomplete_state(void **state)
{
	struct sl_pins p;

	(void)state;
	missing = SL_MAP_PREFIX6;
	assert_int_equal(sl_pins_open("/sys/fs/bpf/t", &p), -ENOENT);
	assert_err_has(SL_MAP_PREFIX6);
	assert_int_equal(open_fds, 0);
}

static void test_abi_mismatch(void **state)
{
	struct sl_pins p;
	char want[32];

	(void)state;
	abi = SL_ABI_VERSION + 98;
	assert_int_equal(sl_pins_open("/sys/fs/bpf/t", &p), -EPROTO);
	snprintf(want, sizeof(want), "ABI version %d", SL_ABI_VERSION + 98);
	assert_err_has(want);
	snprintf(want, sizeof(want), "expects %d", SL_ABI_VERSION);
	assert_err_has(want);
	assert_int_equal(open_fds, 0);	/* everything closed again */
}

static void test_layout_mismatch(void **state)
{
	struct sl_pins p;

	(void)state;
	wrong_value = SL_MAP_SERVICES;
	assert_int_equal(sl_pins_open("/sys/fs/bpf/t", &p), -EPROTO);
	assert_err_has(SL_MAP_SERVICES);
	assert_err_has("another sluice version");
	assert_int_equal(open_fds, 0);
	/* sl_ports of ABI 6, an ARRAY of 131072 __u32 slots */
	wrong_value = SL_MAP_PORTS;
	assert_int_equal(sl_pins_open("/sys/fs/bpf/t", &p), -EPROTO);
	assert_err_has(SL_MAP_PORTS);
	assert_int_equal(open_fds, 0);
	assert_int_equal(mapped, 0);
}

/* Pins of another version whose maps also differ in shape (an older
 * sl_sources): named by their version, the actionable part. */
static void test_abi_named_before_layout(void **state)
{
	struct sl_pins p;

	(void)state;
	abi = SL_ABI_VERSION - 1;
	wrong_value = SL_MAP_SOURCES;
	assert_int_equal(sl_pins_open("/sys/fs/bpf/t", &p), -EPROTO);
	assert_err_has("ABI version");
	assert_int_equal(open_fds, 0);
}

static void test_path(void **state)
{
	char buf[16];

	(void)state;
	assert_int_equal(sl_pins_path("/a", "sl_config", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/a/sl_config");
	assert_int_equal(sl_pins_path("/abcdef", "sl_config", buf, sizeof(buf)), -ENAMETOOLONG);
	assert_string_equal(sl_mode_name(SL_MODE_GENERIC), "generic");
	assert_string_equal(sl_mode_name(SL_MODE_TC), "tc");
}

#define T(f) cmocka_unit_test_setup(f, setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ok),
		T(test_port_slots),
		T(test_attach_map_optional),
		T(test_no_cap_bpf),
		T(test_caps_not_uid),
		T(test_no_bpffs),
		T(test_no_state),
		T(test_incomplete_state),
		T(test_abi_mismatch),
		T(test_layout_mismatch),
		T(test_abi_named_before_layout),
		T(test_path),
	};

	return cmocka_run_group_tests_name("pins", tests, NULL, NULL);
}
