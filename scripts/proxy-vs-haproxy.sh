#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The reverse-proxy case table of tests/sluiced/proxy_cases.py, run side by
# side through sluiced and through HAProxy (`option forwardfor`, keep-alive
# to the server), both in front of the same scripted upstream on loopback,
# with the same 4 s server timeout. With OLD_SLUICED=PATH, a third column
# for another sluiced build (say, main before a change).
#
#   scripts/proxy-vs-haproxy.sh            prints a markdown table
#
# Needs python3 and haproxy; no root. Ports from 41000 + PID % 10000.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
SLUICED=${SLUICED:-$root/build/sluiced}
CASES=$root/tests/sluiced/proxy_cases.py
command -v haproxy >/dev/null || { echo "haproxy not installed" >&2; exit 1; }
[[ -x $SLUICED ]] || { echo "$SLUICED not built (make)" >&2; exit 1; }

base=$((41000 + $$ % 10000))
UP=$base SL=$((base + 1)) HA=$((base + 2)) OLD=$((base + 3))
TMP=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; [[ -n ${KEEP_TMP:-} ]] || rm -rf "$TMP"' EXIT

python3 "$CASES" upstream $UP A 2>/dev/null &
PIDS+=($!)
sluiced_at() {
	"$1" --listen 127.0.0.1:$2 --upstream 127.0.0.1:$UP --metrics none \
		--pin-dir /nonexistent/sluice --workers 1 --request-timeout 4 --header-timeout 2 \
		--target-delay 1000 --deadline 2000 --log-level error 2>"$TMP/sluiced-$2.log" &
	PIDS+=($!)
}
sluiced_at "$SLUICED" $SL
cat >"$TMP/haproxy.cfg" <<EOF
global
	maxconn 256
defaults
	mode http
	timeout connect 1s
	timeout client 10s
	timeout server 4s
	option http-keep-alive
	option forwardfor
frontend f
	bind 127.0.0.1:$HA
	default_backend b
backend b
	http-reuse safe
	server up 127.0.0.1:$UP
EOF
haproxy -f "$TMP/haproxy.cfg" -db 2>"$TMP/haproxy.log" &
PIDS+=($!)
cols=("sluiced:$SL" "HAProxy $(haproxy -v | awk 'NR == 1 { print $3 }'):$HA")
if [[ -n ${OLD_SLUICED:-} ]]; then
	sluiced_at "$OLD_SLUICED" $OLD
	cols+=("sluiced (OLD_SLUICED):$OLD")
fi
for port in $UP $SL $HA ${OLD_SLUICED:+$OLD}; do
	for _ in $(seq 50); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1', $port)).close()" \
			2>/dev/null && break
		sleep 0.1
	done
done

tables=()
for c in "${cols[@]}"; do
	name=${c%:*} port=${c##*:}
	PROXY_LABEL=$name PROXY_CASES_TABLE="$TMP/$port.json" \
		python3 "$CASES" cases "$port" $UP >"$TMP/$port.log" 2>&1
	tables+=("$name=$TMP/$port.json")
done
python3 - "${tables[@]}" <<'EOF'
import json, sys
cols = [a.split("=", 1) for a in sys.argv[1:]]
data = [json.load(open(path)) for _, path in cols]
print("| case | expected | " + " | ".join(n for n, _ in cols) + " |")
print("|---|---|" + "---|" * len(cols))
for i, (name, want, _, _) in enumerate(data[0]):
    cells = []
    for d in data:
        seen, ok = d[i][2], d[i][3]
        cells.append(("pass" if ok else "**FAIL**") + ": " + seen.replace("|", "/"))
    print("| %s | %s | %s |" % (name, want, " | ".join(cells)))
print()
print(" ".join("%s: %d/%d pass." % (n, sum(r[3] for r in d), len(d)) for (n, _), d in zip(cols, data)))
EOF
