#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What the per-source connection limit costs (sluicectl service
# --per-source-conns), on test hosts in network namespaces (scripts/netns.sh):
#
# 1. The counting program (sluice_conns, on the inet_sock_set_state
#    tracepoint): its run time per event from the kernel's BPF statistics
#    (kernel.bpf_stats_enabled, switched on for the run and restored), while
#    the client opens and closes CONNS connections one after the other, in
#    three runs: a service with the limit (each connection counted and taken
#    off), the same service without it (the program returns after the port
#    and service lookups), and the port unprotected (after the port lookup).
#    Every TCP state change of the machine runs the program, the client's
#    and other work's too: events/connection says how many there were.
# 2. The judged SYN's extra lookup in the data plane (the XDP program
#    attached here, BPF_PROG_TEST_RUN through bpftool, REPEAT runs a
#    measurement, medians of ROUNDS interleaved rounds): a SYN admitted by a
#    service without the limit, with the limit and no connection from the
#    source, with the limit and connections under it, and refused at it.
#
# Knobs: CONNS (2000), REPEAT (1000000), ROUNDS (9). Needs root; prints
# the table and keeps nothing else. On a shared machine the figures move
# with others' load: compare only the rows of one run.
set -euo pipefail
source "$(dirname "$0")/netns.sh"

CONNS=${CONNS:-2000}
REPEAT=${REPEAT:-1000000}
ROUNDS=${ROUNDS:-9}
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
ctl service add $SVC --per-source-conns 1000000 >/dev/null

# This attachment's programs, by the ids of its pinned links.
conns_id=$(bpftool -j link show pinned "$PIN_DIR/conns/$IF_SRV" | jq .prog_id)
xdp_id=$(bpftool -j link show pinned "$PIN_DIR/links/$IF_SRV" | jq .prog_id)

# prog_stat ID: "run_cnt run_time_ns"
prog_stat() { bpftool -j prog show id "$1" | jq -r '"\(.run_cnt // 0) \(.run_time_ns // 0)"'; }

churn() {
	cli timeout 300 python3 -c '
import socket, sys
for _ in range(int(sys.argv[3])):
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
    s.close()' "$SRV4" $PORT "$CONNS"
	sleep 1	# the last closes (LAST_ACK -> CLOSE) arrive
}

# counter_run LABEL: one churn with BPF statistics on; prints a row.
counter_run() {
	local c0 t0 c1 t1
	sysctl -qw kernel.bpf_stats_enabled=1
	read -r c0 t0 < <(prog_stat "$conns_id")
	churn
	read -r c1 t1 < <(prog_stat "$conns_id")
	sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS"
	awk -v l="$1" -v c=$((c1 - c0)) -v t=$((t1 - t0)) -v n="$CONNS" 'BEGIN {
		printf "  %-44s %9d %8.1f %10.1f %12.0f\n", l, c, c / n, c ? t / c : 0, t / n }'
}

echo "1. the counting program (sluice_conns), $CONNS connections opened and closed"
printf "  %-44s %9s %8s %10s %12s\n" "run" "events" "ev/conn" "ns/event" "ns/conn"
counter_run "service with --per-source-conns"
ctl service set $SVC --per-source-conns 0 >/dev/null
counter_run "service without the limit"
ctl service del $SVC >/dev/null
counter_run "port unprotected"

# 2. A 64-byte SYN from the client's address to the service.
python3 - "$TMP/syn" <<'EOF'
import struct, sys
eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 1, 0, 64, 6, 0,
                 bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2]))
tcp = struct.pack("!HHIIBBHHH", 40000, 8080, 1, 0, 5 << 4, 0x02, 65535, 0, 0)
open(sys.argv[1], "wb").write((eth + ip + tcp).ljust(64, b"\0"))
EOF
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
base=$(awk '$1 == 0 { print $2 }' "$TMP/ns" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
for i in "${!cases[@]}"; do
	med=$(awk -v i="$i" '$1 == i { print $2 }' "$TMP/ns" | sort -n |
		awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
	awk -v l="${names[$i]}" -v m="$med" -v b="$base" \
		'BEGIN { printf "  %-44s %8.1f %7.2fx\n", l, m, b ? m / b : 0 }'
done
