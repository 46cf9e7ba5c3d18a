# SPDX-License-Identifier: MIT
# Pool benchmarks: the sluice pool against a naive pool, libuv's threadpool,
# OpenMP tasks and Go, built and run together so the ratios come from one run.

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

# The Go baseline, next to bench_pool, which finds it there; built only when
# `go` is installed (else bench_pool prints its column as n/a). Standard
# library only, no module: offline, with the cache under $(BUILD).
GO ?= go
POOL_GOCHAN := $(BUILD)/tests/bench/pool/gochan
ifneq ($(shell command -v $(GO) 2>/dev/null),)
BENCH_BINS += $(POOL_GOCHAN)
endif

$(POOL_GOCHAN): tests/bench/pool/gochan/main.go
	$(call msg,GO,$@)
	$(Q)mkdir -p $(@D)
	$(Q)GOCACHE=$(abspath $(BUILD))/go-cache GOPATH=$(abspath $(BUILD))/go \
		GO111MODULE=off GOPROXY=off GOFLAGS= CGO_ENABLED=0 \
		$(GO) build -o $@ ./tests/bench/pool/gochan
