# SPDX-License-Identifier: MIT
# The baselines of the socket tracepoints' benchmarks (scripts/bench-conns.sh
# and scripts/bench-guard.sh): an empty program on each tracepoint that the
# connection counter and guard mode hook, attached and pinned by pin_empty_tp.

BENCH_CONNS := $(BUILD)/tests/bench/conns

$(BENCH_CONNS)/empty_tp.bpf.o: tests/bench/conns/empty_tp.bpf.c
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BENCH_CONNS)/empty_tp.skel.h: $(BENCH_CONNS)/empty_tp.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name empty_tp_bpf > $@

$(BENCH_CONNS)/pin_empty_tp.o: CFLAGS += -I $(BENCH_CONNS)
$(BENCH_CONNS)/pin_empty_tp.o: $(BENCH_CONNS)/empty_tp.skel.h

$(BENCH_CONNS)/pin_empty_tp: $(BENCH_CONNS)/pin_empty_tp.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@ $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf -lelf -lz)

BENCH_BINS += $(BENCH_CONNS)/pin_empty_tp
