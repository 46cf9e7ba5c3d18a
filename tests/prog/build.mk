# SPDX-License-Identifier: MIT
# Data-plane tests: the real BPF object on crafted packets (BPF_PROG_TEST_RUN).

PROG_TEST_OBJS := $(addprefix $(BUILD)/tests/prog/,test_dataplane.o env.o pkt.o)
PROG_LIBS := $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf -lelf -lz)

# The skeleton must exist before anything that includes env.h compiles.
$(BUILD)/tests/prog/test_dataplane.o $(BUILD)/tests/prog/env.o: $(BUILD)/sluice.skel.h

$(BUILD)/tests/prog/test_dataplane: $(PROG_TEST_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@ $(PROG_LIBS) -lcmocka

TEST_BINS  += $(BUILD)/tests/prog/test_dataplane
TEST_PROGS += $(BUILD)/tests/prog/test_dataplane
