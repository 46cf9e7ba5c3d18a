#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench-overload: sluice against the alternatives, side by side, in one
# run. A Go net/http service with a CPU-bound handler (the situation that
# motivated sluice) runs on a server test host; a client test host offers it
# open-loop bursts of new connections with sluice-load. For each protection:
#
#   none     the service alone
#   nft      a static nftables limit on new SYNs to the port, excess reset
#   app      an in-application limiter: token bucket + 503 as middleware
#   sluice   sluice with static limits set by sluicectl, excess reset in XDP
#   haproxy  HAProxy in front of the Go service, as its documentation
#            advises for overload: `maxconn` on the server (the requests it
#            may have in flight) and `timeout queue` (how long the rest may
#            wait for a place before a 503)
#   nginx    nginx in front of the Go service with limit_req (a rate at the
#            static limit, a burst, no delay) and limit_conn, excess 503
#   sluiced  sluice adaptive in front of the Go service: sluiced as its
#            reverse proxy sets the kernel's limits from measured load; run
#            only when $BUILD/sluiced exists, skipped with a note otherwise
#   sluiced-work  sluice adaptive as the service: sluiced serving /work
#            itself on one worker (its built-in handler, C) in place of the
#            Go service, on the Go service's core
#   sluiced-guard  sluice adaptive for the unmodified Go service: sluiced
#            --guard on the service's port, on the service's core, sets the
#            kernel's limits from the waits it sees in the service's sockets;
#            as the README runs it (defaults: reject, target 5 ms, auto
#            attach) and as make bench-guard does: guarding before the load
#            starts, after 2 s of 0.5x
#
# Every protection that runs in user space (the proxies, sluiced) shares
# the Go service's core, as it would share the machine's cores in a real
# deployment; the load generator has the other core to itself.
#
# Steps: a check that sluice-load keeps its schedule at 20k requests/s on one
# core; capacity by a closed-loop run (an open-loop calibration with
# reconnects floods the accept queue) and the unloaded p99; then offered load
# at FACTORS x capacity for each protection, a fresh service for every run;
# the server CPU per rejected connection for each method; a step test
# (0.5x -> 10x -> 0.5x) in 100 ms bins, and how long after the step up the
# sluiced proxy's admitted p99 is back within the bound. Prints a table,
# checks the bar, draws PNGs with gnuplot and keeps every raw result under
# $OUT: with each run's server CPU, each thread's CPU time, wait for a CPU
# and time slices in raw/NAME.procs (the proxy's share of the service's core
# against the service's), and when pinned the time the service's core was
# idle over the run (its last line, idle/cpu1: the service without work).
#
# Knobs (environment; defaults of the full run, `make demo` shortens them):
#   BENCH_FACTORS    offered load as multiples of capacity ("0.5 1 2 5 10")
#   BENCH_SECONDS    length of each run (5)
#   BENCH_REPEAT     rounds of the sweep; of each point's runs the one with
#                    the median goodput is kept, with the medians of the
#                    runs' latency quantiles (3)
#   BENCH_CAL_SECONDS  length of each of the three calibration runs and of
#                    the three unloaded runs (2)
#   BENCH_REJECT_SECONDS  length of each CPU-per-refusal run (5)
#   BENCH_STEP       step test as FACTOR:SECONDS,... ("0.5:3,10:4,0.5:3"; "" skips)
#   BENCH_CONFIGS    protections to run ("none nft app sluice haproxy nginx sluiced
#                    sluiced-work sluiced-guard")
#   BENCH_HAPROXY_MAXCONN  HAProxy's maxconn on the server (2: the service's
#                    one core plus one, as sluiced's limit settles)
#   BENCH_HAPROXY_QUEUE_MS HAProxy's timeout queue (the target delay)
#   BENCH_STEP_CONFIGS  those of them that take the step test (all)
#   BENCH_CPU_US     CPU per request of the handler, in us (1000)
#   BENCH_TIMEOUT_MS client timeout per request, from its scheduled time (1000)
#   BENCH_LIMIT      static limits (nft, app, sluice) as a fraction of capacity (0.8:
#                    a static limit needs headroom for the days the service is
#                    slower than when it was measured; the adaptive one does not)
#   BENCH_MODE       attach mode: auto, native, generic or tc (auto: generic on
#                    the veth, where native XDP would lose reject's RST)
#   BENCH_TARGET_MS  sluiced's target queue delay (5)
#   BENCH_GENCHECK   1: run the 20k/s schedule check of sluice-load (1)
#   BENCH_PIN        1: service on CPU 1, load generator on CPU 0, both at nice
#                    -10 (1; 0 lets the scheduler place them at nice 0)
#   BENCH_SCRAPE_MS  N: during each sluiced run, its metrics every N ms (from
#                    the load generator's core) in raw/NAME.metrics, to see
#                    where an admitted request's time goes (diagnosis only:
#                    the scraper counts in the server host's CPU; off: 0)
#   BENCH_TRACE      1: each offered-load run also writes sluice-load's record
#                    of every request in raw/NAME.trace (--trace), to follow
#                    the slowest against the server's own (diagnosis: 0)
#   BENCH_OUT        where results go ($BUILD/bench/overload)
#   BENCH_REPLOT     1: only redraw the plots of the run already in BENCH_OUT
set -euo pipefail
source "$(dirname "$0")/netns.sh"

FACTORS=${BENCH_FACTORS:-0.5 1 2 5 10}
SECS=${BENCH_SECONDS:-5}
REPEAT=${BENCH_REPEAT:-3}
CAL_SECS=${BENCH_CAL_SECONDS:-2}
STEP=${BENCH_STEP-0.5:3,10:4,0.5:3}
REJ_SECS=${BENCH_REJECT_SECONDS:-5}
CONFIGS=${BENCH_CONFIGS:-none nft app sluice haproxy nginx sluiced sluiced-work sluiced-guard}
STEP_CONFIGS=${BENCH_STEP_CONFIGS:-$CONFIGS}
CPU_US=${BENCH_CPU_US:-1000}
TIMEOUT_MS=${BENCH_TIMEOUT_MS:-1000}
LIMIT=${BENCH_LIMIT:-0.8}
MODE=${BENCH_MODE:-auto}
TARGET_MS=${BENCH_TARGET_MS:-5}
HAPROXY_QUEUE_MS=${BENCH_HAPROXY_QUEUE_MS:-$TARGET_MS}
GENCHECK=${BENCH_GENCHECK:-1}
HAPROXY_MAXCONN=${BENCH_HAPROXY_MAXCONN:-2}
PIN=${BENCH_PIN:-1}
SCRAPE_MS=${BENCH_SCRAPE_MS:-0}
TRACE=${BENCH_TRACE:-0}
OUT=${BENCH_OUT:-$BUILD/bench/overload}
LOAD=$BUILD/sluice-load
GOSERVICE=$BUILD/goservice
SLUICED=${SLUICED:-$BUILD/sluiced}
PORT=8080
UPSTREAM=127.0.0.1:8081		# the Go service behind sluiced, inside the server host
URL="http://$SRV4:$PORT/work?cpu_us=$CPU_US"

declare -A LABEL=(
	[none]="no protection"
	[nft]="nftables SYN limit + RST"
	[app]="in-app token bucket + 503"
	[sluice]="sluice static (sluicectl)"
	[haproxy]="HAProxy maxconn + timeout queue"
	[nginx]="nginx limit_req + limit_conn"
	[sluiced]="sluiced proxy -> Go"
	[sluiced-work]="sluiced serving /work"
	[sluiced-guard]="sluiced --guard (Go, kernel signals)"
)

say() { printf '\n== %s\n' "$*"; }
die() { echo "bench-overload: $*" >&2; exit 1; }

# plots: the PNGs, from $OUT/data and the run's parameters (see meta.env).
declare -A COLOR=(
	[none]="#9400d3" [nft]="#009e73" [app]="#56b4e9"
	[sluice]="#e69f00" [sluiced]="#d55e00" [sluiced-work]="#0072b2"
	[sluiced-guard]="#cc79a7" [haproxy]="#999933" [nginx]="#666666"
)

plot_lines() {	# FILE-PREFIX COLUMN STYLE: gnuplot plot clauses, one per config
	local sep="" cfg
	for cfg in $CONFIGS; do
		[[ -s $OUT/data/$1-$cfg.tsv ]] || continue
		# noenhanced: "limit_req" is a name, not l-i-m-i-t with a subscript.
		printf '%s"%s" using %s with %s lw 2 lc rgb "%s" title "%s" noenhanced' "$sep" "$OUT/data/$1-$cfg.tsv" \
			"$2" "$3" "${COLOR[$cfg]}" "${LABEL[$cfg]}"
		sep=", "
	done
}

# The using clauses are gnuplot's, in single quotes on purpose.
# shellcheck disable=SC2016
plots() {
	gnuplot <<-EOF
		set terminal pngcairo size 1200,600 font "sans,10"
		set output "$OUT/overload.png"
		set multiplot layout 1,2 title "Go net/http service (1 core, ${CPU_US} us CPU per request, capacity $CAP req/s): new connections offered open loop, ${SECS} s per point"
		set grid
		set key below maxrows 4
		set xlabel "offered load (x capacity)"
		set logscale x 2
		set xrange [0.4:13]
		set xtics (0.5, 1, 2, 5, 10)
		set ylabel "goodput after the first second (2xx within ${TIMEOUT_MS} ms, req/s)"
		set yrange [0:*]
		plot $(plot_lines sweep '2:6' linespoints), $CAP with lines dashtype 2 lc rgb "gray" title "capacity"
		set ylabel "p99 latency of 2xx from scheduled send (ms)"
		set logscale y
		set yrange [*:*]
		plot $(plot_lines sweep '2:($9 > 0 ? $9 : 1/0)' linespoints), 2 * $UNLOADED_P99 + $TARGET_MS with lines dashtype 2 lc rgb "gray" title "2 x unloaded p99 + target delay"
		unset multiplot
	EOF
	[[ -n $STEP ]] || return 0
	gnuplot <<-EOF
		set terminal pngcairo size 1200,760 font "sans,10"
		set output "$OUT/step.png"
		set multiplot layout 2,1 title "Step test: ${STEP//,/ -> } (x capacity : seconds), 100 ms bins by scheduled send time"
		set grid
		set key outside right
		set xlabel "time (s)"
		set ylabel "goodput (2xx, req/s; clipped at 2x capacity)"
		set yrange [0:2 * $CAP]
		plot $(plot_lines step '1:2' lines), $CAP with lines dashtype 2 lc rgb "gray" title "capacity"
		set ylabel "p99 of 2xx in the bin (ms)"
		set logscale y
		set yrange [*:*]
		plot $(plot_lines step '1:($3 > 0 ? $3 : 1/0)' lines)
		unset multiplot
	EOF
}

# BENCH_REPLOT=1: only redraw the plots of the run in $OUT.
if [[ ${BENCH_REPLOT:-0} == 1 ]]; then
	source "$OUT/meta.env"
	plots
	echo "plots:   $OUT/overload.png${STEP:+ $OUT/step.png}"
	exit 0
fi

[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, BPF, nftables)"
for f in "$LOAD" "$GOSERVICE" "$SLUICECTL" "$BUILD/tests/bench/overload/irqtime"; do
	[[ -x $f ]] || die "$f is not built (run make; the Go service needs golang-go)"
done
for t in jq nft gnuplot; do
	command -v $t >/dev/null || die "$t is missing (scripts/deps.sh installs it)"
done
mountpoint -q /sys/fs/bpf || die "bpffs is not mounted on /sys/fs/bpf (scripts/deps.sh mounts it)"

# Pinning: on two cores the generator, the kernel's packet work (softirq on
# the sending CPU, so the client's) and the service would otherwise share
# both, and the service's capacity would move with the offered load. A
# higher priority keeps other users of a shared machine from moving it too
# (the service's capacity is calibrated once, and static limits follow it).
#
# A nice value ranks a thread only against the others of its autogroup
# (sched(7)): where autogroups are on, each session's processes share one
# weight, and a build at nice 19 in another session gets as much of the
# service's core as the service and its protection together. So for the
# run the benchmark's session (its autogroup) gets the -10 as well, and
# its own nice back on exit.
SVC_CPU=() GEN_CPU=() GROUP_NICE=
if [[ $PIN == 1 ]] && (($(nproc) >= 2)); then
	SVC_CPU=(nice -n -10 taskset -c 1) GEN_CPU=(nice -n -10 taskset -c 0)
fi
group_nice() {	# the session's autogroup at -10 while the pinned run lasts
	[[ ${#SVC_CPU[@]} -gt 0 && $(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null) == 1 ]] ||
		return 0
	GROUP_NICE=$(awk '{ print $NF }' /proc/self/autogroup)
	echo -10 >/proc/self/autogroup || GROUP_NICE=
}
group_nice_back() {
	[[ -z $GROUP_NICE ]] || echo "$GROUP_NICE" >/proc/self/autogroup
}

rm -rf "$OUT"
mkdir -p "$OUT/raw" "$OUT/data"
topo_up
trap 'cleanup; group_nice_back' EXIT
group_nice
# GRO on the server's veth: it is then polled by NAPI with or without an XDP
# program, so its receive work is timed the same way for every method.
srv ethtool -K "$IF_SRV" gro on >/dev/null

# --- services -------------------------------------------------------------

svc_pids() { ip netns pids "$NS_SRV" 2>/dev/null || true; }

# go_start LISTEN [ARGS]: the Go service on one core, as the references ran it.
go_start() {
	local listen=$1
	shift
	bg srv "${SVC_CPU[@]}" env GOMAXPROCS=1 "$GOSERVICE" -listen "$listen" "$@" 2>>"$OUT/raw/service.log"
}

# start CONFIG RATE: the service with the protection CONFIG, limits at RATE
# new connections (or requests) per second with a burst of a tenth of it.
start() {
	local cfg=$1 rate=$2 burst=$(($2 / 10 + 1))
	case $cfg in
	none) go_start "$SRV4:$PORT" ;;
	app) go_start "$SRV4:$PORT" -limit-rate "$rate" -limit-burst "$burst" ;;
	nft)
		go_start "$SRV4:$PORT"
		# Stateless (no conntrack, the cheaper nftables path), on SYNs
		# only, so established connections are never touched; the excess
		# gets a RST like sluice's reject, so clients fail at once instead
		# of retrying a dropped SYN a second later.
		srv nft -f - <<-EOF
			table inet sluice_bench {
				chain input {
					type filter hook input priority -10; policy accept;
					tcp dport $PORT tcp flags & (syn | ack) == syn limit rate over $rate/second burst $burst packets reject with tcp reset
				}
			}
		EOF
		;;
	sluice)
		go_start "$SRV4:$PORT"
		ctl attach "$IF_SRV" $([[ $MODE != auto ]] && echo --mode "$MODE") >/dev/null
		ctl service add tcp/$PORT --rate "$rate" --burst "$burst" --action reject >/dev/null
		;;
	haproxy)
		go_start "$UPSTREAM"
		haproxy_conf >"$OUT/haproxy.cfg"
		bg srv "${SVC_CPU[@]}" haproxy -db -f "$OUT/haproxy.cfg" 2>>"$OUT/raw/haproxy.log"
		;;
	nginx)
		go_start "$UPSTREAM"
		nginx_conf "$rate" "$burst" >"$OUT/nginx.conf"
		bg srv "${SVC_CPU[@]}" nginx -p "$OUT" -c "$OUT/nginx.conf" 2>>"$OUT/raw/nginx.log"
		;;
	sluiced)
		# The reverse proxy in front of the same Go service, on its core.
		go_start "$UPSTREAM"
		sluiced_start --workers 1 --upstream "$UPSTREAM"
		;;
	sluiced-work)
		sluiced_start --workers 1
		;;
	sluiced-guard)
		go_start "$SRV4:$PORT"
		guard_start
		;;
	esac
	wait_listen $PORT
	if [[ $cfg == sluiced || $cfg == haproxy || $cfg == nginx ]]; then
		wait_listen "${UPSTREAM##*:}"
	fi
	[[ $cfg != sluiced-guard ]] || wait_guarding $PORT 127.0.0.1:9464
}

# HAProxy as its configuration manual advises against overload: a server
# maxconn, the rest queued in HAProxy at most `timeout queue`, then 503.
haproxy_conf() {
	cat <<-EOF
		global
			nbthread 1
			maxconn 4096
		defaults
			mode http
			timeout connect 1s
			timeout client 10s
			timeout server 10s
			timeout queue ${HAPROXY_QUEUE_MS}ms
		frontend fe
			bind $SRV4:$PORT
			default_backend be
		backend be
			http-reuse always
			server go $UPSTREAM maxconn $HAPROXY_MAXCONN
	EOF
}

# nginx as its documentation advises: limit_req (rate and burst, excess
# answered at once) and limit_conn, both 503, upstream kept alive.
nginx_conf() {	# RATE BURST
	cat <<-EOF
		worker_processes 1;
		master_process off;
		daemon off;
		pid $OUT/nginx.pid;
		error_log $OUT/raw/nginx.err;
		events { worker_connections 4096; }
		http {
			access_log off;
			limit_req_zone \$server_name zone=req:1m rate=$1r/s;
			limit_conn_zone \$server_name zone=conn:1m;
			upstream go { server $UPSTREAM; keepalive 16; }
			server {
				listen $SRV4:$PORT;
				limit_req zone=req burst=$2 nodelay;
				limit_conn conn 64;
				limit_req_status 503;
				limit_conn_status 503;
				location / {
					proxy_pass http://go;
					proxy_http_version 1.1;
					proxy_set_header Connection "";
				}
			}
		}
	EOF
}

# sluiced_start ARGS: sluiced on the server host, sharing the test's pins
# (nsenter: see netns.sh), attached to the server's veth, excess reset.
sluiced_start() {
	local cpu=(nice -n -10)
	[[ $1 == --workers && $2 == 1 ]] && cpu=("${SVC_CPU[@]}")
	bg "${cpu[@]}" nsenter --net="/run/netns/$NS_SRV" "$SLUICED" --listen "$SRV4:$PORT" \
		--iface "$IF_SRV" --attach-mode "$MODE" --shed-action reject \
		--target-delay "$TARGET_MS" --metrics 127.0.0.1:9464 --stale-after 5 \
		--pin-dir "$PIN_DIR" --log-level warn "$@" 2>>"$OUT/raw/sluiced.log"
}

# guard_start: sluiced --guard for the Go service on its port, on the
# service's core: the protection shares the CPU it protects.
guard_start() {
	bg "${SVC_CPU[@]}" nsenter --net="/run/netns/$NS_SRV" "$SLUICED" --guard tcp/$PORT \
		--iface "$IF_SRV" --attach-mode "$MODE" --shed-action reject \
		--target-delay "$TARGET_MS" --metrics 127.0.0.1:9464 --stale-after 5 \
		--pin-dir "$PIN_DIR" --log-level warn 2>>"$OUT/raw/sluiced.log"
}

stop() {
	local pids
	pids=$(svc_pids)
	# shellcheck disable=SC2086 # one pid per word
	[[ -n $pids ]] && kill $pids 2>/dev/null
	wait 2>/dev/null || true
	srv nft delete table inet sluice_bench 2>/dev/null || true
	ctl service del tcp/$PORT >/dev/null 2>&1 || true
	ctl detach "$IF_SRV" >/dev/null 2>&1 || true
}

# --- server CPU -----------------------------------------------------------
#
# What a rejected connection costs the server: the CPU time of every process
# in the server host (the Go service, sluiced; each thread's schedstat, in ns)
# plus the kernel's receive work for the test hosts' packets, timed by a BPF
# program (irqtime) as the NAPI poll time of the two veth devices. Both veths
# are polled by NAPI (the client's has an XDP program, the server's GRO on or
# sluice's XDP), and a veth's poll does all receive work of a packet: XDP,
# the IP and TCP stacks, nftables, and the RST or SYN-ACK they answer with.
# It must be timed per device, not per CPU or per namespace: on a veth pair
# that work runs in softirq on whichever CPU sent the packet. It also holds
# the client's own receive work (the RSTs, SYN-ACKs and 503s coming back),
# counted against every method alike: an upper bound, fair between them.
# (irqtime also reports the machine's whole softirq time, kept in raw/*.irq;
# it holds other users' traffic too, so it is not used.) An idle interval of
# the same length, service up and no load, is measured just before and taken
# off; the client process's own time is not counted. Each method is measured
# in a run where its limit refuses nearly everything (rate 1/s), so the
# figure is the cost of refusing, not of serving:
#   (server CPU in the run - idle) / connections refused.

IRQTIME=$BUILD/tests/bench/overload/irqtime
WRAP=()

# "IDLE_NS" of the service's core (CPU 1 when pinned; empty otherwise): the
# time it spent idle, from cpuidle (us), where the kernel keeps it
svc_cpu_idle_ns() {
	local s sum=0 t
	[[ ${#SVC_CPU[@]} -gt 0 ]] || return 0
	for s in /sys/devices/system/cpu/cpu1/cpuidle/state*/time; do
		read -r t 2>/dev/null <"$s" || return 0
		sum=$((sum + t))
	done
	echo $((sum * 1000))
}

proc_ns() {	# ns of CPU of every thread of every process in the server host
	proc_ns_each | awk '{ sum += $2 } END { print sum + 0 }'
}

# "PROCESS/THREAD RUN_NS WAIT_NS SLICES" for each thread in the server
# host (by command name): its CPU time, its time runnable but waiting for
# a CPU, and how many times it got one (schedstat)
proc_ns_each() {
	local p t run wait slices comm tcomm
	for p in $(svc_pids); do
		read -r comm 2>/dev/null <"/proc/$p/comm" || continue
		for t in /proc/"$p"/task/*; do
			read -r run wait slices 2>/dev/null <"$t/schedstat" || continue
			read -r tcomm 2>/dev/null <"$t/comm" || continue
			echo "$comm/$tcomm $run $wait $slices"
		done
	done
}

# cpu_run NAME ARGS...: one sluice-load run, with the server's CPU around it
# in raw/NAME.cpu ("process_ns softirq_ns").
cpu_run() {
	local name=$1 p0 p1 i0 i1
	shift
	i0=$(svc_cpu_idle_ns)
	p0=$(proc_ns_each)
	WRAP=("$IRQTIME" -d "$IF_CLI" -d "$IF_SRV" -o "$OUT/raw/$name.irq" --)
	load "$name" "$@"
	WRAP=()
	p1=$(proc_ns_each)
	i1=$(svc_cpu_idle_ns)
	# Each thread's share (the proxy's against the service's), in
	# raw/NAME.procs: "PROCESS/THREAD RUN_NS WAIT_NS SLICES" over the run.
	awk 'NR == FNR { r0[$1] += $2; w0[$1] += $3; s0[$1] += $4; next }
		{ r1[$1] += $2; w1[$1] += $3; s1[$1] += $4 }
		END { for (c in r1) print c, r1[c] - r0[c], w1[c] - w0[c], s1[c] - s0[c] }' \
		<(echo "$p0") <(echo "$p1") \
		>"$OUT/raw/$name.procs"
	echo "$(awk '{ s += $2 } END { print s + 0 }' "$OUT/raw/$name.procs") $(jq -r .veth_ns "$OUT/raw/$name.irq")" \
		>"$OUT/raw/$name.cpu"
	# and the time the service's core was idle (nobody had work for it)
	if [[ -n $i0 && -n $i1 ]]; then
		echo "idle/cpu1 $((i1 - i0))" >>"$OUT/raw/$name.procs"
	fi
}

idle_cpu() {	# NAME SECONDS: the same measure, no load
	local p0 p1
	p0=$(proc_ns)
	"$IRQTIME" -d "$IF_CLI" -d "$IF_SRV" -o "$OUT/raw/$1.irq" -- sleep "$2"
	p1=$(proc_ns)
	echo "$((p1 - p0)) $(jq -r .veth_ns "$OUT/raw/$1.irq")" >"$OUT/raw/$1.cpu"
}

# load NAME ARGS...: sluice-load from the client host, results in raw/NAME.json.
load() {
	local name=$1
	shift
	"${WRAP[@]}" ip netns exec "$NS_CLI" "${GEN_CPU[@]}" "$LOAD" --timeout "$TIMEOUT_MS" --quiet \
		--json "$OUT/raw/$name.json" "$@" "$URL"
}

rate_of() { awk -v c="$CAP" -v f="$1" 'BEGIN { r = c * f; printf "%d\n", r < 1 ? 1 : r }'; }

# --- 1. the load generator keeps its schedule ------------------------------

if [[ $GENCHECK == 1 ]]; then
	say "sluice-load alone on one core (CPU 0) at 20000 new connections/s for 3 s"
	# Against a closed port: each request costs the kernel the least (a RST
	# to the SYN), so what is measured is the generator's own loop.
	cli nice -n -10 taskset -c 0 "$LOAD" --rate 20000 --duration 3 --timeout 1000 --max-inflight 25000 \
		--quiet --json "$OUT/raw/gencheck.json" "http://$SRV4:9/" || true
	jq -r '"sent \(.scheduled) in \(.elapsed_s) s (\(.scheduled / .duration_s | floor)/s scheduled); " +
		"lateness p50 \(.lateness.p50_ms) ms, p99 \(.lateness.p99_ms) ms, p999 \(.lateness.p999_ms) ms, max \(.lateness.max_ms) ms; " +
		"outcomes \(.outcomes | to_entries | map(select(.value > 0) | "\(.key) \(.value)") | join(", "))"' \
		"$OUT/raw/gencheck.json" | tee "$OUT/gencheck.txt"
fi

# --- 2. capacity and unloaded latency ---------------------------------------

say "Capacity: the Go service alone (GOMAXPROCS=1, ${CPU_US} us of CPU per request), closed loop over 4 connections"
# Three short runs each. Interference from other users of a shared machine
# only ever lowers a capacity and raises a p99, so the capacity is the best
# of the three and the unloaded p99 the lowest: one stall must not set every
# limit, nor loosen the bar.
best() { sort -g | tail -n 1; }
least() { sort -g | head -n 1; }
start none 0
for i in 1 2 3; do
	load "calibrate-$i" --closed 4 --duration "$CAL_SECS"
done
CAP=$(for i in 1 2 3; do jq -r '.goodput | floor' "$OUT/raw/calibrate-$i.json"; done | best)
((CAP > 0)) || die "the service answered nothing during calibration"
for i in 1 2 3; do
	load "unloaded-$i" --rate "$(rate_of 0.2)" --duration "$CAL_SECS"
done
stop
UNLOADED_P99=$(for i in 1 2 3; do jq -r .ok_latency.p99_ms "$OUT/raw/unloaded-$i.json"; done | least)
echo "capacity $CAP requests/s; unloaded p99 $UNLOADED_P99 ms (at 0.2x, new connection per request; best of 3 runs each)"
LIMIT_RATE=$(rate_of "$LIMIT")
# What the plots need to be redrawn later (BENCH_REPLOT=1).
printf '%s\n' "CAP=$CAP" "UNLOADED_P99=$UNLOADED_P99" "CPU_US=$CPU_US" "SECS=$SECS" \
	"TIMEOUT_MS=$TIMEOUT_MS" "TARGET_MS=$TARGET_MS" "STEP='$STEP'" "CONFIGS='$CONFIGS'" >"$OUT/meta.env"

# --- 3. offered load against each protection ---------------------------------

# Goodput after the first second of a run (one client timeout): the collapse
# of an unprotected service takes about that long to set in, and short runs
# would otherwise hide it in their first bins. A jq definition, for sluice-load's JSON.
# shellcheck disable=SC2016 # jq's variables, not the shell's
JQ_STEADY='def steady: (.duration_s * 1000) as $stop
	| ([.series[] | select(.t_ms >= 1000 and .t_ms < $stop) | .ok] | add // 0) as $sok
	| if $stop > 1000 then $sok * 1000 / ($stop - 1000) else .goodput end;'
top=$(awk '{ print $NF }' <<<"$FACTORS")	# the top load, a factor of capacity

runnable() {
	if [[ $1 == sluiced* && ! -x $SLUICED ]]; then
		echo "  ${LABEL[$1]} skipped: $SLUICED is not built (run make)"
		return 1
	fi
	if [[ $1 == haproxy || $1 == nginx ]] && ! command -v "$1" >/dev/null; then
		echo "  ${LABEL[$1]} skipped: $1 is not installed (scripts/deps.sh installs it)"
		return 1
	fi
	return 0
}

# scrape NAME: sluiced's metrics every SCRAPE_MS into raw/NAME.metrics
# (each scrape after a "# t=SECONDS" line) until killed; prints its pid.
scrape() {
	local every
	every=$(awk -v ms="$SCRAPE_MS" 'BEGIN { printf "%.3f", ms / 1000 }')
	ip netns exec "$NS_SRV" "${GEN_CPU[@]}" bash -c '
		while :; do
			echo "# t=$(date +%s.%N)"
			curl -s --max-time 1 http://127.0.0.1:9464/metrics | grep -v "^#"
			sleep "$1"
		done' scrape "$every" >"$OUT/raw/$1.metrics" 2>/dev/null &
	echo $!
}

# point CONFIG FACTOR I: run I of one point, on a fresh service, in
# raw/CONFIG-FACTOR.rI.json.
point() {
	local cfg=$1 f=$2 i=$3 spid=
	start "$cfg" "$LIMIT_RATE"
	# A guard is deployed beside a running service and has seen its
	# ordinary traffic when an overload comes, as in make bench-guard:
	# 2 s at 0.5x first, not counted. A cold daemon meeting a flood has
	# no capacity to go by (control.c, cold start: no cap until demand is
	# seen) and lets in its first ticks' worth; that start is what
	# tests/netns/bar_coldstart.sh measures, not this row.
	if [[ $cfg == sluiced-guard ]]; then
		load "$cfg-$f.r$i.warm" --rate "$(rate_of 0.5)" --duration 2 >/dev/null
	fi
	[[ $SCRAPE_MS != 0 && $cfg == sluiced* ]] && spid=$(scrape "$cfg-$f.r$i")
	local trace=()
	[[ $TRACE == 1 ]] && trace=(--trace "$OUT/raw/$cfg-$f.r$i.trace")
	cpu_run "$cfg-$f.r$i" --rate "$(rate_of "$f")" --duration "$SECS" "${trace[@]}"
	if [[ -n $spid ]]; then
		kill "$spid" 2>/dev/null
		wait "$spid" 2>/dev/null || true
	fi
	if [[ $cfg == sluice* ]]; then
		ctl -j stats tcp/$PORT >"$OUT/raw/$cfg-$f.r$i.stats.json" 2>/dev/null || true
	fi
	stop
	jq -r --arg f "$f" --arg c "${LABEL[$cfg]}" '"  \($c), \($f)x: offered \(.rate | floor)/s, goodput \(.goodput | floor)/s, p99 \(.ok_latency.p99_ms) ms"' \
		"$OUT/raw/$cfg-$f.r$i.json"
}

# keep_median CONFIG FACTOR: of the runs of a point, the one with the median
# goodput becomes raw/CONFIG-FACTOR.json (the others stay as .rN files),
# with the latency quantiles of 2xx replaced by the medians over the runs
# (each quantile on its own; .ok_latency.runs_p99_ms lists the runs'), so
# that both the goodput and the p99 of a point are medians of its runs and
# one disturbed run sets neither. .ok_latency.steady_p99_ms: the median of
# the runs' p99 after their first second, as the steady goodput is counted:
# the whole run's p99 also holds how a fresh daemon met the load's onset.
keep_median() {
	local cfg=$1 f=$2 i r ext runs=()
	i=$(for ((i = 1; i <= REPEAT; i++)); do
		echo "$(jq -r .goodput "$OUT/raw/$cfg-$f.r$i.json") $i"
	done | sort -g | awk '{ v[NR] = $2 } END { print v[int((NR + 1) / 2)] }')
	for ext in cpu procs irq stats.json; do
		if [[ -f $OUT/raw/$cfg-$f.r$i.$ext ]]; then
			cp "$OUT/raw/$cfg-$f.r$i.$ext" "$OUT/raw/$cfg-$f.$ext"
		fi
	done
	for ((r = 1; r <= REPEAT; r++)); do
		runs+=("$OUT/raw/$cfg-$f.r$r.json")
	done
	jq -s --argjson k "$((i - 1))" '
		def median: sort | .[(length - 1) / 2 | floor];
		. as $runs | $runs[$k]
		| .ok_latency = (.ok_latency | with_entries(.key as $q
			| if $q | test("^p[0-9]+_ms$") then .value = ([$runs[].ok_latency[$q]] | median) else . end))
		| .ok_latency.runs_p99_ms = [$runs[].ok_latency.p99_ms]
		| .ok_latency.steady_p99_ms = ([$runs[] | [.series[] | select(.t_ms == 1000)
			| .p99_rest_ms][0]] | map(select(. != null))
			| if length > 0 then median else null end)' \
		"${runs[@]}" >"$OUT/raw/$cfg-$f.json"
}

# Load-major order, and the repeats as whole rounds: a noisy minute of a
# shared machine then hits one run of one load of every protection, not
# every run of one protection.
say "Offered ${FACTORS// /, } x capacity, ${SECS} s each, $REPEAT round(s), to: $CONFIGS"
for cfg in $CONFIGS; do
	runnable "$cfg" || true
done
for ((rep = 1; rep <= REPEAT; rep++)); do
	((REPEAT == 1)) || echo "round $rep of $REPEAT"
	for f in $FACTORS; do
		for cfg in $CONFIGS; do
			runnable "$cfg" >/dev/null || continue
			point "$cfg" "$f" "$rep"
		done
	done
done
for f in $FACTORS; do
	for cfg in $CONFIGS; do
		runnable "$cfg" >/dev/null || continue
		keep_median "$cfg" "$f"
	done
done

# --- 4. server CPU per rejected connection ---------------------------------

REJ_FACTOR=5
say "Server CPU per rejected connection: each method refusing nearly all of ${REJ_FACTOR}x capacity for ${REJ_SECS} s"
for cfg in $CONFIGS; do
	[[ $cfg == none ]] && continue
	runnable "$cfg" || continue
	if [[ $cfg == sluiced* ]]; then
		# The controller, not a flag, sets sluiced's limits, so it cannot
		# be told to refuse everything; its refusals in the kernel take the
		# same XDP path as sluice static's (it only writes the rate into the
		# same maps), and its own 503s are a few per mille of them.
		echo "  ${LABEL[$cfg]}: refuses in XDP like sluice static (the controller only sets the rate)"
		continue
	fi
	if [[ $cfg == haproxy ]]; then
		# Its refusals are the requests that waited `timeout queue` for
		# a place: no setting makes it refuse nearly all.
		echo "  ${LABEL[$cfg]}: refuses only what waited its queue timeout; not measured"
		continue
	fi
	start "$cfg" 1
	idle_cpu "reject-$cfg-idle" "$REJ_SECS"
	cpu_run "reject-$cfg" --rate "$(rate_of $REJ_FACTOR)" --duration "$REJ_SECS"
	stop
	read -r pn in <"$OUT/raw/reject-$cfg.cpu"
	read -r pi ii <"$OUT/raw/reject-$cfg-idle.cpu"
	jq -r --arg cfg "$cfg" --argjson pn "$pn" --argjson in "$in" --argjson pi "$pi" --argjson ii "$ii" '
		(.outcomes.refused + .outcomes.shed) as $rej
		| (($pn - $pi) + ($in - $ii)) as $ns
		| [$cfg, $rej, ($pn - $pi) / 1e6, ($in - $ii) / 1e6, (if $rej > 0 then $ns / 1e3 / $rej else null end)]
		| @tsv' "$OUT/raw/reject-$cfg.json" >"$OUT/data/reject-$cfg.tsv"
	awk -F'\t' '{ printf "  %-8s %7d refused, process %7.1f ms + veth receive %7.1f ms -> %6.2f us each\n", $1, $2, $3, $4, $5 }' \
		"$OUT/data/reject-$cfg.tsv"
done

# --- 5. step test -----------------------------------------------------------

if [[ -n $STEP ]]; then
	steps=$(tr ',' '\n' <<<"$STEP" | while IFS=: read -r f s; do printf '%s:%s,' "$(rate_of "$f")" "$s"; done)
	steps=${steps%,}
	say "Step test: ${STEP//,/ -> } (x capacity:seconds) = $steps (requests/s:seconds)"
	for cfg in $STEP_CONFIGS; do
		runnable "$cfg" >/dev/null || continue
		start "$cfg" "$LIMIT_RATE"
		load "step-$cfg" --steps "$steps"
		stop
		# Goodput (2xx per 100 ms bin, as req/s) and p99 of the bin's 2xx.
		jq -r '.bin_ms as $b | .series[] | [(.t_ms / 1000), (.ok * 1000 / $b), .p99_ms,
			((.refused + .shed) * 1000 / $b), (.timeout * 1000 / $b)] | @tsv' \
			"$OUT/raw/step-$cfg.json" >"$OUT/data/step-$cfg.tsv"
		echo "  ${LABEL[$cfg]}: done"
	done
fi

# --- 6. table ---------------------------------------------------------------

# One row per run: config factor offered goodput %cap steady %cap p50 p99
# p999, then the outcome mix in percent of requests sent ("steady": see
# JQ_STEADY), then the p99 of how late the generator sent (a busy machine
# shows there first), then the p99 after the first second (keep_median).
for cfg in $CONFIGS; do
	for f in $FACTORS; do
		[[ -f $OUT/raw/$cfg-$f.json ]] || continue
		jq -r --arg cfg "$cfg" --arg f "$f" --argjson cap "$CAP" "$JQ_STEADY"'
			(.scheduled | if . == 0 then 1 else . end) as $n
			| def pct(x): x * 100 / $n;
			steady as $steady
			| [$cfg, $f, (.rate | floor), (.goodput | floor), (.goodput * 100 / $cap),
			 ($steady | floor), ($steady * 100 / $cap),
			 .ok_latency.p50_ms, .ok_latency.p99_ms, .ok_latency.p999_ms,
			 pct(.outcomes.ok), pct(.outcomes.shed), pct(.outcomes.refused),
			 pct(.outcomes.reset), pct(.outcomes.timeout),
			 pct(.outcomes.error + .outcomes.other + .outcomes.overflow + .outcomes.late),
			 .lateness.p99_ms, (.ok_latency.steady_p99_ms // "-")] | @tsv' "$OUT/raw/$cfg-$f.json"
	done >"$OUT/data/sweep-$cfg.tsv"
done

cpu_each() {	# CONFIG: us of server CPU per rejected connection, or -
	local cfg=$1
	if [[ -s $OUT/data/reject-$cfg.tsv ]]; then
		awk -F'\t' '{ printf "%.1f", $5 }' "$OUT/data/reject-$cfg.tsv"
	else
		echo -
	fi
}

{
	printf 'Capacity %d req/s (Go net/http, GOMAXPROCS=1, %d us CPU per request); unloaded p99 %s ms.\n' \
		"$CAP" "$CPU_US" "$UNLOADED_P99"
	printf 'New connection per request, timeout %d ms; static limits at %s x capacity; latency of 2xx from scheduled send time.\n' \
		"$TIMEOUT_MS" "$LIMIT"
	printf '%s s per run; each point is the run with the median goodput of %d, its latency quantiles the medians of the %d.\n' \
		"$SECS" "$REPEAT" "$REPEAT"
	printf 'goodput: 2xx per second of the run; steady: the same after its first second. Outcomes in %% of requests sent:\n'
	printf '503 = shed by the service, rst-syn = refused at connect, reset = reset after connect.\n'
	printf 'late: p99 of how late the load generator sent, in ms (over ~5 ms: the machine was busy). us/reject: server CPU per refusal.\n'
	printf 'p99 1s+: the p99 of 2xx after the first second, as steady goodput (the p99 before it holds the onset).\n\n'
	printf '%-27s %5s %7s %7s %5s %7s %5s %7s %7s %7s %5s %5s %7s %5s %7s %5s %5s %9s %7s\n' \
		protection load offered goodput "%cap" steady "%cap" "p50 ms" "p99 ms" "p999 ms" ok 503 rst-syn reset timeout other late "us/reject" "p99 1s+"
	for cfg in $CONFIGS; do
		[[ -s $OUT/data/sweep-$cfg.tsv ]] || { printf '%-27s (skipped)\n' "${LABEL[$cfg]}"; continue; }
		awk -F'\t' -v label="${LABEL[$cfg]}" -v cpu="$(cpu_each "$cfg")" '{
			printf "%-27s %4sx %7d %7d %5.0f %7d %5.0f %7.1f %7.1f %7.1f %5.1f %5.1f %7.1f %5.1f %7.1f %5.1f %5.1f %9s %7s\n",
				NR == 1 ? label : "", $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, NR == 1 ? cpu : "",
				$18 == "-" ? "-" : sprintf("%.1f", $18)
		}' "$OUT/data/sweep-$cfg.tsv"
	done
} | tee "$OUT/table.txt"

# --- 7. the bar -------------------------------------------------------------

say "The bar"
check() {	# DESCRIPTION CONDITION (awk expression, or "skip")
	local verdict
	if [[ $2 == skip ]]; then
		verdict=SKIP
	elif awk "BEGIN { exit !($2) }"; then
		verdict=PASS
	else
		verdict=FAIL
	fi
	printf '  %-4s %s\n' "$verdict" "$1" | tee -a "$OUT/bar.txt"
}
: >"$OUT/bar.txt"
row() {	# CONFIG COLUMN: a field of the sweep table at the top load, or ""
	[[ -f $OUT/data/sweep-$1.tsv ]] && awk -F'\t' -v f="$top" -v c="$2" '$2 == f { print $c }' "$OUT/data/sweep-$1.tsv"
	return 0
}
g_none=$(row none 6)
c_app=$(cpu_each app)
c_sl=$(cpu_each sluice)
if [[ -n $g_none ]]; then
	check "without protection at ${top}x steady goodput collapses: $(printf %.0f "$g_none")/s < 5% of $CAP" \
		"$g_none < 0.05 * $CAP"
else
	check "without protection: not run" skip
fi
# Adaptive sluice serving the work itself, against the Go service's
# capacity and unloaded p99 (the bar's first line).
g_ad=$(row sluiced-work 6) p_ad=$(row sluiced-work 9)
if [[ -n $g_ad ]]; then
	check "${LABEL[sluiced-work]} at ${top}x: steady goodput $(printf %.0f "$g_ad")/s >= 90% of $CAP" \
		"$g_ad >= 0.9 * $CAP"
	check "${LABEL[sluiced-work]} at ${top}x: p99 $p_ad ms <= 2 x $UNLOADED_P99 + $TARGET_MS ms" \
		"$p_ad <= 2 * $UNLOADED_P99 + $TARGET_MS"
else
	check "sluiced serving /work: not run" skip
fi
# The Go service behind sluiced's proxy: its goodput (the bar's second
# line), and its p99 against the same bound as sluiced serving the work.
g_px=$(row sluiced 6) p_px=$(row sluiced 9)
if [[ -n $g_px ]]; then
	check "${LABEL[sluiced]} at ${top}x: steady goodput $(printf %.0f "$g_px")/s >= 90% of $CAP" \
		"$g_px >= 0.9 * $CAP"
	check "${LABEL[sluiced]} at ${top}x: p99 $p_px ms <= 2 x $UNLOADED_P99 + $TARGET_MS ms" \
		"$p_px <= 2 * $UNLOADED_P99 + $TARGET_MS"
else
	check "sluiced proxy: not run" skip
fi
# Ahead of the proxies an operator would pick instead, on goodput and on
# p99, at every overload point of the sweep.
for f in 2 5 10; do
	g_s=$(awk -F'\t' -v f="$f" '$2 == f { print $6 }' "$OUT/data/sweep-sluiced.tsv" 2>/dev/null || true)
	p_s=$(awk -F'\t' -v f="$f" '$2 == f { print $9 }' "$OUT/data/sweep-sluiced.tsv" 2>/dev/null || true)
	for peer in haproxy nginx; do
		g_p=$(awk -F'\t' -v f="$f" '$2 == f { print $6 }' "$OUT/data/sweep-$peer.tsv" 2>/dev/null || true)
		p_p=$(awk -F'\t' -v f="$f" '$2 == f { print $9 }' "$OUT/data/sweep-$peer.tsv" 2>/dev/null || true)
		if [[ -n $g_s && -n $g_p ]]; then
			check "at ${f}x sluiced proxy ahead of ${LABEL[$peer]}: goodput $(printf %.0f "$g_s") >= $(printf %.0f "$g_p")/s, p99 $p_s <= $p_p ms" \
				"$g_s >= $g_p && $p_s <= $p_p"
		else
			check "at ${f}x sluiced proxy against ${LABEL[$peer]}: not run" skip
		fi
	done
done
# The step: back within the bound at the first 100 ms mark after the
# step up from which the p99 of the admitted requests to the end of the
# top step is within it (sluice-load's p99_rest_ms ends with its step; a
# bin's own p99 is the largest of its ~100 answers, so one slow answer
# seconds later would read as no recovery). Each bin's own p99 is shown.
# jq: the first and the end bin of the top step (the step up's).
JQ_STEP_UP='def step_up: .bin_ms as $w | ([.steps[].rate] | index(max)) as $k
	| [([.steps[:$k][].seconds] | add // 0), ([.steps[:$k + 1][].seconds] | add)]
	| map(. * 1000 / $w | round);'
step_recovery() {	# CONFIG BOUND: ms from the step up to back within the bound, or 1e9
	jq -r --argjson b "$2" "$JQ_STEP_UP"'.bin_ms as $w | step_up as [$s, $e]
		| [.series[$s:$e][] | .p99_rest_ms] | to_entries
		| [.[] | select(.value <= $b) | .key] | if length == 0 then "1e9" else min * $w end' \
		"$OUT/raw/step-$1.json"
}
bound=$(awk -v p="$UNLOADED_P99" -v t="$TARGET_MS" 'BEGIN { printf "%.2f", 2 * p + t }')
for cfg in $STEP_CONFIGS; do
	[[ -f $OUT/raw/step-$cfg.json ]] || continue
	rec=$(step_recovery "$cfg" "$bound")
	echo "  ${LABEL[$cfg]} step, p99 (ms) per 100 ms bin from the step up: $(jq -r "$JQ_STEP_UP"'step_up as [$s, $e]
		| [.series[$s:$s + 10][] | .p99_ms] | map(tostring) | join(" ")' "$OUT/raw/step-$cfg.json")" |
		tee -a "$OUT/bar.txt"
	[[ $cfg == sluiced ]] || continue
	check "${LABEL[$cfg]} step $STEP: back within $bound ms after $([[ $rec == 1e9 ]] && echo never || echo "$rec ms") <= 200 ms" \
		"$rec <= 200"
done
# Guard mode on the unmodified Go service, sharing its core: the same
# bound at the top load, and at 0.5x at least 99% answered.
g_gd=$(row sluiced-guard 6) p_gd=$(row sluiced-guard 9)
if [[ -n $g_gd ]]; then
	check "${LABEL[sluiced-guard]} at ${top}x: steady goodput $(printf %.0f "$g_gd")/s >= 90% of $CAP" \
		"$g_gd >= 0.9 * $CAP"
	check "${LABEL[sluiced-guard]} at ${top}x: p99 $p_gd ms <= 2 x $UNLOADED_P99 + $TARGET_MS ms" \
		"$p_gd <= 2 * $UNLOADED_P99 + $TARGET_MS"
	if [[ -f $OUT/raw/sluiced-guard-0.5.json ]]; then
		ok_half=$(jq -r '.outcomes.ok / .scheduled' "$OUT/raw/sluiced-guard-0.5.json")
		check "${LABEL[sluiced-guard]} at 0.5x: $(awk -v r="$ok_half" 'BEGIN { printf "%.2f", 100 * r }')% answered 200 >= 99%" \
			"$ok_half >= 0.99"
	fi
else
	check "sluiced --guard: not run" skip
fi
if [[ $c_app != - && $c_sl != - ]]; then
	check "sluice's server CPU per rejected connection $c_sl us <= 1/10 of the in-app limiter's $c_app us" \
		"$c_sl <= $c_app / 10"
else
	check "CPU per rejected connection: sluice or in-app limiter not run" skip
fi

# --- 8. plots ---------------------------------------------------------------

plots
say "Results"
echo "table:   $OUT/table.txt"
echo "plots:   $OUT/overload.png${STEP:+ $OUT/step.png}"
echo "raw:     $OUT/raw/ (sluice-load JSON, server CPU, per thread in *.procs), $OUT/data/ (plotted TSV)"
