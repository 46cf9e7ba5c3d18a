#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The per-source connection limit end to end (`sluicectl service
# --per-source-conns`, nothing but sluicectl on the server host, nothing
# loaded on the client host), in each attach mode. The bar: with a limit
# of 10, one source holding 500 idle connections keeps at most 10 open,
# while other sources still connect. Also: the count (sl_src_conns) goes
# back to 0 when the connections close, by FIN or RST, before accept, or
# with their listener; an IPv6 /64 and IPv4 on a dual-stack listener are
# counted under the prefix the data plane judges; a limit of 0 refuses
# nothing; detach removes the counting program. (SYNs a source sends at
# once across a round trip are judged against the same count: a veth
# completes each handshake inside the client's connect(), so that case
# cannot be made here without netem, which this kernel lacks.)
source "$(dirname "$0")/lib.sh"
require_env python3 bpftool

HOLD=$(cd "$(dirname "$0")" && pwd)/hold_conns.py
PORT=8080 SVC=tcp/8080
QPORT=8081 QSVC=tcp/8081	# a dual-stack listener that never accepts
CPORT=8082 CSVC=tcp/8082	# a service that closes first (its side goes to TIME_WAIT)
LIMIT=10 TRIES=500

topo_up || { t_fail topology "could not build the test hosts"; finish; }
more_addrs	# CLI6, SRV6, and a second client source, CLI4B
echo_server $PORT || { t_fail topology "echo service did not start"; finish; }
bg srv socat TCP6-LISTEN:$PORT,ipv6only=1,fork,reuseaddr,backlog=4096 EXEC:cat
bg srv socat TCP-LISTEN:$CPORT,fork,reuseaddr EXEC:true
wait_listen $CPORT || { t_fail topology "the closing service did not start"; finish; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"; cleanup' EXIT
# A holder that died early must fail its case, not end the test on SIGPIPE.
trap '' PIPE

slot_of() { ctl -j service list | jq -r --arg s "$1" '.services[] | select(.service == $s) | .slot'; }
# conns_dump: sl_src_conns as bpftool prints it (named fields, from BTF).
conns_dump() { bpftool -j map dump pinned "$PIN_DIR/sl_src_conns" | jq '[.[].formatted]'; }
# open_of SERVICE FAMILY: the open connections counted for the service's
# sources of that family (4 or 6), summed.
open_of() {
	conns_dump | jq --argjson slot "$(slot_of "$1")" --argjson fam "$2" \
		'[.[] | select(.key.slot == $slot and .key.family == $fam) | .value.open] | add // 0'
}
entries() { conns_dump | jq length; }
no_entries() { [[ $(entries) == 0 ]]; }
# established SRC PORT: server-side sockets of SRC to PORT, established.
established() { srv ss -Htn state established "( sport = :$2 )" dst "$1" | wc -l; }

# connect_from SRC DST PORT COUNT: COUNT connections, closed at once;
# prints "opened N refused M".
connect_from() { cli timeout 60 python3 "$HOLD" "$1" "$2" "$3" "$4" "$TIMEOUT" </dev/null | sed -n 1p; }

# hold_start SRC DST PORT COUNT: the client opens COUNT
# connections from SRC and holds them; sets OPENED and REFUSED.
# hold_stop [fin|rst|mixed] closes them.
hold_start() {
	rm -f "$TMP/in"
	: >"$TMP/out"
	mkfifo "$TMP/in"
	cli timeout 120 python3 "$HOLD" "$@" "$TIMEOUT" <"$TMP/in" >"$TMP/out" 2>&1 &
	HOLDER=$!
	exec {HOLD_IN}>"$TMP/in"
	wait_until 100 grep -q opened "$TMP/out"
	read -r _ OPENED _ REFUSED <"$TMP/out"
	: "${OPENED:=none}" "${REFUSED:=none}"
}
hold_stop() {
	echo "${1:-fin}" >&"$HOLD_IN"
	exec {HOLD_IN}>&-
	wait "$HOLDER"
}

# The bar: one source holds what it can of 500 attempts, another still connects.
case_bar() {
	local m=$1 refused
	ctl service del $SVC >/dev/null 2>&1
	ctl service add $SVC --per-source-conns $LIMIT --action "$ACTION" >/dev/null 2>&1
	hold_start $CLI4 $SRV4 $PORT $TRIES
	t_expect "$m/bar: one source opening $TRIES one after the other gets $LIMIT" \
		"opened refused" "$OPENED $REFUSED" "$LIMIT $((TRIES - LIMIT))"
	t_expect_cmp "$m/bar: the server holds at most $LIMIT of its connections" "established" \
		"$(established $CLI4 $PORT)" -le $LIMIT
	t_expect "$m/bar: sl_src_conns counts them" "open" "$(open_of $SVC 4)" $LIMIT
	refused=$(stat_of $SVC src_conns)
	# A dropped SYN is sent again after 1 s: the client gives up before,
	# unless a loaded machine delays it.
	if [[ $ACTION == reject ]]; then
		t_expect "$m/bar: each refusal counted as src_conns" "src_conns" "$refused" "$REFUSED"
		t_expect "$m/bar: and answered with a RST" "rejected" "$(stat_of $SVC rejected)" "$REFUSED"
	else
		t_expect_cmp "$m/bar: each refusal counted as src_conns" "src_conns" "$refused" -ge "$REFUSED"
		t_expect "$m/bar: and dropped" "dropped" "$(stat_of $SVC dropped)" "$refused"
	fi
	t_expect "$m/bar: another source still connects" "$CLI4B" \
		"$(connect_from $CLI4B $SRV4 $PORT 5)" "opened 5 refused 0"
	t_expect "$m/bar: so does an IPv6 source, up to the limit of its /64" "$CLI6" \
		"$(connect_from $CLI6 $SRV6 $PORT 12)" "opened $LIMIT refused 2"
	hold_stop mixed
	wait_until 10 no_entries
	t_expect "$m/leak: back to no count once the connections closed (FIN and RST)" \
		"sl_src_conns entries" "$(entries)" 0
	t_expect "$m/leak: the source connects again" "$CLI4" \
		"$(connect_from $CLI4 $SRV4 $PORT 3)" "opened 3 refused 0"
}

# Before accept: connections in the accept queue of a dual-stack listener
# (IPv4 peers as ::ffff:a.b.c.d), reset there, or left when it closes.
case_accept_queue() {
	local m=$1 lpid
	ctl service del $QSVC >/dev/null 2>&1
	ctl service add $QSVC --per-source-conns 3 --action "$ACTION" >/dev/null 2>&1
	bg srv python3 -c '
import socket, time
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", '$QPORT'))
s.listen(64)
time.sleep(300)'
	lpid=$!
	wait_listen $QPORT || { t_fail "$m/accept queue" "the listener did not start"; return; }
	hold_start $CLI4 $SRV4 $QPORT 5
	t_expect "$m/accept queue: IPv4 on a dual-stack listener, limit 3" "opened refused" \
		"$OPENED $REFUSED" "3 2"
	t_expect "$m/accept queue: counted as IPv4" "open" "$(open_of $QSVC 4)" 3
	hold_stop rst
	wait_until 10 no_entries
	t_expect "$m/accept queue: reset before accept, taken off" "entries" "$(entries)" 0
	hold_start $CLI4 $SRV4 $QPORT 3
	hold_stop fin
	# Closed by the client, not yet accepted: still open on the server.
	t_expect "$m/accept queue: closed by the peer before accept, still held" "open" \
		"$(open_of $QSVC 4)" 3
	kill "$lpid"
	wait "$lpid" 2>/dev/null
	wait_until 10 no_entries
	t_expect "$m/accept queue: the listener closed with them queued, taken off" "entries" \
		"$(entries)" 0
	ctl service del $QSVC >/dev/null
}

# new_time_waits: the closing service's sockets that went into TIME_WAIT
# since the case began (CASE_T0, in $SECONDS): those whose 60 s timer has
# more left than the case has run, plus a second. Not those whose peer
# was not in TIME_WAIT before: a client port reused from the previous
# mode's case takes over its TIME_WAIT, and the new one has the old peer.
new_time_waits() {
	srv ss -Htno state time-wait "( sport = :$CPORT )" |
		awk -v left=$((60 - (SECONDS - CASE_T0) - 1)) '
			match($0, /timewait,[0-9]+(sec|min)/) {
				v = substr($0, RSTART + 9, RLENGTH - 9)
				n = v + 0
				if (v ~ /min/)
					n *= 60
				if (n >= left)
					c++
			}
			END { print c + 0 }'
}
new_time_waits_reach() { (($(new_time_waits) >= $1)); }

# The server closes first: its side is orphaned in FIN_WAIT2, then in
# TIME_WAIT once the client closes too; neither is an open connection.
case_time_wait() {
	local m=$1
	ctl service del $CSVC >/dev/null 2>&1
	ctl service add $CSVC --per-source-conns $LIMIT --action "$ACTION" >/dev/null 2>&1
	CASE_T0=$SECONDS
	hold_start $CLI4 $SRV4 $CPORT 5
	t_expect "$m/time-wait: connections the service closes at once" "opened refused" \
		"$OPENED $REFUSED" "5 0"
	wait_until 10 no_entries
	t_expect "$m/time-wait: taken off when the service closed its side" "entries" "$(entries)" 0
	hold_stop fin
	wait_until 10 new_time_waits_reach 5
	t_expect "$m/time-wait: the client closed too: TIME_WAIT, not counted" "TIME_WAIT, entries" \
		"$(new_time_waits), $(entries)" "5, 0"
	ctl service del $CSVC >/dev/null
}

case_limit_off() {
	local m=$1 before
	ctl service set $SVC --per-source-conns 0 >/dev/null 2>&1
	before=$(stat_of $SVC src_conns)
	hold_start $CLI4 $SRV4 $PORT 30
	t_expect "$m/off: --per-source-conns 0 refuses nothing" "opened refused" \
		"$OPENED $REFUSED" "30 0"
	t_expect "$m/off: and counts nothing" "entries" "$(entries)" 0
	hold_stop fin
	t_expect "$m/off: src_conns unchanged" "src_conns" "$(stat_of $SVC src_conns)" "$before"
}

for mode in ${SL_TEST_MODES:-tc generic native}; do
	# Native XDP on a veth loses a reject's RST (the client runs no XDP):
	# drop there, and give each attempt a short wait.
	if [[ $mode == native ]]; then ACTION=drop TIMEOUT=0.5; else ACTION=reject TIMEOUT=5; fi
	if ! ctl attach "$IF_SRV" --mode "$mode" >/dev/null 2>"$TMP/err"; then
		t_fail "$mode/attach" "sluicectl attach $IF_SRV --mode $mode failed: $(cat "$TMP/err")"
		continue
	fi
	t_expect "$mode/attach: the connection counter is pinned" "conns/" \
		"$(ls "$PIN_DIR/conns" 2>&1)" "$IF_SRV"
	case_bar "$mode"
	case_accept_queue "$mode"
	case_time_wait "$mode"
	case_limit_off "$mode"
	if ctl detach "$IF_SRV" >/dev/null; then
		t_expect "$mode/detach: the counter and its socket storage go" "pins" \
			"$(ls "$PIN_DIR/conns" 2>&1; ls "$PIN_DIR" | grep -c sl_conn_sk)" 0
	else
		t_fail "$mode/detach" "sluicectl detach $IF_SRV failed"
	fi
	ctl service del $SVC >/dev/null 2>&1
done
finish
