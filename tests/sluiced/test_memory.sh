#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# sluiced gives back the memory a burst of connections took (server.c,
# CONN_CACHE), on loopback without a data plane (no root needed): a daemon
# that has served a few requests is sent a burst of BURST connections, each
# holding half a request head so that it is accepted and kept; once they
# are all open they close, and its RSS must come back down to within 1% of
# where it was before the burst (make soak's bar). Kept for reuse instead,
# every peak was a step up in RSS that never came down (make soak); and
# freed into the worker thread's own malloc arena, the arena's free end
# stayed resident: 112-120 KiB above (memory.c). Prints cmocka-style
# lines for tests/run.sh.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
SLUICED=${SL_TEST_SLUICED:-${BUILD:-$here/../../build}/sluiced}
BURST=800
failed=0
ok() { echo "[       OK ] memory: $1"; }
bad() { echo "[  FAILED  ] memory: $1: $2"; failed=1; }

echo "[==========] Running sluiced memory tests"
if [[ ! -x $SLUICED ]]; then
	echo "[  FAILED  ] memory: $SLUICED is not built (run make)"
	exit 1
fi
if ! command -v python3 >/dev/null; then
	echo "[  SKIPPED ] memory: all: needs python3 (make deps installs it) (2 cases)"
	exit 0
fi
# ASan and TSan have allocators of their own, which hold freed memory in
# quarantine: there the figures are printed, not asserted.
san_build=0
if ldd "$SLUICED" 2>/dev/null | grep 'lib[at]san' >/dev/null; then	# (not -q: SIGPIPE under pipefail)
	san_build=1
fi
# A port nothing listens on now (the kernel's pick for a bind to port 0).
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LOG=$(mktemp)
"$SLUICED" --listen 127.0.0.1:$PORT --metrics none --pin-dir /nonexistent/sluice \
	--workers 1 --header-timeout 30 --max-connections $((BURST + 100)) --log-level warn 2>"$LOG" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -f "$LOG"' EXIT

# The burst, from one python process: prints "BASE PEAK AFTER" in KiB, the
# daemon's RSS after its first requests, with the burst open, and the
# lowest it came down to within 10 s of the burst closing (it stops
# looking once within 1% of the first).
out=$(python3 - "$PORT" "$PID" "$BURST" <<'EOF'
import os, resource, socket, sys, time
port, pid, burst = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])

def rss():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

def fds():
    return len(os.listdir(f"/proc/{pid}/fd"))

def get(path):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    while s.recv(4096):
        pass
    s.close()

for _ in range(50):
    try:
        get("/health")
        break
    except OSError:
        time.sleep(0.1)
for _ in range(100):
    get("/work?cpu_us=100")
base, fd0 = rss(), fds()

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, burst + 100)), hard))
held = []
for _ in range(burst):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /health HTTP/1.1\r\n")    # half a head: accepted, then waiting
    held.append(s)
end = time.time() + 20
while fds() < fd0 + burst and time.time() < end:
    time.sleep(0.05)
if fds() < fd0 + burst:
    print(f"only {fds() - fd0} of {burst} connections accepted")
    sys.exit(1)
peak = rss()
for s in held:
    s.close()
after, end = peak, time.time() + 10
while time.time() < end:
    after = min(after, rss())
    if after <= base + base // 100:
        break
    time.sleep(0.1)
print(base, peak, after)
EOF
)
read -r base peak after <<<"$out"
if [[ ! $base =~ ^[0-9]+$ || ! $after =~ ^[0-9]+$ ]]; then
	bad "a burst of $BURST connections" "${out:-the burst did not run}"
	bad "its memory given back after it" "no figures"
	exit 1
fi
if ((peak - base >= BURST * 4)); then
	ok "a burst of $BURST connections took $((peak - base)) KiB"
else
	bad "a burst of $BURST connections" "took $((peak - base)) KiB, expected >= $((BURST * 4))"
fi
back=$((peak - after))
if ((san_build)); then
	echo "# memory: RSS $base -> $peak -> $after KiB (not asserted in a sanitizer build)"
	ok "its memory given back after it (printed, not asserted: a sanitizer's allocator)"
elif ((after - base <= base / 100)); then
	ok "its memory given back after it: RSS $base -> $peak -> $after KiB"
else
	bad "its memory given back after it" "RSS $base -> $peak -> $after KiB, $back KiB given back, expected down to $((base + base / 100))"
fi
exit $failed
