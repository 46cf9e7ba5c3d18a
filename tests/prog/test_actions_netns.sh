#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The actions through real hooks, which BPF_PROG_TEST_RUN cannot show: a
# refused SYN answered by a RST that the client sees (XDP_TX, and the TC
# redirect back out of the ingress interface), and a TC mark that the
# accepted socket inherits (net.ipv4.tcp_fwmark_accept). Two network
# namespaces joined by a veth pair, 198.18.2.0/24 (a deny prefix in the
# test defaults); removed on exit. Prints cmocka-style result lines.
set -uo pipefail

build=${BUILD:-build}
loader=$(realpath -m "$build/tests/prog/action_loader")
empty_obj=$(realpath -m "$build/tests/bench/xdp/empty.bpf.o")
A=slp-a-$$ B=slp-b-$$
tmp=$(mktemp -d)
failed=0

skip_all() {
	for t in reject_tc mark_tc reject_tc_csum_partial reject_xdp; do
		echo "[ RUN      ] $t"
		echo "$1"
		echo "[  SKIPPED ] $t"
	done
	exit 0
}

cleanup() {
	[[ -n ${server_pid:-} ]] && kill "$server_pid" 2>/dev/null
	ip netns del "$A" 2>/dev/null
	ip netns del "$B" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap "exit 143" TERM INT HUP

(( $(id -u) == 0 )) || skip_all "not root: network namespaces and BPF attach need it"
for c in ip python3 realpath; do
	command -v "$c" >/dev/null || skip_all "missing command: $c"
done
# As root, what follows is set-up the machine can do: a failure is a bug.
fail_all() {
	for t in reject_tc mark_tc reject_tc_csum_partial reject_xdp; do
		echo "[ RUN      ] $t"
		echo "$1"
		echo "[  FAILED  ] $t"
	done
	exit 1
}
[[ -x $loader ]] || fail_all "missing $loader (run make)"

ip netns add "$A" && ip netns add "$B" &&
	ip link add vA netns "$A" type veth peer name vB netns "$B" &&
	ip -n "$A" addr add 198.18.2.1/24 dev vA && ip -n "$B" addr add 198.18.2.2/24 dev vB &&
	ip -n "$A" link set vA up && ip -n "$B" link set vB up &&
	ip netns exec "$B" sysctl -qw net.ipv4.tcp_fwmark_accept=1 ||
	fail_all "cannot build the test hosts (ip netns/veth failed)"

# Listener in B on 443 and 8080: logs "port mark" for each accepted socket.
ip netns exec "$B" python3 - "$tmp/accepted" <<'PY' &
import select, socket, sys
socks = []
for port in (443, 8080):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("198.18.2.2", port))
    s.listen(16)
    socks.append(s)
open(sys.argv[1] + ".ready", "w").close()
with open(sys.argv[1], "a", buffering=1) as log:
    while True:
        r, _, _ = select.select(socks, [], [], 60)
        if not r:
            break
        for s in r:
            c, _ = s.accept()
            log.write("%d %#x\n" % (s.getsockname()[1],
                      c.getsockopt(socket.SOL_SOCKET, socket.SO_MARK)))
            c.close()
PY
server_pid=$!
for _ in $(seq 100); do [[ -e $tmp/accepted.ready ]] && break; sleep 0.1; done
[[ -e $tmp/accepted.ready ]] || fail_all "the listener did not start"

# connect PORT -> "refused SECONDS" | "connected SECONDS" | "timeout SECONDS"
connect() {
	ip netns exec "$A" python3 - "$1" <<'PY'
import socket, sys, time
t = time.monotonic()
s = socket.socket()
s.settimeout(3)
try:
    s.connect(("198.18.2.2", int(sys.argv[1])))
    r = "connected"
except ConnectionRefusedError:
    r = "refused"
except socket.timeout:
    r = "timeout"
print(r, "%.3f" % (time.monotonic() - t))
PY
}

# run_case NAME MODE PORT EXPECT_CLIENT EXPECT_COUNTER
run_case() {
	local name=$1 mode=$2 port=$3 want=$4 counter=$5 line result stats
	echo "[ RUN      ] $name"
	coproc LOADER { ip netns exec "$B" "$loader" vB "$mode" 2>&1; }
	local lpid=$LOADER_PID
	read -r -t 30 line <&"${LOADER[0]}"
	if [[ $line != attached ]]; then
		echo "loader: $line"
		echo "[  FAILED  ] $name"
		failed=$((failed + 1))
		wait "$lpid"
		return
	fi
	result=$(connect "$port")
	exec {LOADER[1]}>&-
	read -r -t 30 stats <&"${LOADER[0]}"
	wait "$lpid"
	# The listener logs the accepted socket after the client has connected:
	# wait for its line (bounded) instead of racing it.
	if [[ $name == mark_tc && $result == connected* ]]; then
		for _ in $(seq 50); do
			grep -q "^8080 " "$tmp/accepted" 2>/dev/null && break
			sleep 0.1
		done
	fi
	echo "client: $result; data plane: $stats; accepted: $(tail -n1 "$tmp/accepted" 2>/dev/null)"
	if [[ $result == "$want "* && " $stats " == *" $counter "* ]] &&
		{ [[ $name != mark_tc ]] || grep -q "^8080 0x5a$" "$tmp/accepted"; }; then
		echo "[       OK ] $name"
	else
		echo "[  FAILED  ] $name"
		failed=$((failed + 1))
	fi
}

run_case reject_tc tc 443 refused rejected=1
run_case mark_tc tc 8080 connected marked=1
# The client's SYN crosses the veth pair CHECKSUM_PARTIAL (veth offloads
# the checksum), and the RST built from it goes back out of vB; with vB's
# TX checksumming off, the stack sums the RST in software from the SYN's
# csum_start: a checksum written whole would come out wrong, and the
# client would drop the RST and time out.
if ip netns exec "$B" ethtool -K vB tx off >/dev/null 2>&1; then
	run_case reject_tc_csum_partial tc 443 refused rejected=1
	ip netns exec "$B" ethtool -K vB tx on >/dev/null 2>&1
elif ! command -v ethtool >/dev/null; then
	echo "[ RUN      ] reject_tc_csum_partial"
	echo "needs ethtool (make deps installs it) to turn TX checksumming off on vB"
	echo "[  SKIPPED ] reject_tc_csum_partial"
else
	echo "[ RUN      ] reject_tc_csum_partial"
	echo "ethtool -K vB tx off failed"
	echo "[  FAILED  ] reject_tc_csum_partial"
	failed=$((failed + 1))
fi
# XDP_TX on veth reaches the peer only if the peer takes XDP frames: give
# it a program (the benchmark's empty one) so its NAPI path is on.
if ip -n "$A" link set dev vA xdpdrv obj "$empty_obj" sec xdp 2>"$tmp/err"; then
	run_case reject_xdp xdp 443 refused rejected=1
else
	echo "[ RUN      ] reject_xdp"
	echo "cannot put an XDP program on the veth peer: $(cat "$tmp/err")"
	echo "[  FAILED  ] reject_xdp"
	failed=$((failed + 1))
fi
exit $((failed > 0))
