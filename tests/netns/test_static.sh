#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Static mode end to end: a client host sends real SYNs to a real listener
# on a server host where sluice is attached, with limits set by sluicectl,
# in each attach mode. Checks what the client sees (SYN-ACK, RST or
# silence) against the kernel's counters.
source "$(dirname "$0")/lib.sh"
require_env python3

PORT=8080
SVC=tcp/$PORT
N=50	# SYNs per probe, 1 ms apart: the rate-1/s bucket refills < 1 token

topo_up || { t_fail topology "could not build the test hosts"; finish; }
echo_server $PORT || { t_fail topology "echo service did not start"; finish; }

# fresh_service ARGS: the service, re-added so its counters start at zero.
fresh_service() {
	ctl service del $SVC >/dev/null 2>&1
	ctl service add $SVC "$@" >/dev/null 2> >(grep -v "is a veth" >&2)
}

# probe: N SYNs; sets SA and RST to what the client saw, and PROBE_S.
probe() {
	timed read_probe
}
read_probe() { read -r SA RST < <(syn_probe $N $PORT); }

case_drop() {
	local m=$1
	fresh_service --rate 1 --burst 5 --action drop
	probe
	local admitted=$(stat_of $SVC admitted) refused=$(stat_of $SVC svc_bucket)
	t_expect_cmp "$m/drop: burst admitted" "admitted" "$admitted" -ge 5
	t_expect_cmp "$m/drop: no more than the burst" "admitted" "$admitted" -le $((5 + PROBE_S))
	t_expect "$m/drop: every SYN judged" "admitted + svc_bucket" $((admitted + refused)) $N
	t_expect "$m/drop: every refusal dropped" "dropped" "$(stat_of $SVC dropped)" "$refused"
	t_expect "$m/drop: client got SYN-ACKs for the admitted" "SYN-ACKs" "$SA" "$admitted"
	t_expect "$m/drop: client got silence for the rest" "RSTs" "$RST" 0
}

# refused_at_once: prints what a client's connect() to the service got when
# the bucket refused it, and "retrans=N" for the SYNs it sent again: a RST
# that arrives makes it "Connection refused" with no retransmission (a lost
# one, a retry after 1 s). Connects follow each other at once until one is
# refused (at most 20): those the bucket admits (its burst, and a token
# refilled at 1/s) connect and close.
refused_at_once() {
	local before after out
	before=$(cli nstat -az TcpExtTCPSynRetrans | awk '/SynRetrans/ { print $2 }')
	out=$(cli python3 -c '
import socket, sys
for _ in range(20):
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect((sys.argv[1], int(sys.argv[2])))
    except ConnectionRefusedError:
        print("refused")
        break
    except OSError as e:
        print("not refused (%s)" % e)
        break
    finally:
        s.close()
else:
    print("not refused (20 connected)")
' "$SRV4" $PORT)
	after=$(cli nstat -az TcpExtTCPSynRetrans | awk '/SynRetrans/ { print $2 }')
	echo "$out retrans=$((after - before))"
}

case_reject() {
	local m=$1
	fresh_service --rate 1 --burst 5 --action reject
	probe
	local admitted=$(stat_of $SVC admitted) rejected=$(stat_of $SVC rejected)
	t_expect "$m/reject: every refusal rejected" "rejected" "$rejected" $((N - admitted))
	if [[ $m == native ]]; then
		# On a veth the RST reaches the client only if the client runs XDP
		# (tests/prog/test_actions_netns.sh): attach said so.
		t_expect "$m/reject: attach warned that the RST is lost on a veth" "warning" \
			"$(grep -c 'is a veth' "$ATTACH_ERR")" 1
		t_expect "$m/reject: service add warned too" "warning" \
			"$(ctl service set $SVC --action reject 2>&1 >/dev/null | grep -c 'is a veth')" 1
		return
	fi
	t_expect "$m/reject: client got a RST for each" "RSTs" "$RST" "$rejected"
	t_expect "$m/reject: and SYN-ACKs for the admitted" "SYN-ACKs" "$SA" "$admitted"
	t_expect "$m/reject: connect() is refused at once" "client" "$(refused_at_once)" "refused retrans=0"
}

case_established() {
	local m=$1 i line ok=0
	ctl service del $SVC >/dev/null 2>&1
	coproc CONN { cli socat - TCP:$SRV4:$PORT; }
	echo before >&"${CONN[1]}"
	read -r -t 10 line <&"${CONN[0]}"
	fresh_service --rate 1 --burst 1 --action drop
	probe	# uses up the bucket
	for ((i = 0; i < 5; i++)); do
		echo "msg$i" >&"${CONN[1]}"
		read -r -t 10 line <&"${CONN[0]}" && [[ $line == "msg$i" ]] && ok=$((ok + 1))
	done
	exec {CONN[1]}>&-
	wait "$CONN_PID" 2>/dev/null
	local admitted=$(stat_of $SVC admitted)
	t_expect "$m/established: connection keeps working at 1/s" "echoes" "$ok" 5
	t_expect_cmp "$m/established: new ones admitted at 1/s" "admitted" "$admitted" -le $((1 + PROBE_S))
	t_expect "$m/established: while the rest are dropped" "dropped" "$(stat_of $SVC dropped)" $((N - admitted))
}

case_allow() {
	local m=$1
	fresh_service --rate 1 --burst 1 --action reject
	ctl prefix add $CLI4/32 allow >/dev/null
	probe
	ctl prefix del $CLI4/32 >/dev/null
	t_expect "$m/allow: an allowed prefix is never limited" "SYN-ACKs" "$SA" $N
	t_expect "$m/allow: counted as allowed" "allowed" "$(stat_of $SVC allowed)" $N
}

case_deny() {
	local m=$1
	fresh_service --rate 100k --burst 100k --action reject
	ctl prefix add 198.18.0.0/24 deny >/dev/null
	probe
	ctl prefix del 198.18.0.0/24 >/dev/null
	t_expect "$m/deny: a denied prefix gets nothing" "SYN-ACKs" "$SA" 0
	t_expect "$m/deny: counted as denied" "denied" "$(stat_of $SVC denied)" $N
}

case_level() {
	local m=$1
	fresh_service --rate 100k --burst 100k --action drop
	ctl prefix add $CLI4/32 class 2 >/dev/null
	ctl level set 3 >/dev/null
	probe
	t_expect "$m/level: a class below the level is shed" "shed_level" "$(stat_of $SVC shed_level)" $N
	t_expect "$m/level: client saw nothing" "SYN-ACKs" "$SA" 0
	ctl level set 0 >/dev/null
	probe
	t_expect "$m/level: level 0 sheds nothing" "SYN-ACKs" "$SA" $N
	ctl prefix del $CLI4/32 >/dev/null
}

case_monitor() {
	local m=$1
	fresh_service --rate 1 --burst 1 --action drop --monitor
	probe
	t_expect "$m/monitor: drops nothing" "SYN-ACKs" "$SA" $N
	t_expect "$m/monitor: counts what it would do" "would_drop" "$(stat_of $SVC would_drop)" $((N - $(stat_of $SVC admitted)))
	t_expect "$m/monitor: dropped counter stays 0" "dropped" "$(stat_of $SVC dropped)" 0
}

case_mark() {
	local m=$1
	fresh_service --rate 1 --burst 1 --action mark
	probe
	local admitted=$(stat_of $SVC admitted)
	t_expect "$m/mark: refused SYNs are marked" "marked" "$(stat_of $SVC marked)" $((N - admitted))
	t_expect "$m/mark: and passed to the listener" "SYN-ACKs" "$SA" $N
}

case_unprotected() {
	local m=$1 before after
	fresh_service --rate 1 --burst 1 --action reject
	before=$(ctl -j stats | jq -c .)
	syn_probe 20 9999 >/dev/null	# no service there: the kernel answers
	after=$(ctl -j stats | jq -c .)
	t_expect "$m/unprotected: other ports are not judged" "stats changed" "$([[ $before == "$after" ]] && echo no || echo yes)" no
}

# --- IPv6, UDP and per-source buckets through the real hooks (test-run
# covers their parsing; here real packets from the client host): IPv6
# (CLI6, SRV6) and a second client source (CLI4B) for the per-source buckets.
more_addrs
bg srv socat TCP6-LISTEN:$PORT,ipv6only=1,fork,reuseaddr,backlog=4096 EXEC:cat
# A UDP echo service on 5353.
bg srv python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 5353))
while True:
    d, a = s.recvfrom(2048)
    s.sendto(d, a)
'

# connect6 COUNT: COUNT connections to [SRV6]:PORT from the client, one
# after the other; prints "<connected> <refused>". A dropped SYN is a
# timeout, counted in neither: 0.9 s, before the kernel's first SYN
# retransmission (1 s), so each attempt is one SYN.
connect6() {
	cli python3 - "$1" "$SRV6" $PORT <<'EOF'
import socket, sys
n, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ok = refused = 0
for _ in range(n):
    s = socket.socket(socket.AF_INET6)
    s.settimeout(0.9)
    try:
        s.connect((host, port))
        ok += 1
    except ConnectionRefusedError:
        refused += 1
    except socket.timeout:
        pass
    s.close()
print(ok, refused)
EOF
}

# udp_probe COUNT: COUNT datagrams to SRV4:5353 from one client socket;
# prints "sent", then reads how many the data plane admitted and prints how
# many echoes came back: it waits for that many (at most 10 s), then 0.5 s
# more for any beyond them (a wait for the echoes, not a clock on them).
UDP_PROBE='
import socket, sys, time
n, host = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    s.sendto(b"%d" % i, (host, 5353))
    time.sleep(0.001)
print("sent", flush=True)
want = int(sys.stdin.readline())
got, end = 0, time.monotonic() + 10
try:
    while got < want and time.monotonic() < end:
        s.settimeout(max(end - time.monotonic(), 0.01))
        s.recv(2048)
        got += 1
    s.settimeout(0.5)
    while True:
        s.recv(2048)
        got += 1
except socket.timeout:
    pass
print(got)
'

N6=10	# IPv6 connects: each dropped one waits out its 0.9 s
# read_connect6: N6 connects; sets SA and RST as connect6 prints them, and
# SYN6 to the SYNs the client's kernel sent for them, counted on their way
# out (nftables): a client starved past 1 s retransmits a SYN, which the
# data plane judges as one more.
read_connect6() {
	cli nft -f - <<EOF
table inet sl_syn6
delete table inet sl_syn6
table inet sl_syn6 {
	chain out {
		type filter hook output priority 0;
		ip6 daddr $SRV6 tcp dport $PORT tcp flags & (syn | ack) == syn counter
	}
}
EOF
	read -r SA RST < <(connect6 $N6)
	SYN6=$(cli nft -j list table inet sl_syn6 |
		jq -r 'first(.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets)')
	cli nft delete table inet sl_syn6
}
# read_udp: N datagrams through udp_probe; sets ECHOES. Every datagram
# sent is judged before the admitted count is read (the data plane counts
# it as it arrives; polled with a bound for a slow softirq).
read_udp() {
	local line from to
	coproc UDP { cli python3 -c "$UDP_PROBE" $N "$SRV4"; }
	# (copies: bash unsets UDP when the probe exits, perhaps before its
	# last line is read)
	exec {from}<&"${UDP[0]}" {to}>&"${UDP[1]}"
	read -r -t 30 line <&$from
	wait_until 10 udp_judged $N
	echo "$(stat_of udp/5353 admitted)" >&$to
	read -r -t 30 ECHOES <&$from
	exec {from}<&- {to}>&-
	wait "$UDP_PID" 2>/dev/null
}
udp_judged() { (($(stat_of udp/5353 admitted) + $(stat_of udp/5353 svc_bucket) >= $1)); }

# (drop: in native mode a reject's RST is lost on a veth, see case_reject)
case_ipv6() {
	local m=$1 admitted
	fresh_service --rate 1 --burst 5 --action drop
	timed read_connect6
	admitted=$(stat_of $SVC admitted)
	t_expect_cmp "$m/ipv6: the burst admitted" "admitted" "$admitted" -ge 5
	t_expect_cmp "$m/ipv6: no more than the burst" "admitted" "$admitted" -le $((5 + PROBE_S))
	t_expect_cmp "$m/ipv6: a SYN for each connect" "SYNs sent" "$SYN6" -ge $N6
	t_expect "$m/ipv6: every SYN judged" "admitted + svc_bucket" \
		$((admitted + $(stat_of $SVC svc_bucket))) "$SYN6"
	t_expect "$m/ipv6: the refused ones dropped" "dropped" "$(stat_of $SVC dropped)" $((SYN6 - admitted))
	t_expect "$m/ipv6: the client connected for the admitted, silence for the rest" \
		"connected refused" "$SA $RST" "$admitted 0"
}

case_udp() {
	local m=$1 admitted
	ctl service del udp/5353 >/dev/null 2>&1
	ctl service add udp/5353 --rate 1 --burst 5 --action drop >/dev/null
	timed read_udp
	admitted=$(stat_of udp/5353 admitted)
	t_expect_cmp "$m/udp: the burst admitted" "admitted" "$admitted" -ge 5
	t_expect_cmp "$m/udp: no more than the burst" "admitted" "$admitted" -le $((5 + PROBE_S))
	t_expect "$m/udp: every datagram judged" "admitted + svc_bucket" \
		$((admitted + $(stat_of udp/5353 svc_bucket))) $N
	t_expect "$m/udp: the refused ones dropped" "dropped" "$(stat_of udp/5353 dropped)" $((N - admitted))
	t_expect "$m/udp: the client got an echo for each admitted" "echoes" "$ECHOES" "$admitted"
	ctl service del udp/5353 >/dev/null
}

# two_sources: 10 SYNs from each client address; sets A and B to the
# SYN-ACKs each got.
two_sources() {
	read -r A _ < <(syn_probe 10 $PORT)
	read -r B _ < <(syn_probe 10 $PORT 1000 $CLI4B)
}

case_per_source() {
	local m=$1 admitted
	fresh_service --rate 100k --burst 100k --per-source 1 --per-source-burst 3 --action drop
	timed two_sources
	admitted=$(stat_of $SVC admitted)
	local want="$A $B"
	((A >= 3 && A <= 3 + PROBE_S && B >= 3 && B <= 3 + PROBE_S)) || want="3..$((3 + PROBE_S)) each"
	t_expect "$m/per-source: each source gets its own burst" "SYN-ACKs to $CLI4 and $CLI4B" "$A $B" "$want"
	t_expect "$m/per-source: the client got a SYN-ACK for each admitted" "admitted" "$admitted" $((A + B))
	t_expect "$m/per-source: the rest refused by the source bucket" "src_bucket" \
		"$(stat_of $SVC src_bucket)" $((20 - admitted))
}

ATTACH_ERR=$(mktemp)
trap 'rm -f "$ATTACH_ERR"; cleanup' EXIT

# The default mode on a veth is generic: a reject's RST must get through
# whatever service is added later, and native XDP_TX on a veth loses it.
if ctl attach "$IF_SRV" >/dev/null 2>"$ATTACH_ERR"; then
	t_expect "auto/attach: a veth gets generic XDP" "mode" \
		"$(ctl -j status | jq -r '.attachments[0].mode')" generic
	case_reject auto
	ctl service del $SVC >/dev/null
	ctl detach "$IF_SRV" >/dev/null
else
	t_fail "auto/attach" "sluicectl attach $IF_SRV failed: $(cat "$ATTACH_ERR")"
fi

for mode in ${SL_TEST_MODES:-tc generic native}; do
	if ! ctl attach "$IF_SRV" --mode "$mode" >/dev/null 2>"$ATTACH_ERR"; then
		t_fail "$mode/attach" "sluicectl attach $IF_SRV --mode $mode failed: $(cat "$ATTACH_ERR")"
		continue
	fi
	t_ok "$mode/attach"
	case_drop "$mode"
	case_reject "$mode"
	case_established "$mode"
	case_allow "$mode"
	case_deny "$mode"
	case_level "$mode"
	case_monitor "$mode"
	case_unprotected "$mode"
	case_ipv6 "$mode"
	# (generic XDP judges after GRO, which merges datagrams: sluicectl
	# refuses UDP services there)
	[[ $mode != generic ]] && case_udp "$mode"
	case_per_source "$mode"
	[[ $mode == tc ]] && case_mark "$mode"
	fresh_service --rate 1 --burst 1 --action reject
	if ctl detach "$IF_SRV" >/dev/null; then
		# The maps outlive the detach: their counters show what was judged.
		before=$(ctl -j stats | jq -c .)
		read -r SA RST < <(syn_probe 10 $PORT)
		after=$(ctl -j stats | jq -c .)
		t_expect "$mode/detach: nothing judged after detach" "stats changed" \
			"$([[ $before == "$after" ]] && echo no || echo yes)" no
		t_expect "$mode/detach: the listener answers every SYN" "SYN-ACKs" "$SA" 10
		t_expect "$mode/detach: and refuses none" "RSTs" "$RST" 0
		ctl service del $SVC >/dev/null
	else
		t_fail "$mode/detach" "sluicectl detach $IF_SRV failed"
	fi
done

# Buckets on the coarse clock, a choice of new maps: the same limits hold
# (its slack at 1/s is a hundredth of a token).
rm -rf "$PIN_DIR"
if ctl attach "$IF_SRV" --mode generic --clock coarse >/dev/null &&
	[[ $(ctl -j status | jq -r .clock) == coarse ]]; then
	t_ok "coarse/attach"
	case_drop coarse
	case_reject coarse
	ctl detach "$IF_SRV" >/dev/null
else
	t_fail "coarse/attach" "sluicectl attach $IF_SRV --mode generic --clock coarse failed"
fi
finish
