# SPDX-License-Identifier: MIT
# Unit tests for user/common: one cmocka binary per module
# (tests/unit/test_<module>.c -> $(BUILD)/tests/unit/test_<module>), then the
# root-only end-to-end test of the built sluicectl.
#
# A test may list libbpf functions to replace with its own __wrap_ versions
# (so it never touches the kernel) in UNIT_WRAP_<module>.

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))

UNIT_WRAP_pins := geteuid capget statfs bpf_obj_get bpf_obj_get_info_by_fd \
	bpf_map_lookup_elem close mmap munmap
UNIT_WRAP_state := bpf_map_update_elem bpf_map_lookup_elem bpf_map_delete_elem bpf_map_create \
	bpf_map_get_next_key libbpf_num_possible_cpus sl_pins_port_get sl_pins_port_set

TEST_BINS  += $(UNIT_BINS)
TEST_PROGS += $(UNIT_BINS) tests/unit/test_man.sh tests/unit/test_cli.sh
# make install into a DESTDIR, checked as a user of the installed files would.
TEST_PROGS += tests/unit/test_install.sh
export SL_TEST_SAN := $(SAN)

# The end-to-end test runs the sluicectl of this build (SAN builds too).
export SL_TEST_SLUICECTL := $(SLUICECTL)

$(patsubst %.c,$(BUILD)/%.o,$(UNIT_SRCS)): CFLAGS += $(SL_USER_CFLAGS)

$(BUILD)/tests/unit/test_%: $(BUILD)/tests/unit/test_%.o $(SL_COMMON_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $< $(foreach f,$(UNIT_WRAP_$*),-Wl,--wrap=$(f)) \
		$(SL_COMMON_LDLIBS) -lcmocka -o $@
