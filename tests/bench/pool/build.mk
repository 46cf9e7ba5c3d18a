# SPDX-License-Identifier: MIT
# Pool benchmarks: the sluice pool against a naive pool, libuv's threadpool
# and OpenMP tasks, built and run together so the ratios come from one run.

POOL_BENCH := $(BUILD)/tests/bench/pool/bench_pool
POOL_BENCH_OBJS := $(addprefix $(BUILD)/tests/bench/pool/,bench_pool.o naive.o omp.o)

BENCH_BINS += $(POOL_BENCH)
BENCH_PROGS += $(POOL_BENCH)

$(BUILD)/tests/bench/pool/omp.o: CFLAGS += -fopenmp

$(POOL_BENCH): $(POOL_BENCH_OBJS) $(POOL_LIB)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -fopenmp -o $@ $^ -luv -lm
