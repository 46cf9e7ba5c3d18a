# SPDX-License-Identifier: MIT
# Build rules for user/sluiced/ (included by the top-level Makefile).
# Until the daemon's main loop is integrated with the pool and the loader,
# its self-contained modules (HTTP parser and response writer, controller,
# config, load signals, Prometheus writer) are built into one static
# library that the unit tests link: $(BUILD)/libsluiced-core.a.

SLUICED_CORE_SRCS := $(filter-out user/sluiced/main.c,$(wildcard user/sluiced/*.c))
SLUICED_CORE_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(SLUICED_CORE_SRCS))
SLUICED_CORE_LIB  := $(BUILD)/libsluiced-core.a

$(SLUICED_CORE_LIB): $(SLUICED_CORE_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $^
