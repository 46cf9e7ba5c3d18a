/* SPDX-License-Identifier: MIT */
/*
 * When the daemon writes its sl_admission entry: pure, kept apart from
 * dataplane.c (which takes the lock and writes the maps) so that the unit
 * tests run the same code.
 *
 * A write is the pin dir's lock (flock, and again to unlock), two lookups
 * to check that the slot is still the service's, the update, and a new
 * sl_gen (a getrandom and an update): seven system calls, on the core a guarding
 * daemon shares with the service it guards. Made at every tick they cost
 * a Go service under a keep-alive load at full speed 13% of its
 * throughput (84% of unguarded against 97% without them, interleaved
 * rounds of scripts/diag-probe-cost.sh), far more than their CPU time:
 * the load generator's core idled twice as often per request, and both
 * cores ran RCU softirqs: the lock then opened and closed the pin dir,
 * and closing a bpffs directory frees a dentry through RCU (pins.h). The
 * pin dir is now held open; and the limits are written
 * when they change, and otherwise only as a heartbeat, at least every
 * SLD_HEARTBEAT_MAX_NS and at least 10 times per stale-after (which is at
 * least 10 ticks): the data plane falls back at most that much before
 * stale-after once the daemon stops.
 *
 * API:
 *   sld_heartbeat_every(stale_after_ns)
 *       the longest a heartbeat of unchanged limits waits
 *   sld_admission_due(last, last_slot, next, slot, now_ns, quiet)
 *       is next (its heartbeat not yet set) to be written to slot at
 *       now_ns, last having been written to last_slot (0: nothing written
 *       since the service was claimed)? quiet: the tick saw no new
 *       connection (none admitted, none refused).
 *
 * A rise of the rate alone in a quiet tick waits for the heartbeat: no
 * connection is there for it to admit, and the entry in force is the
 * stricter one meanwhile; the first tick that sees a connection writes
 * it. Under a keep-alive load the guard's law, cut by a spike of delay
 * while no new connection came (goodput 0: the rate at its minimum),
 * climbs 5% a tick for seconds: a write at each of them, 167-228 in
 * 3.4 s (main's sluiced, 21:50), where nothing they changed was read.
 */
#ifndef SLUICED_HEARTBEAT_H
#define SLUICED_HEARTBEAT_H

#include <stdbool.h>
#include <stdint.h>

#include <sluice/abi.h>

#define SLD_HEARTBEAT_MAX_NS 100000000ull

uint64_t sld_heartbeat_every(uint64_t stale_after_ns);
bool sld_admission_due(const struct sl_admission *last, uint32_t last_slot,
		       const struct sl_admission *next, uint32_t slot, uint64_t now_ns,
		       bool quiet);

#endif /* SLUICED_HEARTBEAT_H */
