# SPDX-License-Identifier: MIT
# Test and benchmark rules: each test area keeps a build.mk of its own, which
# appends to TEST_BINS/TEST_PROGS (BENCH_BINS/BENCH_PROGS). They are included
# in the order `make test` runs them: cheap and local first, namespaces last.
-include tests/unit/build.mk
-include tests/pool/build.mk
-include tests/sluiced/build.mk
-include tests/prog/build.mk
-include tests/netns/build.mk
-include tests/bench/xdp/build.mk
-include tests/bench/pool/build.mk
-include tests/bench/overload/build.mk
-include tests/bench/conns/build.mk
-include tests/bench/guard/build.mk
