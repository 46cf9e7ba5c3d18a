#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs each benchmark command given on the command line (from BENCH_PROGS)
# one after another, so they do not compete for this machine's cores, and
# keeps each one's raw output in build/bench/<name>.txt. Each benchmark
# prints its own result table with ratios to a baseline of the same run.
set -uo pipefail

outdir=${BENCH_OUTDIR:-build/bench}
mkdir -p "$outdir"
status=0
for cmd in "$@"; do
	name=$(basename "${cmd%% *}")
	echo "=== $name"
	if ! $cmd 2>&1 | tee "$outdir/$name.txt"; then
		echo "bench: $name failed" >&2
		status=1
	fi
	echo
done
echo "raw output kept in $outdir/"
exit $status
