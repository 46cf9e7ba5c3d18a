# SPDX-License-Identifier: MIT
# Data-plane tests: the real BPF object on crafted packets (BPF_PROG_TEST_RUN).

PROG_TEST_OBJS := $(addprefix $(BUILD)/tests/prog/,test_dataplane.o env.o pkt.o)
PROG_LIBS := $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf -lelf -lz)

# The skeleton must exist before anything that includes env.h compiles.
$(BUILD)/tests/prog/test_dataplane.o $(BUILD)/tests/prog/env.o: $(BUILD)/sluice.skel.h
# env.c takes the coarse clock's slack from the loader (user/common).
$(BUILD)/tests/prog/env.o: CFLAGS += $(SL_USER_CFLAGS)

$(BUILD)/tests/prog/test_dataplane: $(PROG_TEST_OBJS) $(SL_COMMON_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@ $(PROG_LIBS) -lcmocka

# The per-source exceptions of fleet quotas, on the same fixtures.
$(BUILD)/tests/prog/test_srcquota.o: $(BUILD)/sluice.skel.h

$(BUILD)/tests/prog/test_srcquota: $(addprefix $(BUILD)/tests/prog/,test_srcquota.o env.o pkt.o) \
	$(SL_COMMON_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@ $(PROG_LIBS) -lcmocka

# The data-plane fuzzer: a short run in `make test`, 10M packets in `make fuzz`.
$(BUILD)/tests/prog/fuzz_dataplane.o: $(BUILD)/sluice.skel.h

$(BUILD)/tests/prog/fuzz_dataplane: $(addprefix $(BUILD)/tests/prog/,fuzz_dataplane.o env.o pkt.o) \
	$(SL_COMMON_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@ $(PROG_LIBS)

# Helper of test_actions_netns.sh: attaches the data plane to a real hook.
$(BUILD)/tests/prog/action_loader.o: $(BUILD)/sluice.skel.h

$(BUILD)/tests/prog/action_loader: $(addprefix $(BUILD)/tests/prog/,action_loader.o env.o pkt.o) \
	$(SL_COMMON_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@ $(PROG_LIBS)

# The script, with this build's directory written in (run.sh passes no
# arguments, and SAN builds live in build-$(SAN)/).
$(BUILD)/tests/prog/test_actions_netns: tests/prog/test_actions_netns.sh
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)sed 's|^build=.*|build=$(BUILD)|' $< > $@ && chmod +x $@

TEST_BINS  += $(BUILD)/tests/prog/test_dataplane $(BUILD)/tests/prog/test_srcquota \
	$(BUILD)/tests/prog/action_loader $(BUILD)/tests/prog/fuzz_dataplane \
	$(BUILD)/tests/bench/xdp/empty.bpf.o $(BUILD)/tests/prog/test_actions_netns
TEST_PROGS += $(BUILD)/tests/prog/test_dataplane $(BUILD)/tests/prog/test_srcquota \
	$(BUILD)/tests/prog/test_actions_netns $(BUILD)/tests/prog/fuzz_dataplane
