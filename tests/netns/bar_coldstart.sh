#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The cold-start bar (issue 11): a sluiced started cold serves a normal
# load at once. Not part of `make test` (it measures throughput); run as
# root after `make`:
#
#   tests/netns/bar_coldstart.sh     # COLD_CLIENTS=8 COLD_MODE=auto COLD_SECONDS=3
#
# On the test hosts (nothing loaded on the client), 8 closed-loop clients
# with a new connection per request to /work?cpu_us=1000, sluiced in the
# README's form, `sluiced --listen ADDR:8080 --iface VETH --target-delay 5`
# (defaults for the rest: auto attach mode, shed action reject, a worker
# per CPU it may run on), with a pin dir of the test's own:
#   1. capacity: the same load for 3 s against the same sluiced without
#      --iface (no data plane: no refusal can happen, so what completes is
#      capacity);
#   2. cold: the pin dir removed (no maps, no limits to adopt), sluiced
#      with --iface started afresh, the same load from the moment it
#      listens (it attaches before it listens), for COLD_SECONDS.
# As the overload benchmarks do, the load generator has a core of its own
# (CPU 0) and sluiced the other (CPU 1), both at nice -10 (relative to the
# caller's): a closed-loop client refused with a RST comes back at once,
# and on a shared core that spin would take the service's CPU (COLD_PIN=0
# turns the pinning off).
# Prints PASS (exit 0) when the cold run completes >= 90% of capacity x
# COLD_SECONDS, FAIL (exit 1) otherwise, with both figures, the refusals
# and the completions per 100 ms; a cold run whose SYNs the data plane did
# not judge is a failure, not a pass. JSON in build/bar-coldstart/.
set -uo pipefail
source "$(dirname "$0")/../../scripts/netns.sh"

SLUICED=$BUILD/sluiced
LOAD=$BUILD/sluice-load
CLIENTS=${COLD_CLIENTS:-8}
MODE=${COLD_MODE:-auto}
SECS=${COLD_SECONDS:-3}
PORT=8080
URL="http://$SRV4:$PORT/work?cpu_us=1000"
OUT=$BUILD/bar-coldstart
mkdir -p "$OUT"
[[ $(id -u) -eq 0 ]] || { echo "needs root (network namespaces, BPF)" >&2; exit 2; }
[[ -x $SLUICED && -x $LOAD ]] || { echo "build first (make)" >&2; exit 2; }

topo_up || exit 1
CLI_PIN=() SRV_PIN=()
if [[ ${COLD_PIN:-1} == 1 && $(nproc) -ge 2 ]]; then
	CLI_PIN=(nice -n -10 taskset -c 0) SRV_PIN=(nice -n -10 taskset -c 1)
fi

# run_daemon LOG ARGS...: sluiced on the server host.
run_daemon() {
	local log=$1
	shift
	nsenter --net="/run/netns/$NS_SRV" "${SRV_PIN[@]}" "$SLUICED" --listen "$SRV4:$PORT" \
		--target-delay 5 "$@" 2>"$OUT/$log" &
	DPID=$!
	wait_listen $PORT || exit 1
}
stop_daemon() { kill -TERM "$DPID"; wait "$DPID"; }
closed_load() { # NAME SECONDS
	cli "${CLI_PIN[@]}" "$LOAD" --quiet --timeout 2000 --json "$OUT/$1.json" --closed "$CLIENTS" \
		--duration "$2" "$URL" >/dev/null
}

run_daemon capacity.log --pin-dir "$PIN_DIR-none"
closed_load capacity 3
stop_daemon
CAP=$(jq -r '.goodput | floor' "$OUT/capacity.json")

rm -rf "$PIN_DIR"	# cold: no maps, no adopted limits
run_daemon cold.log --iface "$IF_SRV" --attach-mode "$MODE" --pin-dir "$PIN_DIR"
closed_load cold "$SECS"
stop_daemon
# SYNs the data plane judged for the service: every completed request's.
JUDGED=$(ctl -j stats | jq --arg s "tcp/$PORT" \
	'[.services[] | select(.service == $s) | .admitted + .allowed + .rejected + .dropped] | add // 0')

read -r OK REFUSED TIMEOUT < <(jq -r '[.outcomes.ok, .outcomes.refused, .outcomes.timeout] | @tsv' \
	"$OUT/cold.json")
SHARE=$(awk -v ok="$OK" -v c="$CAP" -v s="$SECS" 'BEGIN { printf "%.0f", 100 * ok / (c * s) }')
echo "capacity: $CAP req/s ($CLIENTS closed-loop clients, a new connection per request)"
echo "cold sluiced ($MODE, reject): $OK completed in its first $SECS s = $SHARE% of capacity" \
	"($REFUSED refused, $TIMEOUT timed out)"
echo "per 100 ms: $(jq -r '[.series[] | .ok] | map(tostring) | join(" ")' "$OUT/cold.json")"
echo "the data plane judged $JUDGED SYNs to tcp/$PORT"
if ((JUDGED < OK)); then
	echo "FAIL: the data plane judged fewer SYNs than requests completed: the cold run was not protected"
	exit 1
fi
if ((SHARE >= 90)); then
	echo "PASS: >= 90% of capacity in the first $SECS s"
else
	echo "FAIL: < 90% of capacity in the first $SECS s"
	exit 1
fi
