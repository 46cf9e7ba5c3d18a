# SPDX-License-Identifier: MIT
# Guard mode's probe-cost benchmark (scripts/bench-guard.sh): pingpong, the
# CPU time of a keep-alive round trip through the kernel's socket paths.

BENCH_GUARD := $(BUILD)/tests/bench/guard

$(BENCH_GUARD)/pingpong: $(BENCH_GUARD)/pingpong.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@

BENCH_BINS += $(BENCH_GUARD)/pingpong
