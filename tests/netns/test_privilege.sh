#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Least privilege: sluicectl and sluiced as uid 65534 holding only CAP_BPF,
# CAP_NET_ADMIN and CAP_PERFMON (setpriv, ambient), on a pin dir that user
# owns (a directory under /sys/fs/bpf, and a bpffs mounted with uid=/gid=).
# attach, service add/set, stats, detach and sluiced serving work; pins
# are the creator's, 0600 (dirs 0700); with any one capability missing the
# error names it.
source "$(dirname "$0")/lib.sh"
require_env setpriv curl

SLUICED=${SLUICED:-$BUILD/sluiced}
[[ -x $SLUICED ]] || skip_all "$SLUICED is not built (run make)"
USER_ID=65534
CAPS=(bpf net_admin perfmon)
PORT=8080
OWNED=/sys/fs/bpf/sluice-priv-$$	# owned by the user; the pins below it
PIN_DIR=$OWNED/pins
MNT=$(mktemp -d /tmp/sluice-bpffs.XXXXXX)
LOG=$(mktemp /tmp/sluice-priv.XXXXXX)

topo_up || { t_fail topology "could not build the test hosts"; finish; }
trap 'cleanup; umount "$MNT" 2>/dev/null; rmdir "$MNT"; rm -rf "$OWNED" "$LOG"' EXIT
mkdir "$OWNED" && chown $USER_ID:$USER_ID "$OWNED"

# setpriv_args CAPS: setpriv's arguments for the user holding only CAPS (a
# comma-separated list such as bpf,net_admin; empty: none).
setpriv_args() {
	local set=
	[[ -n $1 ]] && set=,+${1//,/,+}
	echo "--reuid $USER_ID --regid $USER_ID --clear-groups --inh-caps -all$set" \
		"--ambient-caps -all$set --bounding-set -all$set"
}
# as_user CAPS CMD...: CMD on the server host as that user.
as_user() {
	local caps=$1
	shift
	# shellcheck disable=SC2046
	nsenter --net="/run/netns/$NS_SRV" setpriv $(setpriv_args "$caps") "$@"
}
ALL=$(IFS=,; echo "${CAPS[*]}")
uctl() { as_user "$ALL" "$SLUICECTL" --pin-dir "$PIN_DIR" "$@"; }

# --- sluicectl --------------------------------------------------------------
uctl attach "$IF_SRV" >"$LOG" 2>&1
t_expect "sluicectl attach as uid $USER_ID with only ${CAPS[*]}" "exit status" $? 0
t_expect "the pins are the user's, files 0600 and dirs 0700" "modes and owners" \
	"$(find "$PIN_DIR" -printf '%U %m %y\n' | sort -u | tr '\n' ';')" \
	"$USER_ID 600 f;$USER_ID 700 d;"
uctl service add tcp/$PORT --rate 1 --burst 1 --action reject >>"$LOG" 2>&1 &&
	uctl service set tcp/$PORT --rate 2 >>"$LOG" 2>&1
t_expect "sluicectl service add and set" "exit status" $? 0
echo_server $PORT || t_fail topology "echo service did not start"
read -r SA RST < <(syn_probe 10 $PORT)
t_expect "the user's limits are enforced (RSTs for what the bucket refused)" "RSTs" \
	"$RST" "$(uctl -j stats | jq -r '.services[] | select(.service == "tcp/8080") | .rejected')"
t_expect_cmp "sluicectl stats reads them" "rejected" \
	"$(uctl -j stats | jq -r '.services[] | select(.service == "tcp/8080") | .rejected')" -ge 1
uctl detach "$IF_SRV" >>"$LOG" 2>&1 && ! srv ip link show "$IF_SRV" | grep -q xdp
t_expect "sluicectl detach" "exit status" $? 0
uctl service del tcp/$PORT >>"$LOG" 2>&1

# With each capability missing: refused, naming it, nothing attached.
for miss in "${CAPS[@]}"; do
	have=$(printf '%s\n' "${CAPS[@]}" | grep -vx "$miss" | paste -sd,)
	out=$(as_user "$have" "$SLUICECTL" --pin-dir "$PIN_DIR" attach "$IF_SRV" 2>&1)
	rc=$?
	name=CAP_${miss^^}
	[[ $rc -eq 1 && $out == *"needs $name"* ]] && ! srv ip link show "$IF_SRV" | grep -q xdp
	t_expect "without $name: attach refused, naming it" "exit status / message" \
		"$rc / $(grep -o "needs $name" <<<"$out")" "1 / needs $name"
done
out=$(as_user "" "$SLUICECTL" --pin-dir "$PIN_DIR" -j stats 2>&1)
t_expect "without any: stats names CAP_BPF" "error" \
	"$(jq -r .error <<<"$out" | grep -o 'needs CAP_BPF')" "needs CAP_BPF"

# --- sluiced ----------------------------------------------------------------
pkill_port() { srv ss -Htlnp "sport = :$PORT" | grep -o 'pid=[0-9]*' | cut -d= -f2 | xargs -r kill; }
pkill_port	# the echo service leaves the port to sluiced
for ((i = 0; i < 200; i++)); do srv ss -Hltn "sport = :$PORT" | grep -q LISTEN || break; sleep 0.1; done
# nsenter and setpriv exec: $! is the daemon (as_user would put a subshell
# in between). A generous target and deadline: this checks privileges, and
# on a busy machine a 5 ms deadline may answer the request 503.
# shellcheck disable=SC2046
nsenter --net="/run/netns/$NS_SRV" setpriv $(setpriv_args "$ALL") "$SLUICED" --listen "$SRV4:$PORT" \
	--iface "$IF_SRV" --pin-dir "$PIN_DIR" --workers 1 --metrics none \
	--target-delay 1000 --deadline 5000 >>"$LOG" 2>&1 &
DPID=$!
wait_listen $PORT
# It attaches and claims its entry after it listens: a request before that
# passes unjudged.
claimed() { [[ $(uctl -j service list | jq -r '.services[] | select(.service == "tcp/8080") | .daemon') == true ]]; }
wait_until 20 claimed
t_expect "sluiced as uid $USER_ID serves" "reply" \
	"$(cli curl -s --max-time 20 "http://$SRV4:$PORT/health")" ok
uctl -j stats >>"$LOG"
t_expect_cmp "and its data plane judged the connection" "admitted" \
	"$(uctl -j stats | jq -r '.services[] | select(.service == "tcp/8080") | .admitted')" -ge 1
kill -TERM $DPID
wait $DPID
t_expect "sluiced drains and exits cleanly" "exit status" $? 0
uctl detach "$IF_SRV" >>"$LOG" 2>&1

out=$(as_user bpf,net_admin "$SLUICED" --listen "$SRV4:$PORT" --iface "$IF_SRV" --pin-dir "$PIN_DIR" \
	--workers 1 --metrics none 2>&1)
rc=$?
t_expect "sluiced without CAP_PERFMON refuses to start, naming it" "exit status / message" \
	"$rc / $(grep -o 'needs CAP_PERFMON' <<<"$out" | head -1)" "1 / needs CAP_PERFMON"

# --- a bpffs mounted for the user -------------------------------------------
if mount -t bpf -o uid=$USER_ID,gid=$USER_ID,mode=0700 bpffs "$MNT" 2>>"$LOG"; then
	as_user "$ALL" "$SLUICECTL" --pin-dir "$MNT/sluice" attach "$IF_SRV" >>"$LOG" 2>&1 &&
		as_user "$ALL" "$SLUICECTL" --pin-dir "$MNT/sluice" detach "$IF_SRV" >>"$LOG" 2>&1
	t_expect "attach and detach on a bpffs mounted with uid=$USER_ID" "exit status" $? 0
else
	t_fail "bpffs uid=" "cannot mount a bpffs with uid=$USER_ID: $(tail -1 "$LOG")"
fi
[[ $_failed -eq 0 ]] || { echo "--- log"; cat "$LOG"; }
finish
