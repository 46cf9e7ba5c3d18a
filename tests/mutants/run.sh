#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The deliberate breaks, made repeatable: each tests/mutants/*.patch breaks
# the product (never a test) the way a weak assertion would let pass, and
# names the test program and the case(s) that must fail because of it.
# This script applies each one in a scratch clone of this tree's HEAD,
# builds, runs that one program through tests/run.sh and reports the mutant
# killed only when the program failed AND every named case printed a
# FAILED line (a crash or a timeout elsewhere is not a kill). The unpatched
# tree must pass the same program with the same environment first (its
# baseline, run once per program and environment).
#
#   tests/mutants/run.sh [NAME...]     every mutant, or those named (file
#                                      names, with or without .patch)
#
# A mutant file: a header, then a patch `git apply` takes (`git diff`):
#   Test: tests/netns/test_static.sh   the program, from the tree's top;
#                                      build/... is the scratch build's
#   Case: tc/ipv6: every SYN judged    a case's name as its line prints it
#                                      (repeatable: each must fail)
#   Env: SL_TEST_MODES=tc              optional: VAR=VALUE ... for the run
#   Why: ...                           optional: the assertion it audits
#
# Prints one line per mutant ("killed", "SURVIVED", "build failed",
# "baseline failed", "not run") and "N passed, N failed": passed are the
# killed ones. Needs root (most programs are namespace tests). Not part of
# `make test`: it builds once per mutant (make test-mutants runs it; run it
# at nice 19 on a shared machine). Bounded: at most MUTANTS_MINUTES (120)
# in all, no mutant is started past it, and each program run is bounded by
# tests/run.sh's TEST_TIMEOUT (900 s here). The scratch clone goes at the
# end; the logs stay in MUTANTS_LOGDIR ($BUILD/mutant-logs).
set -uo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$TOP/tests/mutants
MINUTES=${MUTANTS_MINUTES:-120}
JOBS=${MUTANTS_JOBS:-2}
export TEST_TIMEOUT=${TEST_TIMEOUT:-900}
LOGDIR=$(realpath -m "${MUTANTS_LOGDIR:-${BUILD:-$TOP/build}/mutant-logs}")

usage() {
	echo "usage: tests/mutants/run.sh [NAME...]: $1" >&2
	exit 2
}
[[ $MINUTES =~ ^[1-9][0-9]*$ ]] || usage "MUTANTS_MINUTES '$MINUTES' is not a positive integer"
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || usage "MUTANTS_JOBS '$JOBS' is not a positive integer"
[[ $(id -u) -eq 0 ]] || { echo "tests/mutants/run.sh: needs root (network namespaces, BPF)" >&2; exit 2; }

mutants=()
if (($#)); then
	for n in "$@"; do
		f=$HERE/${n%.patch}.patch
		[[ -r $f ]] || usage "no mutant '$n' ($f)"
		mutants+=("$f")
	done
else
	mutants=("$HERE"/*.patch)
	[[ -r ${mutants[0]} ]] || usage "no mutant in $HERE"
fi

# header FILE KEY: the values of KEY's lines before the patch, one a line.
header() {
	awk -v k="$2:" '/^diff --git / { exit } $1 == k { sub(/^[^:]*: */, ""); print }' "$1"
}
for f in "${mutants[@]}"; do
	[[ -n $(header "$f" Test) && -n $(header "$f" Case) ]] ||
		usage "$(basename "$f") has no Test: or no Case: line"
	grep -q '^diff --git ' "$f" || usage "$(basename "$f") holds no patch"
done

end=$((SECONDS + MINUTES * 60))
rm -rf "$LOGDIR"
mkdir -p "$LOGDIR"
SCRATCH=$(mktemp -d /tmp/sluice-mutants.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
trap 'exit 1' INT TERM
SRC=$SCRATCH/src
git clone -q "$TOP" "$SRC" || { echo "tests/mutants/run.sh: cannot clone $TOP" >&2; exit 1; }
echo "tests/mutants/run.sh: ${#mutants[@]} mutants against $(git -C "$SRC" log -1 --format='%h %s' | cut -c1-60)," \
	"at most $MINUTES min; logs in $LOGDIR"

# build LOG: make in the scratch clone, into its own build folder (a
# BUILD inherited from `make test-mutants` names the caller's); its
# output in LOG.
build() { make -C "$SRC" -j"$JOBS" BUILD="$SRC/build" all >"$1" 2>&1; }

# run_prog LOGDIR TEST ENV...: the program through tests/run.sh, from the
# clone's top with its build; the runner's output in LOGDIR/run.log. What
# `make test-mutants` exports about the caller's build (tests/unit/build.mk:
# the sluicectl and the sanitizer the tests take) is dropped, or the tests
# would run the caller's unpatched sluicectl.
run_prog() {
	local dir=$1 prog=$2
	shift 2
	[[ $prog == /* ]] || prog=$SRC/$prog
	mkdir -p "$dir"
	(cd "$SRC" && env -u SL_TEST_SLUICECTL -u SL_TEST_SAN "$@" BUILD="$SRC/build" TEST_LOGDIR="$dir" \
		tests/run.sh "$prog") >"$dir/run.log" 2>&1
}

if ! build "$LOGDIR/build-baseline.log"; then
	echo "tests/mutants/run.sh: the unpatched tree does not build (see $LOGDIR/build-baseline.log)" >&2
	exit 1
fi

declare -A baseline	# "TEST ENV" -> pass or fail
passed=0 failed=0 stale=0	# stale: the build is a mutant's, the tree HEAD again
for f in "${mutants[@]}"; do
	name=$(basename "$f" .patch)
	prog=$(header "$f" Test)
	read -ra envs < <(header "$f" Env | tr '\n' ' ')
	mapfile -t cases < <(header "$f" Case)
	line="$name -> $prog${envs[*]:+ (${envs[*]})}"
	if ((SECONDS >= end)); then
		echo "not run        $line: the $MINUTES min bound is reached"
		failed=$((failed + 1))
		continue
	fi
	key="$prog ${envs[*]}"
	if [[ -z ${baseline[$key]:-} ]]; then
		dir=$LOGDIR/baseline-$(basename "$prog")-$(printf '%s' "${envs[*]}" | tr -c 'A-Za-z0-9' _)
		mkdir -p "$dir"
		if ((stale)) && ! build "$dir/build.log"; then
			baseline[$key]=fail
		else
			stale=0
			run_prog "$dir" "$prog" "${envs[@]}" && baseline[$key]=pass || baseline[$key]=fail
		fi
	fi
	if [[ ${baseline[$key]} != pass ]]; then
		echo "baseline failed $line: the unpatched tree fails it too (logs in $LOGDIR/baseline-*)"
		failed=$((failed + 1))
		continue
	fi
	dir=$LOGDIR/$name
	mkdir -p "$dir"
	if ! git -C "$SRC" apply "$f" 2>"$dir/apply.log"; then
		echo "build failed   $line: the patch does not apply (see $dir/apply.log)"
		failed=$((failed + 1))
		continue
	fi
	if ! build "$dir/build.log"; then
		echo "build failed   $line: see $dir/build.log"
		failed=$((failed + 1))
	elif run_prog "$dir" "$prog" "${envs[@]}"; then
		echo "SURVIVED       $line: the program passed"
		failed=$((failed + 1))
	else
		missed=()
		for c in "${cases[@]}"; do
			grep -F -- '[  FAILED  ]' "$dir/run.log" | grep -qF -- "$c" || missed+=("$c")
		done
		if ((${#missed[@]})); then
			echo "SURVIVED       $line: it failed, but not in: $(printf '"%s" ' "${missed[@]}")(see $dir/run.log)"
			failed=$((failed + 1))
		else
			echo "killed         $line: $(printf '"%s" ' "${cases[@]}")failed"
			passed=$((passed + 1))
		fi
	fi
	# Back to HEAD; build/ is ignored, so it stays for the next build.
	git -C "$SRC" reset -q --hard && git -C "$SRC" clean -fdq
	stale=1
done
echo "$passed passed, $failed failed"
((failed == 0))
