#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make demo: a burst of new connections against a service on a test host,
# first with nothing in front of it, then with sluice turning the excess
# away in the kernel; prints what the clients and the service saw.
#
# Knobs (environment): DEMO_CPU_US (CPU per request, default 2000),
# DEMO_FACTOR (burst as a multiple of capacity, default 5), DEMO_SECONDS
# (length of each burst, default 5), DEMO_MODE (attach mode, default tc).
set -euo pipefail
source "$(dirname "$0")/netns.sh"

CPU_US=${DEMO_CPU_US:-2000}
FACTOR=${DEMO_FACTOR:-5}
SECONDS_EACH=${DEMO_SECONDS:-5}
MODE=${DEMO_MODE:-tc}
PORT=8080
LOAD=$BUILD/sluice-load
URL=http://$SRV4:$PORT/work
OUT=$BUILD/demo
mkdir -p "$OUT"

say() { printf '\n== %s\n' "$*"; }

for f in "$LOAD" "$SLUICECTL"; do
	[[ -x $f ]] || { echo "demo: $f is not built (run make)" >&2; exit 1; }
done
[[ $(id -u) -eq 0 ]] || { echo "demo: needs root (network namespaces, BPF)" >&2; exit 1; }

topo_up

# A fresh service for each run, so no run inherits the last one's backlog.
service_start() {
	bg srv python3 "$TOP/scripts/demo-service.py" "$SRV4" $PORT "$CPU_US"
	wait_listen $PORT
}
service_stop() {
	kill $(ip netns pids "$NS_SRV") 2>/dev/null
	wait 2>/dev/null || true
}

# load NAME ARGS...: one run of sluice-load from the client host.
load() {
	local name=$1
	shift
	cli "$LOAD" --timeout 1000 --quiet --json "$OUT/$name.json" "$@" "$URL"
}

service_start
say "Calibrating: the service alone, 2 connections back to back (${CPU_US} us of CPU per request)"
load calibrate --duration 3 --closed 2
CAP=$(jq -r '.goodput | floor' "$OUT/calibrate.json")
((CAP > 0)) || { echo "demo: the service answered nothing during calibration" >&2; exit 1; }
load unloaded --rate $((CAP / 4)) --duration 2
echo "capacity ~$CAP requests/s; unloaded p99 $(jq -r .ok_latency.p99_ms "$OUT/unloaded.json") ms"

OFFER=$((CAP * FACTOR))
say "Burst: $OFFER new connections/s (${FACTOR}x capacity) for ${SECONDS_EACH}s, no protection"
load unprotected --rate $OFFER --duration "$SECONDS_EACH"
service_stop

say "Burst again, with sluice: tcp/$PORT limited to $((CAP * 9 / 10))/s, excess answered with a RST"
service_start
ctl attach "$IF_SRV" --mode "$MODE"
ctl service add tcp/$PORT --rate $((CAP * 9 / 10)) --burst $((CAP / 10 + 1)) --action reject
load sluice --rate $OFFER --duration "$SECONDS_EACH"
ctl stats tcp/$PORT

say "Result (latency from each request's scheduled send time; timeout 1 s)"
printf '%-12s %8s %9s %9s %9s %9s %9s %9s\n' run offered goodput "p50 ms" "p99 ms" refused timeout other
for run in unprotected sluice; do
	jq -r --arg run "$run" '[$run, (.rate | floor), (.goodput | floor),
		.ok_latency.p50_ms, .ok_latency.p99_ms, .outcomes.refused,
		.outcomes.timeout, (.outcomes.reset + .outcomes.error + .outcomes.other + .outcomes.shed)]
		| @tsv' "$OUT/$run.json" |
		awk -F'\t' '{ printf "%-12s %8d %9d %9.1f %9.1f %9d %9d %9d\n", $1, $2, $3, $4, $5, $6, $7, $8 }'
done
cat <<EOF

Without protection the service is handed more than it can do: requests queue
in its backlog and threads, clients wait, and many give up (timeout). With
sluice the excess is refused in the kernel before the service sees it (a RST,
so clients fail at once instead of retrying a SYN), and what is admitted is
served at close to unloaded latency. Raw results: $OUT/*.json
EOF
