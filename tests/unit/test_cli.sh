#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end test of the built sluicectl (needs root and bpffs): attaches to
# veth devices in a throwaway network namespace in each mode, adds, sets and
# deletes services and prefixes, checks the -j output, checks that every bad
# input exits with the right status and leaves the maps unchanged, and that
# detach removes only what sluice created. Pins go to a temporary pin dir
# under /sys/fs/bpf; the namespace and the pins are removed on exit, even on
# failure. Prints cmocka-style lines for tests/run.sh.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# The version this build writes and expects (include/sluice/abi.h).
abi=$(awk '$1 == "#define" && $2 == "SL_ABI_VERSION" { print $3 }' "$here/../../include/sluice/abi.h")
SLUICECTL=${SL_TEST_SLUICECTL:-${BUILD:-$here/../../build}/sluicectl}	# the build under test, sanitizers included
NS=sl-cli-$$
PIN=/sys/fs/bpf/sluice-test-$$
passed=0 failed=0

ok() { echo "[       OK ] cli: $1"; passed=$((passed + 1)); }
bad() { echo "[  FAILED  ] cli: $1${2:+ ($2)}"; failed=$((failed + 1)); }
# skip_all WHY: the machine lacks a capability (root, a tool); the line
# counts the cases skipped (call sites of check/ok) for tests/run.sh.
skip_all() {
	echo "[  SKIPPED ] cli: all: $1 ($(grep -cE '^[[:space:]]*(check|ok) ' "$0") cases)"
	exit 0
}
# fail_all WHY: a set-up that root can do failed: a failure, not a skip.
fail_all() { echo "[  FAILED  ] cli: set-up: $1"; exit 1; }
check() { # check NAME COMMAND...: OK if the command succeeds
	local name=$1
	shift
	if "$@"; then ok "$name"; else bad "$name"; fi
}

echo "[==========] Running sluicectl end-to-end tests"
((EUID == 0)) || skip_all "needs root"
mountpoint -q /sys/fs/bpf || fail_all "bpffs is not mounted on /sys/fs/bpf (make deps mounts it)"
[[ -x $SLUICECTL ]] || fail_all "sluicectl not built at $SLUICECTL"
for tool in ip tc jq nsenter setpriv bpftool; do
	command -v "$tool" >/dev/null || skip_all "$tool is not installed (make deps installs it)"
done

cleanup() {
	ip netns del "$NS" 2>/dev/null
	rm -rf "$PIN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS" || fail_all "cannot create a network namespace"
in_ns() { ip netns exec "$NS" "$@"; }
# sluicectl enters only the network namespace, so it sees the host's bpffs.
ctl() { nsenter --net="/run/netns/$NS" "$SLUICECTL" --pin-dir "$PIN" "$@"; }
ctlj() { ctl -j "$@"; }

in_ns ip link add veth0 type veth peer name veth1 || fail_all "cannot create veth devices"
in_ns ip link add veth2 type veth peer name veth3
for d in veth0 veth1 veth2 veth3; do in_ns ip link set "$d" up; done
in_ns tc qdisc add dev veth2 clsact # not sluice's: must survive detach

# ---- attach in each mode --------------------------------------------------
err_file=$(mktemp)
out=$(ctlj attach veth0 --mode native 2>"$err_file") && [[ $(jq -r .mode <<<"$out") == native ]] &&
	[[ $(jq -r .created_maps <<<"$out") == true ]] && [[ $(jq .prog_id <<<"$out") -gt 0 ]] &&
	[[ -e $PIN/links/veth0 ]] && in_ns ip link show veth0 | grep -q 'prog/xdp'
check "attach native creates maps and pins the link" test $? -eq 0
grep -q "veth0 is a veth: in native mode the RST of a 'reject' service" "$err_file"
check "attach native on a veth warns that rejects will not get through" test $? -eq 0
rm -f "$err_file"

out=$(ctlj attach veth0) && [[ $(jq -r .already_attached <<<"$out") == true ]]
check "attach is idempotent" test $? -eq 0

out=$(ctlj attach veth0 --mode tc)
rc=$?
[[ $rc -eq 1 && $(jq -r .error <<<"$out") == *"already attached in native mode"* ]]
check "attach in a second mode is refused" test $? -eq 0

out=$(ctlj attach veth1) && [[ $(jq -r .mode <<<"$out") == generic ]] &&
	[[ $(jq -r .native_loses_rst <<<"$out") == true ]] &&
	[[ $(jq -r .created_maps <<<"$out") == false ]] && in_ns ip link show veth1 | grep -q 'xdpgeneric'
check "the default mode on a veth is generic, and it shares the maps" test $? -eq 0

out=$(ctlj attach veth2 --mode tc) && [[ $(jq -r .mode <<<"$out") == tc ]] &&
	[[ $(jq -r .created_qdisc <<<"$out") == false ]] &&
	in_ns tc filter show dev veth2 ingress | grep -q sluice_tc
check "attach tc on an existing clsact qdisc" test $? -eq 0

out=$(ctlj attach veth3 --mode tc) && [[ $(jq -r .created_qdisc <<<"$out") == true ]]
check "attach tc creates clsact when missing" test $? -eq 0

# a bridge has no native XDP: the default falls back to generic and says so
in_ns ip link add slbr0 type bridge && in_ns ip link add slbr1 type bridge
out=$(ctlj attach slbr0) && [[ $(jq -r .mode <<<"$out") == generic ]] &&
	[[ $(jq -r .native_unsupported <<<"$out") == true ]] &&
	[[ $(jq -r .native_loses_rst <<<"$out") == false ]]
check "default mode falls back to generic without driver support" test $? -eq 0
out=$(ctlj attach slbr1 --mode native)
rc=$?
[[ $rc -eq 1 && $(jq -r .error <<<"$out") == *"does not support"* ]] &&
	! in_ns ip link show slbr1 | grep -q xdp
check "explicit native mode without driver support is refused" test $? -eq 0
out=$(ctl attach slbr0) && [[ $out == *"already attached (generic"* ]] && ctl detach slbr0 >/dev/null
check "text output names the mode" test $? -eq 0

out=$(ctlj status) &&
	[[ $(jq '.attachments | length' <<<"$out") -eq 4 ]] &&
	[[ $(jq -r '[.attachments[].mode] | join(",")' <<<"$out") == native,generic,tc,tc ]] &&
	[[ $(jq '[.attachments[] | select(.active and .prog_id > 0)] | length' <<<"$out") -eq 4 ]] &&
	[[ $(jq .abi_version <<<"$out") -eq $abi ]] && [[ $(jq -r .pin_dir <<<"$out") == "$PIN" ]] &&
	[[ $(jq -r .clock <<<"$out") == coarse ]] && [[ $(jq .clock_slack_ns <<<"$out") -gt 0 ]]
check "status lists attachments, ABI version, pin dir, clock" test $? -eq 0

out=$(ctlj attach veth1 --clock precise)
rc=$?
[[ $rc -eq 1 && $(jq -r .error <<<"$out") == *"run their buckets on the coarse clock"* ]] &&
	ctlj attach veth1 --clock coarse | jq -e .already_attached >/dev/null
check "attach on another clock than the maps' is refused, on theirs accepted" test $? -eq 0

# Generic XDP runs after GRO, which merges UDP datagrams into one packet:
# a UDP service and a generic XDP attachment exclude each other.
out=$(ctlj service add udp/53 --rate 2M --monitor)
rc=$?
[[ $rc -eq 1 && $(jq -r .error <<<"$out") == *"veth1"*"generic XDP"*"--mode tc"* ]] &&
	[[ $(ctlj service list | jq '.services | length') -eq 0 ]]
check "a UDP service is refused while an interface has generic XDP" test $? -eq 0
ctl detach veth1 >/dev/null

# ---- services, prefixes, level ---------------------------------------------
out=$(ctlj service add tcp/8080 --rate 10k --burst 500) &&
	[[ $(jq -c '[.service, .rate, .burst, .per_source, .action, .mode, .slot]' <<<"$out") == \
		'["tcp/8080",10000,500,0,"drop","enforce",1]' ]]
check "service add with k suffix" test $? -eq 0

out=$(ctlj service set tcp/8080 --per-source 50 --source-prefix6 56 --action reject) &&
	[[ $(jq -c '[.rate, .burst, .per_source, .per_source_burst, .source_prefix4, .source_prefix6, .action]' <<<"$out") == \
		'[10000,500,50,50,32,56,"reject"]' ]]
check "service set keeps omitted options" test $? -eq 0

out=$(ctlj service set tcp/8080 --per-source-conns 10) && [[ $(jq .per_source_conns <<<"$out") -eq 10 ]] &&
	[[ $(ctl service list | awk '$1 == "tcp/8080" { print $7 }') == 10 ]] &&
	out=$(ctlj service set tcp/8080 --per-source-conns 0) && [[ $(jq .per_source_conns <<<"$out") -eq 0 ]]
check "service set --per-source-conns, shown by service list" test $? -eq 0
out=$(ctl service set tcp/8080 --per-source-conns 2000000 2>&1)
[[ $out == *"--per-source-conns: '2000000' is out of range, expected 0..1000000"* ]]
check "bad: --per-source-conns names the value and the range" test $? -eq 0

out=$(ctlj service add udp/53 --rate 2M --monitor) &&
	[[ $(jq -c '[.rate, .burst, .mode]' <<<"$out") == '[2000000,2000000,"monitor"]' ]]
check "service add udp with M suffix, monitor" test $? -eq 0

ctl service add tcp/443 >/dev/null
out=$(ctlj service list) &&
	[[ $(jq -r '[.services[].service] | join(",")' <<<"$out") == tcp/443,tcp/8080,udp/53 ]] &&
	[[ $(jq '.services[0].rate' <<<"$out") -eq 0 ]]
check "service list, sorted; no rate = counted only" test $? -eq 0

out=$(nsenter --net="/run/netns/$NS" "$SLUICECTL" service -j list --pin-dir "$PIN") &&
	[[ $(jq '.services | length' <<<"$out") -eq 3 ]] && [[ $(ctl service -j | jq '.services | length') -eq 3 ]]
check "global options anywhere; bare object lists" test $? -eq 0

out=$(ctlj service del tcp/443) && [[ $(jq -r .deleted <<<"$out") == true ]] &&
	[[ $(ctlj service list | jq '.services | length') -eq 2 ]]
check "service del" test $? -eq 0

out=$(ctlj prefix list) && [[ $(jq -c .prefixes <<<"$out") == '[]' ]]
check "prefix list with no prefix rule: an empty list" test $? -eq 0

ctl prefix add 198.18.0.0/15 class 6 >/dev/null && ctl prefix add 2001:db8::/32 deny >/dev/null &&
	ctl prefix add 198.18.5.7 allow >/dev/null && out=$(ctlj prefix list) &&
	[[ $(jq -c '[.prefixes[] | [.prefix, .rule, .class]]' <<<"$out") == \
		'[["198.18.0.0/15","class",6],["198.18.5.7/32","allow",null],["2001:db8::/32","deny",null]]' ]]
check "prefix add and list (v4, v6, host)" test $? -eq 0

ctl prefix del 198.18.5.7/32 >/dev/null && [[ $(ctlj prefix | jq '.prefixes | length') -eq 2 ]]
check "prefix del; bare 'prefix' lists" test $? -eq 0

ctl level set 5 >/dev/null && [[ $(ctlj level | jq .level) -eq 5 ]] && [[ $(ctlj status | jq .level) -eq 5 ]]
check "level set and show" test $? -eq 0

out=$(ctlj stats) &&
	[[ $(jq -r '[.services[].service] | join(",")' <<<"$out") == tcp/8080,udp/53 ]] &&
	[[ $(jq '[.services[] | .admitted, .svc_bucket, .dropped, .would_drop, .stale] | all(type == "number")' <<<"$out") == true ]] &&
	[[ $(jq '.unattributed | (.parse_error | type == "number") and (.fragment | type == "number")' <<<"$out") == true ]] &&
	[[ $(jq '[.services[0] | keys[]] | length' <<<"$out") -eq $(($(jq '.unattributed | keys | length' <<<"$out") + 2)) ]]
check "stats -j: services and unattributed counters" test $? -eq 0

out=$(ctlj stats udp/53) && [[ $(jq -r '[.services[].service] | join(",")' <<<"$out") == udp/53 ]]
check "stats for one service" test $? -eq 0

# counters are summed over CPUs: write per-CPU values with bpftool (which
# copies a percpu value to every CPU) and read them back through sluicectl
possible_cpus() {
	local n=0 part lo hi
	IFS=, read -ra parts </sys/devices/system/cpu/possible
	for part in "${parts[@]}"; do
		lo=${part%-*} hi=${part#*-}
		n=$((n + hi - lo + 1))
	done
	echo "$n"
}
ncpu=$(possible_cpus)
# The reasons, in struct order, as sluicectl prints them (from SL_REASONS).
reasons=$(ctlj stats | jq -r '.unattributed | keys_unsorted | join(" ")')
nreasons=$(wc -w <<<"$reasons")
reason_index() { jq -rn --arg r "$1" --arg all "$reasons" '$all | split(" ") | index($r)'; }
stats_value() { # SLOT REASON VALUE: one sl_stats with counter REASON = VALUE (< 256)
	local bytes=() i
	for ((i = 0; i < nreasons * 8; i++)); do bytes+=(0); done
	bytes[$(reason_index "$2") * 8]=$3
	bpftool map update pinned "$PIN/sl_stats" key "$1" 0 0 0 value "${bytes[@]}"
}
slot=$(ctlj service list | jq '.services[] | select(.service == "tcp/8080") | .slot')
stats_value "$slot" admitted 5 && stats_value 0 parse_error 3 && out=$(ctlj stats) &&
	[[ $(jq '.services[] | select(.service == "tcp/8080") | .admitted' <<<"$out") -eq $((5 * ncpu)) ]] &&
	[[ $(jq '.unattributed.parse_error' <<<"$out") -eq $((3 * ncpu)) ]]
check "stats sums per-CPU counters ($ncpu CPUs)" test $? -eq 0

# a new service in a reused slot starts from zero counters
stats_value 3 admitted 7 && out=$(ctlj service add tcp/444) && [[ $(jq .slot <<<"$out") -eq 3 ]] &&
	[[ $(ctlj stats tcp/444 | jq '.services[0].admitted') -eq 0 ]] && ctl service del tcp/444 >/dev/null
check "service add zeroes the counters of its slot" test $? -eq 0

# --watch runs until SIGINT, then exits 0
# (started without a wrapper function, so that $! is sluicectl itself)
tmp=$(mktemp)
nsenter --net="/run/netns/$NS" "$SLUICECTL" --pin-dir "$PIN" -j stats --watch 1 >"$tmp" &
pid=$!
# Until two reports are out (the second has per-second rates), at most ~10 s.
for _ in $(seq 100); do (($(wc -l <"$tmp") >= 2)) && break; sleep 0.1; done
kill -INT "$pid"
wait "$pid"
rc=$?
[[ $rc -eq 0 ]] && [[ $(wc -l <"$tmp") -ge 2 ]] && jq -e 'select(.per_second) | .services' "$tmp" >/dev/null
check "stats --watch exits cleanly on SIGINT" test $? -eq 0
rm -f "$tmp"

# ---- bad input: right status, JSON error, no map changed --------------------
snapshot() {
	ctlj service list
	ctlj prefix list
	ctlj level show
	ctlj status | jq -c 'del(.attachments[].prog_id)'
}
before=$(snapshot)

# expect_fail STATUS NAME ARGS...
expect_fail() {
	local want=$1 name=$2 out rc
	shift 2
	out=$(ctlj "$@" 2>/dev/null)
	rc=$?
	if [[ $rc -ne $want ]]; then
		bad "$name" "exit $rc, expected $want"
	elif ! jq -e '.error | type == "string" and length > 0' <<<"$out" >/dev/null 2>&1; then
		bad "$name" "stdout is not a JSON error: $out"
	elif [[ $(snapshot) != "$before" ]]; then
		bad "$name" "the maps changed"
	else
		ok "$name"
	fi
}
expect_fail 1 "bad: unknown interface" attach sl-nosuch0
# A device without an Ethernet header (tun, WireGuard, ipip): the parser
# would read its IP packets as Ethernet and protect nothing.
if in_ns ip tuntap add dev tun0 mode tun 2>/dev/null; then
	for m in "" "--mode generic" "--mode tc"; do
		# shellcheck disable=SC2086
		expect_fail 1 "bad: attach ${m:+$m }to a tun device (no Ethernet header)" attach tun0 $m
	done
	out=$(ctl attach tun0 2>&1)
	[[ $out == *"tun0"*"not an Ethernet device"* ]]
	check "bad: the refusal names the device and why" test $? -eq 0
fi
expect_fail 2 "bad: unknown mode" attach veth0 --mode turbo
expect_fail 2 "bad: unknown clock" attach veth0 --clock fast
expect_fail 2 "bad: --sources 0" attach veth0 --sources 0
expect_fail 2 "bad: CIDR with host bits" prefix add 198.18.0.1/24 allow
expect_fail 2 "bad: CIDR length 33" prefix add 198.18.0.0/33 deny
expect_fail 2 "bad: malformed CIDR" prefix add 198.18.0/16 deny
expect_fail 2 "bad: class 9" prefix add 10.0.0.0/8 class 9
expect_fail 2 "bad: unknown rule" prefix add 10.0.0.0/8 permit
expect_fail 1 "bad: prefix del without a rule" prefix del 10.0.0.0/8
expect_fail 1 "bad: prefix add twice" prefix add 198.18.0.0/15 deny
expect_fail 2 "bad: port 0" service add tcp/0
expect_fail 2 "bad: port 65536" service add tcp/65536
expect_fail 2 "bad: unknown protocol" service add sctp/80
expect_fail 2 "bad: no PROTO/PORT" service add 80
expect_fail 2 "bad: rate 0" service add tcp/81 --rate 0
expect_fail 2 "bad: rate out of range" service add tcp/81 --rate 101M
expect_fail 2 "bad: malformed rate" service add tcp/81 --rate 10x
expect_fail 2 "bad: burst 0" service add tcp/81 --burst 0
expect_fail 2 "bad: source prefix 0" service add tcp/81 --source-prefix4 0
expect_fail 2 "bad: unknown action" service add tcp/81 --action block
expect_fail 2 "bad: reject on udp (add)" service add udp/54 --action reject
expect_fail 2 "bad: reject on udp (set)" service set udp/53 --action reject
expect_fail 2 "bad: monitor and enforce" service add tcp/81 --monitor --enforce
expect_fail 2 "bad: --per-source-conns -1" service set tcp/8080 --per-source-conns -1
expect_fail 2 "bad: --per-source-conns abc" service add tcp/81 --per-source-conns abc
expect_fail 2 "bad: --per-source-conns too large" service set tcp/8080 --per-source-conns 1000001
expect_fail 2 "bad: --per-source-conns on udp (add)" service add udp/54 --per-source-conns 10
expect_fail 2 "bad: --per-source-conns on udp (set)" service set udp/53 --per-source-conns 10
expect_fail 1 "bad: mark with XDP attached" service add tcp/81 --action mark
expect_fail 1 "bad: mark on set with XDP attached" service set tcp/8080 --action mark
expect_fail 1 "bad: service exists" service add tcp/8080 --rate 1
expect_fail 1 "bad: set a missing service" service set tcp/9999 --rate 1
expect_fail 1 "bad: del a missing service" service del tcp/9999
expect_fail 1 "bad: stats of a missing service" stats tcp/9999
expect_fail 2 "bad: level 9" level set 9
expect_fail 2 "bad: level -1" level set -1
expect_fail 2 "bad: unknown command" service frobnicate
expect_fail 2 "bad: unknown object" frobnicate
expect_fail 2 "bad: unknown option" service list --bogus
expect_fail 2 "bad: extra argument" service del tcp/8080 tcp/8081
expect_fail 1 "bad: detach of an unattached device" detach lo
expect_fail 2 "bad: --watch 0" stats --watch 0

out=$(nsenter --net="/run/netns/$NS" "$SLUICECTL" -j --pin-dir /tmp/sluice-not-bpffs-$$ service list)
rc=$?
[[ $rc -eq 1 && $(jq -r .error <<<"$out") == *"not on a bpf filesystem"* ]]
check "bad: pin dir not on bpffs" test $? -eq 0

out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$SLUICECTL" -j --pin-dir "$PIN" service list)
rc=$?
[[ $rc -eq 1 && $(jq -r .error <<<"$out") == *root* ]] && [[ $(snapshot) == "$before" ]]
check "bad: not root" test $? -eq 0

out=$(ctlj --pin-dir /sys/fs/bpf/sluice-none-$$ service list)
rc=$?
[[ $rc -eq 1 && $(jq -r .error <<<"$out") == *"no sluice state"* ]]
check "bad: no pins" test $? -eq 0

# pins of another ABI version: every command refuses them, nothing changes
# (abi_version set to $1, the rest of the state's sl_config as it is)
cfg_rest=$(bpftool -j map lookup pinned "$PIN/sl_config" key 0 0 0 0 | jq -r '.value[4:] | join(" ")')
# shellcheck disable=SC2086
cfg() { bpftool map update pinned "$PIN/sl_config" key 0 0 0 0 value "$1" 0 0 0 $cfg_rest; }
if cfg 99; then
	ok=1
	for args in "service list" "service add tcp/82" "prefix add 10.0.0.0/8 deny" "level set 1" \
		"stats" "attach veth0" "detach veth0" "status"; do
		# shellcheck disable=SC2086
		out=$(ctlj $args 2>/dev/null)
		rc=$?
		[[ $rc -eq 1 && $(jq -r .error <<<"$out") == *"ABI version 99"* ]] || {
			ok=0
			echo "  ABI check: '$args' exited $rc: $out"
		}
	done
	cfg "$abi"
	[[ $ok -eq 1 && $(snapshot) == "$before" ]]
	check "bad: pins of another ABI version are refused" test $? -eq 0
else
	bad "bad: pins of another ABI version are refused" "bpftool could not write sl_config"
fi

# ---- detach removes only what sluice created --------------------------------
out=$(ctlj detach veth2) && [[ $(jq -r .removed_qdisc <<<"$out") == false ]] &&
	in_ns tc qdisc show dev veth2 | grep -q clsact &&
	! in_ns tc filter show dev veth2 ingress | grep -q sluice_tc
check "detach tc keeps a clsact qdisc it did not create" test $? -eq 0

out=$(ctlj detach veth3) && [[ $(jq -r .removed_qdisc <<<"$out") == true ]] &&
	! in_ns tc qdisc show dev veth3 | grep -q clsact
check "detach tc removes the clsact qdisc it created" test $? -eq 0

# A filter another tool added to sluice's qdisc since: the qdisc stays.
# (The listing is read whole first: grep -q stopping early would kill tc
# with SIGPIPE, and pipefail would make that a failure.)
ctlj attach veth3 --mode tc >/dev/null &&
	in_ns tc filter add dev veth3 ingress prio 90 u32 match u32 0 0 classid 1:1 &&
	out=$(ctlj detach veth3) && [[ $(jq -r .removed_qdisc <<<"$out") == false ]] &&
	filters=$(in_ns tc filter show dev veth3 ingress) &&
	grep -q 'pref 90 u32' <<<"$filters" && ! grep -q sluice_tc <<<"$filters"
check "detach tc keeps its clsact qdisc when others' filters use it" test $? -eq 0
in_ns tc qdisc del dev veth3 clsact 2>/dev/null

ctl detach veth0 >/dev/null && ! in_ns ip link show veth0 | grep -q 'prog/xdp' && [[ ! -e $PIN/links/veth0 ]]
check "detach native removes the XDP link" test $? -eq 0

out=$(ctlj attach veth1 --mode generic)
rc=$?
[[ $rc -eq 1 && $(jq -r .error <<<"$out") == *"generic XDP"*"udp/53"* ]] &&
	! in_ns ip link show veth1 | grep -q 'prog/xdp'
check "generic XDP attach refused while a UDP service exists" test $? -eq 0
ctl service del udp/53 >/dev/null && ctl attach veth1 --mode generic >/dev/null &&
	ctl detach veth1 >/dev/null && ! in_ns ip link show veth1 | grep -q 'prog/xdp'
check "detach generic" test $? -eq 0

# with no XDP attached, mark services are allowed; XDP attach then refuses
ctl service add tcp/9000 --action mark --mark 0x10 >/dev/null &&
	[[ $(ctlj service list | jq '.services[] | select(.service == "tcp/9000") | .mark') -eq 16 ]]
check "mark service allowed without XDP attachments" test $? -eq 0
out=$(ctlj attach veth0)
rc=$?
[[ $rc -eq 1 && $(jq -r .error <<<"$out") == *"tcp/9000"*mark* ]] && ! in_ns ip link show veth0 | grep -q 'prog/xdp'
check "XDP attach refused while a mark service exists" test $? -eq 0
out=$(ctlj attach veth0 --mode tc) && [[ $(jq -r .mode <<<"$out") == tc ]] && ctl detach veth0 >/dev/null
check "TC attach allowed with a mark service" test $? -eq 0

# (tcp/8080 and tcp/9000: udp/53 went for the generic XDP attach above)
out=$(ctlj status) && [[ $(jq '.attachments | length' <<<"$out") -eq 0 ]] &&
	[[ $(jq .services <<<"$out") -eq 2 ]] && [[ $(jq .state <<<"$out") == true ]]
check "maps and limits stay after the last detach" test $? -eq 0

# a new attach reuses them, and an interface removed behind sluice's back is
# forgotten cleanly
ctl attach veth0 >/dev/null 2>&1 # refused: mark service
ctl service del tcp/9000 >/dev/null
out=$(ctlj attach veth0) && [[ $(jq -r .created_maps <<<"$out") == false ]] &&
	in_ns ip link del veth0 && out=$(ctlj status) && [[ $(jq '.attachments[0].active' <<<"$out") == false ]] &&
	ctl detach veth0 >/dev/null && [[ $(ctlj status | jq '.attachments | length') -eq 0 ]]
check "re-attach reuses maps; detach after the device is gone" test $? -eq 0

rm -rf "$PIN" && out=$(ctlj attach veth2 --mode tc --clock precise) &&
	[[ $(jq -r .created_maps <<<"$out") == true && $(jq -r .clock <<<"$out") == precise ]] &&
	out=$(ctlj status) && [[ $(jq -r .clock <<<"$out") == precise ]] &&
	[[ $(jq .clock_slack_ns <<<"$out") -eq 0 ]] && ctl status | grep -q '^clock: *precise' &&
	ctl detach veth2 >/dev/null
check "attach --clock precise on new maps; status shows the clock" test $? -eq 0

out=$(ctl --help) && [[ $out == *"service add PROTO/PORT"* ]] && out=$(ctlj --version) &&
	[[ $(jq .abi_version <<<"$out") -eq $abi ]]
check "--help and --version" test $? -eq 0

echo "[==========] $((passed + failed)) test(s) run."
((failed == 0))
