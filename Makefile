# mpiwrap: build, demo, test, bench. Run as root on Debian 12 (see README).
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
BIN ?= bin/mpiwrap
# The PMIx helper loads the host's libpmix at run time, so it is linked
# dynamically; mpiwrap finds it next to itself.
PMIX_HELPER ?= $(dir $(BIN))mpiwrap-pmix
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
# Static, and with musl where musl-gcc is installed: every rank pays one
# extra exec of mpiwrap, and a static musl binary starts without the
# dynamic loader and without glibc's CPU-feature probing (see README,
# Performance). osusergo: no NSS inside the binary (getent is used).
GOFLAGS_STATIC := -tags osusergo,netgo -ldflags '-linkmode external -extldflags "-static" -X main.version=$(VERSION)'
MUSL_CC := $(shell command -v musl-gcc 2>/dev/null)
MULTIARCH := $(shell gcc -print-multiarch 2>/dev/null)
# musl's headers lack the kernel's; borrow only those.
KHDRS := bin/kernel-headers
DEMO_IMAGE ?= /tmp/mpiwrap-demo-image

.PHONY: all build build-helper deps demo lint test unit bench clean

all: build

build: build-helper
ifneq ($(MUSL_CC),)
	mkdir -p $(KHDRS) && ln -sfn /usr/include/linux $(KHDRS)/linux && \
	  ln -sfn /usr/include/asm-generic $(KHDRS)/asm-generic && \
	  ln -sfn /usr/include/$(MULTIARCH)/asm $(KHDRS)/asm
	CC=$(MUSL_CC) CGO_CFLAGS="-O2 -I$(abspath $(KHDRS))" $(GO) build $(GOFLAGS_STATIC) -o $(BIN) ./cmd/mpiwrap
else
	$(GO) build $(GOFLAGS_STATIC) -o $(BIN) ./cmd/mpiwrap
endif

build-helper:
	$(GO) build -o $(PMIX_HELPER) ./cmd/mpiwrap-pmix

deps:
	ci/deps.sh

# The main job: build, make a small image, run a 4-rank MPICH job in it.
demo: deps build
	rm -rf $(DEMO_IMAGE) && ci/images/mpi-small.sh $(DEMO_IMAGE)
	mpiexec.mpich -n 4 $(BIN) $(DEMO_IMAGE) /opt/mpiwrap-test/mpich/hello

# gofmt over the tracked .go files (those deleted but not yet staged are
# skipped), go vet and staticcheck, on the default build (no osusergo/netgo
# tags) with cgo on: nsexec and cmd/mpiwrap are cgo, so a C compiler must be
# installed (make deps). staticcheck is pinned and installed once into
# bin/tools from the Go module proxy; the stamp names the version, so
# changing the pin reinstalls it.
GOFMT ?= gofmt
STATICCHECK_VERSION := v0.8.2
TOOLS := bin/tools
STATICCHECK_STAMP := $(TOOLS)/.staticcheck-$(STATICCHECK_VERSION)

$(STATICCHECK_STAMP):
	GOBIN=$(abspath $(TOOLS)) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	touch $@

lint: $(STATICCHECK_STAMP)
	@files=$$(git ls-files -- '*.go') || exit 1; \
	  bad=$$(for f in $$files; do [ ! -e "$$f" ] || echo "$$f"; done | xargs -r $(GOFMT) -l) || exit 1; \
	  if [ -n "$$bad" ]; then echo "gofmt: these files need gofmt -w:"; echo "$$bad"; exit 1; fi
	CGO_ENABLED=1 $(GO) vet ./...
	CGO_ENABLED=1 $(TOOLS)/staticcheck ./...

# Everything: lint (after deps, which installs the C compiler), then unit,
# integration (root and an unprivileged user) and end-to-end MPI tests under
# hydra, Slurm and Open MPI.
test: deps lint
	ci/setup.sh
	MPIWRAP_TEST_REQUIRE=1 $(GO) test -p 1 -count=1 -timeout 75m ./...

unit:
	$(GO) test ./...

# BENCH=regexp picks benchmarks by name, e.g. make bench BENCH=proxy
bench: deps build
	ci/setup.sh
	$(GO) run ./ci/bench -run '$(BENCH)'

clean:
	rm -rf bin
