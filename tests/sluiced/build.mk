# SPDX-License-Identifier: MIT
# Unit tests of sluiced's self-contained modules: one cmocka binary per
# module, linked against $(BUILD)/libsluiced-core.a. Plus a libFuzzer
# harnesses for the HTTP request parser and for the upstream response parser
# (`make fuzz-sluiced`; built with clang, not part of `all` or `make test`).
# Run them, for instance, as
#   build/fuzz/fuzz_http_parse -dict=tests/sluiced/fuzz_http.dict \
#       -max_len=40000 -max_total_time=300 CORPUS_DIR
#   build/fuzz/fuzz_http_resp -dict=tests/sluiced/fuzz_http.dict \
#       -max_len=6000 -max_total_time=300 CORPUS_DIR

SLUICED_TESTS := $(patsubst tests/sluiced/%.c,%,$(wildcard tests/sluiced/test_*.c))
SLUICED_TEST_BINS := $(patsubst %,$(BUILD)/tests/sluiced/%,$(SLUICED_TESTS))

TEST_BINS  += $(SLUICED_TEST_BINS)
TEST_PROGS += $(SLUICED_TEST_BINS)

$(BUILD)/tests/sluiced/%.o: CFLAGS += $(SLUICED_CFLAGS) $(SL_USER_CFLAGS)

# The common library after the core one: the core's trusted.c parses CIDRs
# with it (only its libbpf-free parse.o is pulled in).
$(BUILD)/tests/sluiced/test_%: $(BUILD)/tests/sluiced/test_%.o $(SLUICED_CORE_LIB) $(SL_COMMON_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -lcmocka -lm -o $@

# The fuzzers: their own builds of the HTTP code with ASan and UBSan, so a
# finding is reported where it happens.
SLUICED_FUZZ := $(BUILD)/fuzz/fuzz_http_parse $(BUILD)/fuzz/fuzz_http_resp
SLUICED_FUZZ_HTTP := user/sluiced/http/http_parse.c user/sluiced/http/http_chunked.c \
	user/sluiced/http/http_util.c user/sluiced/http/http_resp_parse.c \
	user/sluiced/http/http_forward.c user/sluiced/http/http_buf.c

$(BUILD)/fuzz/fuzz_%: tests/sluiced/fuzz_%.c $(SLUICED_FUZZ_HTTP) $(wildcard user/sluiced/http/http_*.h)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) -g -O1 -Wall -Wextra -Werror $(SLUICED_CFLAGS) \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		$< $(SLUICED_FUZZ_HTTP) -o $@

.PHONY: fuzz-sluiced
fuzz-sluiced: $(SLUICED_FUZZ)
TEST_PROGS += tests/sluiced/test_man.sh
TEST_PROGS += tests/sluiced/test_server.sh
TEST_PROGS += tests/sluiced/test_fastpath.sh
TEST_PROGS += tests/sluiced/test_proxy.sh
TEST_PROGS += tests/sluiced/test_memory.sh
