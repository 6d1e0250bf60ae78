# mpiwrap: build, demo, test, bench. Run as root on Debian 12 (see README).
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
BIN := bin/mpiwrap
# Static: a rank pays one extra exec of mpiwrap, and a static binary skips
# the dynamic loader (see README, Performance). osusergo: no NSS in-process.
GOFLAGS_STATIC := -tags osusergo,netgo -ldflags '-linkmode external -extldflags "-static" -X main.version=$(shell git describe --always --dirty 2>/dev/null || echo dev)'
DEMO_IMAGE ?= /tmp/mpiwrap-demo-image

.PHONY: all build deps demo test unit bench clean

all: build

build:
	$(GO) build $(GOFLAGS_STATIC) -o $(BIN) ./cmd/mpiwrap

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

bench: deps build
	ci/setup.sh
	$(GO) run ./ci/bench

clean:
	rm -rf bin
