#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fleet quotas end to end (issue 12): three server hosts, each running
# sluiced with --fleet-per-source 100 and the data plane on TC, a Redis
# this test starts on the test network, and two client hosts, one source
# each, on one bridge. Asserts behaviour:
#   - a source sending 100 new connections/s to each host (300/s) gets
#     100/s +-25% fleet-wide after 3 s, and its exception shows in
#     `sluicectl prefix list`, `stats` (src_quota) and bpftool, by name;
#   - a second source at 10/s per host is never refused, nor ever under an
#     exception on any host;
#   - Redis killed: every host reports it, drops its exceptions and keeps
#     serving the light source (>= 99% answered, or refused by the per-host
#     shedding that a busy machine may engage) on its local limits;
#   - Redis restarted: the quota holds again within 5 s, and the heavy
#     source's rate is back within the bar.
# Prints the Redis operations and bytes per host per second, measured by
# Redis itself (INFO commandstats, INFO stats) and by the daemons.
#
#   bridge  ns sl-fb-PID  br0 198.18.0.254/24; redis-server on it
#   servers ns sl-fN-PID  veth fsN-PID 198.18.0.1N/24 (N = 1..3), sluiced
#   heavy   ns sl-fh-PID  veth fsh-PID 198.18.0.21/24
#   light   ns sl-fl-PID  veth fsl-PID 198.18.0.22/24
source "$(dirname "$0")/lib.sh"
require_env curl redis-server redis-cli bpftool

SLUICED=${SLUICED:-$BUILD/sluiced}
LOAD=${LOAD:-$BUILD/sluice-load}
[[ -x $SLUICED && -x $LOAD ]] || skip_all "$SLUICED or $LOAD is not built (run make)"

PORT=8080
SVC=tcp/$PORT
QUOTA=100
HEAVY_RATE=100	# per host
LIGHT_RATE=10	# per host
NS_BR=sl-fb-$$
NS_HEAVY=sl-fh-$$
NS_LIGHT=sl-fl-$$
BR4=198.18.0.254
REDIS_PORT=6390
REDIS_PW=fleet-test-$$-$RANDOM
HEAVY4=198.18.0.21
LIGHT4=198.18.0.22
METRICS=127.0.0.1:9464	# inside each server host
HOSTS=(1 2 3)
LOGDIR=$(mktemp -d /tmp/sluiced-fleet.XXXXXX)
REDIS_PID=

srv_ns() { echo "sl-f$1-$$"; }
srv_if() { echo "fs$1-$$"; }
srv_ip() { echo "198.18.0.1$1"; }
srv_pins() { echo "/sys/fs/bpf/sluice-fleet-$$-$1"; }

fleet_cleanup() {
	local ns pids n
	for ns in "$NS_HEAVY" "$NS_LIGHT" "$NS_BR" $(for n in "${HOSTS[@]}"; do srv_ns "$n"; done); do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[[ -n $pids ]] && kill $pids 2>/dev/null
	done
	wait 2>/dev/null
	for ns in "$NS_HEAVY" "$NS_LIGHT" "$NS_BR" $(for n in "${HOSTS[@]}"; do srv_ns "$n"; done); do
		ip netns del "$ns" 2>/dev/null
	done
	for n in "${HOSTS[@]}"; do rm -rf "$(srv_pins "$n")"; done
	[[ -n ${KEEP_LOGS:-} ]] || rm -rf "$LOGDIR"
}
trap fleet_cleanup EXIT
trap 'exit 1' INT TERM

# host_on_bridge NS IF IP: a host joined to the bridge by a veth pair.
host_on_bridge() {
	local ns=$1 ifn=$2 ip=$3 peer=b${2#f}
	ip netns add "$ns" || return 1
	ip link add "$ifn" netns "$ns" type veth peer name "$peer" netns "$NS_BR" || return 1
	ip -n "$NS_BR" link set "$peer" master br0 up || return 1
	ip -n "$ns" addr add "$ip/24" dev "$ifn" || return 1
	ip -n "$ns" link set lo up && ip -n "$ns" link set "$ifn" up
}

fleet_topo_up() {
	local n
	ip netns add "$NS_BR" || return 1
	ip -n "$NS_BR" link set lo up
	ip -n "$NS_BR" link add br0 type bridge || return 1
	ip -n "$NS_BR" addr add "$BR4/24" dev br0
	ip -n "$NS_BR" link set br0 up
	for n in "${HOSTS[@]}"; do
		host_on_bridge "$(srv_ns "$n")" "$(srv_if "$n")" "$(srv_ip "$n")" || return 1
	done
	host_on_bridge "$NS_HEAVY" "fsh-$$" "$HEAVY4" || return 1
	host_on_bridge "$NS_LIGHT" "fsl-$$" "$LIGHT4"
}

on() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
# ctl_on N ARGS: sluicectl on server N, sharing the host's bpffs.
ctl_on() {
	local n=$1
	shift
	nsenter --net="/run/netns/$(srv_ns "$n")" "$SLUICECTL" --pin-dir "$(srv_pins "$n")" "$@"
}
metric_on() {
	nsenter --net="/run/netns/$(srv_ns "$1")" curl -s --max-time 20 "http://$METRICS/metrics" |
		awk -v n="$2" '$1 == n { printf "%d", $2 + 0; exit }'
}
rcli() { on "$NS_BR" redis-cli -h "$BR4" -p $REDIS_PORT -a "$REDIS_PW" --no-auth-warning "$@"; }

redis_start() {
	# --save "" and no AOF: a restart comes back empty, as after a crash
	# of a cache; the daemons must rebuild the counts.
	# ip netns exec execs redis-server: $! is its pid (a function here
	# would put a subshell in between).
	ip netns exec "$NS_BR" redis-server --bind "$BR4" --port $REDIS_PORT --save "" \
		--appendonly no --requirepass "$REDIS_PW" --logfile "$LOGDIR/redis.log" &
	REDIS_PID=$!
	local i
	for ((i = 0; i < 50; i++)); do
		[[ $(rcli PING 2>/dev/null) == PONG ]] && return 0
		sleep 0.1
	done
	return 1
}

start_daemon() {
	local n=$1 conf=$LOGDIR/sluiced-$1.conf
	cat >"$conf" <<-EOF
		fleet = redis://$BR4:$REDIS_PORT/2
		fleet-per-source = $QUOTA
		fleet-name = fleettest-$$
		fleet-password = $REDIS_PW
	EOF
	nsenter --net="/run/netns/$(srv_ns "$n")" "$SLUICED" --config "$conf" \
		--listen "$(srv_ip "$n"):$PORT" --iface "$(srv_if "$n")" --attach-mode tc \
		--shed-action reject --pin-dir "$(srv_pins "$n")" --workers 1 \
		--metrics "$METRICS" --target-delay 1000 --log-level info 2>>"$LOGDIR/sluiced-$n.log" &
}

# poll_all METRIC OP VALUE TENTHS: until METRIC OP VALUE on every server
# host, checking every 0.1 s at most TENTHS times; prints the tenths taken.
poll_all() {
	local i n ok
	for ((i = 0; i < $4; i++)); do
		ok=1
		for n in "${HOSTS[@]}"; do
			v=$(metric_on "$n" "$1")
			[[ $v =~ ^[0-9]+$ ]] && [ "$v" "$2" "$3" ] || { ok=0; break; }
		done
		((ok)) && { echo "$i"; return 0; }
		sleep 0.1
	done
	echo "$i"
	return 1
}

# loads NAME SECONDS: both sources to every server host, in the background.
LOAD_PIDS=()
loads() {
	local n
	LOAD_PIDS=()
	for n in "${HOSTS[@]}"; do
		ip netns exec "$NS_HEAVY" "$LOAD" --quiet --rate $HEAVY_RATE --duration "$2" --timeout 5000 \
			--json "$LOGDIR/$1-heavy-$n.json" "http://$(srv_ip "$n"):$PORT/health" >/dev/null &
		LOAD_PIDS+=($!)
		ip netns exec "$NS_LIGHT" "$LOAD" --quiet --rate $LIGHT_RATE --duration "$2" --timeout 5000 \
			--json "$LOGDIR/$1-light-$n.json" "http://$(srv_ip "$n"):$PORT/health" >/dev/null &
		LOAD_PIDS+=($!)
	done
}
# wait_loads: the load generators end on their own (bounded by --duration
# and --timeout).
wait_loads() { wait "${LOAD_PIDS[@]}"; }
# ok_between NAME SOURCE FROM_MS TO_MS: answered (2xx) requests of SOURCE
# scheduled in [FROM, TO), summed over the hosts.
ok_between() {
	jq -s --argjson a "$3" --argjson b "$4" \
		'[.[].series[] | select(.t_ms >= $a and .t_ms < $b) | .ok] | add // 0' \
		"$LOGDIR/$1-$2-"{1,2,3}.json
}
# outcome_sum NAME SOURCE FIELD: one outcome over the hosts.
outcome_sum() { jq -s --arg f "$3" '[.[].outcomes[$f]] | add' "$LOGDIR/$1-$2-"{1,2,3}.json; }
scheduled_sum() { jq -s '[.[].scheduled] | add' "$LOGDIR/$1-$2-"{1,2,3}.json; }
# watch_light_exceptions SECONDS: every ~0.2 s, a line in light-exceptions
# for each host whose kernel holds an exception for the light source.
watch_light_exceptions() {
	local i n end=$(($(date +%s) + $1))
	: >"$LOGDIR/light-exceptions"
	for ((i = 0; i < $1 * 5 && $(date +%s) < end; i++)); do
		for n in "${HOSTS[@]}"; do
			ctl_on "$n" -j prefix list |
				jq -e --arg p "$LIGHT4/32" 'any(.exceptions[]; .prefix == $p)' >/dev/null &&
				echo "host $n" >>"$LOGDIR/light-exceptions"
		done
		sleep 0.2
	done
}
# svc_bucket_sum: the per-host shedding's refusals, over the hosts.
svc_bucket_sum() {
	local n s=0
	for n in "${HOSTS[@]}"; do
		s=$((s + $(ctl_on "$n" -j stats | jq -r --arg s "$SVC" \
			'first(.services[] | select(.service == $s) | .svc_bucket)')))
	done
	echo "$s"
}
# check_answered NAME WHAT SVC_REFUSED: the light source got >= 99% answered
# (2xx). On a busy machine the per-host shedding (svc_bucket, which the
# fleet leaves as it is) may refuse some: those count as served on the
# local limits, as long as it refused (SVC_REFUSED, all sources) at least
# as many; on a quiet machine that is none.
check_answered() {
	local sched ok refused
	sched=$(scheduled_sum "$1" light)
	ok=$(outcome_sum "$1" light ok)
	refused=$(outcome_sum "$1" light refused)
	if ((sched > 0 && (ok + refused) * 100 >= sched * 99 && refused <= $3)); then
		t_ok "$2: $ok of $sched answered, $refused refused by the per-host shedding (>= 99%)"
	else
		t_fail "$2" "$ok of $sched answered, $refused refused (svc_bucket $3), expected >= 99% answered or refused by svc_bucket"
	fi
}
# within LOW HIGH X (integers): LOW <= X <= HIGH
within() { [[ $3 =~ ^[0-9]+$ ]] && (($1 <= $3 && $3 <= $2)); }

redis_calls() {
	rcli INFO commandstats | tr -d '\r' |
		awk -F'[:=,]' '/^cmdstat_(incr|incrby|expire|get|auth|select)/ { s += $3 } END { print s + 0 }'
}
redis_net() { rcli INFO stats | tr -d '\r' | awk -F: -v k="$1" '$1 == k { print $2 }'; }
# cost_snapshot: Redis's commands, bytes in and out, and daemon 1's
# commands, bytes sent and received, on one line.
cost_snapshot() {
	echo "$(redis_calls) $(redis_net total_net_input_bytes) $(redis_net total_net_output_bytes)" \
		"$(metric_on 1 sluiced_fleet_redis_commands_total)" \
		"$(metric_on 1 sluiced_fleet_redis_sent_bytes_total)" \
		"$(metric_on 1 sluiced_fleet_redis_received_bytes_total)"
}

# --- hosts, Redis, daemons
fleet_topo_up || { t_fail topology "could not build the test hosts"; finish; }
redis_start || { t_fail redis "redis-server did not answer on $BR4:$REDIS_PORT"; finish; }
for n in "${HOSTS[@]}"; do
	start_daemon "$n" || { t_fail start "sluicectl could not set up server $n"; finish; }
done
if poll_all sluiced_fleet_connected -eq 1 100 >/dev/null; then
	t_ok "start: three daemons connected to Redis (AUTH from the config file, db 2)"
else
	t_fail start "not every daemon reports sluiced_fleet_connected 1 within 10 s"
	tail -n 5 "$LOGDIR"/sluiced-*.log
	finish
fi
t_expect "the password is refused as a flag" "exit status" \
	"$("$SLUICED" --fleet-password "$REDIS_PW" >/dev/null 2>&1; echo $?)" 2

# --- phase A: the quota, and the figures
A_S=9
read -r calls0 in0 out0 cmds0 sent0 recv0 <<<"$(cost_snapshot)"
svc0=$(svc_bucket_sum)
loads a $A_S
watch_light_exceptions "$A_S" &
watcher=$!
limited=$(poll_all sluiced_fleet_sources_limited -ge 1 80)
limited_ok=$?
# The exception, seen through the tools while it is in force (host 1's
# daemon may set it a sync after another host's metric says limited).
heavy_exceptions() {
	ctl_on 1 -j prefix list | jq -r --arg s "$SVC" \
		'[.exceptions[] | select(.service == $s and .prefix == "'$HEAVY4'/32")] | length'
}
has_heavy_exception() { [[ $(heavy_exceptions) == 1 ]]; }
wait_until 20 has_heavy_exception
t_expect "sluicectl prefix list shows the heavy source's exception" "exceptions" "$(heavy_exceptions)" 1
ctl_on 1 prefix list >"$LOGDIR/prefix-list.txt"
# The refusals under it: the exception can be in place a moment before
# the heavy source's next SYN meets it (seen under TSan), so polled.
quota_refused_now() {
	ctl_on 1 -j stats | jq -r --arg s "$SVC" \
		'first(.services[] | select(.service == $s) | .src_quota)'
}
has_quota_refusals() { (($(quota_refused_now) > 0)); }
wait_until 5 has_quota_refusals
quota_refused=$(quota_refused_now)
t_expect_cmp "sluicectl stats counts src_quota" "src_quota" "$quota_refused" -gt 0
dump=$(bpftool map dump pinned "$(srv_pins 1)/sl_src_quota"; bpftool map dump pinned "$(srv_pins 1)/sl_src_seen")
if grep -q '"rate_milli"' <<<"$dump" && grep -q '"count"' <<<"$dump"; then
	t_ok "bpftool shows sl_src_quota and sl_src_seen with named fields"
else
	t_fail bpftool "no named fields in the dump of sl_src_quota / sl_src_seen"
fi

wait_loads
wait "$watcher"
read -r calls1 in1 out1 cmds1 sent1 recv1 <<<"$(cost_snapshot)"

heavy=$(ok_between a heavy 3000 $((A_S * 1000)))
heavy_rate=$((heavy / (A_S - 3)))
if within $((QUOTA * 3 / 4)) $((QUOTA * 5 / 4)) "$heavy_rate"; then
	t_ok "quota: the heavy source gets $heavy_rate/s fleet-wide from 3 s on (bar $QUOTA +-25%, offered $((3 * HEAVY_RATE))/s)"
else
	t_fail quota "the heavy source got '$heavy_rate'/s fleet-wide from 3 s on, expected $QUOTA +-25% (offered $((3 * HEAVY_RATE))/s)"
fi
((limited_ok == 0)) && t_ok "quota: every host limits the heavy source after $limited tenths of a second" ||
	t_fail quota "not every host reported a limited source within 8 s"
# Refused by the fleet quota, never: no exception for it on any host, and
# no refusal but what the per-host shedding (svc_bucket, which the fleet
# leaves as it is) counted; on a quiet machine that is none at all.
light_refused=$(outcome_sum a light refused)
svc_refused=$(($(svc_bucket_sum) - svc0))
if ((light_refused == 0)); then
	t_ok "light source: never refused (10/s per host)"
elif ((light_refused <= svc_refused)); then
	t_ok "light source: never refused by the fleet quota ($light_refused by the per-host shedding, svc_bucket $svc_refused, on this busy machine)"
else
	t_fail "light source never refused" "$light_refused refused, the per-host shedding accounts for $svc_refused"
fi
t_expect "light source: never under an exception on any host" "samples with one" \
	"$(wc -l <"$LOGDIR/light-exceptions")" 0
check_answered a "light source, the quota in force" "$svc_refused"

calls=$((calls1 - calls0))
echo "[   INFO   ] Redis, 3 hosts, one heavy + one light source, ${A_S} s: $calls commands" \
	"($((calls * 10 / (3 * A_S)))e-1 per host per second), in $(((in1 - in0) / (3 * A_S))) B" \
	"out $(((out1 - out0) / (3 * A_S))) B per host per second (INFO, includes redis-cli's INFO);" \
	"daemon 1 counted $(((cmds1 - cmds0) / A_S)) commands/s, sent $(((sent1 - sent0) / A_S)) B/s," \
	"received $(((recv1 - recv0) / A_S)) B/s"

# --- phase B: Redis killed and restarted under load
B_S=18
svc0=$(svc_bucket_sum)
loads b $B_S
t0=$(date +%s%N)
poll_all sluiced_fleet_sources_limited -ge 1 80 >/dev/null ||
	t_fail outage "the quota did not hold before Redis was killed"
kill -9 "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null
if poll_all sluiced_fleet_connected -eq 0 200 >/dev/null &&
	poll_all sluiced_fleet_sources_limited -eq 0 100 >/dev/null; then
	t_ok "Redis killed: every host reports it and drops its exceptions (local limits)"
else
	t_fail outage "a host still reports Redis connected or a source limited"
fi
left=0
for n in "${HOSTS[@]}"; do
	left=$((left + $(ctl_on "$n" -j prefix list | jq '.exceptions | length')))
done
t_expect "Redis killed: no exception left in any kernel" "exceptions" "$left" 0
sleep 3	# the outage: Redis stays down this long under load
redis_start || t_fail outage "redis-server did not restart"
t_restart=$(date +%s%N)
tenths=$(poll_all sluiced_fleet_sources_limited -ge 1 50)
if (($? == 0)); then
	t_ok "Redis restarted: the fleet quota holds again on every host after $tenths tenths of a second (bar 5 s)"
else
	t_fail restart "the quota did not hold again on every host within 5 s of the restart"
fi
wait_loads
svc_refused=$(($(svc_bucket_sum) - svc0))
# The heavy source's rate from 5 s after the restart, over at least 2 s:
# in phase B's load, or when a loaded machine took too long over the
# outage to leave that much of it, in a load of its own started now.
from=$(((t_restart - t0) / 1000000 + 5000))
if ((from < (B_S - 2) * 1000)); then
	got=$(ok_between b heavy "$from" $((B_S * 1000)))
	rate=$((got * 1000 / (B_S * 1000 - from)))
else
	C_S=6
	t_c=$(date +%s%N)
	loads c $C_S
	wait_loads
	from=$((5000 - (t_c - t_restart) / 1000000))
	((from < 0)) && from=0
	got=$(ok_between c heavy "$from" $((C_S * 1000)))
	rate=$((got * 1000 / (C_S * 1000 - from)))
fi
if within $((QUOTA * 3 / 4)) $((QUOTA * 5 / 4)) "$rate"; then
	t_ok "Redis restarted: the heavy source gets $rate/s fleet-wide from 5 s after the restart"
else
	t_fail restart "the heavy source got '$rate'/s fleet-wide 5 s after the restart, expected $QUOTA +-25%"
fi
for n in "${HOSTS[@]}"; do
	echo "[   INFO   ] host $n kernel counters:" $(ctl_on "$n" -j stats | jq -r --arg s "$SVC" \
		'first(.services[] | select(.service == $s)) | "admitted \(.admitted) src_quota \(.src_quota) svc_bucket \(.svc_bucket) stale \(.stale)"')
done
echo "[   INFO   ] light source, Redis killed and restarted: $(outcome_sum b light refused) refused" \
	"(the per-host shedding, svc_bucket, while the heavy source is on local limits)"
check_answered b "light source, Redis killed and restarted" "$svc_refused"
# Once per outage, and once when it ends: the kill is one; a loaded
# machine may add short ones (a round trip past the timeout is "slow").
downs=$(grep -c "local limits until it answers" "$LOGDIR/sluiced-1.log")
ups=$(grep -c "answers again" "$LOGDIR/sluiced-1.log")
if ((downs >= 1 && downs == ups)); then
	t_ok "each outage is logged once on host 1, and its end once ($downs)"
else
	t_fail "outage log" "host 1 logged $downs outages and $ups ends"
fi
if grep -q "Sanitizer" "$LOGDIR"/sluiced-*.log; then
	t_fail sanitizer "a report in the daemons' logs (KEEP_LOGS=1 keeps $LOGDIR)"
else
	t_ok "no sanitizer report in the daemons' logs"
fi
finish
