#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What the per-source connection limit costs (sluicectl service
# --per-source-conns), on test hosts in network namespaces (scripts/netns.sh):
#
# 1. The counting program (sluice_conns, on the inet_sock_set_state
#    tracepoint): its run time from the kernel's BPF statistics
#    (kernel.bpf_stats_enabled, switched on for each run and restored),
#    against an empty program on the same tracepoint
#    (tests/bench/conns/empty_tp.bpf.c), which sees the same events: the
#    statistics' own cost (two clock reads a run) is in both. Every TCP
#    state change of the machine runs them, other work's too, and nearly
#    all of those return at the first test. So each round makes three runs
#    of CONNS connections opened and closed one after the other: the port
#    unprotected (every event an early return: the counter's extra ns per
#    such event over the empty program, x), then a service with the limit,
#    once with no other connection from the source (each connection makes
#    and deletes the source's entry) and once with one held open throughout
#    (each connection adds 1 and takes 1 off). Each counted connection has
#    two counted events (its handshake done, its close); their extra cost is
#    (counter - empty - x * other events) / (2 * CONNS). Medians of
#    CONN_ROUNDS.
# 2. The judged SYN's extra lookup in the data plane (the XDP program
#    attached here, BPF_PROG_TEST_RUN through bpftool, REPEAT runs a
#    measurement, medians of ROUNDS interleaved rounds): a SYN admitted by a
#    service without the limit, with the limit and no connection from the
#    source, with the limit and connections under it, and refused at it.
#
# Knobs: CONNS (2000), CONN_ROUNDS (5), REPEAT (1000000), ROUNDS (9). Needs root; prints
# the table and keeps nothing else. On a shared machine the figures move
# with others' load: compare only the rows of one run.
set -euo pipefail
source "$(dirname "$0")/netns.sh"

CONNS=${CONNS:-2000}
REPEAT=${REPEAT:-1000000}
ROUNDS=${ROUNDS:-9}
CONN_ROUNDS=${CONN_ROUNDS:-5}
PORT=8080 SVC=tcp/8080

[[ $(id -u) -eq 0 ]] || { echo "bench-conns: needs root (namespaces, BPF statistics)"; exit 0; }
for c in bpftool python3 socat jq nsenter; do
	command -v $c >/dev/null || { echo "bench-conns: needs $c (make deps installs it)"; exit 1; }
done

STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled)
TMP=$(mktemp -d)
finish() {
	sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS"
	rm -rf "$TMP"
	cleanup
}
topo_up
trap finish EXIT
srv socat TCP-LISTEN:$PORT,fork,reuseaddr,backlog=4096 EXEC:cat &
wait_listen $PORT
ctl attach "$IF_SRV" --mode generic >/dev/null

# This attachment's programs, by the ids of its pinned links, and the baseline.
conns_id=$(bpftool -j link show pinned "$PIN_DIR/conns/$IF_SRV" | jq .prog_id)
empty_id=$("$BUILD/tests/bench/conns/pin_empty_tp" "$PIN_DIR/empty" | awk '$1 == "empty_state" { print $2 }')
xdp_id=$(bpftool -j link show pinned "$PIN_DIR/links/$IF_SRV" | jq .prog_id)

# prog_stat ID: "run_cnt run_time_ns"
prog_stat() { bpftool -j prog show id "$1" | jq -r '"\(.run_cnt // 0) \(.run_time_ns // 0)"'; }

# churn [keep]: CONNS connections opened and closed one after the other,
# with "keep" one more held open throughout.
churn() {
	cli timeout 300 python3 -c '
import socket, sys
dst = (sys.argv[1], int(sys.argv[2]))
keep = socket.create_connection(dst, timeout=5) if sys.argv[4] == "keep" else None
for _ in range(int(sys.argv[3])):
    socket.create_connection(dst, timeout=5).close()
if keep:
    keep.close()' "$SRV4" $PORT "$CONNS" "${1:-}"
	sleep 1	# the last closes (LAST_ACK -> CLOSE) arrive
}

# stat_run [keep]: one churn with BPF statistics on; prints the counter's
# events and run time, and the empty program's.
stat_run() {
	local c0 t0 e0 et0 c1 t1 e1 et1
	sysctl -qw kernel.bpf_stats_enabled=1
	read -r c0 t0 < <(prog_stat "$conns_id")
	read -r e0 et0 < <(prog_stat "$empty_id")
	churn "$@"
	read -r c1 t1 < <(prog_stat "$conns_id")
	read -r e1 et1 < <(prog_stat "$empty_id")
	sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS"
	echo "$((c1 - c0)) $((t1 - t0)) $((e1 - e0)) $((et1 - et0))"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# spread: "median (min..max)" of the numbers on stdin
spread() { sort -n | awk '{ a[NR] = $1 } END { printf "%8.1f (%.1f..%.1f)", a[int((NR + 1) / 2)], a[1], a[NR] }'; }

for ((r = 0; r < CONN_ROUNDS; r++)); do
	ctl service del $SVC >/dev/null 2>&1 || true
	read -r c t e et < <(stat_run)
	x=$(awk -v c="$c" -v t="$t" -v et="$et" 'BEGIN { print (t - et) / c }')
	echo "early $x" >>"$TMP/conns"
	echo "empty $(awk -v e="$e" -v et="$et" 'BEGIN { print et / e }')" >>"$TMP/conns"
	ctl service add $SVC --per-source-conns 1000000 >/dev/null
	for keep in "" keep; do
		read -r c t e et < <(stat_run $keep)
		awk -v k="${keep:-fresh}" -v c="$c" -v t="$t" -v et="$et" -v x="$x" -v n="$CONNS" \
			'BEGIN { print k, (t - et - x * (c - 2 * n)) / (2 * n)
				 print k "-bound", (t - et) / (2 * n) }' >>"$TMP/conns"
	done
done
echo "1. the counting program (sluice_conns): extra ns over an empty program on the"
echo "   same tracepoint, $CONNS connections a run, median of $CONN_ROUNDS rounds"
printf "  %-62s %s\n" "event" "ns: median (min..max)"
row() { printf "  %-62s %s\n" "$1" "$(awk -v k="$2" '$1 == k { print $2 }' "$TMP/conns" | spread)"; }
row "the empty program itself, per event (the statistics' cost)" empty
row "an event it returns from early (another port, another state)" early
row "a counted event, the source's first connection (entry made, deleted)" fresh
row "  the same, every other event's extra in it too (an upper bound)" fresh-bound
row "a counted event, the source holding another (add 1, take 1 off)" keep
row "  the same, every other event's extra in it too (an upper bound)" keep-bound
echo "  (others' TCP events run the program too: on a busy machine they outnumber"
echo "  the counted ones, and the attribution moves with them; see min..max)"

# 2. A 64-byte SYN from the client's address to the service.
python3 - "$TMP/syn" <<'EOF'
import struct, sys
eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 1, 0, 64, 6, 0,
                 bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2]))
tcp = struct.pack("!HHIIBBHHH", 40000, 8080, 1, 0, 5 << 4, 0x02, 65535, 0, 0)
open(sys.argv[1], "wb").write((eth + ip + tcp).ljust(64, b"\0"))
EOF
ctl service del $SVC >/dev/null
ctl service add $SVC >/dev/null
slot=$(ctl -j service list | jq --arg s $SVC '.services[] | select(.service == $s) | .slot')
# The count entry of 198.18.0.1/32 (struct sl_src_key, little-endian slot).
key="$(printf '%02x %02x %02x %02x' $((slot & 255)) $((slot >> 8 & 255)) 0 0) 04 20 00 00 c6 12 00 01 $(printf '00 %.0s' {1..12})"
set_open() {
	if (($1)); then
		bpftool map update pinned "$PIN_DIR/sl_src_conns" key hex $key \
			value hex $(printf '%02x 00 00 00 00 00 00 00' "$1")
	else
		bpftool map delete pinned "$PIN_DIR/sl_src_conns" key hex $key 2>/dev/null || true
	fi
}
# run_case LIMIT OPEN: ns per SYN, the limit and count set first.
run_case() {
	ctl service set $SVC --per-source-conns "$1" >/dev/null
	set_open "$2"
	bpftool prog run id "$xdp_id" data_in "$TMP/syn" repeat "$REPEAT" |
		awk '/duration/ { gsub(/ns/, "", $NF); print $NF }'
}
cases=("0 0" "10 0" "10 5" "10 10")
names=("SYN admitted, no limit (baseline)" "limit set, no connection from the source"
	"limit set, 5 of 10 open: admitted" "10 of 10 open: refused (drop)")
for ((r = 0; r < ROUNDS; r++)); do
	for i in "${!cases[@]}"; do
		# shellcheck disable=SC2086
		echo "$i $(run_case ${cases[$i]})" >>"$TMP/ns"
	done
done
echo
echo "2. the judged SYN (XDP, BPF_PROG_TEST_RUN, $REPEAT runs, median of $ROUNDS rounds)"
printf "  %-44s %8s %8s\n" "path" "ns/pkt" "ratio"
base=$(awk '$1 == 0 { print $2 }' "$TMP/ns" | median)
for i in "${!cases[@]}"; do
	med=$(awk -v i="$i" '$1 == i { print $2 }' "$TMP/ns" | median)
	awk -v l="${names[$i]}" -v m="$med" -v b="$base" \
		'BEGIN { printf "  %-44s %8.1f %7.2fx\n", l, m, b ? m / b : 0 }'
done
