#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# sluiced end to end: the daemon serves on the server host with the data
# plane attached (TC, shed action mark, so shed connections reach its fast
# path), and sluice-load drives open-loop load from the client host well
# above capacity. Asserts behaviour, never speed: shedding engaged in the
# kernel and on the fast path, every request the daemon read was answered,
# the deadline drop answered the standing queue, memory stayed within the bound;
# kill -9 under load keeps enforcement and a restart re-adopts the limits;
# SIGTERM drains; metrics serve the families; a stale heartbeat falls back.
source "$(dirname "$0")/lib.sh"
require_env curl
require_sluiced

PORT=8080
SVC=tcp/$PORT
METRICS=127.0.0.1:9464	# inside the server host
MAXCONN=2000
LOGDIR=$(mktemp -d /tmp/sluiced-test.XXXXXX)
DPID=

topo_up || { t_fail topology "could not build the test hosts"; finish; }
trap 'cleanup; [[ -n ${KEEP_LOGS:-} ]] || rm -rf "$LOGDIR"' EXIT

# start_daemon LOG [ARGS]: sluiced on the server host; sets DPID.
start_daemon() {
	local log=$1
	shift
	# nsenter execs sluiced: $! is the daemon's pid (a function here
	# would put a subshell in between).
	nsenter --net="/run/netns/$NS_SRV" "$SLUICED" --listen "$SRV4:$PORT" --iface "$IF_SRV" --attach-mode tc \
		--shed-action mark --pin-dir "$PIN_DIR" --workers 1 \
		--metrics "$METRICS" --max-connections $MAXCONN --log-level info \
		"$@" 2>>"$LOGDIR/$log" &
	DPID=$!
	wait_listen $PORT
}

# wait_heartbeat: until the daemon has written its limits (at most ~20 s).
has_heartbeat() { (($(int "$(metric sluiced_admission_writes_total)") > 0)); }
wait_heartbeat() { wait_until 20 has_heartbeat; }


# load NAME ARGS: sluice-load from the client host, JSON in LOGDIR/NAME.json.
load() {
	local name=$1
	shift
	cli "$LOAD" --quiet --timeout 5000 --json "$LOGDIR/$name.json" "$@" >/dev/null
}
out() { jq -r ".outcomes.$2" "$LOGDIR/$1.json"; }

# --- start, metrics, a request
CONF=$LOGDIR/sluiced.conf
printf 'target-delay = 5\n' >"$CONF"
start_daemon d1.log --config "$CONF" --stale-after 10 || { t_fail start "sluiced did not listen"; finish; }
t_ok "start: listens on $SRV4:$PORT"
# A 503 is a legitimate answer on a busy shared machine (a wait past the
# deadline): retry a few times, asserting only that a 200 comes.
for i in 1 2 3 4 5; do
	code=$(cli curl -s -o /dev/null -w '%{http_code}' --max-time 20 "http://$SRV4:$PORT/health")
	[[ $code == 200 ]] && break
	sleep 0.2
done
t_expect "health: 200 from the client host" "status" "$code" 200
page=$(metrics)
missing=()
for fam in sluiced_pool_queue_depth sluiced_pool_busy_ratio sluiced_controller_rate \
	sluiced_controller_level sluiced_controller_target_delay_seconds \
	'sluiced_fastpath_total{reason="mark"}' 'sluice_kernel_decisions_total{reason="admitted"}' \
	'sluiced_http_responses_total{code="200"}' sluiced_request_duration_seconds_bucket \
	sluiced_admission_writes_total; do
	grep -qF -- "$fam" <<<"$page" || missing+=("$fam")
done
t_expect "metrics: every family served" "missing" "${missing[*]}" ""
writes=$(int "$(metric sluiced_admission_writes_total)")
t_expect_cmp "controller: heartbeats written" "sluiced_admission_writes_total" "$writes" -gt 0
t_expect "controller: the service is marked as the daemon's" "daemon" \
	"$(ctl -j service list | jq -r --arg s $SVC '.services[] | select(.service == $s) | .daemon')" true

# --- SIGHUP: a valid change applies; a bad file or a restart-only change
# is refused whole, the running options kept
# wait_metric NAME VALUE: until the metric shows VALUE (at most ~20 s).
metric_is() { [[ $(metric "$1") == "$2" ]]; }
wait_metric() { wait_until 20 metric_is "$@"; }
printf 'target-delay = 7\n' >"$CONF"
kill -HUP "$DPID"
wait_metric sluiced_controller_target_delay_seconds 0.007
t_expect "reload: target-delay 7 ms applied" "target" \
	"$(metric sluiced_controller_target_delay_seconds)" 0.007
# refusals N: the daemon has logged N refused reloads.
refusals() { (($(grep -c 'reload refused' "$LOGDIR/d1.log") >= $1)); }
printf 'target-delay = 7\ntick = banana\n' >"$CONF"
kill -HUP "$DPID"
wait_until 20 refusals 1
printf 'target-delay = 9\nqueue-bound = 100\n' >"$CONF"
kill -HUP "$DPID"
wait_until 20 refusals 2
t_expect "reload: a bad file and a restart-only change are refused" "refusals logged" \
	"$(grep -c 'reload refused' "$LOGDIR/d1.log")" 2
t_expect "reload: the running options are kept" "target" \
	"$(metric sluiced_controller_target_delay_seconds)" 0.007
printf 'target-delay = 5\n' >"$CONF"
kill -HUP "$DPID"
wait_metric sluiced_controller_target_delay_seconds 0.005

# --- overload: open loop well above capacity (1 worker, 1 ms per request)
load calib --rate 200 --duration 1 "http://$SRV4:$PORT/work?cpu_us=1000"
load over --rate 5000 --duration 3 "http://$SRV4:$PORT/work?cpu_us=1000"
t_expect_cmp "overload: kernel shed connections" "svc_bucket" "$(stat_of $SVC svc_bucket)" -gt 0
t_expect_cmp "overload: kernel marked them" "marked" "$(stat_of $SVC marked)" -gt 0
fast=$(int "$(metric 'sluiced_fastpath_total{reason="mark"}')")
t_expect_cmp "overload: fast path answered marked connections" "fastpath mark" "$fast" -gt 0
t_expect_cmp "overload: some requests served" "ok" "$(out over ok)" -gt 0
lost=$(jq -r '.outcomes | .timeout + .reset + .error + .other' "$LOGDIR/over.json")
t_expect "overload: every request got 200 or 503" "timeout+reset+error+other" "$lost" 0
# (once the daemon has worked off what it read: the load ends at its
# clients' timeout, and a starved daemon may still hold requests then)
unanswered() {
	reqs=$(int "$(metric sluiced_requests_total)")
	answered=$(metrics | awk '/^sluiced_http_responses_total/ { s += $2 } END { printf "%d", s }')
	echo $((answered - reqs))
}
all_answered() { [[ $(unanswered) == 0 ]]; }
wait_until 30 all_answered
t_expect "overload: every request read was answered" "responses - requests" "$(unanswered)" 0
# The queue stood (open loop at 5x): what waited past the deadline then
# was answered 503 (standing.h: the few late before it stood are worked).
expired=$(int "$(metric 'sluiced_fastpath_total{reason="expired"}')")
t_expect_cmp "overload: the standing queue's late requests answered 503 (worked late: $(metric sluiced_late_worked_total), longest wait $(metric sluiced_worked_wait_max_seconds) s)" \
	"fastpath expired" "$expired" -gt 0
hwm=$(awk '/^VmHWM:/ { print $2 * 1024 }' "/proc/$DPID/status")
# The bound the daemon reports (base + max-connections x a connection with
# its largest body + the queue), against the peak it reached.
bound=$(metric sluiced_memory_bound_bytes)
bound=${bound:+$(int "$bound")}
t_expect_cmp "overload: peak memory within the reported bound (${bound:-missing} bytes)" "VmHWM" \
	"$hwm" -le "${bound:-0}"
conn_bytes=$(int "$(metric sluiced_connection_bytes)")

# --- priority classes: under overload the controller raises the admission
# level, which sheds a low class outright while the default class (4) is
# still admitted by rate. The low class is a second client address.
LOW4=198.18.0.3
cli ip addr add "$LOW4/24" dev "$IF_CLI"
ctl prefix add "$LOW4/32" class 1 >/dev/null
shed0=$(stat_of $SVC shed_level) adm0=$(stat_of $SVC admitted)
# The load runs until the probe below is done (it ends it), at most 20 s:
# the level must still be up when the class-1 SYNs come, however long a
# loaded machine takes to raise it and to start the probe.
bg cli "$LOAD" --quiet --timeout 5000 --rate 5000 --duration 20 "http://$SRV4:$PORT/work?cpu_us=1000"
lpid=$!
# Until the level is up under this load (it may still be up from the last).
level_up() { (($(stat_of $SVC admitted) > adm0 && $(int "$(metric sluiced_controller_level)") >= 2)); }
wait_until 15 level_up
level=$(int "$(metric sluiced_controller_level)")
cli timeout 30 hping3 -S -a "$LOW4" -p $PORT -c 20 -i u1000 "$SRV4" >/dev/null 2>&1
level_after=$(int "$(metric sluiced_controller_level)")
kill "$lpid" 2>/dev/null
wait $lpid 2>/dev/null
t_expect_cmp "classes: overload raised the admission level" "level" "$level" -ge 2
t_expect_cmp "classes: and held it while the class-1 source sent" "level" "$level_after" -ge 2
t_expect_cmp "classes: the class-1 source was shed by level" "shed_level growth" \
	$(($(stat_of $SVC shed_level) - shed0)) -ge 20
t_expect_cmp "classes: the default class was admitted by rate" "admitted growth" \
	$(($(stat_of $SVC admitted) - adm0)) -gt 0
ctl prefix del "$LOW4/32" >/dev/null

# --- kill -9 under load: the kernel keeps the limits; a restart re-adopts them
# adm: the service's sl_admission entry (the daemon's limits and
# heartbeat), "rate_cap level heartbeat_ns", read at once from the pin.
adm() {
	bpftool -j map dump pinned "$PIN_DIR/sl_admission" 2>/dev/null |
		jq -r 'first(.[] | (.formatted // .).value | "\(.rate_cap) \(.level) \(.heartbeat_ns)") // "missing"'
}
# grows BEFORE FIELD: the service's counter FIELD is above BEFORE.
grows() { (($(stat_of $SVC "$2") > $1)); }
# level_raised: the pinned entry holds a level above 0 (the kill below
# comes then, so that the level carried over is one the restart could lose).
level_raised() { read -r _ l _ < <(adm); [[ $l =~ ^[0-9]+$ ]] && ((l >= 1)); }
# The load runs until the restart is checked (it is ended there), at most 60 s;
# at the classes case's rate, which raises the level.
bg cli "$LOAD" --quiet --timeout 5000 --rate 5000 --duration 60 "http://$SRV4:$PORT/work?cpu_us=1000"
LPID=$!
shed0=$(stat_of $SVC svc_bucket)
wait_until 20 grows "$shed0" svc_bucket || t_fail "kill -9" "the load was never shed"
stale0=$(stat_of $SVC stale)
# A tick of 1 s (stale-after 10 s: ten ticks): the first entry the new
# daemon writes is its adoption, seen (polled) before its first tick, as
# sluiced_admission_writes_total, which counts ticks only, still 0 shows.
# A loaded machine may take longer than that tick to see it: then the
# check cannot tell, and the kill and restart are done again (at most 3).
rewritten() { read -r rate1 level1 hb1 < <(adm); [[ $hb1 != "$hb0" ]]; }
metrics_up() { [[ -n $(metric sluiced_admission_writes_total) ]]; }
for try in 1 2 3; do
	wait_until 20 level_raised
	kill -9 "$DPID"
	wait "$DPID" 2>/dev/null
	# The limits in force when the daemon died, as the kernel holds them.
	read -r rate0 level0 hb0 < <(adm)
	if ((try == 1)); then
		shed0=$(stat_of $SVC svc_bucket)
		wait_until 20 grows "$shed0" svc_bucket
		t_expect "kill -9: the kernel keeps shedding" "svc_bucket grows" \
			"$(grows "$shed0" svc_bucket && echo yes)" yes
	fi
	start_daemon "d2-$try.log" --tick 1000 --stale-after 10 || t_fail "restart" "sluiced did not listen again"
	wait_until 20 rewritten && wait_until 20 metrics_up
	w1=$(metric sluiced_admission_writes_total)
	[[ $w1 == 0 ]] && break
	echo "# restart $try: the adoption was seen after the first tick ($w1 writes), tried again"
done
t_expect_cmp "restart: a level was in force when it died" "level" "$level0" -ge 1
t_expect "restart: re-adopted the pinned limits" "log" \
	"$(grep -c "(rate $rate0/s, level $level0, .*adopted$" "$LOGDIR/d2-$try.log")" 1
t_expect "restart: carries on from the rate and level in force" "rate_cap level (writes by ticks)" \
	"$rate1 $level1 ($w1)" "$rate0 $level0 (0)"
t_expect_cmp "restart: with a fresh heartbeat" "heartbeat_ns - before" $((hb1 - hb0)) -gt 0
kill "$LPID" 2>/dev/null
wait "$LPID" 2>/dev/null
t_expect "restart: no stale gap in enforcement" "stale growth" $(($(stat_of $SVC stale) - stale0)) 0

# --- SIGTERM drains: an in-flight request finishes, then the daemon exits 0
# The restarted daemon carries on from the overload's limits and lowers
# them a tick (1 s) at a time: until it has disengaged (level 0, not
# overloaded), the request below may be shed (a 503 from the fast path),
# which is no drain. And until what the ended load left (connections it
# had opened, requests it had sent) is gone, the request counter below
# may count one of those as the slow request. A bound, not a speed claim.
settled() {
	[[ $(metric sluiced_controller_level) == 0 && $(metric sluiced_controller_overloaded) == 0 &&
		$(metric sluiced_connections_open) == 0 && $(metric sluiced_accept_backlog) == 0 ]]
}
wait_until 60 settled ||
	t_fail "drain" "still engaged or busy 60 s after the load: $(metrics | grep -E \
		'^sluiced_(controller_level|controller_overloaded|connections_open|accept_backlog) ' | tr '\n' ' ')"
reqs0=$(int "$(metric sluiced_requests_total)")
cli curl -s -o "$LOGDIR/slow.out" -w '%{http_code}' --max-time 30 \
	"http://$SRV4:$PORT/work?sleep_us=1000000" >"$LOGDIR/slow.code" &
CPID=$!
# Until the daemon has read it (dispatched to the pool: in flight).
requests_above() { (($(int "$(metric sluiced_requests_total)") > $1)); }
wait_until 20 requests_above "$reqs0" || t_fail "drain" "the slow request never reached the daemon"
kill -TERM "$DPID"
wait "$DPID"
rc=$?
wait "$CPID"
t_expect "drain: the in-flight request was finished" "status" "$(cat "$LOGDIR/slow.code")" 200
t_expect "drain: exit status" "rc" "$rc" 0
t_expect "drain: the data plane stays attached" "attachments" \
	"$(ctl -j status | jq '.attachments | length')" 1

# --- stale heartbeat: after --stale-after the kernel falls back (static limits)
start_daemon d3.log --stale-after 1 || t_fail "stale" "sluiced did not listen"
wait_heartbeat || t_fail "stale" "no heartbeat written"
ctl service set $SVC --rate 1 --burst 1 --action drop >/dev/null
kill -9 "$DPID"
wait "$DPID" 2>/dev/null
# stale_judged: one SYN, judged on the fallback once the heartbeat is stale.
stale_judged() {
	local before=$(stat_of $SVC stale)
	syn_probe 1 $PORT >/dev/null
	(($(stat_of $SVC stale) > before))
}
wait_until 20 stale_judged || t_fail "stale" "the heartbeat never went stale"
# Nothing listens now: an admitted SYN gets the kernel's RST, a dropped
# one silence.
stale0=$(stat_of $SVC stale)
read_probe() { read -r SA RST < <(syn_probe 20 $PORT); }
timed read_probe
t_expect_cmp "stale: packets judged on the fallback" "stale growth" $(($(stat_of $SVC stale) - stale0)) -ge 20
t_expect_cmp "stale: static rate 1/s enforced" "RSTs" "$RST" -le $((1 + PROBE_S))
start_daemon d4.log --stale-after 1 --stale-policy open || t_fail "stale" "sluiced did not listen"
wait_heartbeat || t_fail "stale" "no heartbeat written"
kill -9 "$DPID"
wait "$DPID" 2>/dev/null
wait_until 20 stale_judged || t_fail "stale" "the heartbeat never went stale"
read -r SA RST < <(syn_probe 20 $PORT)
t_expect "stale: policy open admits everything" "RSTs" "$RST" 20

# --- --detach-on-exit: a clean exit takes the data plane off the interface
# (this daemon allows 1000 connections more: its reported memory bound must
# be larger by exactly what sluiced(8) says each one may take, a connection,
# its head buffer at the default --max-header-size of 32 KiB and a 64 KiB
# body; a bound whose fixed base hid the connections would not be)
start_daemon d5.log --detach-on-exit --max-connections $((MAXCONN + 1000)) ||
	t_fail "detach" "sluiced did not listen"
wait_until 20 metrics_up
bound5=$(metric sluiced_memory_bound_bytes)
bound5=${bound5:+$(int "$bound5")}
t_expect "memory: each connection allowed adds its share to the reported bound" \
	"(bound with $((MAXCONN + 1000)) - bound with $MAXCONN) / 1000" \
	"$(((${bound5:-0} - ${bound:-0}) / 1000))" "$((conn_bytes + 32768 + 65536))"
kill -TERM "$DPID"
wait "$DPID"
t_expect "detach-on-exit: exit status" "rc" "$?" 0
t_expect "detach-on-exit: no attachment left" "attachments" \
	"$(ctl -j status | jq '.attachments | length')" 0

# --- proxy: a second sluiced in front of a built-in one, no data plane
UP=127.0.0.1:8090
nsenter --net="/run/netns/$NS_SRV" "$SLUICED" --listen $UP --metrics none \
	--pin-dir "$PIN_DIR-none" --workers 1 2>>"$LOGDIR/up.log" &
nsenter --net="/run/netns/$NS_SRV" "$SLUICED" --listen "$SRV4:8081" --upstream $UP \
	--metrics 127.0.0.1:9465 --pin-dir "$PIN_DIR-none" --workers 1 2>>"$LOGDIR/px.log" &
wait_listen 8090 && wait_listen 8081
# As for the first health check: a 503 past the deadline is legitimate on
# a busy machine (or under a sanitizer); retry a few times.
for i in 1 2 3 4 5; do
	body=$(cli curl -s --max-time 20 "http://$SRV4:8081/work?cpu_us=100")
	[[ $body == ok ]] && break
	sleep 0.2
done
t_expect "proxy: a request reaches the upstream" "body" "$body" "ok"
# (a 503 past the deadline is legitimate on a busy machine: retried)
for i in 1 2 3 4 5; do
	body=$(head -c 20000 /dev/zero | cli curl -s --max-time 20 -H 'Transfer-Encoding: chunked' \
		--data-binary @- "http://$SRV4:8081/health")
	[[ $body == "overloaded, retry later" ]] || break
	sleep 0.2
done
# The built-in upstream takes GET only: its 405 shows the upload got past
# the proxy's decoding (which would answer 400, 411 or 413 itself).
t_expect "proxy: a chunked upload is decoded and passed on" "body" "$body" "method not allowed"
load proxy --rate 200 --duration 1 --keepalive 4 "http://$SRV4:8081/work?cpu_us=200"
# 503s past the deadline are legitimate on a busy machine; nothing else is.
t_expect "proxy: keep-alive load answered 200 or 503" "timeout+reset+error+other" \
	"$(jq -r '.outcomes | .timeout + .reset + .error + .other' "$LOGDIR/proxy.json")" 0
ok=$(out proxy ok)
# How many meet the 5 ms deadline is speed (a benchmark's business, and
# under TSan a small share): that some are served, all answered, is the test.
t_expect_cmp "proxy: keep-alive load served" "ok" "$ok" -gt 0
ups=$(srvnet curl -s --max-time 20 http://127.0.0.1:9465/metrics |
	awk '$1 == "sluiced_upstream_requests_total" { printf "%d", $2 }')
t_expect_cmp "proxy: upstream requests counted" "sluiced_upstream_requests_total" "$ups" -ge "$ok"
# Overload through the proxy: 1000 us requests at ~3x what the one-worker
# upstream completes, over 16 keep-alive connections. The limit on
# requests in flight must stay near the upstream's parallelism (one
# worker: 2) instead of growing towards what the clients would put in
# flight (16), so the excess waits in the proxy, where the deadline
# applies. It starts at two and grows in slow start only while answers
# come at the floor; read at the end of the load (nothing moves it once
# the queue is empty), it shows where 2 s of overload left it.
pmetric() {
	srvnet curl -s --max-time 20 http://127.0.0.1:9465/metrics | awk -v m="$1" '$1 == m { print $2 }'
}
cli "$LOAD" --quiet --timeout 5000 --json "$LOGDIR/proxy-over.json" --rate 3000 \
	--duration 2 --keepalive 16 "http://$SRV4:8081/work?cpu_us=1000" >/dev/null
limit=$(pmetric sluiced_upstream_limit)
t_expect_cmp "proxy overload: the upstream limit stays near its parallelism" \
	"sluiced_upstream_limit after the load" "${limit:+$(int "$limit")}" -le 6
t_expect "proxy overload: answered 200 or 503" "timeout+reset+error+other" \
	"$(jq -r '.outcomes | .timeout + .reset + .error + .other' "$LOGDIR/proxy-over.json")" 0
expired=$(int "$(pmetric 'sluiced_fastpath_total{reason="expired"}')")
t_expect_cmp "proxy overload: the standing queue's late requests answered 503 (sent late: $(pmetric sluiced_late_worked_total), longest wait $(pmetric sluiced_worked_wait_max_seconds) s)" \
	"fastpath expired" "$expired" -gt 0

# Under SAN=address or thread, a daemon reports to its log and may go on:
# every report fails the run.
cleanup
reports=$(grep -l 'Sanitizer' "$LOGDIR"/*.log 2>/dev/null | xargs -r -n1 basename | tr '\n' ' ')
t_expect "no sanitizer report in the daemons' logs" "logs with a report" "${reports:-none}" none
finish
