#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The bar of the sluiced issue, measured (not part of `make test`: it
# reports numbers and asserts nothing). Run as root after `make`:
#
#   tests/netns/bar_sluiced.sh            # BAR_SECONDS=5 BAR_FACTOR=10 BAR_MODE=auto
#
# sluiced with one worker on the server host, the data plane attached
# (auto mode: generic XDP on the veth, where a reject's RST reaches the
# client; the shed action reject), and sluice-load on the client host, a
# new connection per request to /work?cpu_us=1000:
#   1. capacity: closed loop over 4 connections (the worker never idles
#      waiting for the next request; at most 3 queued)
#   2. unloaded p99: open loop at 0.25 x capacity
#   3. 10x: open loop at BAR_FACTOR x capacity for BAR_SECONDS
#   4. step: 0.5 x capacity, then BAR_FACTOR x from t = 2 s on; per 100 ms
#      bin after the step, the p99 of admitted requests
# Bound = 2 x unloaded p99 + target delay. Raw JSON in build/bar-sluiced/.
# BAR_PIN=1 runs the load generator on CPU 0 and sluiced on CPU 1 (the
# flood's receive work runs on the sender's CPU on a veth), so that the
# service has a core of its own, as the Go baseline of REFERENCES.md had.
set -uo pipefail
source "$(dirname "$0")/../../scripts/netns.sh"

SLUICED=$BUILD/sluiced
LOAD=$BUILD/sluice-load
SECS=${BAR_SECONDS:-5}
FACTOR=${BAR_FACTOR:-10}
MODE=${BAR_MODE:-auto}
TARGET_MS=${BAR_TARGET_MS:-5}
PORT=8080
URL="http://$SRV4:$PORT/work?cpu_us=1000"
OUT=$BUILD/bar-sluiced
mkdir -p "$OUT"

topo_up || exit 1
CLI_PIN=() SRV_PIN=()
if [[ -n ${BAR_PIN:-} ]]; then
	CLI_PIN=(taskset -c 0) SRV_PIN=(taskset -c 1)
fi

# The service's capacity, measured on the same daemon without the data
# plane (no pins), so that no refusal makes the closed loop spin.
nsenter --net="/run/netns/$NS_SRV" "${SRV_PIN[@]}" "$SLUICED" --listen "$SRV4:$PORT" --metrics none \
	--pin-dir "$PIN_DIR-none" --workers 1 --target-delay "$TARGET_MS" ${BAR_ARGS:-} \
	2>"$OUT/capacity.log" &
CPID=$!
wait_listen $PORT || exit 1
cli "${CLI_PIN[@]}" "$LOAD" --quiet --timeout 2000 --json "$OUT/capacity.json" --closed 4 --duration 3 "$URL" >/dev/null
kill -TERM $CPID
wait $CPID

nsenter --net="/run/netns/$NS_SRV" "${SRV_PIN[@]}" "$SLUICED" --listen "$SRV4:$PORT" --iface "$IF_SRV" \
	--attach-mode "$MODE" --shed-action reject --pin-dir "$PIN_DIR" --workers 1 \
	--target-delay "$TARGET_MS" --metrics 127.0.0.1:9464 ${BAR_ARGS:-} 2>"$OUT/sluiced.log" &
wait_listen $PORT || exit 1
sleep 0.5

load() { # NAME ARGS
	local name=$1
	shift
	cli "${CLI_PIN[@]}" "$LOAD" --quiet --timeout 2000 --json "$OUT/$name.json" "$@" "$URL" >/dev/null
}
j() { local f=$1; shift; jq -r "$@" "$OUT/$f.json"; }

CAP=$(j capacity '.goodput | floor')
load unloaded --rate $((CAP / 4)) --duration 3
P99U=$(j unloaded .ok_latency.p99_ms)
BOUND=$(awk -v p="$P99U" -v t="$TARGET_MS" 'BEGIN { printf "%.2f", 2 * p + t }')
echo "capacity $CAP req/s; unloaded p99 $P99U ms; bound 2 x p99 + $TARGET_MS ms = $BOUND ms"

OFFER=$((CAP * FACTOR))
load over --rate $OFFER --duration "$SECS"
printf '%sx (%d/s) for %ss: goodput %.0f/s = %.1f%% of capacity; admitted p50 %s p99 %s p999 %s ms; outcomes %s\n' \
	"$FACTOR" "$OFFER" "$SECS" "$(j over .goodput)" \
	"$(awk -v g="$(j over .goodput)" -v c="$CAP" 'BEGIN { print 100 * g / c }')" \
	"$(j over .ok_latency.p50_ms)" "$(j over .ok_latency.p99_ms)" "$(j over .ok_latency.p999_ms)" \
	"$(j over -c .outcomes)"
sleep 1

# Step: the low load runs throughout, the high one joins at t = 2 s.
HALF=$((CAP / 2))
cli "${CLI_PIN[@]}" "$LOAD" --quiet --timeout 2000 --json "$OUT/step-low.json" --rate $HALF \
	--duration $((SECS + 2)) "$URL" >/dev/null &
LOW=$!
sleep 2
load step-high --rate $((OFFER - HALF)) --duration "$SECS"
wait $LOW
echo "step 0.5x -> ${FACTOR}x: p99 (ms) of admitted requests per 100 ms bin after the step (high-rate client):"
j step-high -r '[.series[:10][] | .p99_ms] | map(tostring) | join(" ")'
REC=$(jq -r --argjson b "$BOUND" '[.series | to_entries[] | select(.value.p99_ms > $b) | .key] |
	if length == 0 then 0 else (max + 1) * 100 end' "$OUT/step-high.json")
echo "last bin above the bound ends at ${REC} ms after the step (0 = none above)"
jq -r --argjson b "$BOUND" '[.series[2:-1][] | .p99_ms] |
	"from 200 ms after the step: \(map(select(. <= $b)) | length) of \(length) bins within the bound"' \
	"$OUT/step-high.json"
printf 'step run, high client: goodput %.0f/s, p99 %s ms; low client: p99 %s ms, outcomes %s\n' \
	"$(j step-high .goodput)" "$(j step-high .ok_latency.p99_ms)" \
	"$(j step-low .ok_latency.p99_ms)" "$(j step-low -c .outcomes)"
nsenter --net="/run/netns/$NS_SRV" curl -s 127.0.0.1:9464/metrics >"$OUT/metrics.txt"
grep -E '^sluiced_fastpath_total|^sluice_kernel_decisions_total\{reason="(admitted|svc_bucket|rejected)' "$OUT/metrics.txt"
