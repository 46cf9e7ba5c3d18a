#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# sluiced's HTTP front on loopback, without a data plane (no root needed):
# keep-alive and pipelining, the bounded head, the header and idle
# timeouts against slow clients, max-connections, chunked bodies, HEAD,
# and SIGTERM draining. Prints cmocka-style lines for tests/run.sh.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
SLUICED=${SL_TEST_SLUICED:-${BUILD:-$here/../../build}/sluiced}
failed=0 n=0
ok() { echo "[       OK ] server: $1"; n=$((n + 1)); }
bad() { echo "[  FAILED  ] server: $1: $2"; failed=$((failed + 1)); n=$((n + 1)); }
expect() { if [[ "$3" == "$4" ]]; then ok "$1"; else bad "$1" "$2: got '$3', expected '$4'"; fi; }

echo "[==========] Running sluiced HTTP front tests"
if [[ ! -x $SLUICED ]]; then
	echo "[  FAILED  ] server: $SLUICED is not built (run make)"
	exit 1
fi
if ! command -v python3 >/dev/null; then
	echo "[  SKIPPED ] server: all: needs python3 (make deps installs it) ($(grep -cE '^(expect|ok|bad) ' "$0") cases)"
	exit 0
fi
# A port free on loopback (tests/lib/ports.sh says why not the PID's).
source "$here/../lib/ports.sh"
PORT=$(free_ports 1)
# The most generous target and deadline (1 s, 60 s): these cases check
# the HTTP front, and on a busy machine the controller would answer some
# of them 503 (at load average 76, with 200 ms and 2 s, it did).
LOG=$(mktemp)
"$SLUICED" --listen 127.0.0.1:$PORT --metrics none --pin-dir /nonexistent/sluice \
	--workers 1 --header-timeout 1 --request-timeout 2 --idle-timeout 1 \
	--max-connections 8 --target-delay 1000 --deadline 60000 --log-level warn 2>"$LOG" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -f "$LOG"' EXIT
for _ in $(seq 200); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT)).close()" \
		2>/dev/null && break
	sleep 0.1
done

# raw SEND: send bytes, print the status codes of what comes back before
# the server closes or 10 s pass (a bound for a loaded machine: every case
# expects the close), and "EOF" if closed.
raw() {
	python3 - "$PORT" "$1" 10 <<'EOF'
import socket, sys, time, re
port, data, wait = int(sys.argv[1]), sys.argv[2].encode().decode('unicode_escape').encode('latin-1'), float(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port))
s.sendall(data)
s.settimeout(wait)
out, end = b"", time.time() + wait
eof = False
while time.time() < end:
    try:
        d = s.recv(65536)
    except socket.timeout:
        break
    except ConnectionResetError:
        eof = True
        break
    if not d:
        eof = True
        break
    out += d
codes = re.findall(rb"HTTP/1\.1 (\d{3})", out)
print(" ".join(c.decode() for c in codes) + (" EOF" if eof else ""))
EOF
}

H='Host: x\r\n'
expect "pipelined keep-alive requests answered in order" "statuses" \
	"$(raw "GET /health HTTP/1.1\r\n$H\r\nGET /nope HTTP/1.1\r\n$H\r\nGET /work?cpu_us=10 HTTP/1.1\r\n${H}Connection: close\r\n\r\n")" \
	"200 404 200 EOF"
expect "HEAD has no body, keeps the connection" "statuses" \
	"$(raw "HEAD /health HTTP/1.1\r\n$H\r\nGET /health HTTP/1.1\r\n${H}Connection: close\r\n\r\n")" \
	"200 200 EOF"
expect "a bad request is 400 and closed" "statuses" "$(raw "GARBAGE\r\n\r\n")" "400 EOF"
big=$(head -c 9000 /dev/zero | tr '\0' a)
expect "a head over 8 KiB is refused (431) and closed" "statuses" \
	"$(raw "GET /health HTTP/1.1\r\n${H}X-Big: $big\r\n\r\n")" "431 EOF"
expect "a slow client's head times out (408)" "statuses" \
	"$(raw "GET /health HTTP/1.1\r\n")" "408 EOF"
expect "an idle keep-alive connection is closed" "statuses" \
	"$(raw "GET /health HTTP/1.1\r\n$H\r\n")" "200 EOF"
expect "a chunked body is read" "statuses" \
	"$(raw "GET /health HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n")" \
	"200 EOF"
expect "bad work parameters are 400" "statuses" \
	"$(raw "GET /work?cpu_us=x HTTP/1.1\r\n${H}Connection: close\r\n\r\n")" "400 EOF"
expect "POST to a built-in is 405" "statuses" \
	"$(raw "POST /health HTTP/1.1\r\n${H}Content-Length: 2\r\nConnection: close\r\n\r\nab")" "405 EOF"

# max-connections 8: 8 slow clients hold every slot with half a head;
# 4 more wait in the kernel's accept queue. The header timeout answers the
# slot holders 408, which frees the slots, and only then are the waiting
# ones served. With the limit ignored the waiting ones would be served
# while the slots are still held, before any 408: the order is the check.
held=$(python3 - "$PORT" <<'EOF'
import selectors, socket, sys, time
port = int(sys.argv[1])
sel = selectors.DefaultSelector()
socks = []
for _ in range(8):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /health HTTP/1.1\r\n")
    socks.append(("slot", s))
for _ in range(4):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    socks.append(("wait", s))
status = {}
for i, (_, s) in enumerate(socks):
    sel.register(s, selectors.EVENT_READ, i)
seq, end = 0, time.monotonic() + 30  # a bound for a loaded machine
while len(status) < len(socks) and time.monotonic() < end:
    for key, _ in sel.select(0.5):
        try:
            d = key.fileobj.recv(100)
        except OSError:
            d = b""
        status[key.data] = (d.split(b" ")[1].decode() if d.startswith(b"HTTP/") else "none", seq)
        sel.unregister(key.fileobj)
    seq += 1
slot = [status.get(i, ("none", -1)) for i, (k, _) in enumerate(socks) if k == "slot"]
wait = [status.get(i, ("none", -1)) for i, (k, _) in enumerate(socks) if k == "wait"]
first_408 = min((q for c, q in slot if c == "408"), default=1 << 30)
ok = all(c == "408" for c, _ in slot) and all(c == "200" for c, _ in wait) and \
    all(q >= first_408 for _, q in wait)
print("answered in order" if ok else "slot holders " + " ".join("%s@%d" % x for x in slot) +
      ", waiting " + " ".join("%s@%d" % x for x in wait))
EOF
)
expect "past max-connections, connections wait for a free slot" "statuses" "$held" "answered in order"

# SIGTERM with a request in flight: it is answered, then the daemon exits 0.
python3 - "$PORT" "$LOG.sent" >"$LOG.slow" <<'EOF' &
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /work?sleep_us=1000000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
open(sys.argv[2], "w").close()
s.settimeout(30)
print(s.recv(100).split(b"\r\n")[0].decode())
EOF
CPID=$!
for _ in $(seq 200); do [[ -e $LOG.sent ]] && break; sleep 0.1; done
# Until the daemon has read it: its side of the connection holds no unread
# byte (in the accept queue it would hold the request).
for _ in $(seq 200); do
	[[ $(ss -Htn state established "( sport = :$PORT )" | awk '{ print $1 }') == 0 ]] && break
	sleep 0.1
done
kill -TERM $PID
wait $PID
rc=$?
wait $CPID
expect "SIGTERM: the request in flight is answered" "status line" "$(cat "$LOG.slow")" "HTTP/1.1 200 OK"
expect "SIGTERM: exit status 0" "rc" "$rc" 0
rm -f "$LOG.slow" "$LOG.sent"

echo "[==========] $n test(s) run."
((failed == 0))
