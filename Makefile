# mpiwrap: build, demo, test, bench. Run as root on Debian 12 (see README).
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
BIN ?= bin/mpiwrap
# The PMIx helper loads the host's libpmix at run time, so it is linked
# dynamically; mpiwrap finds it next to itself.
PMIX_HELPER ?= $(dir $(BIN))mpiwrap-pmix
# mpiwrap validate execs mpiwrap-validate, found next to mpiwrap: its
# plotting and progress packages stay out of mpiwrap's start-up (README,
# Dependencies). Pure Go, no cgo.
VALIDATE_BIN ?= $(dir $(BIN))mpiwrap-validate
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
# Static, and with musl where musl-gcc is installed: every rank pays one
# extra exec of mpiwrap, and a static musl binary starts without the
# dynamic loader and without glibc's CPU-feature probing (see README,
# Performance). osusergo: no NSS inside the binary (getent is used).
GOFLAGS_STATIC := -tags osusergo,netgo -ldflags '-linkmode external -extldflags "-static" -X main.version=$(VERSION)'
# Looked up when a recipe runs (=, not :=), after toolchain has installed
# them on a fresh machine: a := lookup happens when make reads this file,
# before any recipe, so the first build of a fresh machine was glibc's.
MUSL_CC = $(shell command -v musl-gcc 2>/dev/null)
MULTIARCH = $(shell gcc -print-multiarch 2>/dev/null)
# musl's headers lack the kernel's; borrow only those.
KHDRS := bin/kernel-headers
DEMO_IMAGE ?= /tmp/mpiwrap-demo-image

.PHONY: all build build-helper build-validate toolchain deps demo docs install uninstall lint test unit bench clean

all: build

build: build-helper build-validate
	$(if $(MUSL_CC),,@echo "make: warning: no musl-gcc (apt-get install musl-tools); $(BIN) is linked statically against glibc" >&2)
	$(if $(MUSL_CC),$(MUSL_BUILD),$(GLIBC_BUILD))

MUSL_BUILD = mkdir -p $(KHDRS) && ln -sfn /usr/include/linux $(KHDRS)/linux && \
	  ln -sfn /usr/include/asm-generic $(KHDRS)/asm-generic && \
	  ln -sfn /usr/include/$(MULTIARCH)/asm $(KHDRS)/asm && \
	  CC=$(MUSL_CC) CGO_CFLAGS="-O2 -I$(abspath $(KHDRS))" $(GO) build $(GOFLAGS_STATIC) -o $(BIN) ./cmd/mpiwrap
GLIBC_BUILD = $(GO) build $(GOFLAGS_STATIC) -o $(BIN) ./cmd/mpiwrap

build-helper: toolchain
	$(GO) build -o $(PMIX_HELPER) ./cmd/mpiwrap-pmix

build-validate:
	CGO_ENABLED=0 $(GO) build -ldflags '-X main.version=$(VERSION)' -o $(VALIDATE_BIN) ./cmd/mpiwrap-validate

# The C toolchain that build needs (cgo, and musl-gcc for the static
# binary): on a fresh Debian machine, as root, install it before the first
# build, which is then already the musl one. ci/deps.sh installs the same
# packages and the rest of what the tests need. Otherwise, or when apt-get
# fails, only warn: build then links against glibc, or fails for want of
# gcc.
TOOLCHAIN_PACKAGES := gcc libc6-dev musl-tools
toolchain:
	@if ! command -v gcc >/dev/null 2>&1 || ! command -v musl-gcc >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make: installing the C toolchain: $(TOOLCHAIN_PACKAGES)"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    { apt-get update -q && apt-get install -y -q --no-install-recommends $(TOOLCHAIN_PACKAGES) </dev/null; } || \
	      echo "make: warning: could not install $(TOOLCHAIN_PACKAGES)" >&2; \
	  else \
	    echo "make: warning: gcc or musl-gcc is missing; install $(TOOLCHAIN_PACKAGES) (make deps, as root)" >&2; \
	  fi; \
	fi

deps:
	ci/deps.sh

# The main job: build, make a small image, run a 4-rank MPICH job in it.
demo: deps build
	rm -rf $(DEMO_IMAGE) && ci/images/mpi-small.sh $(DEMO_IMAGE)
	mpiexec.mpich -n 4 $(BIN) $(DEMO_IMAGE) /opt/mpiwrap-test/mpich/hello

# make install [PREFIX=/usr/local] [DESTDIR=]: mpiwrap and mpiwrap-pmix
# side by side in PREFIX/bin (mpiwrap looks for its helper next to itself),
# a man page per command and mpiwrap-profile(5), bash, zsh and fish
# completion, and the built-in profiles as examples in
# PREFIX/share/mpiwrap/profiles. What it installed, and the directories it
# made, are listed in PREFIX/share/mpiwrap/install-manifest; make uninstall
# (same PREFIX and DESTDIR) removes exactly those. packaging/install.sh
# does both.
PREFIX ?= /usr/local
DESTDIR ?=
# The pages and completion scripts are generated from the command tree by
# a second build of mpiwrap that carries the generator (-tags
# mpiwrap_docs; see cmd/mpiwrap/gendocs.go), into DOCS_DIR. Pages are dated
# from SOURCE_DATE_EPOCH, by default the last commit's time.
DOCS_BIN ?= $(dir $(BIN))mpiwrap-docs
DOCS_DIR ?= $(dir $(BIN))docs
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)

docs: toolchain
	$(GO) build -tags mpiwrap_docs -ldflags '-X main.version=$(VERSION)' -o $(DOCS_BIN) ./cmd/mpiwrap
	rm -rf $(DOCS_DIR)
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(DOCS_BIN) __gendocs --profile-page doc/mpiwrap-profile.5.md $(DOCS_DIR)

install: build docs
	PREFIX='$(PREFIX)' DESTDIR='$(DESTDIR)' packaging/install.sh install $(BIN) $(PMIX_HELPER) $(DOCS_DIR) hostlib/profile/builtin $(VALIDATE_BIN)

uninstall:
	PREFIX='$(PREFIX)' DESTDIR='$(DESTDIR)' packaging/install.sh uninstall

# gofmt over the tracked .go files (those deleted but not yet staged are
# skipped), go vet and staticcheck, on the default build (no osusergo/netgo
# tags) and on cmd/mpiwrap's docs build (-tags mpiwrap_docs), with cgo on:
# nsexec and cmd/mpiwrap are cgo, so a C compiler must be installed (make
# deps). staticcheck is pinned and installed once into
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
	CGO_ENABLED=1 $(GO) vet -tags mpiwrap_docs ./cmd/mpiwrap
	CGO_ENABLED=1 $(TOOLS)/staticcheck ./...
	CGO_ENABLED=1 $(TOOLS)/staticcheck -tags mpiwrap_docs ./cmd/mpiwrap

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
