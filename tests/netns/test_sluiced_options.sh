#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# sluiced end to end as a user starts it: with the defaults (auto attach
# mode, which is generic XDP on a veth, and the shed action reject), on a
# service entry the operator made with sluicectl, with --service-port,
# with --level-max, and with --iface given twice. Asserts what the client
# host sees and what the pinned maps hold.
source "$(dirname "$0")/lib.sh"
require_env curl

require_sluiced

PORT=8080
SVC=tcp/$PORT
METRICS=127.0.0.1:9464	# inside the server host
URL="http://$SRV4:$PORT/work?cpu_us=1000"
LOGDIR=$(mktemp -d /tmp/sluiced-opts.XXXXXX)
DPID=

topo_up || fail_all "could not build the test hosts"
trap 'cleanup; [[ -n ${KEEP_LOGS:-} ]] || rm -rf "$LOGDIR"' EXIT

# start LOG ARGS: sluiced on the server host, one worker; sets DPID.
start() {
	local log=$1
	shift
	nsenter --net="/run/netns/$NS_SRV" "$SLUICED" --listen "$SRV4:$PORT" --pin-dir "$PIN_DIR" \
		--workers 1 --metrics "$METRICS" --log-level info "$@" 2>>"$LOGDIR/$log" &
	DPID=$!
	wait_listen $PORT
}
# attached N: the pinned state lists N attachments (the daemon attaches
# after it listens).
attached() { (($(ctl -j status | jq '.attachments | length') >= $1)); }
# claimed PROTO/PORT: the daemon has claimed the service entry.
claimed() { [[ $(entry "$1") == *" true" ]]; }
# stop: SIGTERM, and the daemon's exit status.
stop() {
	kill -TERM "$DPID"
	wait "$DPID"
}
metric() {
	nsenter --net="/run/netns/$NS_SRV" curl -s --max-time 20 "http://$METRICS/metrics" |
		awk -v n="$1" '$1 == n { printf "%.0f", $2; exit }'
}
# entry PROTO/PORT: the service entry's action, rate and daemon flag.
entry() {
	ctl -j service list | jq -r --arg s "$1" \
		'first((.services[] | select(.service == $s) | "\(.action) \(.rate) \(.daemon)"), "none")'
}
# load NAME ARGS: sluice-load from the client host, JSON in LOGDIR/NAME.json.
load() {
	local name=$1
	shift
	cli "$LOAD" --quiet --timeout 5000 --json "$LOGDIR/$name.json" "$@" >/dev/null
}
out() { jq -r ".outcomes.$2" "$LOGDIR/$1.json"; }

# --- the defaults: --iface alone. auto attaches generic XDP on the veth,
# the entry it creates rejects, and under overload a client whose SYN was
# refused gets a RST: its connect fails at once ("refused", not a timeout),
# one per refusal the kernel counts.
start default.log --iface "$IF_SRV" || fail_all "sluiced did not listen"
wait_until 20 attached 1 && wait_until 20 claimed $SVC
t_expect "defaults: auto attaches generic XDP on a veth" "mode" \
	"$(ctl -j status | jq -r '.attachments[0].mode')" generic
t_expect "defaults: the entry it creates rejects" "action rate daemon" "$(entry $SVC | cut -d' ' -f1,3)" \
	"reject true"
rej0=$(stat_of $SVC rejected)
load default --rate 5000 --duration 3 "$URL"
rej=$(($(stat_of $SVC rejected) - rej0))
t_expect_cmp "defaults: overload rejected in the kernel" "rejected" "$rej" -gt 0
# (a load generator starved past its 5 s timeout counts a late refusal as
# a timeout: on a machine that loaded, refused < rejected)
refused=$(out default refused)
t_expect_cmp "defaults: the client's connects were refused (RST)" "refused" "$refused" -gt 0
t_expect_cmp "defaults: once per rejected SYN at most" "refused" "$refused" -le "$rej"
t_expect_cmp "defaults: and the admitted were served" "ok" "$(out default ok)" -gt 0
t_expect "defaults: no other failure" "reset+error+other" \
	"$(jq -r '.outcomes | .reset + .error + .other' "$LOGDIR/default.json")" 0
stop
t_expect "defaults: SIGTERM exits 0" "rc" "$?" 0
ctl service del $SVC >/dev/null

# --- an operator's entry: sluiced claims it and keeps its action and rate
ctl service add $SVC --rate 20k --burst 2k --action drop >/dev/null
start operator.log --iface "$IF_SRV" || fail_all "sluiced did not listen"
wait_until 20 claimed $SVC
t_expect "operator entry: claimed, its action and rate kept" "action rate daemon" \
	"$(entry $SVC)" "drop 20000 true"
stop
t_expect "operator entry: still there after the daemon exits" "action rate" \
	"$(entry $SVC | cut -d' ' -f1,2)" "drop 20000"
ctl service del $SVC >/dev/null

# --- --service-port: the maps protect that port, not the listener's
start sport.log --iface "$IF_SRV" --service-port 8443 || fail_all "sluiced did not listen"
wait_until 20 claimed tcp/8443
t_expect "service-port: the entry is for the service port" "tcp/8443 / tcp/8080" \
	"$(entry tcp/8443 | cut -d' ' -f3) / $(entry $SVC)" "true / none"
# (judged: admitted, or refused by the daemon's rate, 10/s when idle)
judged() { echo $(($(stat_of tcp/8443 admitted) + $(stat_of tcp/8443 svc_bucket))); }
j0=$(judged)
syn_probe 5 8443 >/dev/null
t_expect "service-port: SYNs to it are judged under it" "admitted + svc_bucket growth" \
	$(($(judged) - j0)) 5
stop
ctl service del tcp/8443 >/dev/null

# --- --level-max 1: under an overload that raises the level to 2 and
# more without it (test_sluiced.sh, classes), the level stays at 1, which
# sheds no class: a class-1 source is never shed by level.
LOW4=198.18.0.3
cli ip addr add "$LOW4/24" dev "$IF_CLI"
ctl detach "$IF_SRV" >/dev/null	# generic until now; mark needs tc
start lmax.log --iface "$IF_SRV" --attach-mode tc --shed-action mark --level-max 1 ||
	fail_all "sluiced did not listen"
wait_until 20 claimed $SVC
ctl prefix add "$LOW4/32" class 1 >/dev/null
shed0=$(stat_of $SVC shed_level) mark0=$(stat_of $SVC marked)
cli "$LOAD" --quiet --timeout 5000 --rate 5000 --duration 4 "$URL" >/dev/null &
lpid=$!
maxlevel=0
while kill -0 $lpid 2>/dev/null; do
	l=$(metric sluiced_controller_level)
	[[ $l =~ ^[0-9]+$ ]] && ((l > maxlevel)) && maxlevel=$l
	cli timeout 5 hping3 -S -a "$LOW4" -p $PORT -c 5 -i u1000 "$SRV4" >/dev/null 2>&1
done
wait $lpid
t_expect_cmp "level-max: overload was shed" "marked growth" $(($(stat_of $SVC marked) - mark0)) -gt 0
t_expect_cmp "level-max: the level never went above 1" "highest level seen" "$maxlevel" -le 1
t_expect "level-max: the class-1 source was never shed by level" "shed_level growth" \
	$(($(stat_of $SVC shed_level) - shed0)) 0
stop
ctl prefix del "$LOW4/32" >/dev/null
ctl service del $SVC >/dev/null

# --- --iface twice: both interfaces carry the data plane, sharing the maps
# (a second veth pair between the hosts: this kernel may lack dummy)
IF2=sl2s-$$
cli ip link add sl2c-$$ type veth peer name "$IF2" netns "$NS_SRV" &&
	srv ip link set "$IF2" up || fail_all "cannot add $IF2"
start ifaces.log --iface "$IF_SRV" --iface "$IF2" --attach-mode tc --detach-on-exit ||
	fail_all "sluiced did not listen"
wait_until 20 attached 2
t_expect "iface twice: both attached" "attachments" \
	"$(ctl -j status | jq -r '[.attachments[] | "\(.ifname):\(.mode)"] | sort | join(" ")')" \
	"$(printf '%s\n' "$IF2:tc" "$IF_SRV:tc" | sort | tr '\n' ' ' | sed 's/ $//')"
stop
t_expect "iface twice: --detach-on-exit takes both off" "attachments" \
	"$(ctl -j status | jq '.attachments | length')" 0

cleanup
reports=$(grep -l 'Sanitizer' "$LOGDIR"/*.log 2>/dev/null | xargs -r -n1 basename | tr '\n' ' ')
t_expect "no sanitizer report in the daemons' logs" "logs with a report" "${reports:-none}" none
finish
