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

.PHONY: all build build-helper deps demo test unit bench clean

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

# Everything: unit, integration (root and an unprivileged user) and
# end-to-end MPI tests under hydra, Slurm and Open MPI.
test: deps
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
