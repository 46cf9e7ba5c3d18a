#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make soak: sluiced serving and sluiced proxying, both at 10x overload for
# SOAK_MINUTES (30), on the test hosts of scripts/netns.sh. Not part of
# `make test`. Run as root after `make`:
#
#   scripts/soak.sh        # SOAK_MINUTES=30 SOAK_WARMUP_MINUTES=5 SOAK_CHUNK_S=60 SOAK_FACTOR=10
#
# On the server host, one data plane (auto mode on the veth, shed action
# reject) shared by two daemons:
#   work   sluiced serving /work?cpu_us=1000 on port 8080, one worker
#   proxy  sluiced on port 8090 as a reverse proxy to the Go service
#          (build/goservice, one core) on 127.0.0.1:8081
# Each one's capacity is measured first (closed loop, no data plane); then
# sluice-load offers SOAK_FACTOR x that, open loop, a new connection per
# request, to both at once, in chunks of SOAK_CHUNK_S. Between chunks,
# with the load stopped and the connections drained, it samples each
# daemon: RSS, open fds, requests read and answered, the kernel's counters
# as the daemon exports them and as sluicectl reads them from the pins.
#
# The bar, after the warm-up (checked, printed, exit 1 on a failure):
#   RSS grows < 1% (last sample against the first after warm-up);
#   the fd count is flat (no growth; one fd of slack for an upstream
#   connection in flight at a sample);
#   every admitted request is answered (responses = requests read);
#   the kernel's and the daemon's counters agree (its sluice_kernel_*
#   metrics = sluicectl stats, and connections accepted <= SYNs admitted).
# Samples in build/soak/samples.tsv, each chunk's load JSON beside it.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/netns.sh"

MINUTES=${SOAK_MINUTES:-30}
WARMUP=${SOAK_WARMUP_MINUTES:-5}
CHUNK=${SOAK_CHUNK_S:-60}
FACTOR=${SOAK_FACTOR:-10}
SLUICED=$BUILD/sluiced
LOAD=$BUILD/sluice-load
GOSERVICE=$BUILD/goservice
OUT=$BUILD/soak
UPSTREAM=127.0.0.1:8081
declare -A PORT=([work]=8080 [proxy]=8090) METRICS=([work]=127.0.0.1:9464 [proxy]=127.0.0.1:9465)
declare -A URL=([work]="http://$SRV4:8080/work?cpu_us=1000" [proxy]="http://$SRV4:8090/work?cpu_us=1000")
declare -A DPID CAP
NAMES=(work proxy)

die() { echo "soak: $*" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, BPF)"
for f in "$SLUICED" "$LOAD" "$GOSERVICE" "$SLUICECTL"; do
	[[ -x $f ]] || die "$f is not built (run make)"
done
for c in jq curl nsenter; do command -v "$c" >/dev/null || die "needs $c (make deps)"; done
((MINUTES > WARMUP)) || die "SOAK_MINUTES ($MINUTES) must exceed SOAK_WARMUP_MINUTES ($WARMUP)"
rm -rf "$OUT"
mkdir -p "$OUT"

topo_up || die "could not build the test hosts"

# daemon NAME PIN_DIR [ARGS]: sluiced NAME on the server host; sets DPID.
daemon() {
	local name=$1 pins=$2 extra=()
	shift 2
	[[ $name == proxy ]] && extra=(--upstream "$UPSTREAM" --workers 2) || extra=(--workers 1)
	# nsenter execs sluiced: $! is the daemon.
	nsenter --net="/run/netns/$NS_SRV" "$SLUICED" --listen "$SRV4:${PORT[$name]}" \
		--pin-dir "$pins" --metrics "${METRICS[$name]}" --target-delay 5 --log-level warn \
		"${extra[@]}" "$@" 2>>"$OUT/$name.log" &
	DPID[$name]=$!
	wait_listen "${PORT[$name]}" || die "sluiced $name did not start (see $OUT/$name.log)"
}
metrics() { srv curl -s --max-time 5 "http://${METRICS[$1]}/metrics"; }
metric() { metrics "$1" | awk -v n="$2" '$1 == n { printf "%d", $2; found = 1 } END { if (!found) printf "0" }'; }
load() {	# NAME FILE ARGS...: sluice-load against NAME, JSON into FILE
	local name=$1 file=$2
	shift 2
	cli "$LOAD" --quiet --timeout 1000 --json "$file" "$@" "${URL[$name]}" >/dev/null
}

bg srv env GOMAXPROCS=1 "$GOSERVICE" -listen "$UPSTREAM" 2>>"$OUT/goservice.log"
wait_listen "${UPSTREAM##*:}" || die "the Go service did not start"

# Capacity, without the data plane (no pins: nothing is refused).
for name in "${NAMES[@]}"; do
	daemon "$name" "$PIN_DIR-none"
	load "$name" "$OUT/capacity-$name.json" --closed 4 --duration 3
	kill -TERM "${DPID[$name]}"
	wait "${DPID[$name]}"
	CAP[$name]=$(jq -r '.goodput | floor' "$OUT/capacity-$name.json")
	((CAP[$name] > 0)) || die "$name completed nothing in the capacity run"
	echo "capacity of $name: ${CAP[$name]} req/s; offering $((FACTOR * CAP[$name])) req/s"
done

# protected NAME: until the daemon's service is in the maps and its limits
# written (it listens before it attaches): a SYN before that is not judged.
protected() {
	local i
	for ((i = 0; i < 100; i++)); do
		(($(metric "$1" sluiced_admission_writes_total) > 0)) && return 0
		sleep 0.1
	done
	die "$1 wrote no limits in 10 s (see $OUT/$1.log)"
}
for name in "${NAMES[@]}"; do
	daemon "$name" "$PIN_DIR" --iface "$IF_SRV" --shed-action reject
	protected "$name"
done

# quiet NAME: until the daemon has no connection open (at most ~10 s).
quiet() {
	local i
	for ((i = 0; i < 100; i++)); do
		(($(metric "$1" sluiced_connections_open) == 0)) && return 0
		sleep 0.1
	done
	echo "soak: $1 still has connections open" >&2
}

# sample T NAME: one line of samples.tsv.
sample() {
	local t=$1 name=$2 pid=${DPID[$2]} m kstats
	m=$(metrics "$name")
	kstats=$(ctl -j stats | jq -c --arg s "tcp/${PORT[$name]}" \
		'first(.services[] | select(.service == $s)) | [.admitted, .allowed, .rejected]')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$name" \
		"$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")" \
		"$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l)" \
		"$(awk '$1 == "sluiced_requests_total" { printf "%d", $2 }' <<<"$m")" \
		"$(awk '/^sluiced_http_responses_total/ { s += $2 } END { printf "%d", s }' <<<"$m")" \
		"$(awk '$1 == "sluiced_connections_accepted_total" { printf "%d", $2 }' <<<"$m")" \
		"$(awk '/^sluice_kernel_decisions_total\{reason="(admitted|allowed|rejected)"\}/ {
			split($1, f, "\""); v[f[2]] = $2 }
			END { printf "[%d,%d,%d]", v["admitted"], v["allowed"], v["rejected"] }' <<<"$m")" \
		"$kstats" >>"$OUT/samples.tsv"
}

printf 't_s\tdaemon\trss_kib\tfds\trequests\tanswered\taccepted\tkernel_by_daemon\tkernel_by_pins\n' \
	>"$OUT/samples.tsv"
start=$SECONDS chunk=0
while ((SECONDS - start < MINUTES * 60)); do
	chunk=$((chunk + 1))
	lpids=()
	for name in "${NAMES[@]}"; do
		load "$name" "$OUT/chunk-$chunk-$name.json" --rate $((FACTOR * CAP[$name])) \
			--duration "$CHUNK" &
		lpids+=($!)
	done
	wait "${lpids[@]}"
	for name in "${NAMES[@]}"; do
		quiet "$name"
		sample $((SECONDS - start)) "$name"
	done
	tail -n 2 "$OUT/samples.tsv"
done

# --- the bar -----------------------------------------------------------------
failed=0
check() {	# WHAT OK(0/1) DETAIL
	if (($2)); then echo "  ok    $1 ($3)"; else echo "  FAIL  $1 ($3)"; failed=1; fi
}
echo
echo "Soak: $MINUTES min at ${FACTOR}x capacity, warm-up $WARMUP min, $chunk chunks of $CHUNK s"
for name in "${NAMES[@]}"; do
	rows=$(awk -F'\t' -v n="$name" -v w=$((WARMUP * 60)) 'NR > 1 && $2 == n && $1 >= w' "$OUT/samples.tsv")
	[[ -n $rows ]] || { check "$name: samples after warm-up" 0 "none"; continue; }
	read -r rss0 rss1 fdmin fdmax < <(awk -F'\t' 'NR == 1 { r0 = $3; lo = hi = $4 }
		{ r1 = $3; lo = $4 < lo ? $4 : lo; hi = $4 > hi ? $4 : hi } END { print r0, r1, lo, hi }' <<<"$rows")
	last=$(tail -n 1 <<<"$rows")
	IFS=$'\t' read -r _ _ _ _ reqs answered accepted kdaemon kpins <<<"$last"
	admitted=$(jq '.[0] + .[1]' <<<"$kpins")
	ok=$(jq -s '[.[].outcomes.ok] | add' "$OUT"/chunk-*-"$name".json)
	echo "$name: RSS $rss0 -> $rss1 KiB, fds $fdmin..$fdmax, $reqs requests read, $answered answered," \
		"$accepted connections accepted, kernel admitted $admitted; clients got $ok OK"
	check "$name: RSS grows < 1% after warm-up" "$(awk -v a="$rss0" -v b="$rss1" 'BEGIN { print b < a * 1.01 }')" \
		"$(awk -v a="$rss0" -v b="$rss1" 'BEGIN { printf "%+.2f%%", 100 * (b - a) / a }')"
	# A connection to the upstream may be in flight at a sample: one fd
	# of slack, but no growth.
	fdlast=$(tail -n 1 <<<"$rows" | cut -f4)
	fdfirst=$(head -n 1 <<<"$rows" | cut -f4)
	check "$name: fd count flat" "$((fdlast <= fdfirst + 1 && fdmax - fdmin <= 2))" \
		"$fdfirst -> $fdlast, range $fdmin..$fdmax"
	check "$name: every request read was answered" "$((reqs == answered))" "$answered of $reqs"
	check "$name: the daemon's kernel counters = the pinned maps'" "$([[ $kdaemon == "$kpins" ]] && echo 1 || echo 0)" \
		"$kdaemon vs $kpins (admitted, allowed, rejected)"
	check "$name: connections accepted <= SYNs admitted" "$((accepted <= admitted))" "$accepted <= $admitted"
done
exit $failed
