# SPDX-License-Identifier: MIT
# Build rules for user/ (included by the top-level Makefile):
#   user/common/*.c    -> $(BUILD)/libsluice-common.a  (shared with sluiced)
#   user/sluicectl/*.c -> $(BUILD)/sluicectl
#   user/man/*.8       installed by install-user

SL_COMMON_SRCS := $(wildcard user/common/*.c)
SL_COMMON_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(SL_COMMON_SRCS))
SL_COMMON_LIB  := $(BUILD)/libsluice-common.a
# Link line for anything using the common library (sluicectl, sluiced, tests).
SL_COMMON_LDLIBS := $(SL_COMMON_LIB) -lbpf -lelf -lz
SL_USER_CFLAGS := -I user/common

SLUICECTL_SRCS := $(wildcard user/sluicectl/*.c)
SLUICECTL_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(SLUICECTL_SRCS))
SLUICECTL      := $(BUILD)/sluicectl
SL_MAN8        := user/man/sluicectl.8

BINS += $(SLUICECTL)
INSTALL_RULES += install-user

$(SL_COMMON_OBJS) $(SLUICECTL_OBJS): CFLAGS += $(SL_USER_CFLAGS)

# The loader embeds the data plane through its skeleton.
$(BUILD)/user/common/loader.o: $(BUILD)/sluice.skel.h

$(SL_COMMON_LIB): $(SL_COMMON_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $^

$(SLUICECTL): $(SLUICECTL_OBJS) $(SL_COMMON_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $(SLUICECTL_OBJS) $(SL_COMMON_LDLIBS) -o $@

.PHONY: install-user
install-user: $(SLUICECTL)
	$(call msg,INSTALL,sluicectl)
	$(Q)install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man8
	$(Q)install -m 0755 $(SLUICECTL) $(DESTDIR)$(PREFIX)/sbin/sluicectl
	$(Q)install -m 0644 $(SL_MAN8) $(DESTDIR)$(PREFIX)/share/man/man8/sluicectl.8
