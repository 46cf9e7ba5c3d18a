# SPDX-License-Identifier: MIT
# Build rules for user/sluiced/ (included by the top-level Makefile):
#   the self-contained modules (HTTP parser and response writer, controller,
#   config, load signals, Prometheus writer) -> $(BUILD)/libsluiced-core.a,
#   which the unit tests link; the daemon's runtime (server, fast path,
#   handlers, proxy and its upstream queue, controller loop, data plane, metrics,
#   fleet quotas (hiredis), main) on top of
#   it, the pool and the common library -> $(BUILD)/sluiced.

SLUICED_RUNTIME := main server rxstamp fastpath handlers proxy upstream upqueue controlloop dataplane \
	metrics guard guardbpf fleet
SLUICED_RUNTIME_SRCS := $(patsubst %,user/sluiced/%.c,$(SLUICED_RUNTIME))
SLUICED_CORE_SRCS := $(filter-out $(SLUICED_RUNTIME_SRCS),$(wildcard user/sluiced/*.c))
SLUICED_CORE_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(SLUICED_CORE_SRCS))
SLUICED_CORE_LIB  := $(BUILD)/libsluiced-core.a
SLUICED_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(SLUICED_RUNTIME_SRCS))
SLUICED := $(BUILD)/sluiced
SLUICED_MAN8 := user/man/sluiced.8
SLUICED_UNIT := user/sluiced/sluiced.service

BINS += $(SLUICED)
INSTALL_RULES += install-sluiced

$(SLUICED_OBJS) $(SLUICED_CORE_OBJS): CFLAGS += $(SL_USER_CFLAGS)
# Guard mode embeds its BPF object through the skeleton.
$(BUILD)/user/sluiced/guardbpf.o: $(BUILD)/guard.skel.h

$(SLUICED_CORE_LIB): $(SLUICED_CORE_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $^

$(SLUICED): $(SLUICED_OBJS) $(SLUICED_CORE_LIB) $(POOL_LIB) $(SL_COMMON_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $(SLUICED_OBJS) $(SLUICED_CORE_LIB) $(POOL_LIB) \
		$(SL_COMMON_LDLIBS) -lhiredis -lm -o $@

.PHONY: install-sluiced
install-sluiced: $(SLUICED)
	$(call msg,INSTALL,sluiced)
	$(Q)install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man8 \
		$(DESTDIR)$(PREFIX)/lib/systemd/system
	$(Q)install -m 0755 $(SLUICED) $(DESTDIR)$(PREFIX)/sbin/sluiced
	$(Q)install -m 0644 $(SLUICED_MAN8) $(DESTDIR)$(PREFIX)/share/man/man8/sluiced.8
	$(Q)sed 's|@SBINDIR@|$(PREFIX)/sbin|g' $(SLUICED_UNIT) \
		> $(DESTDIR)$(PREFIX)/lib/systemd/system/sluiced.service
	$(Q)chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/sluiced.service
