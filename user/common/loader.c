// SPDX-License-Identifier: MIT
/*
 * Loader (see loader.h): the skeleton loaded against the pinned maps, XDP
 * attached through a pinned bpf_link, TC through a clsact ingress filter,
 * and a record per interface of what was created so that detach undoes
 * exactly that and nothing more.
 */
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <linux/pkt_sched.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "caps.h"
#include "loader.h"
#include "log.h"
#include "netdev.h"
#include "netns.h"
#include "parse.h"
#include "sluice.skel.h"
#include "tcfilter.h"

#define MAX_OBJ_MAPS 32

static int attach_key(const char *ifname, struct sl_attach_key *k)
{
	memset(k, 0, sizeof(*k));
	if (!ifname || !*ifname || strlen(ifname) >= sizeof(k->ifname)) {
		pr_err("'%s' is not an interface name, expected 1..%zu characters", ifname ? ifname : "",
		       sizeof(k->ifname) - 1);
		return -EINVAL;
	}
	memcpy(k->ifname, ifname, strlen(ifname));
	return 0;
}

/*
 * <pin dir>/<subdir>/<ifname>: a pinned link of an attachment, its XDP
 * link (SL_LINKS_SUBDIR) or its connection counter's (SL_CONNS_SUBDIR).
 */
static int link_path(const char *dir, const char *subdir, const char *ifname, char *buf,
		     size_t len)
{
	int n = snprintf(buf, len, "%s/%s/%s", dir, subdir, ifname);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int mkdir_ok(const char *path)
{
	if (mkdir(path, 0700) && errno != EEXIST) {
		int err = -errno;

		pr_err("cannot create %s: %s", path, strerror(errno));
		return err;
	}
	return 0;
}

/* mkdir -p: the pin dir may be several levels below the bpffs mount. */
static int mkdir_p(const char *dir)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s", dir);

	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) && errno != EEXIST) {
			int err = -errno;

			pr_err("cannot create %s: %s", path, strerror(errno));
			return err;
		}
		*p = '/';
	}
	return mkdir_ok(path);
}

static int prog_id_of(int prog_fd, uint32_t *id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	*id = info.id;
	return 0;
}

uint64_t sl_clock_tick_ns(void)
{
	struct timespec res;

	/* HZ=250 if the kernel won't say. */
	if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) || res.tv_sec || res.tv_nsec <= 0)
		return 4000000;
	return (uint64_t)res.tv_nsec;
}

uint64_t sl_clock_slack_ns(enum sl_clock clock)
{
	/* Three ticks: bpf/limit.bpf.h says why. */
	return clock == SL_CLOCK_COARSE ? 3 * sl_clock_tick_ns() : 0;
}

/*
 * The parser starts at an Ethernet header (bpf/parse.bpf.h). A device
 * without one (tun, WireGuard, ipip, GRE: its packets start at IP) would
 * be read as garbage and protect nothing, silently: refused. Loopback
 * frames carry an Ethernet header (all-zero addresses). The type comes
 * from SIOCGIFHWADDR, in this process's network namespace.
 */
static int check_link_type(const char *ifname)
{
	struct ifreq ifr = {};
	int fd, err = 0;
	unsigned int type;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(ifr.ifr_name, ifname, strlen(ifname));	/* checked: < IFNAMSIZ */
	if (ioctl(fd, SIOCGIFHWADDR, &ifr)) {
		err = -errno;
		pr_err("cannot read the link type of %s: %s", ifname, strerror(errno));
		goto out;
	}
	type = ifr.ifr_hwaddr.sa_family;
	if (type != ARPHRD_ETHER && type != ARPHRD_LOOPBACK) {
		pr_err("cannot attach to %s: it is not an Ethernet device (link type %u%s), and the "
		       "data plane parses Ethernet frames; expected an Ethernet interface (attach to "
		       "the one the tunnel's packets arrive on)", ifname, type,
		       type == ARPHRD_NONE ? ": no link-layer header, as tun or WireGuard" :
		       type == ARPHRD_TUNNEL || type == ARPHRD_TUNNEL6 || type == ARPHRD_SIT ||
		       type == ARPHRD_IPGRE ? ": an IP tunnel" : "");
		err = -EOPNOTSUPP;
	}
out:
	close(fd);
	return err;
}

/*
 * Where a reject RST keeps its VLAN tag: in TC the tag is in the skb's
 * metadata (the stack moves it there before TC) and the redirected RST
 * keeps it; generic XDP leaves it in the metadata and its XDP_TX keeps it;
 * native XDP keeps a tag that is in the frame. A tag the NIC strips on
 * receive (rx VLAN offload, on by default in ixgbe, i40e, ice, mlx5) is
 * invisible to native XDP without the driver's RX metadata (XDP hints,
 * device-bound programs), which sluice does not use: the RST would leave
 * untagged. So native attach says so (at info level: most interfaces,
 * veth included, strip tags and carry no VLAN; sluicectl(8) documents it)
 * while the device strips tags.
 */
static void warn_rx_vlan_offload(const char *ifname)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_GFLAGS };
	struct ifreq ifr = {};
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	memcpy(ifr.ifr_name, ifname, strlen(ifname));	/* checked: < IFNAMSIZ */
	ifr.ifr_data = (void *)&ev;
	if (!ioctl(fd, SIOCETHTOOL, &ifr) && (ev.data & ETH_FLAG_RXVLAN))
		pr_info("%s strips VLAN tags on receive (rx-vlan-offload): native XDP does not see "
			"them, and a RST sent for a SYN that came on a VLAN leaves untagged; for "
			"services with action reject on VLANs, attach with --mode tc, or turn it off "
			"('ethtool -K %s rxvlan off')", ifname, ifname);
	close(fd);
}

static bool is_xdp(unsigned int mode)
{
	return mode == SL_MODE_NATIVE || mode == SL_MODE_GENERIC;
}

int sl_attachment_alive(const struct sl_pins *p, const struct sl_attachment *att, uint32_t *prog_id)
{
	char name[IF_NAMESIZE], path[PATH_MAX];
	const struct sl_attach_rec *rec = &att->rec;

	/* Same name, same device: a deleted and re-created interface is not ours. */
	if (!if_indextoname(rec->ifindex, name) || strcmp(name, att->ifname))
		return 0;
	if (is_xdp(rec->mode)) {
		struct bpf_link_info info = {};
		__u32 len = sizeof(info);
		int fd, err;

		if (link_path(p->dir, SL_LINKS_SUBDIR, att->ifname, path, sizeof(path)))
			return -ENAMETOOLONG;
		fd = bpf_obj_get(path);
		if (fd < 0)
			return errno == ENOENT ? 0 : -errno;
		err = bpf_obj_get_info_by_fd(fd, &info, &len);
		close(fd);
		if (err)
			return -errno;
		if (info.type != BPF_LINK_TYPE_XDP || info.xdp.ifindex != rec->ifindex)
			return 0;
		if (prog_id)
			*prog_id = info.prog_id;
		return 1;
	}
	if (rec->mode == SL_MODE_TC) {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)rec->ifindex,
				    .attach_point = BPF_TC_INGRESS);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, q, .handle = rec->tc_handle,
				    .priority = rec->tc_priority);

		if (bpf_tc_query(&hook, &q))
			return 0;
		if (q.prog_id != rec->prog_id)
			return 0;
		if (prog_id)
			*prog_id = q.prog_id;
		return 1;
	}
	return 0;
}

/* Any service with action mark? XDP cannot mark, so XDP attach refuses them. */
static int find_mark_service(const struct sl_pins *p, uint16_t *port, uint8_t *proto)
{
	__u32 key, next, *prev = NULL;
	struct sl_service svc;

	while (!bpf_map_get_next_key(p->services_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(p->services_fd, &key, &svc))
			continue;
		if (svc.action == SL_ACT_MARK) {
			*port = svc.port;
			*proto = svc.proto;
			return 1;
		}
	}
	return 0;
}

/*
 * sl_ports is the object's .bss (maps.bpf.h), pinned under that name: a
 * map libbpf makes from sl_port_slots alone, which must stay the only
 * .bss variable.
 */
_Static_assert(sizeof(*((struct sluice_bpf *)0)->bss) == SL_PORT_KEYS,
	       "the data plane's .bss is sl_ports and nothing else");

/* The name a map of the object is pinned under. */
static const char *pin_name(struct sluice_bpf *skel, struct bpf_map *map)
{
	return map == skel->maps.bss ? SL_MAP_PORTS : bpf_map__name(map);
}

/* Maps of a freshly created state, pinned after sl_config is written. */
struct new_state {
	int n;
	struct bpf_map *maps[MAX_OBJ_MAPS];
	const char *names[MAX_OBJ_MAPS];	/* pin_name() of each */
	int pinned;		/* maps[0..pinned) were pinned by us */
	int attach_fd;		/* >= 0: we created and pinned sl_attach */
};

/* Remove exactly the pins this attach made, never pre-existing ones. */
static void unpin_new_state(const char *dir, struct new_state *ns)
{
	char path[PATH_MAX];

	for (int i = 0; i < ns->pinned; i++) {
		if (!sl_pins_path(dir, ns->names[i], path, sizeof(path)))
			unlink(path);
	}
	ns->pinned = 0;
	if (ns->attach_fd >= 0 && !sl_pins_path(dir, SL_MAP_ATTACH, path, sizeof(path)))
		unlink(path);
}

static int create_attach_map(const char *dir, int *fd_out)
{
	char path[PATH_MAX];
	int fd, err;

	err = sl_pins_path(dir, SL_MAP_ATTACH, path, sizeof(path));
	if (err)
		return err;
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, SL_MAP_ATTACH, sizeof(struct sl_attach_key),
			    sizeof(struct sl_attach_rec), SL_ATTACH_MAX, NULL);
	if (fd < 0) {
		err = -errno;
		pr_err("cannot create map %s: %s", SL_MAP_ATTACH, strerror(errno));
		return err;
	}
	if (bpf_obj_pin(fd, path)) {
		err = -errno;
		pr_err("cannot pin %s: %s", path, strerror(errno));
		close(fd);
		return err;
	}
	*fd_out = fd;
	return 0;
}

static int pin_new_state(const char *dir, struct sluice_bpf *skel, struct new_state *ns,
			 const struct sl_attach_result *res)
{
	struct sl_config cfg = { .abi_version = SL_ABI_VERSION, .clock = (__u8)res->clock,
				 .clock_slack_ns = res->clock_slack_ns, .src_entries = res->sources };
	char path[PATH_MAX];
	__u32 zero = 0;
	int err;

	/* Version and clock first, so nobody ever opens pins without them. */
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.sl_config), &zero, &cfg, BPF_ANY)) {
		err = -errno;
		pr_err("cannot write %s: %s", SL_MAP_CONFIG, strerror(errno));
		return err;
	}
	for (int i = 0; i < ns->n; i++) {
		err = sl_pins_path(dir, ns->names[i], path, sizeof(path));
		if (err)
			goto fail;
		err = bpf_map__pin(ns->maps[i], path);
		if (err) {
			pr_err("cannot pin map %s at %s: %s%s", ns->names[i], path,
			       strerror(-err), err == -EEXIST ? " (left over from an incomplete "
			       "state? remove the pin dir)" : "");
			goto fail;
		}
		ns->pinned = i + 1;
	}
	err = create_attach_map(dir, &ns->attach_fd);
	if (err)
		goto fail;
	return 0;
fail:
	unpin_new_state(dir, ns);
	return err;
}

/*
 * Generic XDP runs after GRO, which merges a UDP flow's datagrams
 * (rx-udp-gro-forwarding, rx-gro-list, or a socket with UDP_GRO, as QUIC
 * servers set) into one packet: it would judge a train of up to 64 as one,
 * and nothing in the packet tells how many. TC counts them (gso_segs);
 * native XDP runs before GRO. So generic XDP and UDP services exclude each
 * other. Logged, naming the service.
 */
static int refuse_generic_with_udp(const char *ifname, int udp_port)
{
	if (udp_port < 0)
		return 0;
	pr_err("cannot attach %s in generic XDP mode while service udp/%d exists: generic XDP runs "
	       "after GRO, which merges UDP datagrams into one packet (rx-udp-gro-forwarding, "
	       "rx-gro-list, or a socket with UDP_GRO as QUIC servers use), judged once; attach with "
	       "--mode tc (judges each datagram) or native XDP, or delete the UDP service", ifname,
	       udp_port);
	return -EOPNOTSUPP;
}

/* The port of some UDP service, or -1. */
static int find_udp_service(const struct sl_pins *p)
{
	__u32 key, next, *prev = NULL;
	struct sl_service svc;

	while (!bpf_map_get_next_key(p->services_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (!bpf_map_lookup_elem(p->services_fd, &key, &svc) && svc.proto == SL_PROTO_UDP)
			return svc.port;
	}
	return -1;
}

/* udp_port: a UDP service's port, or -1 (refuse_generic_with_udp). */
static int attach_xdp(const struct sl_attach_opts *o, struct sluice_bpf *skel, int ifindex,
		      int udp_port, struct sl_attach_result *res)
{
	DECLARE_LIBBPF_OPTS(bpf_link_create_opts, lo);
	char path[PATH_MAX];
	int prog_fd = bpf_program__fd(skel->progs.sluice_xdp);
	int link_fd, err;

	res->native_tx_lost = sl_netdev_native_tx_lost(o->ifname);
	res->mode = o->mode;
	if (o->mode == SL_MODE_NONE)
		/* A service added later may reject: pick the mode whose RST arrives. */
		res->mode = res->native_tx_lost ? SL_MODE_GENERIC : SL_MODE_NATIVE;
	else if (o->mode == SL_MODE_NATIVE && res->native_tx_lost)
		pr_warn("%s is a veth: in native mode the RST of a 'reject' service reaches the peer "
			"only if the peer runs an XDP program, else rejects become drops (--mode "
			"generic or tc delivers them)", o->ifname);
	if (res->mode == SL_MODE_GENERIC) {
		err = refuse_generic_with_udp(o->ifname, udp_port);
		if (err)
			return err;
	}
	lo.flags = res->mode == SL_MODE_NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
	link_fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &lo);
	if (link_fd < 0 && o->mode == SL_MODE_NONE && (errno == EOPNOTSUPP || errno == EINVAL)) {
		pr_debug("%s: native XDP not supported (%s), using generic", o->ifname,
			 strerror(errno));
		res->mode = SL_MODE_GENERIC;
		res->fell_back = true;
		err = refuse_generic_with_udp(o->ifname, udp_port);
		if (err)
			return err;
		lo.flags = XDP_FLAGS_SKB_MODE;
		link_fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &lo);
	}
	if (link_fd < 0) {
		err = -errno;
		if (err == -EBUSY || err == -EEXIST)
			pr_err("cannot attach XDP (%s) to %s: another XDP program is already attached "
			       "(see 'ip link show %s')", sl_mode_name(res->mode), o->ifname, o->ifname);
		else if (err == -EOPNOTSUPP)
			pr_err("cannot attach XDP in %s mode to %s: the driver does not support it, "
			       "expected --mode generic or tc", sl_mode_name(res->mode), o->ifname);
		else
			pr_err("cannot attach XDP (%s) to %s: %s", sl_mode_name(res->mode), o->ifname,
			       strerror(-err));
		return err;
	}
	err = sl_pins_path(o->pin_dir, SL_LINKS_SUBDIR, path, sizeof(path));
	if (!err)
		err = mkdir_ok(path);
	if (!err)
		err = link_path(o->pin_dir, SL_LINKS_SUBDIR, o->ifname, path, sizeof(path));
	if (!err && bpf_obj_pin(link_fd, path)) {
		err = -errno;
		pr_err("cannot pin the XDP link of %s at %s: %s", o->ifname, path, strerror(errno));
	}
	/* Without its pin, closing the link detaches the program again. */
	close(link_fd);
	if (err)
		return err;
	if (res->mode == SL_MODE_NATIVE)
		warn_rx_vlan_offload(o->ifname);
	return prog_id_of(prog_fd, &res->prog_id);
}

static void detach_xdp_pin(const char *dir, const char *ifname)
{
	char path[PATH_MAX];
	int fd;

	if (link_path(dir, SL_LINKS_SUBDIR, ifname, path, sizeof(path)))
		return;
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		/* Force the detach even if someone else holds the link open. */
		bpf_link_detach(fd);
		close(fd);
	}
	unlink(path);
}

static int attach_tc(const struct sl_attach_opts *o, struct sluice_bpf *skel, int ifindex,
		     struct sl_attach_result *res, struct sl_attach_rec *rec)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, to, .prog_fd = bpf_program__fd(skel->progs.sluice_tc));
	int err;

	res->mode = SL_MODE_TC;
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		pr_err("cannot create the clsact qdisc on %s: %s", o->ifname, strerror(-err));
		return err;
	}
	res->qdisc_created = !err;
	/* handle and priority 0: the kernel picks free ones, libbpf reports them back. */
	err = bpf_tc_attach(&hook, &to);
	if (err) {
		pr_err("cannot attach the TC program to %s ingress: %s", o->ifname, strerror(-err));
		if (res->qdisc_created) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
		}
		return err;
	}
	rec->tc_handle = to.handle;
	rec->tc_priority = to.priority;
	rec->qdisc_created = res->qdisc_created;
	res->prog_id = to.prog_id;
	return 0;
}

static void detach_tc(const char *ifname, const struct sl_attach_rec *rec, bool *qdisc_removed,
		      bool *stale)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)rec->ifindex,
			    .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, q, .handle = rec->tc_handle, .priority = rec->tc_priority);
	char name[IF_NAMESIZE];
	int err;

	if (!if_indextoname(rec->ifindex, name) || strcmp(name, ifname)) {
		*stale = true;	/* the interface went away: so did its qdisc */
		return;
	}
	err = bpf_tc_query(&hook, &q);
	if (!err && q.prog_id == rec->prog_id) {
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, d, .handle = rec->tc_handle,
				    .priority = rec->tc_priority);

		err = bpf_tc_detach(&hook, &d);
		if (err)
			pr_warn("cannot remove sluice's TC filter from %s: %s", ifname, strerror(-err));
	} else {
		*stale = true;
		if (!err)
			pr_warn("%s: the TC filter sluice installed was replaced by program %u; left in "
				"place", ifname, q.prog_id);
	}
	if (rec->qdisc_created) {
		int in = sl_tc_has_filters((int)rec->ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS));
		int eg = sl_tc_has_filters((int)rec->ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS));

		/* Removing the qdisc would take others' filters with it. */
		if (in || eg) {
			if (in < 0 || eg < 0)
				pr_warn("cannot list the filters on %s (%s): left the clsact qdisc "
					"sluice created", ifname, strerror(-(in < 0 ? in : eg)));
			else
				pr_info("left the clsact qdisc sluice created on %s: other filters "
					"use it now", ifname);
			return;
		}
		/* INGRESS|EGRESS deletes the clsact qdisc itself (INGRESS alone flushes filters). */
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		err = bpf_tc_hook_destroy(&hook);
		if (!err)
			*qdisc_removed = true;
		else if (err != -ENOENT && err != -EINVAL)
			pr_warn("cannot remove the clsact qdisc sluice created on %s: %s", ifname,
				strerror(-err));
	}
}

/*
 * The per-source connection limit's counter (bpf/conns.bpf.h) on the
 * inet_sock_set_state tracepoint, loaded for this process's network
 * namespace, the interface's (if_nametoindex found it here). Its link is
 * pinned, as an XDP attachment's is, so it outlives the process.
 */
static int attach_conns(const struct sl_attach_opts *o, struct sluice_bpf *skel)
{
	struct bpf_link *link;
	char path[PATH_MAX];
	int err;

	link = bpf_program__attach(skel->progs.sluice_conns);
	if (!link) {
		err = -errno;
		pr_err("cannot attach the connection counter to the inet_sock_set_state tracepoint: %s",
		       strerror(-err));
		return err;
	}
	err = sl_pins_path(o->pin_dir, SL_CONNS_SUBDIR, path, sizeof(path));
	if (!err)
		err = mkdir_ok(path);
	if (!err)
		err = link_path(o->pin_dir, SL_CONNS_SUBDIR, o->ifname, path, sizeof(path));
	if (!err) {
		err = bpf_link__pin(link, path);
		if (err)
			pr_err("cannot pin the connection counter of %s at %s: %s", o->ifname, path,
			       strerror(-err));
	}
	/* Pinned, the link lives on without this process; else it goes. */
	if (!err)
		bpf_link__disconnect(link);
	bpf_link__destroy(link);
	return err;
}

static void detach_conns(const char *dir, const char *ifname)
{
	char path[PATH_MAX];

	/* A tracepoint link has no detach: it goes with its pin, the last
	 * reference. */
	if (!link_path(dir, SL_CONNS_SUBDIR, ifname, path, sizeof(path)))
		unlink(path);
}

/*
 * The last attachment gone, nothing counts connections any more, and
 * counts kept now would go stale as connections close unseen: they start
 * again from nothing. Unpinned, sl_conn_sk is freed, and with it every
 * socket's record of being counted, once no program holds it; the next
 * attach pins a new one.
 */
static void conns_reset_if_last(const struct sl_pins *p)
{
	struct sl_attach_key k;
	struct sl_src_key key;
	char path[PATH_MAX];

	if (!bpf_map_get_next_key(p->attach_fd, NULL, &k))
		return;
	if (!sl_pins_path(p->dir, SL_MAP_CONN_SK, path, sizeof(path)) && unlink(path) &&
	    errno != ENOENT)
		pr_warn("cannot remove %s: %s", path, strerror(errno));
	/* At most the map's size: each pass deletes the first key. */
	for (int i = 0; i < SL_SRC_CONNS_MAX && !bpf_map_get_next_key(p->src_conns_fd, NULL, &key);
	     i++) {
		if (bpf_map_delete_elem(p->src_conns_fd, &key) && errno != ENOENT) {
			pr_warn("cannot clear %s: %s", SL_MAP_SRC_CONNS, strerror(errno));
			return;
		}
	}
}

int sl_loader_attach(const struct sl_attach_opts *o, struct sl_attach_result *res)
{
	DECLARE_LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = o->pin_dir);
	struct sl_pins p = { .attach_fd = -1 };
	struct new_state ns = { .attach_fd = -1 };
	struct sl_attach_key key;
	struct sl_attach_rec rec = {};
	struct sluice_bpf *skel = NULL;
	struct bpf_map *map;
	char path[PATH_MAX];
	bool opened = false, attached = false, counting = false;
	uint32_t netns;
	int ifindex, exists, attach_fd, lock_fd = -1, err;

	memset(res, 0, sizeof(*res));
	err = attach_key(o->ifname, &key);
	if (err)
		return err;
	err = sl_pins_check_env(o->pin_dir);
	if (!err)
		err = sl_caps_require("attaching the data plane", SL_CAPS_ATTACH);
	if (err)
		return err;
	ifindex = (int)if_nametoindex(o->ifname);
	if (!ifindex) {
		pr_err("unknown interface '%s', expected an existing network device (see 'ip link')",
		       o->ifname);
		return -ENODEV;
	}
	res->ifindex = (uint32_t)ifindex;
	err = check_link_type(o->ifname);
	if (err)
		return err;

	/* Serialise with other writers from the first look at the state on. */
	err = mkdir_p(o->pin_dir);
	if (err)
		return err;
	err = sl_pins_lock(o->pin_dir, &lock_fd);
	if (err)
		return err;

	exists = sl_pins_exist(o->pin_dir);
	if (exists < 0) {
		pr_err("cannot inspect %s: %s", o->pin_dir, strerror(-exists));
		err = exists;
		goto out;
	}
	if (exists) {
		err = sl_pins_open(o->pin_dir, &p);
		if (err)
			goto out;
		opened = true;
		res->clock = (enum sl_clock)p.clock;
		res->clock_slack_ns = p.clock_slack_ns;
		if (o->clock_given && o->clock != res->clock) {
			/* The buckets' state is on the pinned clock, and every
			 * attachment must read the same one. */
			pr_err("cannot attach %s on the %s clock: the maps in %s run their buckets on the "
			       "%s clock, shared by every attachment (detach all and remove %s to change "
			       "it)", o->ifname, sl_clock_name(o->clock), o->pin_dir,
			       sl_clock_name(res->clock), o->pin_dir);
			err = -EINVAL;
			goto out;
		}
		if (p.attach_fd >= 0 && !bpf_map_lookup_elem(p.attach_fd, &key, &rec)) {
			struct sl_attachment att = { .rec = rec };
			uint32_t id = 0;
			int alive;

			memcpy(att.ifname, key.ifname, sizeof(key.ifname));
			alive = sl_attachment_alive(&p, &att, &id);
			if (alive < 0) {
				pr_err("cannot check the attachment of %s: %s", o->ifname,
				       strerror(-alive));
				err = alive;
				goto out;
			}
			if (alive > 0 && (o->mode == rec.mode ||
					  (o->mode == SL_MODE_NONE && is_xdp(rec.mode)))) {
				res->already = true;
				res->mode = rec.mode;
				res->prog_id = id;
				res->qdisc_created = rec.qdisc_created;
				res->sources = p.sources_max;
				goto out;
			}
			if (alive > 0) {
				pr_err("%s is already attached in %s mode: detach it first to attach in %s "
				       "mode", o->ifname, sl_mode_name(rec.mode),
				       o->mode == SL_MODE_NONE ? "native or generic" : sl_mode_name(o->mode));
				err = -EBUSY;
				goto out;
			}
			/* The kernel side is gone (device removed, link detached): forget it. */
			pr_info("%s: dropping the record of a %s attachment that no longer exists",
				o->ifname, sl_mode_name(rec.mode));
			if (is_xdp(rec.mode))
				detach_xdp_pin(o->pin_dir, o->ifname);
			detach_conns(o->pin_dir, o->ifname);
			bpf_map_delete_elem(p.attach_fd, &key);
			memset(&rec, 0, sizeof(rec));
		}
		if (o->mode != SL_MODE_TC) {
			uint16_t port;
			uint8_t proto;

			if (find_mark_service(&p, &port, &proto)) {
				pr_err("service %s/%u has action 'mark', which XDP cannot do: attach %s with "
				       "--mode tc, or change that service's action", sl_proto_name(proto),
				       port, o->ifname);
				err = -EOPNOTSUPP;
				goto out;
			}
		}
		res->sources = p.sources_max;
		if (o->sources && o->sources != p.sources_max)
			pr_warn("--sources %u ignored: the maps exist with %u source entries (remove %s "
				"to recreate them)", o->sources, p.sources_max, o->pin_dir);
	} else {
		res->sources = o->sources ? o->sources : SL_SOURCES_DEFAULT;
		res->clock = o->clock_given ? o->clock : SL_CLOCK_DEFAULT;
		res->clock_slack_ns = sl_clock_slack_ns(res->clock);
	}

	err = sl_netns_inode(&netns);
	if (err)
		goto out;
	skel = sluice_bpf__open_opts(&oo);
	if (!skel) {
		err = -errno;
		pr_err("cannot open the sluice BPF object: %s", strerror(errno));
		goto out;
	}
	skel->rodata->sl_clock_coarse = res->clock == SL_CLOCK_COARSE;
	skel->rodata->sl_conns_netns = netns;
	if (res->clock == SL_CLOCK_COARSE)
		skel->rodata->sl_clock_slack_ns = res->clock_slack_ns;
	skel->rodata->sl_clock_tick_ns = sl_clock_tick_ns();	/* the heartbeat's clock too */
	skel->rodata->sl_ncpus = libbpf_num_possible_cpus() > 0 ? libbpf_num_possible_cpus() : 1;
	bpf_program__set_autoload(skel->progs.sluice_xdp, o->mode != SL_MODE_TC);
	bpf_program__set_autoload(skel->progs.sluice_tc, o->mode == SL_MODE_TC);
	/* The .bss is pinned too, by the name of abi.h (pin_name()). */
	err = sl_pins_path(o->pin_dir, SL_MAP_PORTS, path, sizeof(path));
	if (!err)
		err = bpf_map__set_pin_path(skel->maps.bss, path);
	if (err)
		goto out;
	if (!exists) {
		/*
		 * Create unpinned, write the ABI version, then pin: the pins never
		 * exist without a version in them.
		 */
		bpf_object__for_each_map(map, skel->obj) {
			if (!bpf_map__pin_path(map))
				continue;
			if (ns.n == MAX_OBJ_MAPS) {
				err = -E2BIG;
				goto out;
			}
			ns.names[ns.n] = pin_name(skel, map);
			ns.maps[ns.n++] = map;
			bpf_map__set_pin_path(map, NULL);
		}
	}
	err = sluice_bpf__load(skel);
	if (err) {
		pr_err("cannot load the sluice BPF object%s: %s (-v shows libbpf's messages)",
		       exists ? " against the pinned maps" : "", strerror(-err));
		goto out;
	}
	if (!exists) {
		err = pin_new_state(o->pin_dir, skel, &ns, res);
		if (err)
			goto out;
		res->created_state = true;
		attach_fd = ns.attach_fd;
	} else if (p.attach_fd < 0) {
		err = create_attach_map(o->pin_dir, &p.attach_fd);
		if (err)
			goto out;
		attach_fd = p.attach_fd;
	} else {
		attach_fd = p.attach_fd;
	}

	if (o->mode == SL_MODE_TC)
		err = attach_tc(o, skel, ifindex, res, &rec);
	else
		err = attach_xdp(o, skel, ifindex, opened ? find_udp_service(&p) : -1, res);
	if (err)
		goto out;
	attached = true;
	err = attach_conns(o, skel);
	if (err)
		goto out;
	counting = true;
	rec.ifindex = (uint32_t)ifindex;
	rec.mode = (uint8_t)res->mode;
	rec.prog_id = res->prog_id;
	if (bpf_map_update_elem(attach_fd, &key, &rec, BPF_ANY)) {
		err = -errno;
		pr_err("cannot record the attachment of %s in %s: %s", o->ifname, SL_MAP_ATTACH,
		       strerror(errno));
		goto out;
	}
	err = 0;
out:
	if (err && counting)
		detach_conns(o->pin_dir, o->ifname);
	if (err && attached) {
		bool removed = false, stale = false;

		if (res->mode == SL_MODE_TC)
			detach_tc(o->ifname, &rec, &removed, &stale);
		else
			detach_xdp_pin(o->pin_dir, o->ifname);
	}
	if (err && res->created_state)
		unpin_new_state(o->pin_dir, &ns);
	if (ns.attach_fd >= 0)
		close(ns.attach_fd);
	sluice_bpf__destroy(skel);
	if (opened)
		sl_pins_close(&p);
	sl_pins_unlock(lock_fd);
	return err;
}

int sl_loader_detach(const char *dir, const char *ifname, struct sl_detach_result *res)
{
	struct sl_attach_key key;
	struct sl_attach_rec rec;
	struct sl_pins p;
	int exists, lock_fd = -1, err;

	memset(res, 0, sizeof(*res));
	err = attach_key(ifname, &key);
	if (err)
		return err;
	err = sl_pins_check_env(dir);
	if (!err)
		err = sl_caps_require("detaching the data plane", SL_CAPS_ATTACH);
	if (err)
		return err;
	exists = sl_pins_exist(dir);
	if (exists <= 0) {
		pr_err("%s is not attached: no sluice state in %s", ifname, dir);
		return exists < 0 ? exists : -ENOENT;
	}
	err = sl_pins_lock(dir, &lock_fd);
	if (err)
		return err;
	err = sl_pins_open(dir, &p);
	if (err) {
		sl_pins_unlock(lock_fd);
		return err;
	}
	if (p.attach_fd < 0 || bpf_map_lookup_elem(p.attach_fd, &key, &rec)) {
		pr_err("%s is not attached by sluice (see 'sluicectl status')", ifname);
		err = -ENOENT;
		goto out;
	}
	res->mode = rec.mode;
	if (is_xdp(rec.mode)) {
		struct sl_attachment att = { .rec = rec };

		memcpy(att.ifname, key.ifname, sizeof(key.ifname));
		res->was_stale = sl_attachment_alive(&p, &att, NULL) <= 0;
		detach_xdp_pin(dir, ifname);
	} else if (rec.mode == SL_MODE_TC) {
		detach_tc(ifname, &rec, &res->qdisc_removed, &res->was_stale);
	}
	detach_conns(dir, ifname);
	if (bpf_map_delete_elem(p.attach_fd, &key) && errno != ENOENT) {
		err = -errno;
		pr_err("cannot delete the record of %s from %s: %s", ifname, SL_MAP_ATTACH,
		       strerror(errno));
		goto out;
	}
	conns_reset_if_last(&p);
	err = 0;
out:
	sl_pins_close(&p);
	sl_pins_unlock(lock_fd);
	return err;
}
