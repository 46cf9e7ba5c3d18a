// SPDX-License-Identifier: MIT
/*
 * The daemon's side of the pinned state: attach the data plane to each
 * --iface exactly as `sluicectl attach` does (the shared loader), find or
 * create the service entry of the port it serves, re-adopt the limits a
 * previous daemon left (no gap in enforcement across a restart), write
 * the admission limits with a heartbeat, and read the kernel's counters.
 *
 * The service entry: the daemon controls the TCP service on
 * --service-port (default: the listen port). If sluicectl has not made
 * one, the daemon creates it with the defaults of `sluicectl service add`,
 * no static rate (the daemon's rate cap is the rate while its heartbeat is
 * fresh), a burst of SLD_BURST and --shed-action; an existing entry is
 * used as the operator set it, and never deleted by the daemon. Either way
 * the daemon flags it as its own (SL_SVC_DAEMON), without which the data
 * plane does not read the admission limits.
 *
 * The claim is on (tcp, port), never on a slot: the slot is looked up
 * through sl_ports each time, and every write (the flag, the admission
 * limits, the bucket's rescale) is made under the pin dir lock that
 * sluicectl holds for a whole command, after checking that the slot still
 * holds our service. When the operator deletes the service
 * (sl_service_del removes its admission entry) the daemon lets go of it:
 * it writes nothing and reads no counters until a service (tcp, port) is
 * added again, which it then claims. A slot reused by another service is
 * never touched, and its counters are never read as the daemon's.
 *
 * In guard mode (--guard) each guarded port is such a service, with its
 * own struct sld_dataplane (and its own descriptors of the pins), flagged
 * SL_SVC_GUARD as well so that sluicectl can show it.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "heartbeat.h"
#include "loader.h"
#include "log.h"
#include "parse.h"
#include "rescale.h"
#include "sluiced.h"
#include "state.h"

/* Connections. A bucket of 1 would refuse the jitter of arrivals at a
 * rate just under the cap; a deep one lets in bursts that queue past the
 * target: at 1000/s and a 5 ms target, 4-5 requests is the target's worth. */
#define SLD_BURST 4

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* bpf_ktime_get_ns() is CLOCK_MONOTONIC: the heartbeat's clock. */
static uint64_t mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* The clock the buckets' tat_ns is on (sl_config.clock). */
static uint64_t bucket_now_ns(const struct sld_dataplane *dp)
{
	return clock_ns(dp->pins.clock == SL_CLOCK_COARSE ? CLOCK_MONOTONIC_COARSE :
							     CLOCK_MONOTONIC);
}

/*
 * The slot of our service: sl_ports[(tcp, port)], and a service there
 * that is (tcp, port) (between the two steps of an update it may not
 * be). 0 if there is none. *svc is its entry.
 */
static uint32_t find_ours(struct sld_dataplane *dp, struct sl_service *svc)
{
	uint32_t slot;

	if (sl_service_find(&dp->pins, SL_PROTO_TCP, dp->port, &slot) ||
	    sl_service_get(&dp->pins, slot, svc) ||
	    svc->proto != SL_PROTO_TCP || svc->port != dp->port)
		return 0;
	return slot;
}

/*
 * Find (tcp, port) and flag it as the daemon's (SL_SVC_DAEMON, abi.h),
 * under the pin dir lock: a read-modify-write of a value sluicectl writes
 * too. Sets dp->slot; -ENOENT (not logged) if there is no such service.
 */
static uint32_t our_flags(const struct sld_dataplane *dp)
{
	return SL_SVC_DAEMON | (dp->guard ? SL_SVC_GUARD : 0);
}

static int claim_locked(struct sld_dataplane *dp, struct sl_service *svc)
{
	uint32_t slot = find_ours(dp, svc);
	int err = 0;

	if (!slot)
		return -ENOENT;
	if ((svc->flags & our_flags(dp)) != our_flags(dp)) {
		svc->flags |= our_flags(dp);
		err = sl_service_set(&dp->pins, slot, svc);
	}
	if (!err) {
		atomic_store_explicit(&dp->slot, slot, memory_order_relaxed);
		dp->written_slot = 0;	/* write the limits there at the next tick */
	}
	return err;
}

static int claim_service(struct sld_dataplane *dp, struct sl_service *svc)
{
	int lock_fd, err;

	err = sl_pins_lock(dp->pins.dir, &lock_fd);
	if (err)
		return err;
	err = claim_locked(dp, svc);
	sl_pins_unlock(lock_fd);
	return err;
}

/* The mark action needs the accepted socket to inherit the SYN's mark. */
static void fwmark_accept_on(void)
{
	const char *path = "/proc/sys/net/ipv4/tcp_fwmark_accept";
	char v = '0';
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		pr_warn("cannot open %s: %s; marked connections will not be "
			"recognised", path, strerror(errno));
		return;
	}
	if (pread(fd, &v, 1, 0) == 1 && v == '0') {
		if (pwrite(fd, "1", 1, 0) == 1)
			pr_info("set net.ipv4.tcp_fwmark_accept=1: the service's "
				"action is mark, and accepted sockets must carry it");
		else
			pr_warn("cannot set %s: %s", path, strerror(errno));
	}
	close(fd);
}

/*
 * Follow our service (every REFRESH_TICKS): its action, mark and static
 * limits; deleted, let go; added again (in any slot), claim it again.
 */
static void read_service(struct sld_dataplane *dp)
{
	uint32_t held = atomic_load_explicit(&dp->slot, memory_order_relaxed);
	char name[SL_SERVICE_STRLEN];
	struct sl_service svc;
	uint32_t slot;

	sl_format_service(SL_PROTO_TCP, dp->port, name, sizeof(name));
	slot = find_ours(dp, &svc);
	if (!slot) {
		if (held)
			pr_warn("service %s was deleted: no longer setting its kernel limits "
				"(they come back if it is added again)", name);
		atomic_store_explicit(&dp->slot, 0, memory_order_relaxed);
		return;
	}
	if (slot != held || (svc.flags & our_flags(dp)) != our_flags(dp)) {
		if (claim_service(dp, &svc))
			return;
		pr_info("controlling service %s again (slot %u)", name,
			atomic_load_explicit(&dp->slot, memory_order_relaxed));
	}
	atomic_store_explicit(&dp->mark, svc.action == SL_ACT_MARK ? svc.mark : 0,
			      memory_order_relaxed);
	atomic_store_explicit(&dp->svc_rate, svc.rate, memory_order_relaxed);
	atomic_store_explicit(&dp->svc_burst, svc.burst ? svc.burst : 1,
			      memory_order_relaxed);
}

/*
 * On a raise of a cap that binds, the bucket keeps what it holds, in
 * connections, at the new rate (rescale.c says why). The write races with
 * the data plane's compare-and-swap on tat_ns; either order leaves a tat
 * within the new tolerance.
 */
static void rescale_bucket(struct sld_dataplane *dp, uint32_t slot, uint32_t old_cap,
			   uint32_t new_cap)
{
	uint32_t rate = atomic_load_explicit(&dp->svc_rate, memory_order_relaxed);
	uint64_t burst = atomic_load_explicit(&dp->svc_burst, memory_order_relaxed);
	struct sl_bucket b;
	uint64_t tat;

	if (!old_cap || new_cap <= old_cap || (rate && rate <= old_cap))
		return;	/* not a raise of a cap that binds */
	if (bpf_map_lookup_elem(dp->pins.buckets_fd, &slot, &b))
		return;
	tat = sld_rescale_tat(b.tat_ns, bucket_now_ns(dp), old_cap, new_cap, burst,
			      dp->pins.clock_slack_ns);
	if (tat == b.tat_ns)
		return;
	b.tat_ns = tat;
	bpf_map_update_elem(dp->pins.buckets_fd, &slot, &b, BPF_ANY);
}

static void pins_close(struct sld_dataplane *dp)
{
	if (dp->have_pins) {
		sl_pins_close(&dp->pins);
		close(dp->dir_fd);
	}
	dp->have_pins = false;
}

/* The service entry of dp->port: found or created, claimed, its limits
 * re-adopted. Opens the pins for dp. */
static int service_up(struct sld_dataplane *dp, const struct sld_config *cfg)
{
	char name[SL_SERVICE_STRLEN];
	struct sl_service svc;
	uint32_t slot;
	int lock_fd, err;

	err = sl_pins_open(cfg->pin_dir, &dp->pins);
	if (err)
		goto out;
	err = sl_pins_dir_open(cfg->pin_dir, &dp->dir_fd);
	if (err) {
		sl_pins_close(&dp->pins);
		goto out;
	}
	dp->have_pins = true;
	dp->fleet = cfg->fleet[0] != '\0';
	sl_format_service(SL_PROTO_TCP, dp->port, name, sizeof(name));
	/* Find or create, and claim, in one hold of the lock: sluicectl
	 * cannot add the same service, or take the slot, in between. */
	err = sl_pins_lock(dp->pins.dir, &lock_fd);
	if (err)
		goto out;
	err = claim_locked(dp, &svc);
	if (err == -ENOENT) {
		sl_service_defaults(&svc, SL_PROTO_TCP, dp->port);
		svc.action = (uint8_t)cfg->shed_action;
		svc.burst = SLD_BURST;
		err = sl_service_add(&dp->pins, &svc, &slot);
		if (!err) {
			pr_info("created service %s (slot %u, action %s, no static rate)",
				name, slot, sl_action_name(svc.action));
			err = claim_locked(dp, &svc);
		}
	} else if (!err) {
		pr_info("controlling service %s (slot %u)", name,
			atomic_load_explicit(&dp->slot, memory_order_relaxed));
	}
	sl_pins_unlock(lock_fd);
	if (err)
		goto out;
	if (svc.action == SL_ACT_MARK)
		fwmark_accept_on();
	read_service(dp);
	/* A guard counts the connections its service holds in sl_held from
	 * now on; what a previous daemon counted there will never be taken
	 * off (its programs went with it, abi.h). */
	slot = atomic_load_explicit(&dp->slot, memory_order_relaxed);
	if (dp->guard && slot &&
	    bpf_map_update_elem(dp->pins.held_fd, &slot, &(struct sl_held){ 0 }, BPF_ANY))
		pr_warn("%s: cannot clear its count in %s: %s", name, SL_MAP_HELD,
			strerror(errno));

	/* Re-adopt: a fresh entry is the last daemon's limits, still being
	 * enforced; the controller starts from them instead of from open. */
	slot = atomic_load_explicit(&dp->slot, memory_order_relaxed);
	if (bpf_map_lookup_elem(dp->pins.admission_fd, &slot, &dp->adopted_adm) == 0) {
		uint64_t age = mono_ns() - dp->adopted_adm.heartbeat_ns;

		dp->adopted = age <= dp->adopted_adm.stale_after_ns;
		pr_info("%s: found the limits of a previous daemon (rate %u/s, level %u, "
			"heartbeat %.1f s ago): %s", name, dp->adopted_adm.rate_cap,
			dp->adopted_adm.level, (double)age / 1e9,
			dp->adopted ? "adopted" : "stale, starting afresh");
	}
	return 0;
out:
	pins_close(dp);
	return err;
}

int sld_dataplane_up(struct sld *d)
{
	const struct sld_config *cfg = &d->cfg;
	int exists, err;

	if (cfg->service_port)
		d->dp.port = (uint16_t)cfg->service_port;
	for (uint32_t i = 0; i < cfg->n_ifaces; i++) {
		struct sl_attach_opts o = { .pin_dir = cfg->pin_dir,
					    .ifname = cfg->ifaces[i],
					    .mode = cfg->attach_mode };
		struct sl_attach_result r;

		err = sl_loader_attach(&o, &r);
		if (err) {
			pr_err("cannot attach to %s", cfg->ifaces[i]);
			return err;
		}
		pr_info("%s: %s in %s mode (prog id %u)", cfg->ifaces[i],
			r.already ? "already attached" : "attached",
			sl_mode_name(r.mode), r.prog_id);
	}
	exists = sl_pins_exist(cfg->pin_dir);
	if (exists <= 0) {
		pr_warn("no data plane state in %s (no --iface, nothing attached): %s",
			cfg->pin_dir, d->n_guards ? "guard mode measures but nothing enforces"
						  : "shedding on the fast path only");
		return 0;
	}
	if (!d->n_guards)
		return service_up(&d->dp, cfg);
	for (uint32_t i = 0; i < d->n_guards; i++) {
		d->guards[i].dp.guard = true;
		err = service_up(&d->guards[i].dp, cfg);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Under the pin dir lock, and only to a slot that holds our service. The
 * lock is tried, not waited for: while a sluicectl command holds it, this
 * tick's write is left to the next (stale-after is many ticks), and the
 * controller never waits on a command. It is taken on the pin dir held
 * open (pins.h says why not opened each time).
 */
int sld_dataplane_write(struct sld_dataplane *dp, const struct ctl_output *o,
			uint64_t stale_after_ns, uint32_t stale_policy, bool quiet)
{
	struct sl_admission adm = {
		.stale_after_ns = stale_after_ns,
		.rate_cap = o->rate_cap,
		.level = o->level,
		.stale_policy = (__u8)stale_policy,
		.flags = dp->fleet ? SL_ADM_FLEET : 0,
		.conc_limit = o->conc_limit,
	};
	struct sl_service svc;
	uint32_t slot;
	int err;

	if (!sld_dataplane_claimed(dp) ||
	    !sld_admission_due(&dp->written, dp->written_slot, &adm,
			       atomic_load_explicit(&dp->slot, memory_order_relaxed), mono_ns(),
			       quiet))
		return 0;	/* unchanged, and the heartbeat is fresh (heartbeat.h) */
	err = sl_pins_trylock_fd(dp->dir_fd);
	if (err)
		return err == -EWOULDBLOCK ? 0 : err;
	slot = find_ours(dp, &svc);
	if (!slot || slot != atomic_load_explicit(&dp->slot, memory_order_relaxed) ||
	    !(svc.flags & SL_SVC_DAEMON)) {
		/* Deleted or moved since the last refresh: it will tell. */
		sl_pins_unlock_fd(dp->dir_fd);
		return 0;
	}
	adm.heartbeat_ns = mono_ns();
	/* A hash update replaces the whole value at once (abi.h): the data
	 * plane never sees a new rate with an old heartbeat. */
	err = bpf_map_update_elem(dp->pins.admission_fd, &slot, &adm, BPF_ANY) ? -errno : 0;
	/* abi.h: the data plane's copies are made again on a new sl_gen. */
	if (!err)
		err = sl_gen_bump(&dp->pins);
	if (!err) {
		rescale_bucket(dp, slot, dp->written.rate_cap, o->rate_cap);
		dp->written = adm;
		dp->written_slot = slot;
	}
	sl_pins_unlock_fd(dp->dir_fd);
	return err ? err : 1;
}

bool sld_dataplane_claimed(struct sld_dataplane *dp)
{
	return dp->have_pins && atomic_load_explicit(&dp->slot, memory_order_relaxed);
}

/*
 * Our service's counters, never another's: the slot is checked to be
 * still ours after the read (a slot reused in between would fail it).
 */
int sld_dataplane_stats(struct sld_dataplane *dp, struct sl_stats *s)
{
	uint32_t slot = atomic_load_explicit(&dp->slot, memory_order_relaxed), now;
	int err;

	if (!dp->have_pins || !slot)
		return -ENOENT;
	err = sl_stats_read(&dp->pins, slot, s);
	if (err)
		return err;
	if (sl_service_find(&dp->pins, SL_PROTO_TCP, dp->port, &now) || now != slot)
		return -ENOENT;
	return 0;
}

void sld_dataplane_refresh(struct sld_dataplane *dp)
{
	if (dp->have_pins)
		read_service(dp);
}

void sld_dataplane_down(struct sld *d, bool detach)
{
	const struct sld_config *cfg = &d->cfg;

	pins_close(&d->dp);
	for (uint32_t i = 0; i < d->n_guards; i++)
		pins_close(&d->guards[i].dp);
	if (!detach) {
		if (cfg->n_ifaces)
			pr_info("leaving the data plane attached and its pins in %s; "
				"it keeps the last limits, then falls back after "
				"stale-after", cfg->pin_dir);
		return;
	}
	for (uint32_t i = 0; i < cfg->n_ifaces; i++) {
		struct sl_detach_result r;

		if (sl_loader_detach(cfg->pin_dir, cfg->ifaces[i], &r) == 0)
			pr_info("%s: detached (%s)", cfg->ifaces[i], sl_mode_name(r.mode));
	}
}
