# SPDX-License-Identifier: MIT
# Pool benchmarks: the sluice pool against a naive pool, libuv's threadpool
# and OpenMP tasks, built and run together so the ratios come from one run.

POOL_BENCH := $(BUILD)/tests/bench/pool/bench_pool
POOL_BENCH_OBJS := $(addprefix $(BUILD)/tests/bench/pool/,bench_pool.o naive.o omp.o)

POOL_BENCH_QUEUES := $(BUILD)/tests/bench/pool/bench_queues

BENCH_BINS += $(POOL_BENCH_QUEUES) $(POOL_BENCH)
BENCH_PROGS += $(POOL_BENCH_QUEUES) $(POOL_BENCH)

# the queue comparison reaches into pool/internal.h
$(BUILD)/tests/bench/pool/bench_queues.o: CFLAGS += -I pool

$(POOL_BENCH_QUEUES): $(BUILD)/tests/bench/pool/bench_queues.o $(POOL_LIB)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

$(BUILD)/tests/bench/pool/omp.o: CFLAGS += -fopenmp

$(POOL_BENCH): $(POOL_BENCH_OBJS) $(POOL_LIB)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -fopenmp -o $@ $^ -luv -lm
