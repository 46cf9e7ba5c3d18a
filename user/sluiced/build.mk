# SPDX-License-Identifier: MIT
# Build rules for user/sluiced/ (included by the top-level Makefile). The
# daemon is grouped by part, and calls run one way, from main down:
#
#   main.c, config.[ch], sluiced.h   start, options, reload, drain; the shared state
#   server/    the IO loops: accept, connections, the fast path, request tasks
#   proxy/     the reverse proxy: upstream connections, its queue and limit
#   http/      the HTTP/1.1 codec: request and response parsing, head rewriting
#   control/   the controller: load signals -> control law -> the kernel's maps
#   guard/     guard mode: kernel wait signals of a service sluiced does not run
#   fleet/     fleet-wide per-source quotas through Redis
#   metrics/   the Prometheus endpoint
#
# The self-contained modules (the codec, the control law, config, load
# signals, the Prometheus writer, the fleet's arithmetic) -> libsluiced-core.a,
# which the unit tests link; the runtime on top of it, the pool and the
# common library -> $(BUILD)/sluiced.

SLUICED_PARTS := server proxy http control guard fleet metrics
SLUICED_DIRS := user/sluiced $(addprefix user/sluiced/,$(SLUICED_PARTS))
SLUICED_CFLAGS := $(addprefix -I ,$(SLUICED_DIRS))
SLUICED_RUNTIME := main server/server server/rxstamp server/fastpath server/handlers \
	proxy/proxy proxy/upstream proxy/upqueue control/controlloop control/dataplane \
	metrics/metrics guard/guard guard/guardbpf fleet/fleet
SLUICED_RUNTIME_SRCS := $(patsubst %,user/sluiced/%.c,$(SLUICED_RUNTIME))
SLUICED_CORE_SRCS := $(filter-out $(SLUICED_RUNTIME_SRCS),$(wildcard $(addsuffix /*.c,$(SLUICED_DIRS))))
SLUICED_CORE_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(SLUICED_CORE_SRCS))
SLUICED_CORE_LIB  := $(BUILD)/libsluiced-core.a
SLUICED_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(SLUICED_RUNTIME_SRCS))
SLUICED := $(BUILD)/sluiced
SLUICED_MAN8 := user/man/sluiced.8
SLUICED_UNIT := user/sluiced/sluiced.service

BINS += $(SLUICED)
INSTALL_RULES += install-sluiced

$(SLUICED_OBJS) $(SLUICED_CORE_OBJS): CFLAGS += $(SLUICED_CFLAGS) $(SL_USER_CFLAGS)
# Guard mode embeds its BPF object through the skeleton.
$(BUILD)/user/sluiced/guard/guardbpf.o: $(BUILD)/guard.skel.h

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
