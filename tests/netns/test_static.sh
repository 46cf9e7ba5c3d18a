#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Static mode end to end: a client host sends real SYNs to a real listener
# on a server host where sluice is attached, with limits set by sluicectl,
# in each attach mode. Checks what the client sees (SYN-ACK, RST or
# silence) against the kernel's counters.
source "$(dirname "$0")/lib.sh"
require_env

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

# probe: N SYNs; sets SA and RST to what the client saw.
probe() {
	read -r SA RST < <(syn_probe $N $PORT)
}

case_drop() {
	local m=$1
	fresh_service --rate 1 --burst 5 --action drop
	probe
	local admitted=$(stat_of $SVC admitted) refused=$(stat_of $SVC svc_bucket)
	t_expect_cmp "$m/drop: burst admitted" "admitted" "$admitted" -ge 5
	t_expect_cmp "$m/drop: no more than the burst" "admitted" "$admitted" -le 6
	t_expect "$m/drop: every SYN judged" "admitted + svc_bucket" $((admitted + refused)) $N
	t_expect "$m/drop: every refusal dropped" "dropped" "$(stat_of $SVC dropped)" "$refused"
	t_expect "$m/drop: client got SYN-ACKs for the admitted" "SYN-ACKs" "$SA" "$admitted"
	t_expect "$m/drop: client got silence for the rest" "RSTs" "$RST" 0
}

# refused_at_once: prints what a client's connect() to the service got, and
# "retrans=N" for the SYNs it sent again: a RST that arrives makes it
# "Connection refused" with no retransmission (a lost one, a retry after 1 s).
refused_at_once() {
	local before after out
	before=$(cli nstat -az TcpExtTCPSynRetrans | awk '/SynRetrans/ { print $2 }')
	out=$(cli timeout 10 socat -u /dev/null TCP:$SRV4:$PORT,connect-timeout=5 2>&1)
	after=$(cli nstat -az TcpExtTCPSynRetrans | awk '/SynRetrans/ { print $2 }')
	[[ $out == *"Connection refused"* ]] && echo -n "refused" || echo -n "not refused"
	echo " retrans=$((after - before))"
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
	read -r -t 2 line <&"${CONN[0]}"
	fresh_service --rate 1 --burst 1 --action drop
	probe	# uses up the bucket
	for ((i = 0; i < 5; i++)); do
		echo "msg$i" >&"${CONN[1]}"
		read -r -t 2 line <&"${CONN[0]}" && [[ $line == "msg$i" ]] && ok=$((ok + 1))
	done
	exec {CONN[1]}>&-
	wait "$CONN_PID" 2>/dev/null
	t_expect "$m/established: connection keeps working at 1/s" "echoes" "$ok" 5
	t_expect_cmp "$m/established: while new ones are dropped" "dropped" "$(stat_of $SVC dropped)" -ge $((N - 3))
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
	[[ $mode == tc ]] && case_mark "$mode"
	fresh_service --rate 1 --burst 1 --action reject
	if ctl detach "$IF_SRV" >/dev/null; then
		# The maps outlive the detach: their counters show what was judged.
		before=$(ctl -j stats | jq -c .)
		read -r SA RST < <(syn_probe 10 $PORT)
		after=$(ctl -j stats | jq -c .)
		t_expect "$mode/detach: nothing judged after detach" "stats changed" \
			"$([[ $before == "$after" ]] && echo no || echo yes)" no
		t_expect "$mode/detach: the listener answers every SYN" "RSTs" "$RST" 0
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
