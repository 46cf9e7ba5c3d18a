#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The daemon's claim on its service is tied to (tcp, port), not to a slot:
# with sluiced running on tcp/8080, the operator deletes that service and
# adds udp/53, which takes the freed slot. udp/53 must keep its own
# limits, never carry the daemon's flag or admission limits, and its
# counters must never show as the daemon's; adding tcp/8080 again gives it
# back to the daemon, in its new slot.
source "$(dirname "$0")/lib.sh"
require_env curl

SLUICED=${SLUICED:-$BUILD/sluiced}
[[ -x $SLUICED ]] || skip_all "$SLUICED is not built (run make)"

PORT=8080
METRICS=127.0.0.1:9466	# inside the server host
LOGDIR=$(mktemp -d /tmp/sluiced-claim.XXXXXX)

topo_up || { t_fail topology "could not build the test hosts"; finish; }
trap 'cleanup; [[ -n ${KEEP_LOGS:-} ]] || rm -rf "$LOGDIR"' EXIT

srvnet() { nsenter --net="/run/netns/$NS_SRV" "$@"; }
metric() {
	srvnet curl -s --max-time 20 "http://$METRICS/metrics" | awk -v n="$1" '$1 == n { print $2; exit }'
}
int() { awk -v v="$1" 'BEGIN { printf "%d", v + 0 }'; }
# svc SERVICE FIELD: a field of `sluicectl -j service list`.
svc() {
	ctl -j service list | jq -r --arg s "$1" --arg f "$2" \
		'first((.services[] | select(.service == $s) | .[$f]), "missing")'
}
# admission SLOT: the pinned sl_admission entry's heartbeat, or "none".
admission() {
	local out
	if out=$(bpftool -j map lookup pinned "$PIN_DIR/sl_admission" key "$1" 0 0 0 2>/dev/null); then
		jq -r '.formatted.value.heartbeat_ns // .value.heartbeat_ns // "none"' <<<"$out"
	else
		echo none
	fi
}
nsenter --net="/run/netns/$NS_SRV" "$SLUICED" --listen "$SRV4:$PORT" --iface "$IF_SRV" \
	--attach-mode tc --shed-action drop --pin-dir "$PIN_DIR" --workers 1 \
	--metrics "$METRICS" --log-level info 2>>"$LOGDIR/d.log" &
DPID=$!
wait_listen $PORT || { t_fail start "sluiced did not listen"; finish; }
has_heartbeat() { (($(int "$(metric sluiced_admission_writes_total)") > 0)); }
wait_until 30 has_heartbeat || t_fail start "no heartbeat written"
slot=$(svc tcp/$PORT slot)
t_expect "start: tcp/$PORT is the daemon's" "daemon" "$(svc tcp/$PORT daemon)" true
[[ $(admission "$slot") != none ]] || t_fail start "no admission entry in slot $slot"

# --- delete the daemon's service, add another that takes its slot
ctl service del tcp/$PORT >/dev/null
ctl service add udp/53 --rate 1000 >/dev/null
t_expect "del + add: udp/53 took the freed slot" "slot" "$(svc udp/53 slot)" "$slot"
let_go() { grep -q "service tcp/$PORT was deleted" "$LOGDIR/d.log"; }
wait_until 30 let_go || t_fail "del" "the daemon did not notice the deletion"
# Two more refreshes, in which a daemon that claims slots would strike:
# the daemon re-reads its service every 100 ticks, so 300 more ticks hold
# two whole refreshes, however slowly a loaded machine runs them.
w0=$(int "$(metric sluiced_admission_writes_total)")
ticks0=$(int "$(metric sluiced_controller_ticks_total)")
ticked() { (($(int "$(metric sluiced_controller_ticks_total)") >= ticks0 + 300)); }
wait_until 30 ticked || t_fail "del" "the daemon's controller did not tick 300 times"
t_expect "del + add: udp/53 is not the daemon's" "daemon" "$(svc udp/53 daemon)" false
t_expect "del + add: udp/53 keeps its own rate" "rate" "$(svc udp/53 rate)" 1000
t_expect "del + add: udp/53 keeps its own burst" "burst" "$(svc udp/53 burst)" 1000
t_expect "del + add: no admission limits in udp/53's slot" "heartbeat" "$(admission "$slot")" none
cli timeout 30 hping3 --udp -p 53 -c 20 -i u1000 "$SRV4" >/dev/null 2>&1
# The data plane counts a datagram when the receiving softirq runs, which
# a loaded machine defers to ksoftirqd: poll (with a bound) until all 20
# are judged, as test_static's UDP case does, then read the count.
udp_judged() { (($(stat_of udp/53 admitted) + $(stat_of udp/53 svc_bucket) >= 20)); }
wait_until 10 udp_judged
t_expect "del + add: udp/53 judged its datagrams" "admitted" "$(stat_of udp/53 admitted)" 20
t_expect "del + add: the daemon reads no kernel counters" "sluice_kernel_decisions_total" \
	"$(metric 'sluice_kernel_decisions_total{reason="admitted"}')" ""
t_expect "del + add: the daemon writes no heartbeat" "admission writes growth" \
	$(($(int "$(metric sluiced_admission_writes_total)") - w0)) 0

# --- add tcp/8080 again: the daemon claims it, in its new slot
ctl service add tcp/$PORT --rate 500 >/dev/null
slot2=$(svc tcp/$PORT slot)
reclaimed() { [[ $(svc tcp/$PORT daemon) == true && $(admission "$slot2") != none ]]; }
wait_until 30 reclaimed || t_fail "re-add" "the daemon did not claim tcp/$PORT again"
t_expect "re-add: tcp/$PORT is the daemon's again" "daemon" "$(svc tcp/$PORT daemon)" true
t_expect "re-add: its operator's rate stays" "rate" "$(svc tcp/$PORT rate)" 500
t_expect "re-add: udp/53 is still not the daemon's" "daemon" "$(svc udp/53 daemon)" false
t_expect "re-add: still no admission limits in udp/53's slot" "heartbeat" "$(admission "$slot")" none
read -r _ _ < <(syn_probe 10 $PORT)
kadm() { (($(int "$(metric 'sluice_kernel_decisions_total{reason="admitted"}')") >= 10)); }
wait_until 30 kadm
t_expect "re-add: the daemon's counters are tcp/$PORT's" "kernel admitted" \
	"$(int "$(metric 'sluice_kernel_decisions_total{reason="admitted"}')")" "$(stat_of tcp/$PORT admitted)"

kill -TERM "$DPID"
wait "$DPID"
t_expect "exit status" "rc" "$?" 0
cleanup
finish
