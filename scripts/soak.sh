#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make soak: sluiced serving and sluiced proxying, both at 10x overload for
# SOAK_MINUTES (30), on the test hosts of scripts/netns.sh. Not part of
# `make test`. Run as root after `make`:
#
#   scripts/soak.sh        # SOAK_MINUTES=30 SOAK_CHUNK_S=60 SOAK_FACTOR=10
#                          # SOAK_WARMUP_MINUTES (the warm-up's bound: a third)
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
# daemon: RSS (and its anonymous part, and the whole by kind: heap, thread
# stacks, glibc's per-thread arenas, other anonymous mappings, file-backed,
# scripts/memkinds.sh), threads, open fds (and how many
# of them are the proxy's pool of upstream connections), requests read,
# answered and unsent (the client had gone), the kernel's counters as the
# daemon exports them and as sluicectl reads them from the pins.
#
# The warm-up ends on a measured plateau, for each daemon on its own: at
# the first sample that starts SOAK_PLATEAU_SAMPLES (3) samples in a row
# whose RSS stays within 0.5% (half the bar), and the bar is checked from
# that sample on, the plateau included. Heaps, caches and pools fill up at
# their own pace under a load, so no fixed time fits every machine; a
# plateau that does not come within SOAK_WARMUP_MINUTES (a third of the
# run) is reported as such, and the bar is checked from there.
#
# The bar, after the warm-up (checked, printed, exit 1 on a failure):
#   RSS grows < 1% (last sample against the first after warm-up), with
#   the kinds of memory that changed (and the thread whose stack did);
#   the fd count is flat: the daemon's own, without its upstream
#   connections (the idle pool holds what the last burst needed, up to
#   64 a loop), no growth and a range of 2 at most;
#   every admitted request is answered (responses, plus those whose
#   client had gone when it was written, = requests read);
#   the kernel's and the daemon's counters agree (its sluice_kernel_*
#   metrics = sluicectl stats, and connections accepted <= SYNs admitted).
# Samples in build/soak/samples.tsv, each chunk's load JSON beside it.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/netns.sh"

die() { echo "soak: $*" >&2; exit 2; }
for v in SOAK_MINUTES SOAK_WARMUP_MINUTES SOAK_PLATEAU_SAMPLES SOAK_CHUNK_S SOAK_FACTOR; do
	[[ -z ${!v:-} || ${!v} =~ ^[1-9][0-9]{0,4}$ ]] ||
		die "$v: expected a whole number from 1 to 99999, got '${!v}'"
done
MINUTES=${SOAK_MINUTES:-30}
WARMUP_MAX_S=$((${SOAK_WARMUP_MINUTES:-0} * 60))
((WARMUP_MAX_S > 0)) || WARMUP_MAX_S=$((MINUTES * 20))
PLATEAU=${SOAK_PLATEAU_SAMPLES:-3}
PLATEAU_TOL=0.005	# half the bar
CHUNK=${SOAK_CHUNK_S:-60}
FACTOR=${SOAK_FACTOR:-10}
SLUICED=$BUILD/sluiced
LOAD=$BUILD/sluice-load
GOSERVICE=$BUILD/goservice
MEMKINDS=$(dirname "${BASH_SOURCE[0]}")/memkinds.sh
OUT=$BUILD/soak
UPSTREAM=127.0.0.1:8081
declare -A PORT=([work]=8080 [proxy]=8090) METRICS=([work]=127.0.0.1:9464 [proxy]=127.0.0.1:9465)
declare -A URL=([work]="http://$SRV4:8080/work?cpu_us=1000" [proxy]="http://$SRV4:8090/work?cpu_us=1000")
declare -A DPID CAP
NAMES=(work proxy)

[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, BPF)"
for f in "$SLUICED" "$LOAD" "$GOSERVICE" "$SLUICECTL"; do
	[[ -x $f ]] || die "$f is not built (run make)"
done
for c in jq curl nsenter; do command -v "$c" >/dev/null || die "needs $c (make deps)"; done
((WARMUP_MAX_S < MINUTES * 60)) || die "SOAK_MINUTES ($MINUTES) must exceed SOAK_WARMUP_MINUTES (${SOAK_WARMUP_MINUTES:-})"
((PLATEAU >= 2)) || die "SOAK_PLATEAU_SAMPLES ($PLATEAU) must be at least 2"
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

# quiet NAME: until the daemon has had no connection open at three polls
# in a row, over 0.2 s (its loops, idle for 0.1 s, give back what they
# freed: server.c), at most ~10 s.
quiet() {
	local i n=0
	for ((i = 0; i < 100; i++)); do
		if (($(metric "$1" sluiced_connections_open) == 0)); then
			((++n == 3)) && return 0
		else
			n=0
		fi
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
	# the first awk prints three columns: RSS, its anonymous part, threads
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$name" \
		"$(awk '$1 == "VmRSS:" || $1 == "RssAnon:" || $1 == "Threads:" { v[$1] = $2 }
			END { printf "%d\t%d\t%d", v["VmRSS:"], v["RssAnon:"], v["Threads:"] }' "/proc/$pid/status")" \
		"$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l)" \
		"$(awk '$1 == "sluiced_upstream_connections" { u = $2 } END { printf "%d", u }' <<<"$m")" \
		"$(awk '$1 == "sluiced_requests_total" { printf "%d", $2 }' <<<"$m")" \
		"$(awk '/^sluiced_http_responses_total/ { s += $2 } END { printf "%d", s }' <<<"$m")" \
		"$(awk '$1 == "sluiced_http_responses_unsent_total" { printf "%d", $2 }' <<<"$m")" \
		"$(awk '$1 == "sluiced_connections_accepted_total" { printf "%d", $2 }' <<<"$m")" \
		"$(awk '/^sluice_kernel_decisions_total\{reason="(admitted|allowed|rejected)"\}/ {
			split($1, f, "\""); v[f[2]] = $2 }
			END { printf "[%d,%d,%d]", v["admitted"], v["allowed"], v["rejected"] }' <<<"$m")" \
		"$kstats" "$("$MEMKINDS" "$pid")" >>"$OUT/samples.tsv"
}

{
	printf '%s\t' t_s daemon rss_kib rss_anon_kib threads fds upstream_fds requests answered unsent \
		accepted kernel_by_daemon kernel_by_pins heap_kib stacks_kib arenas_kib anon_kib file_kib
	echo stack_by_thread
} >"$OUT/samples.tsv"
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

# warmup_end NAME: "T WHY" of the sample the warm-up ends at: the first of
# PLATEAU samples in a row whose RSS spread is within PLATEAU_TOL, or the
# first sample past the bound.
warmup_end() {
	awk -F'\t' -v n="$1" -v k="$PLATEAU" -v tol="$PLATEAU_TOL" -v bound="$WARMUP_MAX_S" '
		BEGIN { m = 0 }	# a subscript, so a number: unset it would be ""
		NR > 1 && $2 == n { t[m] = $1; r[m] = $3; m++ }
		END {
			for (i = 0; i + k <= m && t[i] <= bound; i++) {
				lo = hi = r[i]
				for (j = i + 1; j < i + k; j++) {
					lo = r[j] < lo ? r[j] : lo
					hi = r[j] > hi ? r[j] : hi
				}
				if (hi <= lo * (1 + tol)) {
					printf "%d plateau: RSS %d..%d KiB over %d samples\n", t[i], lo, hi, k
					exit
				}
			}
			for (i = 0; i < m; i++)
				if (t[i] >= bound) {
					printf "%d no plateau within the %d s bound\n", t[i], bound
					exit
				}
			printf "%d no plateau, and the run ended before the %d s bound\n", t[m - 1] + 1, bound
		}' "$OUT/samples.tsv"
}

# kinds_moved ROWS: which kinds of memory changed from the first row to
# the last (and for stacks, whose), e.g. "stacks +56 KiB (sluiced-w0 +56)".
kinds_moved() {
	awk -F'\t' '
		function threads(s, into,   n, i, kv) {
			n = split(s, kv, /[,=]/)
			for (i = 1; i < n; i += 2) into[kv[i]] += kv[i + 1]
		}
		NR == 1 { for (i = 14; i <= 18; i++) k0[i] = $i; threads($19, s0) }
		END {
			split("heap stacks arenas anon file", kind, " ")
			for (i = 14; i <= 18; i++) {
				d = $i - k0[i]
				if (!d) continue
				out = out (out ? ", " : "") sprintf("%s %+d KiB", kind[i - 13], d)
				if (i == 15) {
					threads($19, s1)
					who = ""
					for (t in s1) if (s1[t] != s0[t]) who = who (who ? ", " : "") sprintf("%s %+d", t, s1[t] - s0[t])
					for (t in s0) if (!(t in s1)) who = who (who ? ", " : "") sprintf("%s gone", t)
					out = out " (" who ")"
				}
			}
			print out ? "by kind: " out : "no kind changed"
		}' <<<"$1"
}

echo
echo "Soak: $MINUTES min at ${FACTOR}x capacity, $chunk chunks of $CHUNK s;" \
	"warm-up until RSS stays within $(awk -v t="$PLATEAU_TOL" 'BEGIN { print 100 * t }')%" \
	"over $PLATEAU samples, at most $WARMUP_MAX_S s"
for name in "${NAMES[@]}"; do
	read -r wt why < <(warmup_end "$name")
	echo "$name: warm-up ends at $wt s ($why)"
	rows=$(awk -F'\t' -v n="$name" -v w="$wt" 'NR > 1 && $2 == n && $1 >= w' "$OUT/samples.tsv")
	nrows=$(grep -c . <<<"$rows")
	check "$name: $PLATEAU samples or more after warm-up" "$((nrows >= PLATEAU))" "$nrows"
	((nrows > 0)) || continue
	# fds: the daemon's own, without its upstream connections
	read -r rss0 rss1 rssmax fdfirst fdlast fdmin fdmax upmin upmax < <(awk -F'\t' '
		{ f = $6 - $7 }
		NR == 1 { r0 = mx = $3; f0 = lo = hi = f; ulo = uhi = $7 }
		{ r1 = $3; mx = $3 > mx ? $3 : mx; lo = f < lo ? f : lo; hi = f > hi ? f : hi
		  ulo = $7 < ulo ? $7 : ulo; uhi = $7 > uhi ? $7 : uhi }
		END { print r0, r1, mx, f0, f, lo, hi, ulo, uhi }' <<<"$rows")
	last=$(tail -n 1 <<<"$rows")
	IFS=$'\t' read -r _ _ _ _ _ _ _ reqs answered unsent accepted kdaemon kpins _ <<<"$last"
	admitted=$(jq '.[0] + .[1]' <<<"$kpins")
	ok=$(jq -s '[.[].outcomes.ok] | add' "$OUT"/chunk-*-"$name".json)
	echo "$name: RSS $rss0 -> $rss1 KiB (at most $rssmax), fds $fdmin..$fdmax (and $upmin..$upmax" \
		"upstream), $reqs requests read, $answered answered, $unsent unsent (client gone)," \
		"$accepted connections accepted, kernel admitted $admitted; clients got $ok OK"
	check "$name: RSS grows < 1% after warm-up" "$(awk -v a="$rss0" -v b="$rss1" 'BEGIN { print b < a * 1.01 }')" \
		"$(awk -v a="$rss0" -v b="$rss1" 'BEGIN { printf "%+.2f%%", 100 * (b - a) / a }'); $(kinds_moved "$rows")"
	check "$name: fd count flat" "$((fdlast <= fdfirst + 1 && fdmax - fdmin <= 2))" \
		"$fdfirst -> $fdlast, range $fdmin..$fdmax, without upstream connections"
	check "$name: every request read was answered" "$((reqs == answered + unsent))" \
		"$answered + $unsent unsent of $reqs"
	check "$name: the daemon's kernel counters = the pinned maps'" "$([[ $kdaemon == "$kpins" ]] && echo 1 || echo 0)" \
		"$kdaemon vs $kpins (admitted, allowed, rejected)"
	check "$name: connections accepted <= SYNs admitted" "$((accepted <= admitted))" "$accepted <= $admitted"
done
exit $failed
