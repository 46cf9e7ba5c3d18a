# SPDX-License-Identifier: MIT
# sluice-load, the open-loop HTTP load generator of the demo, the benchmarks
# and the end-to-end tests.

LOAD_SRCS := $(wildcard user/load/*.c)
LOAD_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(LOAD_SRCS))

$(BUILD)/sluice-load: $(LOAD_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -lm -o $@

BINS += $(BUILD)/sluice-load
