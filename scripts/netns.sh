# SPDX-License-Identifier: MIT
# Test hosts in network namespaces, sourced by the namespace tests and the
# demo: a client host and a server host joined by a veth pair, addressed
# from 198.18.0.0/15 (set aside for network benchmarks), removed on exit
# even when the caller fails.
#
#   client  ns sl-c-PID  veth slc-PID  198.18.0.1/24
#   server  ns sl-s-PID  veth sls-PID  198.18.0.2/24   (sluice attaches here)
#
# sluicectl runs in the server's network namespace only (nsenter --net), not
# `ip netns exec`, which would give it a fresh /sys with an empty bpffs.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
SLUICECTL=${SLUICECTL:-$BUILD/sluicectl}

NS_CLI=sl-c-$$
NS_SRV=sl-s-$$
IF_CLI=slc-$$
IF_SRV=sls-$$
CLI4=198.18.0.1
SRV4=198.18.0.2
PIN_DIR=${PIN_DIR:-/sys/fs/bpf/sluice-test-$$}

cleanup() {
	local ns pids
	# Whatever still runs inside the hosts (services, load) goes first: a
	# background `ip netns exec` leaves its command behind when killed.
	for ns in "$NS_CLI" "$NS_SRV"; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[[ -n $pids ]] && kill $pids 2>/dev/null
	done
	wait 2>/dev/null
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
	# A load generator opening 20k connections a second keeps that many
	# in flight for a 1 s timeout: give it every port, not the 28k default.
	cli sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
	# With TSO on, the receive work of a flood runs on the sender's CPU.
	cli ethtool -K "$IF_CLI" tso off >/dev/null 2>&1
	# Nothing is loaded on the client's side, as on a user's client (or
	# inside a container, where the host's operator cannot load anything).
	cli ip neigh replace "$SRV4" lladdr "$(srv cat /sys/class/net/"$IF_SRV"/address)" dev "$IF_CLI"
	srv ip neigh replace "$CLI4" lladdr "$(cli cat /sys/class/net/"$IF_CLI"/address)" dev "$IF_SRV"
}

cli() { ip netns exec "$NS_CLI" "$@"; }
srv() { ip netns exec "$NS_SRV" "$@"; }

# ctl ARGS: sluicectl on the server host, sharing the host's bpffs.
ctl() { nsenter --net="/run/netns/$NS_SRV" "$SLUICECTL" --pin-dir "$PIN_DIR" "$@"; }

# bg [srv|cli] CMD...: run CMD in the background, on a host if one is
# named; cleanup ends it with its host. The job is `ip netns exec` itself,
# not a subshell running the srv/cli function around it, which would
# report "Terminated" when cleanup ends CMD.
bg() {
	case $1 in
	srv) shift; ip netns exec "$NS_SRV" "$@" & ;;
	cli) shift; ip netns exec "$NS_CLI" "$@" & ;;
	*) "$@" & ;;
	esac
}

# wait_listen PORT: until the server host listens on PORT (at most ~20 s,
# a bound for a loaded machine).
wait_listen() {
	local i
	for ((i = 0; i < 200; i++)); do
		srv ss -Hltn "sport = :$1" | grep -q LISTEN && return 0
		sleep 0.1
	done
	echo "nothing listens on port $1 on the server host" >&2
	return 1
}

# wait_guarding PORT METRICS: until sluiced --guard on the server host
# (metrics on METRICS, inside it) guards tcp/PORT: it found the listener
# and has written the port's admission limits to the kernel. Load offered
# before that meets an unguarded service, and its backlog is not the
# guard's doing.
wait_guarding() {
	local i page svc="service=\"tcp/$1\""
	for ((i = 0; i < 200; i++)); do
		page=$(srv curl -s --max-time 1 "http://$2/metrics" || true)
		if grep -qxF "sluiced_guard_listening{$svc} 1" <<<"$page" &&
			grep -q "^sluiced_admission_writes_total{$svc} [1-9]" <<<"$page"; then
			return 0
		fi
		sleep 0.1
	done
	echo "sluiced does not guard tcp/$1 on the server host" >&2
	return 1
}

