# SPDX-License-Identifier: MIT
# Data-plane benchmark: per-packet cost of each path of sluice's programs
# through BPF_PROG_TEST_RUN, next to an empty program run the same way, and
# the bucket-update mechanisms compared (lockcmp). `make bench` runs it.

BENCH_XDP := $(BUILD)/tests/bench/xdp

# Its own BPF objects and skeletons (gcra.bpf.h comes from bpf/).
$(BENCH_XDP)/%.bpf.o: tests/bench/xdp/%.bpf.c bpf/gcra.bpf.h include/sluice/abi.h
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -I bpf -c $< -o $@

$(BENCH_XDP)/%.skel.h: $(BENCH_XDP)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

$(BENCH_XDP)/bench_xdp.o: CFLAGS += -I $(BENCH_XDP) -I tests/prog $(SL_USER_CFLAGS)
$(BENCH_XDP)/bench_xdp.o: $(BENCH_XDP)/empty.skel.h $(BENCH_XDP)/lockcmp.skel.h \
	$(BENCH_XDP)/parts.skel.h \
	$(BUILD)/sluice.skel.h

$(BENCH_XDP)/bench_xdp: $(BENCH_XDP)/bench_xdp.o $(BUILD)/tests/prog/env.o \
	$(BUILD)/tests/prog/pkt.o $(SL_COMMON_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@ $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf -lelf -lz)

BENCH_BINS  += $(BENCH_XDP)/bench_xdp
BENCH_PROGS += $(BENCH_XDP)/bench_xdp
