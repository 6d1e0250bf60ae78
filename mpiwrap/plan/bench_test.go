package plan

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
	"github.com/mpiwrap/mpiwrap/netinject"
)

// benchImage is the Debian image that the true256 benchmark (ci/bench)
// runs /bin/true in; it holds both MPICH and Open MPI.
const benchImage = "/var/cache/mpiwrap-ci/images/bookworm"

const benchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func needBenchImage(b *testing.B) {
	b.Helper()
	if _, err := os.Stat(filepath.Join(benchImage, "etc/ld.so.cache")); err != nil {
		b.Skipf("no CI image: %v", err)
	}
}

// benchEnv is the environment of rank 0 of `mpiexec.mpich -n 256` (hydra):
// what the keeper plans with.
func benchEnv() []string {
	return append(os.Environ(), "HYDI_CONTROL_FD=7", "MPIR_CVAR_CH3_INTERFACE_HOSTNAME=vm",
		"MPI_LOCALNRANKS=256", "MPI_LOCALRANKID=0", "PMI_FD=6", "PMI_RANK=0", "PMI_SIZE=256", "PATH="+benchPath)
}

// BenchmarkNewTrue is what a keeper pays once to plan `mpiexec -n 256
// mpiwrap IMAGE /bin/true` under hydra (k.build: plan.New with the node's
// network, the default profiles), the image's MPI looked up for --pmi=auto.
func BenchmarkNewTrue(b *testing.B) {
	needBenchImage(b)
	env := benchEnv()
	cwd, err := os.Getwd()
	if err != nil {
		b.Fatal(err)
	}
	h := NewHost(env, cwd)
	h.Network = netinject.Node{}
	spec := &Spec{Image: benchImage, Command: []string{"/bin/true"}}
	if _, err := New(spec, h); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := New(spec, h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFindMPITrue is the MPI lookup of that plan on its own: /bin/true
// names no MPI, so every MPI library of the image's ld.so.cache is read.
func BenchmarkFindMPITrue(b *testing.B) {
	needBenchImage(b)
	want := FindMPI(elfdeps.Root(benchImage), []string{"/bin/true"}, benchPath, "/")
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if c := FindMPI(elfdeps.Root(benchImage), []string{"/bin/true"}, benchPath, "/"); c.Why != want.Why {
			b.Fatalf("FindMPI = %+v, want %+v", c, want)
		}
	}
}

// BenchmarkNewTrueCold is BenchmarkNewTrue as a keeper pays it: once, in a
// fresh process, with nothing warmed up. Each op re-executes the test
// binary to plan once; cpu-ns/op is that process's user+system CPU over
// the call, GC workers included.
func BenchmarkNewTrueCold(b *testing.B) {
	needBenchImage(b)
	var cpu time.Duration
	for range b.N {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPlanOnceChild$")
		cmd.Env = append(os.Environ(), "MPIWRAP_BENCH_PLAN_ONCE=1")
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("child: %v\n%s", err, out)
		}
		_, after, ok := strings.Cut(string(out), "cpu-ns ")
		ns, err := strconv.ParseInt(strings.Fields(after + " x")[0], 10, 64)
		if !ok || err != nil {
			b.Fatalf("child printed no cpu-ns:\n%s", out)
		}
		cpu += time.Duration(ns)
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// TestPlanOnceChild is BenchmarkNewTrueCold's child.
func TestPlanOnceChild(t *testing.T) {
	if os.Getenv("MPIWRAP_BENCH_PLAN_ONCE") == "" {
		t.Skip("only as BenchmarkNewTrueCold's child")
	}
	h := NewHost(benchEnv(), "/")
	h.Network = netinject.Node{}
	spec := &Spec{Image: benchImage, Command: []string{"/bin/true"}}
	before := processCPU(t)
	if _, err := New(spec, h); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("cpu-ns %d\n", processCPU(t)-before)
}

func processCPU(t *testing.T) int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
