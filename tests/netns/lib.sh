# SPDX-License-Identifier: MIT
# Shared by the namespace tests (sourced, not run): builds a client host and
# a server host in network namespaces joined by a veth pair, addressed from
# 198.18.0.0/15, gives a private pin dir, reports results in cmocka's line
# form for tests/run.sh, and removes everything on exit, even on failure.
#
#   client  ns sl-c-PID  veth slc-PID  198.18.0.1/24
#   server  ns sl-s-PID  veth sls-PID  198.18.0.2/24   (sluice attaches here)
#
# sluicectl runs in the server's network namespace only (nsenter --net), not
# `ip netns exec`, which would give it a fresh /sys with an empty bpffs.

set -uo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$TOP/build}
SLUICECTL=${SLUICECTL:-$BUILD/sluicectl}

NS_CLI=sl-c-$$
NS_SRV=sl-s-$$
IF_CLI=slc-$$
IF_SRV=sls-$$
CLI4=198.18.0.1
SRV4=198.18.0.2
PIN_DIR=/sys/fs/bpf/sluice-test-$$

_failed=0
_bg_pids=()

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

# skip_all WHY: the machine lacks something; report it and stop, passing.
skip_all() {
	t_skip "$(basename "$0")" "$1"
	exit 0
}

require_env() {
	[[ $(id -u) -eq 0 ]] || skip_all "needs root (network namespaces, BPF)"
	mountpoint -q /sys/fs/bpf || skip_all "bpffs is not mounted on /sys/fs/bpf"
	local c
	for c in ip nsenter hping3 socat ethtool jq "$@"; do
		command -v "$c" >/dev/null || skip_all "needs $c (make deps installs it)"
	done
	[[ -x $SLUICECTL ]] || skip_all "$SLUICECTL is not built (run make)"
}

cleanup() {
	local pid
	for pid in "${_bg_pids[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	ip netns del "$NS_CLI" 2>/dev/null
	ip netns del "$NS_SRV" 2>/dev/null	# takes the veth pair and its qdiscs
	rm -rf "$PIN_DIR"			# links pinned here go with it
}

# topo_up: the two hosts and the veth pair between them.
topo_up() {
	trap cleanup EXIT
	trap 'exit 1' INT TERM
	ip netns add "$NS_CLI" && ip netns add "$NS_SRV" || return 1
	ip link add "$IF_CLI" netns "$NS_CLI" type veth peer name "$IF_SRV" netns "$NS_SRV" || return 1
	cli ip addr add "$CLI4/24" dev "$IF_CLI"
	srv ip addr add "$SRV4/24" dev "$IF_SRV"
	cli ip link set lo up
	srv ip link set lo up
	cli ip link set "$IF_CLI" up
	srv ip link set "$IF_SRV" up
	# With TSO on, the receive work of a flood runs on the sender's CPU.
	cli ethtool -K "$IF_CLI" tso off >/dev/null 2>&1
	# A native-XDP XDP_TX on veth reaches the peer only through its NAPI,
	# which GRO turns on.
	cli ethtool -K "$IF_CLI" gro on >/dev/null 2>&1
	srv ethtool -K "$IF_SRV" gro on >/dev/null 2>&1
	cli ip neigh replace "$SRV4" lladdr "$(srv cat /sys/class/net/"$IF_SRV"/address)" dev "$IF_CLI"
	srv ip neigh replace "$CLI4" lladdr "$(cli cat /sys/class/net/"$IF_CLI"/address)" dev "$IF_SRV"
}

cli() { ip netns exec "$NS_CLI" "$@"; }
srv() { ip netns exec "$NS_SRV" "$@"; }

# ctl ARGS: sluicectl on the server host, sharing the host's bpffs.
ctl() { nsenter --net="/run/netns/$NS_SRV" "$SLUICECTL" --pin-dir "$PIN_DIR" "$@"; }

# stat_of SERVICE FIELD: one counter of `sluicectl -j stats`, summed over CPUs.
stat_of() {
	ctl -j stats | jq -r --arg s "$1" --arg f "$2" \
		'first((.services[] | select(.service == $s) | .[$f]), "missing")'
}

# bg CMD...: run in the background, killed by cleanup.
bg() {
	"$@" &
	_bg_pids+=($!)
}

# echo_server PORT: a TCP echo service on the server host.
echo_server() {
	bg srv socat TCP-LISTEN:"$1",fork,reuseaddr,backlog=4096 EXEC:cat
	wait_listen "$1"
}

# wait_listen PORT: until the server host listens on PORT (at most ~5 s).
wait_listen() {
	local i
	for ((i = 0; i < 50; i++)); do
		srv ss -Hltn "sport = :$1" | grep -q LISTEN && return 0
		sleep 0.1
	done
	echo "nothing listens on port $1 on the server host" >&2
	return 1
}

# syn_probe COUNT PORT [INTERVAL_US]: COUNT SYNs from the client, each from a
# new source port; prints "<syn-acks> <resets>" as the client saw them.
syn_probe() {
	local out
	out=$(cli timeout 30 hping3 -S -p "$2" -c "$1" -i "u${3:-1000}" "$SRV4" 2>&1)
	echo "$(grep -c 'flags=SA' <<<"$out") $(grep -c 'flags=RA\|flags=R ' <<<"$out")"
}

finish() {
	exit "$_failed"
}
