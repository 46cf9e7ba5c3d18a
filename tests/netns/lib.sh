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

# syn_probe COUNT PORT [INTERVAL_US]: COUNT SYNs from the client, each from a
# new source port; prints "<syn-acks> <resets>" as the client saw them.
syn_probe() {
	local out
	out=$(cli timeout 30 hping3 -S -p "$2" -c "$1" -i "u${3:-1000}" "$SRV4" 2>&1)
	echo "$(grep -c 'flags=SA' <<<"$out") $(grep -c 'flags=RA\|flags=R ' <<<"$out")"
}

# srvnet CMD...: CMD in the server host's network namespace only, sharing
# the host's bpffs (sluiced, curl to its metrics).
srvnet() { nsenter --net="/run/netns/$NS_SRV" "$@"; }

# metrics: the page of the daemon on $METRICS (inside the server host).
metrics() { srvnet curl -s --max-time 5 "http://$METRICS/metrics"; }
# metric NAME: the value of one sample (NAME with its labels, as printed).
metric() { metrics | awk -v n="$1" '$1 == n { print $2; exit }'; }
# int X: a metric value as an integer (Prometheus prints 1e+01).
int() { awk -v v="$1" 'BEGIN { printf "%d", v + 0 }'; }

finish() {
	exit "$_failed"
}
