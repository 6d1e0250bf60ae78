// Package mpiwrap is the per-rank runtime: it takes one rank from its
// launcher into its node's container and execs the command there.
//
// # The path of a rank
//
//  1. cmd/mpiwrap parses flags into a plan.Spec, and nothing else.
//  2. plan.New combines the Spec with the host facts (plan.Host: identity,
//     environment, working directory, the launcher as pmi/launchenv reads
//     it, and the node cache, read only) into a plan.Plan: the image, the
//     ordered mounts, the host stacks that profiles inject, the environment,
//     the PMI mode and the command. Planning changes nothing on the host, so
//     `mpiwrap check` can print any plan (Plan.Describe) safely.
//  3. The runtime (this package) carries the plan out. It first does what
//     planning may not: it builds a missing ld.so cache entry in the node
//     cache (package nodecache) and checks the ABI verdict. Then it encodes
//     the plan as steps for the C half (encode.go: open host paths, stage a
//     tmpfs, mount the image, bind, pivot_root, chdir, exec).
//  4. The C half (package nsexec) applies the steps from an ELF constructor,
//     before the Go runtime starts: unshare(CLONE_NEWUSER) and setns into a
//     mount namespace refuse multi-threaded callers. The constants both
//     halves share live in nsexec.h.
//
// # One container per node
//
// All ranks of one job step on one node share one user and mount
// namespace (MPI's shared memory and cross-memory attach need that). The
// first rank to arrive at the rendezvous socket (rendezvous.go, in a 0700
// directory of the user's that package userdir picks so that no other user
// can take it away) becomes the leader and starts the node's keeper
// (keeper.go), which builds the namespace once and answers every rank with
// its descriptors and the rank's own encoded command. Most ranks ask from C
// (nsexec/fastpath.c) and never start Go. The keeper ends when all local
// ranks have joined, or when the launcher is gone; after that the ranks
// keep the namespace alive themselves. No rank waits on a timer.
//
// # PMI
//
// plan.DecidePMI picks passthrough (the launcher's PMI reaches the rank as
// it is), proxy (mpiwrap serves PMI-1/2 to the rank and speaks what the
// launcher offers upstream: pmi/proxy, and PMIx through the mpiwrap-pmix
// helper), pmix-server (an Open MPI image under a PMI-1/2 launcher: the
// keeper runs one libpmix server per node through mpiwrap-pmix --server
// and carries its fences over the launcher's PMI, pmixserver.go) or off.
// Under a PMI_FD launcher the keeper proxies its node's ranks itself
// (hosted.go); otherwise each proxied rank runs as a child of its own
// mpiwrap process (proxied.go).
//
// # Caches
//
// The ld.so.conf and ld.so.cache of an injection are built once per node
// and kept in nodecache, keyed by the image, the profiles and the identity
// of every injected host file; a SquashFS image's entry is built inside the
// container (inside.go runs such tasks there). A build keeps the newest few
// entries of its image; a run holds its entry until it is bound. A single rank's encoded plan
// is kept there too, and the C half replays it when every input still
// matches.
//
// # Stages
//
// mpiwrap re-executes itself for each C stage (stage.go): "apply" runs an
// encoded plan, "keeper" detaches and runs the keeper, "fuse" serves a
// SquashFS image with squashfuse from outside the container.
package mpiwrap
