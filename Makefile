# SPDX-License-Identifier: MIT
# sluice: top-level build. Each area keeps its rules in a build.mk of its own;
# this file holds the toolchain, the flags and the user-facing targets.

comma   := ,
BUILD   ?= build$(if $(SAN),-$(subst $(comma),-,$(SAN)))
# One spelling of every object's path: the compiler's dependency files
# name their target as it was spelled, and a build run once with an
# absolute BUILD (the test and benchmark scripts pass one) and once with
# the relative default had .d files whose targets make did not know, so
# a changed header rebuilt nothing (a stale main.o read struct sld at
# old offsets and crashed).
override BUILD := $(abspath $(BUILD))
PREFIX  ?= /usr/local
DESTDIR ?=
SAN     ?=
V       ?= 0

CC      ?= gcc
CLANG   ?= clang
BPFTOOL ?= bpftool
ARCH    := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -pthread -I include -I $(BUILD)
LDFLAGS += -pthread

ifneq ($(SAN),)
# A sanitizer report fails the test that caused it (UBSan only warns by default).
CFLAGS  += -fsanitize=$(SAN) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SAN)
endif

BPF_CFLAGS := -g -O2 -target bpf -Wall -Werror -D__TARGET_ARCH_$(ARCH) \
	-I include -I /usr/include/$(MULTIARCH)

.DELETE_ON_ERROR:
.SECONDARY:
.DEFAULT_GOAL := all

# Filled by the build.mk files:
BINS        :=	# programs installed to $(PREFIX)/sbin
LIBS        :=	# libraries installed to $(PREFIX)/lib
TEST_BINS   :=	# test programs to build
TEST_PROGS  :=	# programs and scripts run by `make test`, in order
BENCH_BINS  :=	# benchmark programs to build
BENCH_PROGS :=	# commands run by `make bench`, in order
INSTALL_RULES :=	# phony install-<area> targets

include bpf/build.mk
include pool/build.mk
include user/build.mk
include user/load/build.mk
-include user/sluiced/build.mk
include tests/build.mk

$(BUILD)/%.o: %.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

.PHONY: all deps test test-loaded test-mutants fuzz soak bench bench-overload bench-proxy bench-guard bench-conns demo install clean help

all: $(BINS) $(LIBS) $(TEST_BINS) $(BENCH_BINS)

deps:
	$(Q)scripts/deps.sh

test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) TEST_LOGDIR=$(BUILD)/test-logs tests/run.sh $(TEST_PROGS)

# The daemon and namespace tests ROUNDS times (20) in a row beside BESIDE
# (stress: stress-ng --cpu 1; make: a make -j2 of a scratch clone; none).
test-loaded: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) tests/repeat.sh $(or $(ROUNDS),20) $(or $(BESIDE),stress)

# The deliberate breaks of tests/mutants/: each patch applied to a scratch
# clone of HEAD, built, and the test program it names run, which must fail
# in the case(s) it names (MUTANTS="name ..." for some). A build per
# mutant: not part of `make test`; run it at nice 19 on a shared machine.
test-mutants: deps
	$(Q)BUILD=$(BUILD) tests/mutants/run.sh $(MUTANTS)

# The data-plane fuzzer's long run: FUZZ_PACKETS (10M) through XDP and TC,
# seed printed; FUZZ_SEED=N reruns one.
FUZZ_PACKETS ?= 10000000
fuzz: $(BUILD)/tests/prog/fuzz_dataplane
	$(Q)$< -n $(FUZZ_PACKETS) $(if $(FUZZ_SEED),-s $(FUZZ_SEED))

# sluiced serving and proxying at 10x overload for SOAK_MINUTES (30).
soak: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)SOAK_MINUTES=$(or $(SOAK_MINUTES),30) scripts/soak.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/bench.sh $(BENCH_PROGS)

bench-overload: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/bench-overload.sh

bench-proxy: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) scripts/bench-proxy.sh

bench-guard: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/bench-guard.sh

bench-conns: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) scripts/bench-conns.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo.sh

install: $(BINS) $(LIBS) $(INSTALL_RULES)

clean:
	$(call msg,CLEAN,$(BUILD))
	$(Q)rm -rf $(BUILD)

help:
	@echo 'Targets:'
	@echo '  all (default)  build the data plane, sluicectl, the pool and the tests into $(BUILD)/'
	@echo '  test           install missing packages, build, run every test (needs root for BPF/netns)'
	@echo '  test-loaded    the daemon and namespace tests ROUNDS (20) times in a row beside BESIDE (stress|make|none)'
	@echo '  test-mutants   each deliberate break of tests/mutants/ must fail the test it names (MUTANTS=names)'
	@echo '  fuzz           data-plane fuzzer, 10M packets through XDP and TC (FUZZ_PACKETS, FUZZ_SEED)'
	@echo '  soak           sluiced serving and proxying at 10x overload, SOAK_MINUTES (30): RSS, fds, counters'
	@echo '  demo           a burst against a service in test namespaces, without and with sluice'
	@echo '  bench          data-plane and pool benchmarks, as ratios to baselines of the same run'
	@echo '  bench-overload the full overload benchmark: each protection against open-loop bursts'
	@echo '  bench-proxy    sluiced as a proxy and a server against HAProxy and nginx, one core each'
	@echo '  bench-guard    the bar of sluiced --guard for Go, Node.js and JDK services, and its probes'"'"' cost'
	@echo '  bench-conns    the per-source connection limit'"'"'s cost: per socket event, per judged SYN'
	@echo '  install        install programs, library, headers and man pages (PREFIX, DESTDIR)'
	@echo '  clean          remove $(BUILD)/'
	@echo 'Variables: V=1 (show commands), SAN=address|undefined|thread (or address,undefined), BUILD=dir, PREFIX, DESTDIR'
