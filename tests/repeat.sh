#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The daemon and namespace tests, ROUNDS times in a row beside a load, to
# show they hold on a busy machine (a test checks behaviour, so a loaded
# CPU may slow it but never change its outcome). Stops at the first failed
# round and keeps every round's logs. Run as root after `make`
# (`make test-loaded` does both):
#
#   tests/repeat.sh [ROUNDS [LOAD]]      ROUNDS 20; LOAD stress (default),
#                                        make or none
#
#   stress  stress-ng --cpu 1 (one core of two kept busy)
#   make    `make -j2` of a scratch clone of this tree, over and over
#
# A skip fails a round too (CI=true, unless set otherwise), as in CI.
# Bounded: at most REPEAT_MINUTES (ROUNDS x 10 by default) in all; a round
# starts only while time is left, each test program runs under
# tests/run.sh's timeout, and the load ends with the script. Prints
# "round K of N: passed" lines and a summary (the rounds passed in a row
# and the load average seen); logs in REPEAT_LOGDIR ($BUILD/repeat-logs).
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(realpath -m "${BUILD:-$TOP/build}")
ROUNDS=${1:-20}
LOAD_KIND=${2:-stress}
MINUTES=${REPEAT_MINUTES:-$((ROUNDS * 10))}
LOGDIR=${REPEAT_LOGDIR:-$BUILD/repeat-logs}

usage() {
	echo "usage: tests/repeat.sh [ROUNDS [stress|make|none]]: $1" >&2
	exit 2
}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || usage "ROUNDS '$ROUNDS' is not a positive integer"
[[ $MINUTES =~ ^[1-9][0-9]*$ ]] || usage "REPEAT_MINUTES '$MINUTES' is not a positive integer"
case $LOAD_KIND in stress | make | none) ;; *) usage "LOAD '$LOAD_KIND' is not stress, make or none" ;; esac
[[ $(id -u) -eq 0 ]] || { echo "tests/repeat.sh: needs root (network namespaces, BPF)" >&2; exit 2; }
[[ $LOAD_KIND != stress ]] || command -v stress-ng >/dev/null ||
	{ echo "tests/repeat.sh: needs stress-ng (make deps installs it)" >&2; exit 2; }

# The daemon and namespace tests, in make test's order.
PROGS=("$TOP"/tests/sluiced/test_{server,fastpath,proxy,memory}.sh "$BUILD/tests/prog/test_actions_netns"
	"$TOP"/tests/netns/test_{static,sluiced,sluiced_options,fleet,sluiced_claim,privilege,guard,src_conns}.sh)
for p in "${PROGS[@]}"; do
	[[ -x $p ]] || { echo "tests/repeat.sh: $p is missing (run make)" >&2; exit 2; }
done

rm -rf "$LOGDIR"
mkdir -p "$LOGDIR"
end=$((SECONDS + MINUTES * 60))
LOAD_PID=
SCRATCH=

stop_load() {
	# The load runs in a process group of its own (set -m below): end all of it.
	[[ -n $LOAD_PID ]] && kill -- -"$LOAD_PID" 2>/dev/null && wait "$LOAD_PID" 2>/dev/null
	LOAD_PID=
	[[ -n $SCRATCH ]] && rm -rf "$SCRATCH"
}
trap stop_load EXIT
trap 'exit 1' INT TERM

# start_load: the load beside the tests, for at most the time left.
start_load() {
	set -m
	case $LOAD_KIND in
	stress)
		stress-ng --cpu 1 --timeout "$((MINUTES * 60))s" >"$LOGDIR/load.log" 2>&1 &
		LOAD_PID=$!
		;;
	make)
		SCRATCH=$(mktemp -d /tmp/sluice-repeat.XXXXXX)
		git clone -q "$TOP" "$SCRATCH/src" || { echo "cannot clone $TOP" >&2; exit 1; }
		timeout "$((MINUTES * 60))" bash -c \
			'cd "$1" && while make -j2 all >/dev/null 2>&1; do make clean >/dev/null; done' \
			_ "$SCRATCH/src" >"$LOGDIR/load.log" 2>&1 &
		LOAD_PID=$!
		;;
	esac
	set +m
}

loadavg() { cut -d' ' -f1 /proc/loadavg; }

start_load
echo "tests/repeat.sh: $ROUNDS rounds of ${#PROGS[@]} programs beside load '$LOAD_KIND'," \
	"at most $MINUTES min; logs in $LOGDIR"
passed=0 failed_round=
for ((k = 1; k <= ROUNDS; k++)); do
	if ((SECONDS >= end)); then
		echo "round $k of $ROUNDS: not started, the $MINUTES min bound is reached"
		break
	fi
	if [[ $LOAD_KIND != none ]] && ! kill -0 "$LOAD_PID" 2>/dev/null; then
		echo "round $k of $ROUNDS: not started, the load ended (see $LOGDIR/load.log)"
		break
	fi
	dir=$LOGDIR/round-$k
	mkdir -p "$dir"
	la0=$(loadavg) t0=$SECONDS
	# (CI=true: a skip fails the round, as in CI; a loaded machine is no
	# reason to skip)
	(cd "$TOP" && CI=${CI:-true} BUILD=$BUILD TEST_LOGDIR=$dir tests/run.sh "${PROGS[@]}") >"$dir/run.log" 2>&1
	rc=$?
	la1=$(loadavg)
	echo "$la0 $la1" >>"$LOGDIR/loadavg"
	what="$(tail -n 1 "$dir/run.log"); $((SECONDS - t0)) s, load average $la0 -> $la1"
	if ((rc != 0)); then
		echo "round $k of $ROUNDS: FAILED ($what)"
		grep -h '^\[  FAILED  \]' "$dir/run.log" | sed 's/^/    /'
		echo "    logs: $dir/ (run.log, and a log per program)"
		failed_round=$k
		break
	fi
	passed=$k
	echo "round $k of $ROUNDS: passed ($what)"
done
range=$(awk '{ for (i = 1; i <= NF; i++) { if (n++ == 0 || $i < lo) lo = $i; if ($i > hi) hi = $i } }
	END { if (n) printf "%s..%s", lo, hi; else printf "none" }' "$LOGDIR/loadavg" 2>/dev/null)
echo "tests/repeat.sh: $passed of $ROUNDS rounds passed in a row${failed_round:+, round $failed_round failed};" \
	"load '$LOAD_KIND', load average ${range:-none}, $((SECONDS / 60)) min"
((passed == ROUNDS))
