# SPDX-License-Identifier: MIT
# Build rules for bpf/: the data plane object and its libbpf skeleton.
#   bpf/sluice.bpf.c -> build/sluice.bpf.o -> build/sluice.skel.h

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) $(wildcard include/sluice/*abi.h)
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

# BPF atomics (compare-and-exchange for the GCRA buckets) need the v3 ISA:
# kernel 5.12+, clang 12+.
BPF_CFLAGS += -mcpu=v3
