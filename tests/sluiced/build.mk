# SPDX-License-Identifier: MIT
# Unit tests of sluiced's self-contained modules: one cmocka binary per
# module, linked against $(BUILD)/libsluiced-core.a. Plus a libFuzzer
# harness for the HTTP parser (`make fuzz-sluiced`; built with clang, not
# part of `all` or `make test`). Run it, for instance, as
#   build/fuzz/fuzz_http_parse -dict=tests/sluiced/fuzz_http.dict \
#       -max_len=12000 -max_total_time=300 CORPUS_DIR

SLUICED_TESTS := $(patsubst tests/sluiced/%.c,%,$(wildcard tests/sluiced/test_*.c))
SLUICED_TEST_BINS := $(patsubst %,$(BUILD)/tests/sluiced/%,$(SLUICED_TESTS))

TEST_BINS  += $(SLUICED_TEST_BINS)
TEST_PROGS += $(SLUICED_TEST_BINS)

$(BUILD)/tests/sluiced/%.o: CFLAGS += -I user/sluiced

$(BUILD)/tests/sluiced/test_%: $(BUILD)/tests/sluiced/test_%.o $(SLUICED_CORE_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -lcmocka -lm -o $@

# The fuzzer: its own build of the parser with ASan and UBSan, so a finding
# is reported where it happens.
SLUICED_FUZZ := $(BUILD)/fuzz/fuzz_http_parse
SLUICED_FUZZ_SRCS := tests/sluiced/fuzz_http_parse.c user/sluiced/http_parse.c \
	user/sluiced/http_chunked.c user/sluiced/http_util.c

$(SLUICED_FUZZ): $(SLUICED_FUZZ_SRCS) $(wildcard user/sluiced/http_*.h)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) -g -O1 -Wall -Wextra -Werror -I user/sluiced \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		$(SLUICED_FUZZ_SRCS) -o $@

.PHONY: fuzz-sluiced
fuzz-sluiced: $(SLUICED_FUZZ)
TEST_PROGS += tests/sluiced/test_man.sh
TEST_PROGS += tests/sluiced/test_server.sh
TEST_PROGS += tests/sluiced/test_fastpath.sh
