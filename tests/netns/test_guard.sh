#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Guard mode end to end: an unmodified service on the server host (the
# benchmark's Go net/http service, the Node.js event-loop one, and the JDK
# thread-pool one where java is installed), sluiced --guard on its port
# with the data plane attached (XDP, shed action reject), and sluice-load
# on the client host, a new connection per request. For each service:
# its capacity unguarded (closed loop); sluiced started before the service
# says once that nothing listens and guards it when it comes; at 0.5x
# capacity nothing is shed; at 10x the kernel signal engages, the data
# plane sheds, and what it admits falls near capacity. Asserts behaviour
# with wide margins (the machine is shared), never speed. KEEP_LOGS=1 keeps
# the logs and the load generator's JSON; GUARD_LOG_LEVEL=debug logs each tick;
# GUARD_KINDS picks the services ("go node jdk").
source "$(dirname "$0")/lib.sh"
require_env curl

SLUICED=${SLUICED:-$BUILD/sluiced}
LOAD=${LOAD:-$BUILD/sluice-load}
GOSERVICE=$BUILD/goservice
NODESERVICE=$TOP/tests/bench/overload/nodeservice/server.js
JDKDIR=$BUILD/jdkservice
[[ -x $SLUICED && -x $LOAD ]] || skip_all "$SLUICED or $LOAD is not built (run make)"
[[ -x $GOSERVICE ]] || skip_all "$GOSERVICE is not built (needs golang-go; make deps)"
command -v node >/dev/null || skip_all "needs node (nodejs; make deps)"
command -v bpftool >/dev/null || skip_all "needs bpftool (make deps)"
# The kernel must have what guard mode needs: sluiced checks it first and
# says what is missing (else it runs, here for a second).
why=$(timeout 1 "$SLUICED" --guard tcp/1 --metrics none --pin-dir /nonexistent 2>&1 </dev/null |
	grep -m1 'guard mode needs')
[[ -z $why ]] || skip_all "${why#error: }"

PORT=8080
SVC=tcp/$PORT
METRICS=127.0.0.1:9464	# inside the server host
URL="http://$SRV4:$PORT/work?cpu_us=1000"
LOGDIR=$(mktemp -d /tmp/sluiced-guard.XXXXXX)
DPID= SPID=

topo_up || { t_fail topology "could not build the test hosts"; finish; }
trap 'cleanup; [[ -n ${KEEP_LOGS:-} ]] || rm -rf "$LOGDIR"' EXIT

# service_start KIND: the KIND service on the server host; sets SPID.
service_start() {
	case $1 in
	go)   bg srv env GOMAXPROCS=1 "$GOSERVICE" -listen "$SRV4:$PORT" ;;
	node) bg srv node "$NODESERVICE" "$SRV4:$PORT" ;;
	jdk)  bg srv java -XX:+UseSerialGC -cp "$JDKDIR" WorkServer "$SRV4:$PORT" ;;
	esac
	SPID=$!
	wait_listen $PORT
}

service_stop() {
	local i
	kill "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	for ((i = 0; i < 200; i++)); do
		[[ -z $(srv ss -Hltn "sport = :$PORT") ]] && return 0
		sleep 0.1
	done
}

# start_daemon LOG: sluiced --guard on the server host; sets DPID.
start_daemon() {
	# nsenter execs sluiced: $! is the daemon's pid (srvnet, a function,
	# would put a subshell in between).
	nsenter --net="/run/netns/$NS_SRV" "$SLUICED" --guard "$SVC" --iface "$IF_SRV" \
		--shed-action reject --pin-dir "$PIN_DIR" --metrics "$METRICS" \
		--log-level "${GUARD_LOG_LEVEL:-info}" 2>>"$LOGDIR/$1" &
	DPID=$!
}

# stop_daemon: SIGTERM, then the service entry goes, with the limits the
# daemon leaves enforced until they go stale: the next case's capacity is
# measured unguarded.
stop_daemon() {
	kill -TERM "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
	ctl service del "$SVC" >/dev/null
}

# wait_for WHAT CMD...: until CMD succeeds (at most ~30 s: a bound for a
# loaded machine).
wait_for() {
	local i
	shift
	for ((i = 0; i < 300; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

load() { # NAME ARGS
	local name=$1
	shift
	cli "$LOAD" --quiet --timeout 2000 --json "$LOGDIR/$name.json" "$@" "$URL" >/dev/null
}
j() { local f=$1; shift; jq -r "$@" "$LOGDIR/$f.json"; }
refused() { echo $(($(stat_of $SVC svc_bucket) + $(stat_of $SVC svc_conc) + $(stat_of $SVC shed_level))); }
# drained: no connection waits for the service's accept(), and none it
# accepted is left open (Go accepts at once, then works off a goroutine each).
drained() {
	[[ $(srv ss -Hltn "sport = :$PORT" | awk '{ print $2 }') == 0 &&
		-z $(srv ss -Htn state established state close-wait "sport = :$PORT") ]]
}
listening() { [[ $(int "$(metric "sluiced_guard_listening{service=\"$SVC\"}")") -eq 1 ]]; }
# held_is N: sluicectl shows the service holding N connections (sl_held).
held_is() { [[ $(ctl -j status | jq -r '.guarded[0].held') == "$1" ]]; }
HOLD=$(cd "$(dirname "$0")" && pwd)/hold_conns.py
# held_case KIND: idle connections (no request) are held until they close;
# what the overload left is no longer held once the service has answered
# or closed it all (checked after the loads).
held_case() {
	local in=$LOGDIR/hold.in out=$LOGDIR/hold.out holder fd
	rm -f "$in"
	mkfifo "$in"
	cli timeout 60 python3 "$HOLD" "$CLI4" "$SRV4" $PORT 5 2 <"$in" >"$out" 2>&1 &
	holder=$!
	exec {fd}>"$in"
	if wait_until 30 held_is 5; then
		t_ok "$1: five idle connections are held"
	else
		t_fail "$1: five idle connections are held" "sluicectl shows $(ctl -j status | jq -c '.guarded[0]')"
	fi
	echo mixed >&"$fd"
	exec {fd}>&-
	wait "$holder"
	if wait_until 30 held_is 0; then
		t_ok "$1: closed (FIN or RST), they are no longer held"
	else
		t_fail "$1: closed (FIN or RST), they are no longer held" "sluicectl shows $(ctl -j status | jq -c '.guarded[0]')"
	fi
	# Keep-alive connections, answered and left open: let go at the
	# answer. The count drops when the service writes it (the tracepoint
	# runs in its send), before the client reads it: asked once, at once.
	cli timeout 60 python3 -c "$KEEPALIVE" "$SRV4" $PORT <"$in" >"$out" 2>&1 &
	holder=$!
	exec {fd}>"$in"
	wait_until 30 grep -q answered "$out"
	if held_is 0; then
		t_ok "$1: keep-alive connections answered and still open are no longer held"
	else
		t_fail "$1: keep-alive connections answered and still open are no longer held" "sluicectl shows $(ctl -j status | jq -c '.guarded[0]'); client: $(cat "$out")"
	fi
	echo fin >&"$fd"
	exec {fd}>&-
	wait "$holder"
}
# Three keep-alive connections, a request answered on each, held open
# until a line on stdin.
KEEPALIVE='
import socket, sys
ss = [socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20) for _ in range(3)]
for s in ss:
    s.sendall(b"GET /work?cpu_us=1000 HTTP/1.1\r\nHost: guard\r\n\r\n")
for s in ss:
    if not s.recv(4096).startswith(b"HTTP/1.1 200"):
        sys.exit("not answered 200")
print("answered", flush=True)
sys.stdin.read()
'
# busy_left: the daemon's guard_busy slots (guard.bpf.c: measured requests
# in progress, by a hash of the peer) that are not 0, "slot=count" words;
# "none-found" when no map of the daemon holds guard_busy (its skeleton
# names the object's .bss "guard_bp.bss": libbpf keeps 8 characters of
# the object's name). A request ended twice would wrap its slot to
# 4294967295.
busy_left() {
	local id found=
	for id in $(awk '$1 == "map_id:" { print $2 }' /proc/"$DPID"/fdinfo/* 2>/dev/null | sort -u); do
		[[ $(bpftool -j map show id "$id" | jq -r .name) == *.bss ]] || continue
		bpftool -j map dump id "$id" | jq -e '.[0].formatted.value[".bss"] | any(has("guard_busy"))' \
			>/dev/null 2>&1 || continue
		found=1
		bpftool -j map dump id "$id" | jq -r '.[0].formatted.value[".bss"][] | .guard_busy? // empty
			| to_entries[] | select(.value != 0) | "\(.key)=\(.value)"' | tr '\n' ' '
	done
	[[ $found ]] || echo none-found
}
busy_clear() { [[ -z $(busy_left) ]]; }
heartbeats() { (($(int "$(metric "sluiced_admission_writes_total{service=\"$SVC\"}")") > 20)); }

# The load bounds hold against the capacity measured before the loads.
# Where that capacity does not hold, they are printed, not asserted, while
# the same loads still run: in a sanitizer build of sluiced, which shares
# the service's core at several times its CPU cost (the plain pass asserts
# them), and when other work on the machine took the CPU from the service
# during the case (its capacity measured again after the loads fell below
# half): they would measure that work, not the guard.
san_build=0
if ldd "$SLUICED" 2>/dev/null | grep 'lib[at]san' >/dev/null; then	# (not -q: SIGPIPE under pipefail)
	san_build=1
fi
UNSTEADY=	# why the capacity did not hold in this case, if it did not
# others_cpu: CPU time (clock ticks) since boot of everything on the
# machine but this case's service, its daemon and this shell's children
# (the load generator, which has ended when this is asked): user, nice,
# system, irq and softirq time. Niced work counts: this test runs niced
# itself (its own time is in the nice column), and with autogroups a
# nice-19 build in another session weighs as much as the test.
# proc_ticks PID [children]: a process's user and system ticks, or those
# of its children it has waited for (0: gone).
proc_ticks() {
	sed 's/.*) //' /proc/"$1"/stat 2>/dev/null |
		awk -v c="${2:-}" '{ t = c ? $14 + $15 : $12 + $13 } END { print t + 0 }'
}
others_cpu() {
	local machine
	machine=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat)
	echo $((machine - $(proc_ticks "$SPID") - $(proc_ticks "$DPID") - $(proc_ticks $$ children)))
}
CLK_TCK=$(getconf CLK_TCK)
# steady_bound NAME WHAT ACTUAL OP BOUND: t_expect_cmp, or a note where
# other work took the capacity; load_bound: the same, or a note in a
# sanitizer build.
steady_bound() {
	if [[ -n $UNSTEADY ]]; then
		echo "# $1: $2 $3 ($4 $5 not asserted: $UNSTEADY)"
	else
		t_expect_cmp "$@"
	fi
}
load_bound() {
	if ((san_build)); then
		echo "# $1: $2 $3 ($4 $5 not asserted in a sanitizer build)"
	else
		steady_bound "$@"
	fi
}

guard_case() {
	local kind=$1 log=$1.log cap cap_after r0 a0 o0 t0 sched ok osched took shed oshed adm others conc ticks

	service_start "$kind" || { t_fail "$kind: service" "it did not listen"; return; }
	load "$kind-warm" --closed 4 --duration 2	# the JIT, the caches
	load "$kind-cap" --closed 4 --duration 3
	# The better of the two: other work on a shared machine can starve a
	# service for a whole run, and a capacity measured low makes the
	# overload checks meaningless.
	cap=$(jq -s '[.[].goodput] | max | floor' "$LOGDIR/$kind-warm.json" "$LOGDIR/$kind-cap.json")
	service_stop
	t_expect_cmp "$kind: capacity measured unguarded" "requests/s" "$cap" -gt 50

	start_daemon "$log"
	if wait_for "no listener" grep -q "$SVC: no service listens" "$LOGDIR/$log"; then
		t_ok "$kind: a port with no listener is said, not an error"
	else
		t_fail "$kind: a port with no listener" "no message in the log"
	fi
	service_start "$kind"
	if wait_for listener listening && wait_for heartbeat heartbeats; then
		t_ok "$kind: guarding starts when the service listens"
	else
		t_fail "$kind: guarding starts" "no listener or heartbeat seen in the metrics"
	fi
	t_expect "$kind: the listener's absence said once" "messages" \
		"$(grep -c 'no service listens' "$LOGDIR/$log")" 1
	t_expect "$kind: sluicectl shows the guarded service" "guarded" \
		"$(ctl -j status | jq -r '.guarded[0].service')" "$SVC"
	# No connection arrives: the guard ticks at the heartbeat's interval
	# (100 ms), at most ~20 times in 2 s, where a calm tick with
	# arrivals is 40 ms and a tick 10 ms (a slow machine ticks fewer).
	ticks=$(int "$(metric "sluiced_controller_ticks_total{service=\"$SVC\"}")")
	sleep 2
	ticks=$(($(int "$(metric "sluiced_controller_ticks_total{service=\"$SVC\"}")") - ticks))
	t_expect_cmp "$kind: an idle guard ticks at the heartbeat's interval (ticks in 2 s)" "ticks" \
		"$ticks" -le 25
	held_case "$kind"
	# The restarted service warms up again (the JDK's JIT): a closed loop
	# never queues more than 4, guarded as it will be.
	load "$kind-rewarm" --closed 4 --duration 2

	r0=$(refused) o0=$(others_cpu) t0=${EPOCHREALTIME/./}
	load "$kind-half" --rate $((cap / 2)) --duration 3
	# % of one CPU that other work used over the run
	others=$((($(others_cpu) - o0) * 100000000 / CLK_TCK / (${EPOCHREALTIME/./} - t0)))
	sched=$(j "$kind-half" .scheduled) ok=$(j "$kind-half" .outcomes.ok)
	shed=$(($(refused) - r0))
	# The capacity of a service on a shared machine moves by 2x from one
	# run to the next: what is checked is relative to the same run.
	r0=$(refused) a0=$(stat_of $SVC admitted)
	load "$kind-over" --rate $((cap * 10)) --duration 3
	oshed=$(($(refused) - r0)) adm=$(($(stat_of $SVC admitted) - a0))
	osched=$(j "$kind-over" .scheduled) took=$(j "$kind-over" .outcomes.ok)
	conc=$(ctl -j status | jq -r '.guarded[0].conc_limit')
	t_expect_cmp "$kind at 10x: a concurrency limit is in force" "conc_limit" "$conc" -gt 0
	# Once the service has worked off what the overload left and holds no
	# connection, no measured request is in progress: every count of them
	# is back to 0 (the service may still be closing the last sockets).
	if ! wait_until 60 drained; then
		echo "# $kind: the service still held connections after 60 s: requests in progress not checked"
	elif wait_for "requests in progress" busy_clear; then
		t_ok "$kind: drained, no measured request left in progress"
	else
		t_fail "$kind: drained, no measured request left in progress" \
			"guard_busy slots not 0: $(busy_left)"
	fi
	if wait_until 30 held_is 0; then
		t_ok "$kind: after the overload, every connection answered or closed is let go"
	else
		t_fail "$kind: after the overload, every connection answered or closed is let go" "sluicectl shows $(ctl -j status | jq -c '.guarded[0]')"
	fi
	stop_daemon
	# The capacity again, unguarded (the entry is gone), the service warm.
	load "$kind-after" --closed 4 --duration 2
	cap_after=$(j "$kind-after" '.goodput | floor')
	UNSTEADY=
	((cap_after * 2 >= cap)) ||
		UNSTEADY="the service's capacity fell from $cap/s to $cap_after/s during the case"
	# A service starved of its CPU at 0.5x does not keep up, and its
	# queue is the guard's to shed (its base no longer learns that queue
	# as the service's own time): when other work used more than 40% of
	# a CPU during that run (stress-ng --cpu 1 uses all of one, and moves
	# between the cores; a quiet machine, a few %), the 0.5x bounds
	# measure the machine, not the guard. Not the machine's PSI, which
	# missed stress-ng on the service's core in a loaded round, nor the
	# service's threads' own wait for a CPU, ~50% for Go even when quiet
	# (its threads hand the one P to each other).
	local steady=$UNSTEADY
	((others <= 40)) || UNSTEADY="other work used $others% of a CPU during the 0.5x run"
	# The bar asks 99% answered; on a shared machine the service stalls
	# for tens of ms at times, which is queueing the guard does see.
	load_bound "$kind at 0.5x: next to nothing shed (at most 5%)" "refused SYNs" \
		$((shed * 20)) -le "$sched"
	load_bound "$kind at 0.5x: at least 90% answered 200" "ok per mille" \
		$((ok * 1000 / sched)) -ge 900
	UNSTEADY=$steady
	# (A capacity measured low makes the offer less than 10x: the bounds
	# on what is shed and admitted leave room for a 2.5x error.)
	steady_bound "$kind at 10x: the kernel signal engages and the data plane sheds" \
		"refused SYNs" $((oshed * 4)) -gt "$osched"
	load_bound "$kind at 10x: admitted near capacity (at most 40% of the offer)" \
		"admitted connections" $((adm * 5)) -le $((osched * 2))
	load_bound "$kind at 10x: what is admitted is answered (at least 80%)" \
		"ok per mille of admitted" $((took * 1000 / (adm > 0 ? adm : 1))) -ge 800
	# Goodput against the capacity the service kept: the lower of the two
	# measures. A neighbour that took the service's core for part of the
	# case (stress-ng is not pinned: it moves between the cores) leaves
	# less to serve; a guard that sheds what the service could take still
	# fails against either.
	local kept=$((cap_after < cap ? cap_after : cap))
	load_bound "$kind at 10x: goodput at least a third of the capacity" "ok per s" \
		"$(j "$kind-over" '.goodput | floor')" -ge $((kept / 3))
	printf '# %s: capacity %d/s (%d/s after); 0.5x: %d of %d ok, p99 %s ms, others %d%% of a CPU; 10x: goodput %s/s, p99 %s ms, admitted %d/s, concurrency limit %s\n' \
		"$kind" "$cap" "$cap_after" "$ok" "$sched" "$(j "$kind-half" .ok_latency.p99_ms)" "$others" \
		"$(j "$kind-over" '.goodput | floor')" "$(j "$kind-over" .ok_latency.p99_ms)" $((adm / 3)) "$conc"
	service_stop
}

for kind in ${GUARD_KINDS:-go node jdk}; do
	if [[ $kind == jdk ]] && ! { command -v java >/dev/null && [[ -f $JDKDIR/WorkServer.class ]]; }; then
		t_skip "jdk" "needs java and $JDKDIR/WorkServer.class (openjdk-17-jdk-headless; make)"
		continue
	fi
	guard_case "$kind"
done

reports=$(grep -l 'Sanitizer' "$LOGDIR"/*.log 2>/dev/null | xargs -r -n1 basename | tr '\n' ' ')
t_expect "no sanitizer report in the daemon's logs" "logs with a report" "${reports:-none}" none
finish
