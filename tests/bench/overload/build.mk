# SPDX-License-Identifier: MIT
# The overload benchmark's service (tests/bench/overload/goservice): a Go
# net/http server with a CPU-bound handler, built offline with Go from Debian
# (standard library only), its caches under $(BUILD) so nothing is written
# to $HOME. Skipped, with a note, where Go is missing: `make` still builds
# the rest, and the benchmark says what it lacks.

GOSERVICE := $(BUILD)/goservice
GO ?= go

ifneq ($(shell command -v $(GO) 2>/dev/null),)
$(GOSERVICE): tests/bench/overload/goservice/main.go tests/bench/overload/goservice/go.mod
	$(call msg,GO,$@)
	$(Q)mkdir -p $(BUILD)/go
	$(Q)cd tests/bench/overload/goservice && \
		GOCACHE=$(abspath $(BUILD))/go/cache GOPATH=$(abspath $(BUILD))/go/path \
		GOPROXY=off GOFLAGS= GO111MODULE=on CGO_ENABLED=0 \
		$(GO) build -trimpath -o $(abspath $@) .

BENCH_BINS += $(GOSERVICE)
endif
