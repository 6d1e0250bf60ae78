package run

import "embed"

// The C sources validate builds for the host (with the host's mpicc) and,
// when an image does not ship them, for the image (with the image's
// compiler, through mpiwrap): the OSU-layout benchmarks, the hello that
// the start-up benchmark times, mpiversion and the header they share.
//
// They are copies of ci/progs, which build.sh builds into the CI images:
// Go can't embed files outside the package's directory, and a Go package
// can't live beside C files that aren't cgo. go generate copies them, and
// TestSourcesMatchCIProgs fails when a copy differs.
//
//go:generate sh -c "cd ../../ci/progs && cp osu_common.h osu_latency.c osu_bw.c osu_bibw.c osu_allreduce.c osu_init.c hello.c mpiversion.c ../../validate/run/csrc/"
//go:embed csrc
var sources embed.FS
