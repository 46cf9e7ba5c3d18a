# SPDX-License-Identifier: MIT
# Build rules for pool/ (included by the top-level Makefile): the pool as a
# library of its own, static and shared, with a pkg-config file.
#   $(BUILD)/libsluice-pool.a  $(BUILD)/libsluice-pool.so  $(BUILD)/sluice-pool.pc

POOL_VERSION := 0.1.0
POOL_SRCS := $(wildcard pool/*.c)
POOL_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(POOL_SRCS))
POOL_PIC_OBJS := $(patsubst %.c,$(BUILD)/pic/%.o,$(POOL_SRCS))
POOL_LIB := $(BUILD)/libsluice-pool.a
POOL_SO := $(BUILD)/libsluice-pool.so
POOL_PC := $(BUILD)/sluice-pool.pc

LIBS += $(POOL_LIB) $(POOL_SO) $(POOL_PC)
INSTALL_RULES += install-pool

$(BUILD)/pic/pool/%.o: pool/%.c
	$(call msg,CC-PIC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -fPIC -MMD -MP -c $< -o $@

$(POOL_LIB): $(POOL_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $^

$(POOL_SO): $(POOL_PIC_OBJS) pool/libsluice-pool.map
	$(call msg,LD,$@)
	$(Q)$(CC) -shared -Wl,-soname,libsluice-pool.so.0 \
		-Wl,--version-script=pool/libsluice-pool.map $(LDFLAGS) -o $@ $(POOL_PIC_OBJS)

$(POOL_PC): pool/build.mk
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)printf '%s\n' \
		'prefix=$(PREFIX)' \
		'libdir=$${prefix}/lib' \
		'includedir=$${prefix}/include' \
		'' \
		'Name: sluice-pool' \
		'Description: bounded work-stealing thread pool that measures its load' \
		'Version: $(POOL_VERSION)' \
		'Libs: -L$${libdir} -lsluice-pool' \
		'Libs.private: -pthread' \
		'Cflags: -I$${includedir}' > $@

.PHONY: install-pool
install-pool: $(POOL_LIB) $(POOL_SO) $(POOL_PC)
	$(call msg,INSTALL,pool)
	$(Q)install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/sluice
	$(Q)install -m 644 $(POOL_LIB) $(DESTDIR)$(PREFIX)/lib/
	$(Q)install -m 755 $(POOL_SO) $(DESTDIR)$(PREFIX)/lib/libsluice-pool.so.$(POOL_VERSION)
	$(Q)ln -sf libsluice-pool.so.$(POOL_VERSION) $(DESTDIR)$(PREFIX)/lib/libsluice-pool.so.0
	$(Q)ln -sf libsluice-pool.so.0 $(DESTDIR)$(PREFIX)/lib/libsluice-pool.so
	$(Q)install -m 644 include/sluice/pool.h $(DESTDIR)$(PREFIX)/include/sluice/
	$(Q)sed 's|^prefix=.*|prefix=$(PREFIX)|' $(POOL_PC) > $(DESTDIR)$(PREFIX)/lib/pkgconfig/sluice-pool.pc
