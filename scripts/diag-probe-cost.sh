#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Where the guard's probe cost goes: bench-guard's keep-alive setup (wrk,
# 64 connections, on CPU 0 of the client host; the Go service on CPU 1;
# the data plane attached) in arms that each add one part of guard mode,
# interleaved (the order rotates each round), with the machine's own
# counters around every round:
#
#   u      unguarded
#   svc    a service entry for the port in the data plane (sluicectl)
#   empty  an empty program on each of the guard's four tracepoints
#   gx     sluiced --guard of another port (no listener): its process and
#          every event an early return
#   gy     sluiced --guard of an idle second Go service's port (on CPU
#          0): its controller at work, every event of the load an early
#          return
#   g      sluiced --guard of the service's port
#   gs     the same, sluiced stopped (SIGSTOP) once it guards: the
#          programs and the service entry without the process's ticks
#   gt     the same with --tick 100 (ms)
#   g0     the same with sluiced on CPU 0, the load generator's
#   ga     the same from $SLUICED_A (another build; only when set)
#   a:TAG  the same, with SLD_DIAG=TAG in its environment: a diagnosis
#          build of sluiced (none is in the product) may read it to skip
#          or change one part of its work, one build for every suspect
#   tick   a process on CPU 1 (at sluiced's priority) waking every 10 ms,
#          sluiced's tick, and doing nothing else
#   tickw  the same, spinning 70 us at each wake-up (sluiced's CPU a tick)
#
# MODE (several may be listed):
#   counters  per round and arm: req/s, wrk's write errors (connections
#             refused); per CPU busy and idle time per request, idle
#             entries (cpuidle), softirq time, steal; the service's CPU,
#             run-queue wait and context switches per request; sluiced's
#             CPU; per request the NET_RX, TIMER, SCHED and RCU softirqs
#             and the LOC, RES, CAL and TLB interrupts of each CPU
#   perf      perf record -C PERF_CPU (1) -g in arms u, g (and ga): the
#             reports by symbol and by command, and perf diff
#   events    the socket tracepoints, syscalls, switches and softirqs per
#             request on each CPU (perf stat), arms u, g (and ga)
#   syscalls  sluiced's system calls during a run of arm g (strace -c)
#   ipis      who sends the machine's IPIs (ipi:ipi_send_cpu and
#             ipi_send_cpumask, by sending CPU, target, call site and
#             callback) per 1000 requests, and CPU 0's idle entries,
#             arms u, g (and ga)
#
# DIAG_ARMS (all above but a:TAG and ga), DIAG_ROUNDS (3), DIAG_SECONDS (3),
# DIAG_OUT ($BUILD/diag), SLUICED (the build of arms g*: $BUILD/sluiced).
# Root; one run a lock hold:
#   nice -n 19 flock /work/heavy.lock scripts/diag-probe-cost.sh
set -euo pipefail
source "$(dirname "$0")/netns.sh"

MODE=${MODE:-counters}
ARMS=${DIAG_ARMS:-u svc empty gx gy g gs gt g0 tick tickw${SLUICED_A:+ ga}}
ROUNDS=${DIAG_ROUNDS:-3}
WSECS=${DIAG_SECONDS:-3}
OUT=${DIAG_OUT:-$BUILD/diag}
PERF_CPU=${PERF_CPU:-1}
PORT=8080 OTHER=8090
WURL="http://$SRV4:$PORT/work?cpu_us=0"
SLUICED=${SLUICED:-$BUILD/sluiced} PIN_EMPTY=$BUILD/tests/bench/conns/pin_empty_tp
# Under `nice -n 19` the parts run at 0 (bench-guard's -10 leaves them
# at 9, where other work at 19 still takes a tenth of a core).
SVC_CPU=(nice -n -19 taskset -c 1) GEN_CPU=(nice -n -19 taskset -c 0)

rm -rf "$OUT"
mkdir -p "$OUT"
topo_up
bg srv "${SVC_CPU[@]}" env GOMAXPROCS=1 "$BUILD/goservice" -listen "$SRV4:$PORT"
wait_listen $PORT
GOPID=$(srv ss -Hltnp "sport = :$PORT" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
ctl attach "$IF_SRV" >/dev/null

GPID=
GENV=
guard() {	# PORT [CPU [SLUICED [OPTION...]]]; GENV: an environment word for it
	local i port=$1 cpu=${2:-1} bin=${3:-$SLUICED}
	shift $(($# < 3 ? $# : 3))
	bg nice -n -19 taskset -c "$cpu" nsenter --net="/run/netns/$NS_SRV" \
		env ${GENV:+"$GENV"} "$bin" --guard "tcp/$port" \
		--iface "$IF_SRV" --shed-action reject --target-delay 5 \
		--metrics 127.0.0.1:9464 --pin-dir "$PIN_DIR" --log-level warn "$@" 2>>"$OUT/sluiced.log"
	GPID=$!
	if srv ss -Hltn "sport = :$port" | grep -q LISTEN; then
		wait_guarding "$port" 127.0.0.1:9464
	else
		for ((i = 0; i < 100; i++)); do
			srv curl -s --max-time 1 http://127.0.0.1:9464/metrics | grep -q sluiced_guard && break
			sleep 0.1
		done
	fi
}
unguard() {	# PORT
	kill -TERM "$GPID" || true
	wait "$GPID" 2>/dev/null || true
	GPID=
	ctl service del "tcp/$1" >/dev/null 2>&1 || true
}
arm_up() {
	case $1 in
	u) ;;
	svc) ctl service add tcp/$PORT --rate 1000000 >/dev/null ;;
	empty) "$PIN_EMPTY" "$PIN_DIR/empty" >/dev/null ;;
	gx) guard $OTHER ;;
	g) guard $PORT ;;
	gs) guard $PORT; kill -STOP "$GPID" ;;
	g0) guard $PORT 0 ;;
	ga) guard $PORT 1 "$SLUICED_A" ;;
	a:*) GENV="SLD_DIAG=${1#a:}" guard $PORT 1 "$SLUICED_A" ;;
	gy) bg srv taskset -c 0 env GOMAXPROCS=1 "$BUILD/goservice" -listen "$SRV4:$OTHER"
	    YPID=$!
	    wait_listen $OTHER
	    guard $OTHER ;;
	gt) guard $PORT 1 "$SLUICED" --tick 100 --stale-after 10 ;;
	tickw)
	    # shellcheck disable=SC2016 # perl's variables
	    bg "${SVC_CPU[@]}" perl -MTime::HiRes=sleep,time \
		-e 'while (1) { sleep 0.01; my $t = time + 0.00007; 1 while time < $t }'
	    TICKPID=$! ;;
	tick) bg "${SVC_CPU[@]}" perl -MTime::HiRes=sleep -e 'sleep 0.01 while 1'; TICKPID=$! ;;
	esac
	sleep 0.3	# sluiced's first ticks, the attach's RCU grace periods
}
arm_down() {
	case $1 in
	u) ;;
	svc) ctl service del tcp/$PORT >/dev/null ;;
	empty) rm -rf "$PIN_DIR/empty" ;;
	gx) unguard $OTHER ;;
	g | g0 | ga | a:*) unguard $PORT ;;
	gs) kill -CONT "$GPID"; unguard $PORT ;;
	gy) unguard $OTHER; kill "$YPID"; wait "$YPID" 2>/dev/null || true ;;
	gt) unguard $PORT ;;
	tick | tickw) kill "$TICKPID"; wait "$TICKPID" 2>/dev/null || true ;;
	esac
}

# snap: one line of counters, "name value" pairs.
snap() {
	local c
	for c in 0 1; do
		awk -v c=$c '$1 == "cpu" c { print "user" c, ($2 + $3) * 10000000; print "sys" c, $4 * 10000000;
			print "irq" c, $7 * 10000000; print "sirq" c, $8 * 10000000; print "steal" c, $9 * 10000000 }' /proc/stat
		echo "idle$c $(($(cat /sys/devices/system/cpu/cpu$c/cpuidle/state1/time) * 1000))"
		echo "idlen$c $(cat /sys/devices/system/cpu/cpu$c/cpuidle/state1/usage)"
	done
	awk '$1 ~ /^(NET_RX|TIMER|SCHED|RCU|HRTIMER):$/ { n = tolower(substr($1, 1, length($1) - 1)); print n "0", $2; print n "1", $3 }' /proc/softirqs
	awk '$1 ~ /^(LOC|RES|CAL|TLB):$/ { n = tolower(substr($1, 1, 3)); print n "0", $2; print n "1", $3 }' /proc/interrupts
	if [[ -n $GPID ]] && [[ -d /proc/$GPID ]]; then
		cat /proc/"$GPID"/task/*/schedstat | awk '{ r += $1; n += $3 } END { print "slrun", r; print "slslices", n }'
		{ srv curl -s --max-time 1 http://127.0.0.1:9464/metrics || true; } |
			awk '$1 ~ /^sluiced_admission_writes_total/ { w += $2 } END { print "slwrites", w + 0 }'
	else
		printf 'slrun 0\nslslices 0\nslwrites 0\n'
	fi
	cat /proc/"$GOPID"/task/*/schedstat | awk '{ r += $1; w += $2; n += $3 } END { print "gorun", r; print "gowait", w; print "goslices", n }'
	grep -h ctxt_switches /proc/"$GOPID"/task/*/status | awk '{ s[$1] += $2 } END { print "govol", s["voluntary_ctxt_switches:"]; print "goinvol", s["nonvoluntary_ctxt_switches:"] }'
}

wrk_run() {	# NAME: sets N, RPS, ERR (wrk's write errors: connections reset)
	cli "${GEN_CPU[@]}" wrk -t1 -c64 -d"$WSECS"s "$WURL" >"$OUT/wrk-$1.txt"
	! grep -q -e Non-2xx -e 'Socket errors: connect [1-9]' "$OUT/wrk-$1.txt" || { cat "$OUT/wrk-$1.txt"; exit 1; }
	read -r N RPS ERR < <(awk '/ requests in / { n = $1 } /^Requests\/sec/ { r = $2 }
		/Socket errors/ { sub(/,/, "", $8); e = $8 } END { print n + 0, r + 0, e + 0 }' "$OUT/wrk-$1.txt")
}

cli "${GEN_CPU[@]}" wrk -t1 -c64 -d2s "$WURL" >/dev/null	# warm

median() { awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : -1 }'; }

counters() {
	local r a i arms
	read -ra arms <<<"$ARMS"
	for ((r = 1; r <= ROUNDS; r++)); do
		# rotate the order each round: a drift weighs on every arm
		for ((i = 0; i < ${#arms[@]}; i++)); do
			a=${arms[$(((i + r - 1) % ${#arms[@]}))]}
			arm_up "$a"
			snap >"$OUT/$a-$r.before"
			wrk_run "$a-$r"
			snap >"$OUT/$a-$r.after"
			arm_down "$a"
			echo "$a $r $N $RPS" >>"$OUT/rounds.txt"
			join <(sort "$OUT/$a-$r.before") <(sort "$OUT/$a-$r.after") |
				awk -v arm="$a" -v r="$r" -v n="$N" -v rps="$RPS" -v s="$WSECS" -v err="$ERR" '{ d[$1] = $3 - $2 }
				END {
					printf "%-5s r%d %6.0f req/s (%d write errors) |", arm, r, rps, err
					for (c = 0; c < 2; c++)
						printf " cpu%d busy %5.0f idle %5.0f ns/req (%4.2f idles, sirq %4.0f, steal %4.0f) |",
							c, (d["user" c] + d["sys" c] + d["irq" c] + d["sirq" c]) / n,
							d["idle" c] / n, d["idlen" c] / n, d["sirq" c] / n, d["steal" c] / n
					printf " go %5.0f ns/req, wait %4.0f, vol %.3f invol %.3f |", d["gorun"] / n,
						d["gowait"] / n, d["govol"] / n, d["goinvol"] / n
					printf " sluiced %.2f%% of a core, %d slices, %d admission writes |",
						d["slrun"] / 1e9 / s * 100, d["slslices"], d["slwrites"]
					printf " per req: netrx %.2f/%.2f res %.3f/%.3f cal %.3f/%.3f loc %.3f/%.3f tlb %.3f/%.3f sched %.3f/%.3f rcu %.3f/%.3f\n",
						d["net_rx0"] / n, d["net_rx1"] / n, d["res0"] / n, d["res1"] / n,
						d["cal0"] / n, d["cal1"] / n, d["loc0"] / n, d["loc1"] / n,
						d["tlb0"] / n, d["tlb1"] / n, d["sched0"] / n, d["sched1"] / n,
						d["rcu0"] / n, d["rcu1"] / n
				}' | tee -a "$OUT/counters.txt"
		done
	done
	echo "== medians per arm: req/s, and its rounds' ratios to u's in the same round"
	for a in $ARMS; do
		printf '  %-24s %8.0f req/s %6.1f%% of u (%d rounds)\n' "$a" \
			"$(awk -v a="$a" '$1 == a { print $4 }' "$OUT/rounds.txt" | sort -g | median)" \
			"$(awk -v a="$a" '$1 == "u" { u[$2] = $4 } $1 == a { v[$2] = $4 }
				END { for (r in v) if (u[r] > 0) print 100 * v[r] / u[r] }' "$OUT/rounds.txt" |
				sort -g | median)" \
			"$(awk -v a="$a" '$1 == a { n++ } END { print n + 0 }' "$OUT/rounds.txt")"
	done
}

perfrec() {
	local a
	for a in u g ${SLUICED_A:+ga}; do
		arm_up "$a"
		(sleep 0.5; perf record -q -C "$PERF_CPU" -g -F 4999 -o "$OUT/perf-$a.data" -- sleep 2 2>/dev/null) &
		wrk_run "perf-$a"
		wait $!
		arm_down "$a"
		echo "$a: $RPS req/s ($N in ${WSECS}s)"
		perf report -i "$OUT/perf-$a.data" --no-children --sort sym --percent-limit 0.3 --stdio 2>/dev/null |
			grep -v '^$' | grep -v '^ *|' | grep -v -- '---' >"$OUT/perf-$a.txt" || true
		perf report -i "$OUT/perf-$a.data" --no-children --sort comm,dso --stdio 2>/dev/null |
			grep '%' >"$OUT/perf-$a.comm.txt" || true
	done
	perf diff "$OUT/perf-u.data" "$OUT/perf-g.data" --sort sym 2>/dev/null | grep -v '^#' | grep -v '^$' | head -60 >"$OUT/perf-diff.txt" || true
	echo "reports: $OUT/perf-{u,g}.txt, $OUT/perf-{u,g}.comm.txt, $OUT/perf-diff.txt"
}

events() {
	local a ev="sock:sk_data_ready,sock:sock_recv_length,sock:sock_send_length,raw_syscalls:sys_enter,sched:sched_switch,sched:sched_wakeup,irq:softirq_entry,tcp:tcp_rcv_space_adjust"
	for a in u g ${SLUICED_A:+ga}; do
		arm_up "$a"
		(sleep 0.5; perf stat -a -A -x, -e "$ev" -o "$OUT/events-$a.csv" -- sleep 2) &
		wrk_run "events-$a"
		wait $!
		arm_down "$a"
		echo "$a: $RPS req/s; per request in 2 s (at this rate):"
		awk -F, -v n="$(awk -v r="$RPS" 'BEGIN { print r * 2 }')" 'NF > 3 { printf "  %s %-28s %7.3f\n", $1, $4, $2 / n }' "$OUT/events-$a.csv"
	done
}

syscalls() {
	arm_up g
	timeout -s INT "$WSECS" strace -c -f -p "$GPID" -o "$OUT/strace.txt" &
	wrk_run syscalls
	wait $! || true
	arm_down g
	echo "sluiced's system calls in ${WSECS}s (~$((WSECS * 100)) ticks), strace -c:"
	cat "$OUT/strace.txt"
}

ipis() {
	local a
	for a in u g ${SLUICED_A:+ga}; do
		arm_up "$a"
		(sleep 0.5; perf record -q -a -e ipi:ipi_send_cpu -e ipi:ipi_send_cpumask \
			-e power:cpu_idle -o "$OUT/ipis-$a.data" -- sleep 2 2>/dev/null) &
		wrk_run "ipis-$a"
		wait $!
		arm_down "$a"
		echo "$a: $RPS req/s; per 1000 requests in 2 s (at this rate):"
		perf script -i "$OUT/ipis-$a.data" -F cpu,event,trace 2>/dev/null |
			awk -v n="$(awk -v r="$RPS" 'BEGIN { print r * 2 / 1000 }')" '
			/power:cpu_idle/ { if ($0 !~ /state=4294967295/) idle[$1]++; next }
			/ipi_send/ { k = $1 " " $2; for (i = 3; i <= NF; i++) { f = $i; sub(/\+0x[0-9a-f]+(\/0x[0-9a-f]+)?/, "", f); k = k " " f }; c[k]++ }
			END { for (k in idle) printf "  %s idle entries %.2f\n", k, idle[k] / n
			      for (k in c) printf "  %s %.2f\n", k, c[k] / n }' | sort
	done
}

for m in $MODE; do
	echo "== $m"
	case $m in
	counters) counters ;;
	perf) perfrec ;;
	events) events ;;
	syscalls) syscalls ;;
	ipis) ipis ;;
	*) echo "MODE: counters, perf, events, syscalls or ipis" >&2; exit 2 ;;
	esac
done
