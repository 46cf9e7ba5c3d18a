# SPDX-License-Identifier: MIT
# The overload benchmark's service (tests/bench/overload/goservice): a Go
# net/http server with a CPU-bound handler, built offline with Go from Debian
# (standard library only), its caches under $(BUILD) so nothing is written
# to $HOME. Skipped, with a note, where Go is missing: `make` still builds
# the rest, and the benchmark says what it lacks.

GOSERVICE := $(BUILD)/goservice
GO ?= go

ifneq ($(shell command -v $(GO) 2>/dev/null),)
$(GOSERVICE): tests/bench/overload/goservice/main.go tests/bench/overload/goservice/go.mod
	$(call msg,GO,$@)
	$(Q)mkdir -p $(BUILD)/go
	$(Q)cd tests/bench/overload/goservice && \
		GOCACHE=$(abspath $(BUILD))/go/cache GOPATH=$(abspath $(BUILD))/go/path \
		GOPROXY=off GOFLAGS= GO111MODULE=on CGO_ENABLED=0 \
		$(GO) build -trimpath -o $(abspath $@) .

BENCH_BINS += $(GOSERVICE)
endif

# irqtime: softirq time of all CPUs while a command runs (the kernel's share
# of the server CPU per rejected connection), timed by a BPF program.
BENCH_OVL := $(BUILD)/tests/bench/overload

$(BENCH_OVL)/irqtime.bpf.o: tests/bench/overload/irqtime.bpf.c
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BENCH_OVL)/irqtime.skel.h: $(BENCH_OVL)/irqtime.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name irqtime_bpf > $@

$(BENCH_OVL)/irqtime.o: CFLAGS += -I $(BENCH_OVL)
$(BENCH_OVL)/irqtime.o: $(BENCH_OVL)/irqtime.skel.h

$(BENCH_OVL)/irqtime: $(BENCH_OVL)/irqtime.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@ $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf -lelf -lz)

BENCH_BINS += $(BENCH_OVL)/irqtime

# Unit tests of sluice-load's histogram, response parser, JSON series and
# per-request trace, run by `make test`.
$(BENCH_OVL)/test_load: $(BENCH_OVL)/test_load.o $(BUILD)/user/load/hist.o $(BUILD)/user/load/conn.o \
		$(BUILD)/user/load/report.o $(BUILD)/user/load/trace.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -lcmocka -o $@

TEST_BINS  += $(BENCH_OVL)/test_load
TEST_PROGS += $(BENCH_OVL)/test_load

# The JDK thread-pool service (tests/bench/overload/jdkservice), compiled
# where javac is; the Node.js one (nodeservice/server.js) runs from source.
JDKSERVICE := $(BUILD)/jdkservice/WorkServer.class
JAVAC ?= javac

ifneq ($(shell command -v $(JAVAC) 2>/dev/null),)
$(JDKSERVICE): tests/bench/overload/jdkservice/WorkServer.java
	$(call msg,JAVAC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(JAVAC) -d $(@D) $<

BENCH_BINS += $(JDKSERVICE)
endif
