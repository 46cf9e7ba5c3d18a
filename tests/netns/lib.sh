# SPDX-License-Identifier: MIT
# Shared by the namespace tests (sourced, not run): the test hosts of
# scripts/netns.sh, results reported in cmocka's line form for
# tests/run.sh, and checks that skip, with the reason, on a machine that
# lacks what a test needs.

set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/netns.sh"

_failed=0

t_ok()   { echo "[       OK ] $1"; }
t_fail() { echo "[  FAILED  ] $1: $2"; _failed=1; }
t_skip() { echo "[  SKIPPED ] $1: $2"; }

# t_expect NAME WHAT ACTUAL EXPECTED: passes when ACTUAL equals EXPECTED.
t_expect() {
	if [[ "$3" == "$4" ]]; then t_ok "$1"; else t_fail "$1" "$2: got '$3', expected '$4'"; fi
}

# t_expect_cmp NAME WHAT ACTUAL OP BOUND: passes when ACTUAL OP BOUND
# (OP is one of -eq -ne -lt -le -gt -ge).
t_expect_cmp() {
	if [[ "$3" =~ ^[0-9]+$ ]] && [ "$3" "$4" "$5" ]; then
		t_ok "$1"
	else
		t_fail "$1" "$2: got '$3', expected $4 $5"
	fi
}

# wait_until SECONDS CMD...: until CMD succeeds, trying every 0.1 s; fails
# after SECONDS, a bound for a feature that never comes, not a speed claim.
wait_until() {
	local i n=$(($1 * 10))
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}

# timed CMD...: runs CMD; PROBE_S is how long it took in seconds, rounded
# up: a rate-1/s bucket of depth B admits at most B + PROBE_S meanwhile
# (a loaded machine may stretch a probe past a second).
timed() {
	local t0=$EPOCHREALTIME
	"$@"
	PROBE_S=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", b - a + 1 }')
}

# skip_all WHY: the machine lacks a capability the file needs; report it
# and stop. It stands for every case of the file: the line carries their
# count (the t_ok/t_expect call sites, a lower bound where loops repeat
# them), which tests/run.sh adds to the skipped total.
skip_all() {
	t_skip "$(basename "$0")" "$1 ($(grep -cE '^[[:space:]]*(t_ok|t_expect|t_expect_cmp) ' "$0") cases)"
	exit 0
}

# fail_all WHY: a set-up the machine can do failed (or a program is not
# built): a failure, never a skip.
fail_all() {
	t_fail "$(basename "$0")" "$1"
	exit 1
}

# Root is the one capability a user may lack; as root, bpffs and the
# programs are ours to provide (make deps mounts it, make builds them),
# and a missing tool is named for make deps to install.
require_env() {
	[[ $(id -u) -eq 0 ]] || skip_all "needs root (network namespaces, BPF)"
	mountpoint -q /sys/fs/bpf || fail_all "bpffs is not mounted on /sys/fs/bpf (make deps mounts it)"
	local c
	for c in ip nsenter hping3 socat ethtool jq "$@"; do
		command -v "$c" >/dev/null || skip_all "needs $c, missing here (make deps installs it)"
	done
	[[ -x $SLUICECTL ]] || fail_all "$SLUICECTL is not built (run make)"
}

# require_sluiced: the daemon and the load generator of this build.
SLUICED=${SLUICED:-$BUILD/sluiced}
LOAD=${LOAD:-$BUILD/sluice-load}
require_sluiced() {
	[[ -x $SLUICED && -x $LOAD ]] || fail_all "$SLUICED or $LOAD is not built (run make)"
}

# stat_of SERVICE FIELD: one counter of `sluicectl -j stats`, summed over CPUs.
stat_of() {
	ctl -j stats | jq -r --arg s "$1" --arg f "$2" \
		'first((.services[] | select(.service == $s) | .[$f]), "missing")'
}

# echo_server PORT: a TCP echo service on the server host.
echo_server() {
	bg srv socat TCP-LISTEN:"$1",fork,reuseaddr,backlog=4096 EXEC:cat
	wait_listen "$1"
}

# syn_probe COUNT PORT [INTERVAL_US [SRC]]: COUNT SYNs from the client
# (from SRC, one of its addresses, if given), each from a new source port;
# prints "<syn-acks> <resets>" as the client host received them. Counted
# by the client's kernel as they arrive (nftables counters), not from
# hping3's output: on a loaded machine hping3 may read a reply after it
# stopped listening (1 s after its last SYN) and miss it. Only replies to
# this probe count: its SYNs all carry one random sequence number, and a
# reply acknowledges it plus one. (A SYN-ACK that an earlier probe's SYN
# got, sent again by the server, once came within a probe's second and
# read as an admitted SYN of a denied prefix.)
syn_probe() {
	local src=${4:-$CLI4} counts seq=$(((RANDOM << 15 | RANDOM) + 1))
	cli nft -f - <<EOF
table inet sl_probe
delete table inet sl_probe
table inet sl_probe {
	chain in {
		type filter hook input priority 0;
		ip daddr $src tcp sport $2 tcp ackseq $((seq + 1)) tcp flags & (syn | ack | rst) == syn | ack counter
		ip daddr $src tcp sport $2 tcp ackseq $((seq + 1)) tcp flags & rst == rst counter
	}
}
EOF
	cli timeout 30 hping3 -S ${4:+-a "$4"} -p "$2" -c "$1" -i "u${3:-1000}" -M "$seq" "$SRV4" >/dev/null 2>&1
	# The table goes before the counts are printed: a caller's
	# `read < <(syn_probe ...)` returns at the line, and a delete still
	# running then would remove the next probe's table.
	counts=$(cli nft -j list table inet sl_probe |
		jq -r '[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets] |
			"\(.[0]) \(.[1])"')
	cli nft delete table inet sl_probe
	echo "$counts"
}

# more_addrs: an IPv6 address on each host (from 2001:2::/48, set aside
# for benchmarks, RFC 5180) and a second IPv4 source on the client, each
# neighbour known to the other host, so that no reply waits for ARP or ND.
CLI6=2001:2::1
SRV6=2001:2::2
CLI4B=198.18.0.4
more_addrs() {
	cli ip -6 addr add $CLI6/64 dev "$IF_CLI" nodad
	srv ip -6 addr add $SRV6/64 dev "$IF_SRV" nodad
	cli ip -6 neigh replace $SRV6 lladdr "$(srv cat /sys/class/net/"$IF_SRV"/address)" dev "$IF_CLI"
	srv ip -6 neigh replace $CLI6 lladdr "$(cli cat /sys/class/net/"$IF_CLI"/address)" dev "$IF_SRV"
	cli ip addr add $CLI4B/24 dev "$IF_CLI"
	srv ip neigh replace $CLI4B lladdr "$(cli cat /sys/class/net/"$IF_CLI"/address)" dev "$IF_SRV"
}

# srvnet CMD...: CMD in the server host's network namespace only, sharing
# the host's bpffs (sluiced, curl to its metrics).
srvnet() { nsenter --net="/run/netns/$NS_SRV" "$@"; }

# metrics: the page of the daemon on $METRICS (inside the server host).
metrics() { srvnet curl -s --max-time 20 "http://$METRICS/metrics"; }
# metric NAME: the value of one sample (NAME with its labels, as printed).
metric() { metrics | awk -v n="$1" '$1 == n { print $2; exit }'; }
# int X: a metric value as an integer (Prometheus prints 1e+01).
int() { awk -v v="$1" 'BEGIN { printf "%.0f", v + 0 }'; }	# (mawk's %d stops at 2^31)

finish() {
	exit "$_failed"
}
