#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench-proxy: the cost of sluiced's request path against what an
# operator would use instead, as ratios measured in one run, on loopback.
#
#   proxy    upstream nginx `return 200`; sluiced --upstream (one worker),
#            HAProxy (nbthread 1, http-reuse always) and nginx (one worker,
#            upstream keepalive) each alone on CPU 1; ratios to HAProxy
#   server   sluiced's built-in handler (/work?cpu_us=0, a pool task) and
#            nginx `return 200`, each alone on CPU 1; ratios to nginx
#   scaling  on both cores, shared with the load generator (wrk -t2 on
#            CPUs 0-1 as well: a 2-CPU host has no core to spare for it):
#            sluiced with 2 workers against 1, as a server and as a proxy,
#            and the same for nginx `return 200` (2 worker processes
#            against 1) and HAProxy (nbthread 2 against 1) in the same
#            run. What the second core can give is what the peer's ratio
#            shows; sluiced's ratio is set against it.
#
# The load generator (wrk, BENCH_CONNS keep-alive connections, one thread)
# and the upstream run on CPU 0 (the scaling rows: above). Each row is measured BENCH_REPEAT times,
# the configurations taking turns, and the best run is kept (on a busy
# machine the best is the least disturbed). Besides requests/s and non-2xx
# answers (below saturation each is a spurious shed: for sluiced the round's
# line names its fast-path reasons, from its metrics, and the table counts
# them over every round), each row gives the CPU time the proxy used per request (from
# /proc: utime + stime), which others' load on the machine disturbs less
# than a rate does; and, with BENCH_CALLGRIND=1, the instructions per
# request counted by valgrind's callgrind, which it does not disturb at all.
#
# Knobs: BENCH_SECONDS (4), BENCH_REPEAT (3), BENCH_CONNS (64),
# BENCH_CALLGRIND (1 when valgrind is installed), BENCH_OUT
# ($BUILD/bench/proxy, where configs, logs and raw wrk output are kept).
set -euo pipefail

BUILD=${BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}
SECS=${BENCH_SECONDS:-4}
REPEAT=${BENCH_REPEAT:-3}
CONNS=${BENCH_CONNS:-64}
CALLGRIND=${BENCH_CALLGRIND:-$(command -v valgrind >/dev/null && echo 1 || echo 0)}
OUT=${BENCH_OUT:-$BUILD/bench/proxy}
SLUICED=${SLUICED:-$BUILD/sluiced}
UP_PORT=18971		# the upstream
PORT=18972		# the server or proxy under test
MPORT=18973		# sluiced's metrics
URL=http://127.0.0.1:$PORT

for tool in wrk nginx haproxy curl taskset; do
	command -v "$tool" >/dev/null || { echo "bench-proxy: needs $tool (make deps)" >&2; exit 1; }
done
[[ -x $SLUICED ]] || { echo "bench-proxy: no $SLUICED; run make" >&2; exit 1; }
if (($(nproc) < 2)); then
	echo "bench-proxy: needs 2 CPUs (load generator and proxy apart)" >&2
	exit 1
fi
rm -rf "$OUT"
mkdir -p "$OUT/run"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

# nginx as the upstream (return 200), as a server, or as a proxy.
nginx_conf() {	# NAME PORT BODY [WORKERS]
	cat >"$OUT/$1.conf" <<EOF
worker_processes ${4:-1};
master_process $([[ ${4:-1} == 1 ]] && echo off || echo on);
daemon off;
pid $OUT/run/$1.pid;
error_log $OUT/$1.err;
events { worker_connections 4096; }
http {
	access_log off;
	upstream up { server 127.0.0.1:$UP_PORT; keepalive 64; }
	server {
		listen 127.0.0.1:$2;
		keepalive_requests 1000000;
		location / { $3 }
	}
}
EOF
}
nginx_conf upstream $UP_PORT 'return 200 "ok\n";'
nginx_conf nginx-server $PORT 'return 200 "ok\n";'
nginx_conf nginx-proxy $PORT 'proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection "";'
nginx_conf nginx-server-w2 $PORT 'return 200 "ok\n";' 2
for threads in 1 2; do
cat >"$OUT/haproxy$threads.cfg" <<EOF
global
	nbthread $threads
	maxconn 4096
defaults
	mode http
	timeout connect 5s
	timeout client 30s
	timeout server 30s
	http-reuse always
frontend fe
	bind 127.0.0.1:$PORT
	default_backend be
backend be
	server up 127.0.0.1:$UP_PORT
EOF
done

# The command line of a configuration (before any CPU pinning).
command_of() {
	case $1 in
	sluiced-proxy | sluiced-proxy-s1) echo "$SLUICED -l 127.0.0.1:$PORT -w 1 -u 127.0.0.1:$UP_PORT -m 127.0.0.1:$MPORT --pin-dir $OUT/nopins --log-level warn" ;;
	sluiced-proxy-w2) echo "$SLUICED -l 127.0.0.1:$PORT -w 2 -u 127.0.0.1:$UP_PORT -m 127.0.0.1:$MPORT --pin-dir $OUT/nopins --log-level warn" ;;
	sluiced-server | sluiced-server-s1) echo "$SLUICED -l 127.0.0.1:$PORT -w 1 -m 127.0.0.1:$MPORT --pin-dir $OUT/nopins --log-level warn" ;;
	sluiced-server-w2) echo "$SLUICED -l 127.0.0.1:$PORT -w 2 -m 127.0.0.1:$MPORT --pin-dir $OUT/nopins --log-level warn" ;;
	haproxy-proxy | haproxy-proxy-s1) echo "haproxy -db -f $OUT/haproxy1.cfg" ;;
	haproxy-proxy-w2) echo "haproxy -db -f $OUT/haproxy2.cfg" ;;
	nginx-proxy) echo "nginx -p $OUT -c $OUT/nginx-proxy.conf" ;;
	nginx-server | nginx-server-s1) echo "nginx -p $OUT -c $OUT/nginx-server.conf" ;;
	nginx-server-w2) echo "nginx -p $OUT -c $OUT/nginx-server-w2.conf" ;;
	esac
}
path_of() { [[ $1 == sluiced-server* ]] && echo "/work?cpu_us=0" || echo "/"; }
# -s1 and -w2: the scaling rows, on both CPUs with the load generator
scaling() { [[ $1 == *-s1 || $1 == *-w2 ]]; }
cpus_of() { scaling "$1" && echo 0,1 || echo 1; }
wrk_of() { scaling "$1" && echo "taskset -c 0,1 wrk -t2" || echo "taskset -c 0 wrk -t1"; }

wait_ready() {	# URL PID
	for _ in $(seq 100); do
		curl -fs -o /dev/null "$1" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# utime + stime of a process and its children (nginx's workers)
cpu_ticks() {
	local p t=0
	for p in "$1" $(pgrep -P "$1"); do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}

start() {	# CONFIG [PREFIX...]: starts it on its CPUs, sets PID
	local cfg=$1 extra=
	shift
	# Under valgrind everything is some 50x slower: sluiced's controller
	# would see the delay and shed, and a 503 costs less than an answer.
	[[ $# -gt 0 && $cfg == sluiced* ]] && extra="--deadline 60000 --target-delay 1000"
	# shellcheck disable=SC2046
	taskset -c "$(cpus_of "$cfg")" "$@" $(command_of "$cfg") $extra >"$OUT/$cfg.log" 2>&1 &
	PID=$!
	PIDS+=("$PID")
	wait_ready "$URL$(path_of "$cfg")" "$PID" || {
		echo "bench-proxy: $cfg did not start; see $OUT/$cfg.log" >&2
		exit 1
	}
}

stop() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }

# sluiced's fast-path answers (503s by reason) since RAW0, its metrics
# before the measured run, in RAW1: "expired=3,rate=1", or "-" for none.
fast_reasons() {	# RAW0 RAW1
	awk -F'[" ]' '/^sluiced_fastpath_total/ {
		v = $NF + 0
		if (FNR == NR) b[$2] = v
		else if (v > b[$2]) { printf "%s%s=%d", sep, $2, v - b[$2]; sep = "," }
	} END { print sep == "" ? "-" : "" }' "$1" "$2"
}

# One measured run: prints "req/s non2xx cpu_us_per_request fast_reasons"
# (the last, sluiced's 503s of the measured run by reason, from its
# metrics, kept in CONFIG.metrics.ROUND; "-" for the peers or none).
measure() {	# CONFIG ROUND
	local cfg=$1 raw=$OUT/$1.wrk.$2 t0 t1 rps n non why=-
	start "$cfg"
	$(wrk_of "$cfg") -c"$CONNS" -d1s "$URL$(path_of "$cfg")" >/dev/null	# warm-up
	[[ $cfg == sluiced* ]] && curl -s "http://127.0.0.1:$MPORT/metrics" >"$OUT/$cfg.metrics0.$2"
	t0=$(cpu_ticks "$PID")
	$(wrk_of "$cfg") -c"$CONNS" -d"${SECS}s" "$URL$(path_of "$cfg")" >"$raw"
	t1=$(cpu_ticks "$PID")
	if [[ $cfg == sluiced* ]]; then
		curl -s "http://127.0.0.1:$MPORT/metrics" >"$OUT/$cfg.metrics.$2"
		why=$(fast_reasons "$OUT/$cfg.metrics0.$2" "$OUT/$cfg.metrics.$2")
	fi
	stop
	rps=$(awk '/^Requests\/sec/ { print $2 }' "$raw")
	n=$(awk '/requests in/ { print $1 }' "$raw")
	non=$(awk '/Non-2xx/ { print $5 }' "$raw")
	echo "$rps ${non:-0} $(awk -v t=$((t1 - t0)) -v n="$n" -v hz="$(getconf CLK_TCK)" \
		'BEGIN { printf "%.2f", n ? t / hz * 1e6 / n : 0 }') $why"
}

# Instructions per request under callgrind (serial, so the CPU count and
# the machine's load do not matter). Prints the figure or "n/a".
instructions() {	# CONFIG
	local cfg=$1 cg=$OUT/$1.callgrind raw=$OUT/$1.cg.wrk ir n
	[[ $CALLGRIND == 1 ]] || { echo n/a; return; }
	start "$cfg" valgrind --tool=callgrind --callgrind-out-file="$cg" --instr-atstart=no
	callgrind_control -i on "$PID" >/dev/null 2>&1 || { stop; echo n/a; return; }
	taskset -c 0 wrk -t1 -c"$CONNS" -d"${SECS}s" "$URL$(path_of "$cfg")" >"$raw"
	# Dump now and kill: not every server exits promptly under valgrind.
	callgrind_control -d "$PID" >/dev/null 2>&1 || true
	kill -9 "$PID" 2>/dev/null || true
	wait "$PID" 2>/dev/null || true
	n=$(awk '/requests in/ { print $1 }' "$raw")
	ir=$(cat "$cg"* 2>/dev/null | awk '/^totals:/ { s += $2 } END { print s + 0 }')
	awk -v ir="$ir" -v n="$n" 'BEGIN { if (ir > 0 && n > 0) printf "%.0f", ir / n; else print "n/a" }'
}

taskset -c 0 nginx -p "$OUT" -c "$OUT/upstream.conf" >"$OUT/upstream.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$UP_PORT/" $! || { echo "bench-proxy: upstream nginx did not start" >&2; exit 1; }

ROWS=(sluiced-proxy haproxy-proxy nginx-proxy sluiced-server nginx-server
      sluiced-server-s1 sluiced-server-w2 nginx-server-s1 nginx-server-w2
      sluiced-proxy-s1 sluiced-proxy-w2 haproxy-proxy-s1 haproxy-proxy-w2)
declare -A BEST NON CPU IR ALLNON
for round in $(seq "$REPEAT"); do
	for cfg in "${ROWS[@]}"; do
		read -r rps non cpu why < <(measure "$cfg" "$round")
		echo "round $round: $cfg $rps req/s, $non non-2xx$([[ $why != - ]] && echo " ($why)"), $cpu us CPU/request" >&2
		ALLNON[$cfg]=$((${ALLNON[$cfg]:-0} + non))
		if [[ -z ${BEST[$cfg]:-} ]] || awk -v a="$rps" -v b="${BEST[$cfg]}" 'BEGIN { exit !(a > b) }'; then
			BEST[$cfg]=$rps NON[$cfg]=$non CPU[$cfg]=$cpu
		fi
	done
done
for cfg in sluiced-proxy haproxy-proxy nginx-proxy sluiced-server nginx-server; do
	IR[$cfg]=$(instructions "$cfg")
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'; }
row() {	# CONFIG BASE LABEL
	printf '| %s | %.0f | %s | %s | %s | %s | %s |\n' "$3" "${BEST[$1]}" "$(ratio "${BEST[$1]}" "${BEST[$2]}")" \
		"${NON[$1]}" "${CPU[$1]}" "${IR[$1]:-}" "$(ratio "${IR[$1]:-}" "${IR[$2]:-}")"
}
{
	echo "proxy and server path, one core each, wrk -c$CONNS on CPU 0, best of $REPEAT x ${SECS}s"
	echo
	echo "| on CPU 1 | req/s | ratio | non-2xx | CPU us/request | instructions/request | ratio |"
	echo "| --- | --- | --- | --- | --- | --- | --- |"
	row haproxy-proxy haproxy-proxy "HAProxy 2.6 (nbthread 1, http-reuse always)"
	row nginx-proxy haproxy-proxy "nginx (1 worker, upstream keepalive)"
	row sluiced-proxy haproxy-proxy "sluiced --upstream --workers 1"
	row nginx-server nginx-server "nginx return 200"
	row sluiced-server nginx-server "sluiced built-in handler --workers 1"
	echo
	# Below saturation (at most CONNS requests in flight, which every
	# configuration completes) a non-2xx answer is a spurious shed: the
	# count over every round, not only the best one's.
	printf 'non-2xx over all %d rounds:' "$REPEAT"
	for cfg in "${ROWS[@]}"; do
		printf ' %s %d;' "$cfg" "${ALLNON[$cfg]}"
	done
	echo
	echo
	# On a 2-CPU host the load generator shares both cores: the second
	# worker cannot double req/s, for anyone. The peers' ratios, measured
	# in the same run, show what the host gives; sluiced's is set against
	# them (1.00: it scales as the peer does).
	echo "| scaling on CPUs 0-1, wrk -t2 on them too | 1 worker req/s | 2 workers req/s | ratio 2/1 | against the peer's ratio | CPU us/request 1 / 2 |"
	echo "| --- | --- | --- | --- | --- | --- |"
	scale_row() {	# NAME PEER LABEL
		local r p
		r=$(ratio "${BEST[$1-w2]}" "${BEST[$1-s1]}")
		p=$(ratio "${BEST[$2-w2]}" "${BEST[$2-s1]}")
		printf '| %s | %.0f | %.0f | %s | %s | %s / %s |\n' "$3" "${BEST[$1-s1]}" "${BEST[$1-w2]}" \
			"$r" "$(ratio "$r" "$p")" "${CPU[$1-s1]}" "${CPU[$1-w2]}"
	}
	scale_row nginx-server nginx-server "nginx return 200 (worker_processes)"
	scale_row sluiced-server nginx-server "sluiced built-in handler (--workers)"
	scale_row haproxy-proxy haproxy-proxy "HAProxy (nbthread)"
	scale_row sluiced-proxy haproxy-proxy "sluiced --upstream (--workers)"
} | tee "$OUT/table.md"
echo "raw output kept in $OUT/"
