#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every test program given on the command line, each under a timeout,
# and counts test cases from the lines they print in cmocka's form:
#   [       OK ] name     [  FAILED  ] name     [  SKIPPED ] name
# (cmocka binaries print these themselves; shell tests print them through
# tests/netns/lib.sh). A program that exits non-zero, or is killed by its
# timeout, without reporting a failure counts as one failed case, so a crash
# or a hang is never a silent pass. A SKIPPED line that stands for a whole
# file ends in "(N cases)" and counts N. Ends with "N passed, N failed,
# N skipped"; with CI=true a skip fails the run (CI runs as root with every
# dependency, where nothing may be skipped). A shell test whose bash
# reported an error in its own code (a syntax error in an expansion, a
# command not found, ...) fails too: bash goes on after most of them, or
# leaves the function it was in, and the checks it skipped would pass
# unseen.
set -uo pipefail

timeout_s=${TEST_TIMEOUT:-600}
logdir=${TEST_LOGDIR:-build/test-logs}
mkdir -p "$logdir"

# cmocka repeats failed and skipped names in its group summary, after the
# "[==========] N test(s) run." line: count only the lines before it.
count_cases() {
	awk '/^\[==========\] .* run\.$/ { summary = 1; next }
	     /^\[==========\] Running/  { summary = 0 }
	     summary { next }
	     /^\[       OK \] /  { ok++ }
	     /^\[  FAILED  \] /  { bad++ }
	     /^\[  SKIPPED \] .*\([0-9]+ cases\)$/ {
		n = $0; sub(/.*\(/, "", n); sub(/ cases\)$/, "", n); skip += n; next }
	     /^\[  SKIPPED \] /  { skip++ }
	     END { print ok + 0, bad + 0, skip + 0 }' "$1"
}

# The first error bash reported in a script's own code, from its log.
script_error() {
	grep -m1 -E '^[^ ]+\.sh: line [0-9]+: .*(syntax error|command not found|bad substitution|unbound variable|integer expression expected|ambiguous redirect)' "$1"
}

passed=0 failed=0 skipped=0
failures=()

for prog in "$@"; do
	name=$(basename "$prog")
	log="$logdir/$name.log"
	echo "=== $prog"
	timeout --kill-after=10 "$timeout_s" "$prog" >"$log" 2>&1
	rc=$?
	cat "$log"
	read -r ok bad skip < <(count_cases "$log")
	passed=$((passed + ok)) skipped=$((skipped + skip))
	if ((rc != 0 && bad == 0)); then
		((rc == 124)) && why="timed out after ${timeout_s}s" || why="exit status $rc"
		echo "[  FAILED  ] $name: $why"
		bad=1
	fi
	if err=$(script_error "$log"); then
		echo "[  FAILED  ] $name: an error in the script: $err"
		bad=$((bad + 1))
	fi
	failed=$((failed + bad))
	((bad)) && failures+=("$name")
	if ((ok + bad + skip == 0)); then
		echo "[  FAILED  ] $name: ran no test case"
		failed=$((failed + 1))
		failures+=("$name")
	fi
done

echo
((${#failures[@]})) && echo "failed in: ${failures[*]} (logs in $logdir/)"
echo "$passed passed, $failed failed, $skipped skipped"
if [[ ${CI:-} == true ]] && ((skipped > 0)); then
	echo "CI: $skipped skipped: CI runs everything (see the SKIPPED lines above for what is missing)"
	exit 1
fi
((failed == 0))
