#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make demo: the overload benchmark in short (about 2 minutes). A Go
# net/http service with a CPU-bound handler on a test host takes bursts of
# new connections at 1x and 10x its capacity: with no protection, behind an
# nftables limit, behind its own token bucket + 503, behind sluice's static
# limits, behind HAProxy and nginx as their documentation advises against
# overload (what users would pick instead), behind sluiced as a proxy,
# sluiced serving /work itself, and the unmodified service guarded by
# sluiced --guard from kernel signals (the last three when sluiced is
# built), every protection on the service's core; then a step test 0.5x -> 10x -> 0.5x
# (no protection, the in-app limiter, sluice static, sluiced, sluiced
# --guard). Prints the table, checks the bar and says where the plots are.
# `make bench-overload` runs the full sweep (0.5x..10x, three rounds, the
# load generator's 20k/s check).
#
# Any BENCH_* knob of scripts/bench-overload.sh can be set to override.
set -euo pipefail
export BENCH_FACTORS=${BENCH_FACTORS:-1 10}
export BENCH_CONFIGS=${BENCH_CONFIGS:-none nft app sluice haproxy nginx sluiced sluiced-work sluiced-guard}
export BENCH_SECONDS=${BENCH_SECONDS:-3}
export BENCH_REPEAT=${BENCH_REPEAT:-1}
export BENCH_REJECT_SECONDS=${BENCH_REJECT_SECONDS:-2}
export BENCH_CAL_SECONDS=${BENCH_CAL_SECONDS:-1.5}
export BENCH_STEP=${BENCH_STEP-0.5:1,10:2,0.5:1}
export BENCH_STEP_CONFIGS=${BENCH_STEP_CONFIGS:-none app sluice sluiced sluiced-guard}
export BENCH_GENCHECK=${BENCH_GENCHECK:-0}
TOP=$(cd "$(dirname "$0")/.." && pwd)
export BENCH_OUT=${BENCH_OUT:-${BUILD:-$TOP/build}/demo}
exec "$TOP/scripts/bench-overload.sh"
