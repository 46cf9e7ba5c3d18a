# SPDX-License-Identifier: MIT
# Pool tests: one cmocka binary per structure, plus the stress runs. Each links
# the static library. POOL_STRESS_SCALE=N in the environment multiplies the
# stress sizes for manual runs (the defaults fit CI on 2 cores under TSan).

POOL_TESTS := test_deque test_inject test_stats test_pool test_driver test_stress
POOL_TEST_BINS := $(addprefix $(BUILD)/tests/pool/,$(POOL_TESTS))

TEST_BINS += $(POOL_TEST_BINS)
TEST_PROGS += $(POOL_TEST_BINS)

# the unit tests reach into pool/internal.h
$(BUILD)/tests/pool/%.o: CFLAGS += -I pool

$(BUILD)/tests/pool/%: $(BUILD)/tests/pool/%.o $(POOL_LIB)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka
