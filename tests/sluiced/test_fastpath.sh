#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# sluiced's fast path and drain on loopback, without a data plane (no root
# needed): none for a closed loop under capacity; each 503 reason the
# daemon answers without working the request
# (full, expired, draining, rate), counted exactly, with the Retry-After
# the controller computes; and SIGTERM closing the listener, answering on
# open connections and closing idle ones. Prints cmocka-style lines.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-$here/../../build}
SLUICED=${SL_TEST_SLUICED:-$BUILD/sluiced}
LOAD=$BUILD/sluice-load
failed=0 n=0
ok() { echo "[       OK ] fastpath: $1"; n=$((n + 1)); }
bad() { echo "[  FAILED  ] fastpath: $1: $2"; failed=$((failed + 1)); n=$((n + 1)); }
expect() { if [[ "$3" == "$4" ]]; then ok "$1"; else bad "$1" "$2: got '$3', expected '$4'"; fi; }

echo "[==========] Running sluiced fast-path and drain tests"
if [[ ! -x $SLUICED || ! -x $LOAD ]]; then
	echo "[  FAILED  ] fastpath: $SLUICED or $LOAD is not built (run make)"
	exit 1
fi
if ! command -v python3 >/dev/null; then
	echo "[  SKIPPED ] fastpath: all: needs python3 (make deps installs it) ($(grep -cE '^(expect|ok|bad) ' "$0") cases)"
	exit 0
fi
# Two ports free on loopback (tests/lib/ports.sh says why not the PID's).
source "$here/../lib/ports.sh"
read -r PORT MPORT < <(free_ports 2)
LOG=$(mktemp -d)
PID=
trap '[[ -n $PID ]] && kill $PID 2>/dev/null; wait 2>/dev/null; rm -rf "$LOG"' EXIT

# stop_daemon: SIGTERM (again: the handler only sets a flag) and the exit
# status, waiting at most ~60 s before SIGKILL (then 137), so that a case
# that failed before its own SIGTERM cannot hang the file.
stop_daemon() {
	local i
	kill -TERM $PID 2>/dev/null
	for ((i = 0; i < 600; i++)); do
		kill -0 $PID 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL $PID 2>/dev/null
	wait $PID
}

# start ARGS: a daemon on PORT, metrics on MPORT; sets PID.
start() {
	"$SLUICED" --listen 127.0.0.1:$PORT --metrics 127.0.0.1:$MPORT --pin-dir /nonexistent/sluice \
		--workers 1 --log-level warn "$@" 2>>"$LOG/sluiced.log" &
	PID=$!
	python3 - "$MPORT" <<'EOF'
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1]))).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
EOF
}

# The client side, shared by the cases below (a Python module on stdin
# would not leave stdin for the case's own script).
cat >"$LOG/client.py" <<'EOF'
import re, socket, time, urllib.request

def metrics(mport):
    page = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=5).read().decode()
    return {l.split(" ")[0]: float(l.split(" ")[1]) for l in page.splitlines()
            if l and not l.startswith("#")}

def fast(mport, reason):
    return int(metrics(mport)['sluiced_fastpath_total{reason="%s"}' % reason])

def wait_for(cond, what, bound_s=30):
    """Until cond() holds, at most bound_s (a bound, not a speed claim)."""
    end = time.monotonic() + bound_s
    while not cond():
        if time.monotonic() > end:
            raise SystemExit("never happened: " + what)
        time.sleep(0.02)

def send(port, data):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(data)
    return s

def response(s, wait_s=120):  # (a second of CPU took 38 s at load average 76)
    """Status, Retry-After (or None) and whether the server closed after."""
    s.settimeout(wait_s)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except socket.timeout:
        return (0, None, False)
    except ConnectionResetError:
        pass
    m = re.match(rb"HTTP/1\.1 (\d{3})", out)
    ra = re.search(rb"\r\nRetry-After: (\d+)\r\n", out)
    return (int(m.group(1)) if m else 0, int(ra.group(1)) if ra else None, True)

GET = b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
EOF

# --- no 503 below saturation: a closed loop of 64 keep-alive connections
# (wrk's load in make bench-proxy: at most 64 requests in flight, which
# one worker completes well within the target) is answered 200 in full,
# at the default target and deadline. A worker descheduled past the
# deadline (a busy host) makes the requests queued behind it late; the
# deadline drop lets them be, as the queue does not stand (standing.h),
# and sluiced_late_worked_total counts them. Under capacity means the 64
# complete within the target: a slow build (TSan: ~20x the CPU per
# request) gets as many as one connection completes, one after another,
# within a quarter of the deadline (5 ms), measured first, at least 4.
start || { bad "start" "sluiced did not listen"; exit 1; }
"$LOAD" --quiet --timeout 10000 --closed 1 --duration 1 --json "$LOG/one.json" \
	"http://127.0.0.1:$PORT/work?cpu_us=0" >/dev/null 2>"$LOG/closed.err"
conns=$(python3 -c "import json; g = json.load(open('$LOG/one.json'))['goodput']; print(max(4, min(64, int(g * 0.00125))))" 2>/dev/null || echo 4)
"$LOAD" --quiet --timeout 10000 --closed "$conns" --duration 3 --json "$LOG/closed.json" \
	"http://127.0.0.1:$PORT/work?cpu_us=0" >/dev/null 2>>"$LOG/closed.err"
out=$(cd "$LOG" && python3 - "$MPORT" "$conns" <<'EOF' 2>&1
import json, sys
from client import *
mport = int(sys.argv[1])
o = json.load(open("closed.json"))["outcomes"]
m = metrics(mport)
shed = {k.split('"')[1]: int(v) for k, v in m.items() if k.startswith("sluiced_fastpath_total{")}
print("ok %s" % ("yes" if o["ok"] > 0 else "none"))
print("not 2xx %d" % (sum(o.values()) - o["ok"]))
print("fast path %s" % (" ".join("%s=%d" % kv for kv in sorted(shed.items()) if kv[1]) or "none"))
print("late worked %d of %d, %s connections" % (m["sluiced_late_worked_total"], m["sluiced_worked_total"], sys.argv[2]))
EOF
)
stop_daemon
PID=
expect "a closed loop under capacity is served" "outcomes" "$(sed -n 1p <<<"$out")" "ok yes"
expect "a closed loop under capacity gets no 503 (no spurious shed)" "sluice-load" \
	"$(sed -n 2p <<<"$out")" "not 2xx 0"
expect "a closed loop under capacity: nothing answered on the fast path" "sluiced_fastpath_total" \
	"$(sed -n 3p <<<"$out")" "fast path none"
echo "           ($(sed -n 4p <<<"$out"))"

# --- full and expired: one worker, a queue bound of 1, a deadline of
# 100 ms. A burns 1 s of CPU on the worker (a sleep would be handed to the
# pool's blocking threads; a second leaves room for the client's steps
# below on a loaded machine, where A must still hold the worker when C
# comes); B waits behind it in the queue (its
# wait passes the deadline: answered 503 "expired" when dequeued); C finds
# the queue at its bound (503 "full" at accept, never queued). (The idle
# and request timeouts are far beyond any wait below: in the SIGTERM case
# only the drain may close the idle connection.)
start --queue-bound 1 --deadline 100 --target-delay 200 --header-timeout 30 \
	--idle-timeout 600 --request-timeout 600 || { bad "start" "sluiced did not listen"; exit 1; }
out=$(cd "$LOG" && python3 - "$PORT" "$MPORT" <<'EOF' 2>&1
import sys
from client import *
port, mport = int(sys.argv[1]), int(sys.argv[2])
m = lambda k: metrics(mport)[k]
a = send(port, GET % b"/work?cpu_us=1000000")
wait_for(lambda: m("sluiced_requests_total") >= 1 and m("sluiced_pool_queue_depth") == 0,
         "A on the worker")
b = send(port, GET % b"/health")
wait_for(lambda: m("sluiced_requests_total") >= 2, "B queued")
c = send(port, GET % b"/health")
st_c = response(c)
ra_now = int(m("sluiced_controller_retry_after_seconds"))
st_a, st_b = response(a), response(b)
print("A %d, B %d %s, C %d %s" % (st_a[0], st_b[0], st_b[1] is not None, st_c[0], st_c[1] is not None))
print("full %d expired %d" % (fast(mport, "full"), fast(mport, "expired")))
EOF
)
expect "a request past the queue bound is 503 (full), one waiting past the deadline 503 (expired)" \
	"statuses (Retry-After present)" "$(sed -n 1p <<<"$out")" "A 200, B 503 True, C 503 True"
expect "full and expired counted once each" "sluiced_fastpath_total" "$(sed -n 2p <<<"$out")" \
	"full 1 expired 1"

# --- SIGTERM: the listener closes at once (a new connection is refused),
# an idle keep-alive connection is closed without an answer, a request in
# flight is answered 200, and a request completed on an open connection
# after the signal is answered 503 (draining) and closed; then exit 0.
out=$(cd "$LOG" && python3 - "$PORT" "$MPORT" "$PID" <<'EOF' 2>&1
import os, signal, socket, sys
from client import *
port, mport, pid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
m = lambda k: metrics(mport)[k]
idle = send(port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
idle.settimeout(30)
first = idle.recv(65536)
half = [send(port, b"GET /health HTTP/1.1\r\n") for _ in range(2)]
wait_for(lambda: m("sluiced_connections_open") >= 3, "the idle and half-sent connections accepted")
# Last, the one in flight: a second of CPU on the worker (a sleep would
# end on its own in a second, perhaps before the signal on a busy machine).
r0 = m("sluiced_requests_total")
busy = send(port, GET % b"/work?cpu_us=1000000")
wait_for(lambda: m("sluiced_requests_total") > r0, "the slow request in flight")
os.kill(pid, signal.SIGTERM)
# Any failed connect shows the listener gone: a refusal, or on a loaded
# machine a reset or a timeout of a SYN that met the listener as it closed.
# An open listener completes every handshake in the kernel (its backlog
# far exceeds the attempts of this poll), accepting or not.
def refused():
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        return False
    except OSError:
        return True
wait_for(refused, "the listener closed")
print("listener refused")
# Closed by the drain, at once: a bound for a close that never comes (the
# daemon's own timeouts are 600 s), not a speed claim.
idle.settimeout(120)
try:
    idle_after = idle.recv(65536)
except socket.timeout:
    idle_after = b"still open after 120 s"
print("idle: answered %s, then %s" % (first.startswith(b"HTTP/1.1 200"), "closed" if idle_after == b"" else repr(idle_after[:22])))
half[0].sendall(b"Host: x\r\n\r\n")
st = response(half[0])
print("open: %d, Retry-After %s, closed %s; draining %d" % (st[0], st[1] is not None, st[2], fast(mport, "draining")))
half[1].sendall(b"Host: x\r\n\r\n")
response(half[1])
print("in flight: %d" % response(busy)[0])
EOF
)
stop_daemon
rc=$?
PID=
expect "SIGTERM: the listener is closed" "new connection" "$(sed -n 1p <<<"$out")" "listener refused"
expect "SIGTERM: an idle keep-alive connection is closed unanswered" "idle" "$(sed -n 2p <<<"$out")" \
	"idle: answered True, then closed"
expect "SIGTERM: a request on an open connection is answered 503 (draining), then closed" "open" \
	"$(sed -n 3p <<<"$out")" "open: 503, Retry-After True, closed True; draining 1"
expect "SIGTERM: the request in flight is answered" "in flight" "$(sed -n 4p <<<"$out")" "in flight: 200"
expect "SIGTERM: exit status 0 once drained" "rc" "$rc" 0

# --- rate, and the Retry-After value: without a data plane the controller's
# rate is enforced at accept while it is engaged. An open-loop load at ~5x
# what one worker serves engages it; the Retry-After of a 503 is the
# controller's value (sluiced_controller_retry_after_seconds, read just
# before and after while it holds still), which spreads the retries of a
# demand above the rate over more than a second. A tick of 200 ms keeps
# the value still between the reads more often than the default 10 ms.
start --tick 200 || { bad "start" "sluiced did not listen"; exit 1; }
"$LOAD" --quiet --timeout 5000 --rate 5000 --duration 8 \
	"http://127.0.0.1:$PORT/work?cpu_us=1000" >/dev/null 2>&1 &
LPID=$!
out=$(cd "$LOG" && python3 - "$PORT" "$MPORT" "$LPID" <<'EOF' 2>&1
import os, sys, time
from client import *
port, mport, lpid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def load_runs():
    try:
        os.kill(lpid, 0)
        return True
    except OSError:
        return False
# A value of 2 or more shows it is the controller's and not a constant;
# a slow build (the sanitizers) may only reach 1 while the load runs,
# which is still compared with the controller's. Every 503 that came with
# no tick between the two reads (the tick count and the value the same in
# both) must carry that value: one that does not is a failure, whatever
# matched before (a constant 1 matches while the controller is at 1).
RA, TICKS = "sluiced_controller_retry_after_seconds", "sluiced_controller_ticks_total"
seen = "no 503 with a steady controller value while the load ran"
matched = wrong = None
while load_runs():
    before = metrics(mport)
    st = response(send(port, GET % b"/health"))
    after = metrics(mport)
    ra = before[RA]
    if st[0] == 503 and ra == after[RA] and before[TICKS] == after[TICKS] and ra >= 1:
        seen = "Retry-After %s, controller %d" % (st[1], ra)
        if st[1] != int(ra):
            wrong = seen
            break
        matched = seen
        if ra >= 2:
            break
    elif matched is None:
        seen = "no 503 with a steady controller value while the load ran " \
               "(last: controller %g, status %d, Retry-After %s, controller %g)" % (ra, st[0], st[1], after[RA])
    time.sleep(0.05)
print(wrong or matched or seen)
EOF
)
wait $LPID
stop_daemon
PID=
if [[ $out =~ ^Retry-After\ ([0-9]+),\ controller\ ([0-9]+)$ && ${BASH_REMATCH[1]} == "${BASH_REMATCH[2]}" ]]; then
	ok "a 503 carries the controller's Retry-After ($out)"
else
	bad "a 503 carries the controller's Retry-After" "$out"
fi
# The refusals at accept themselves, on the default tick (10 ms), which
# engages the controller within a tick of the overload; up to three loads
# of 4 s (on a starved machine the generator may fall short of 5000/s).
start || { bad "start" "sluiced did not listen"; exit 1; }
for _ in 1 2 3; do
	"$LOAD" --quiet --timeout 5000 --rate 5000 --duration 4 \
		"http://127.0.0.1:$PORT/work?cpu_us=1000" >/dev/null 2>&1
	rate=$(cd "$LOG" && python3 -c "from client import *; print(fast($MPORT, 'rate'))")
	[[ $rate =~ ^[0-9]+$ ]] && ((rate > 0)) && break
done
if [[ $rate =~ ^[0-9]+$ ]] && ((rate > 0)); then
	ok "overload is refused at accept by the controller's rate ($rate)"
else
	bad "overload is refused at accept by the controller's rate" "sluiced_fastpath_total{reason=\"rate\"}: $rate"
fi
stop_daemon
PID=

if grep -q Sanitizer "$LOG/sluiced.log"; then
	bad "no sanitizer report in the daemons' log" "$(grep -m1 Sanitizer "$LOG/sluiced.log")"
else
	ok "no sanitizer report in the daemons' log"
fi
echo "[==========] $n test(s) run."
((failed == 0))
