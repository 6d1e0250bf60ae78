// Package testreq is the one rule for tests that need something from the
// machine (a launcher, root, an image): without it they skip, except under
// MPIWRAP_TEST_REQUIRE=1 (make test, CI), where they fail, so that a
// missing prerequisite can never pass as a green run.
package testreq

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Require fails or skips t unless ok; what names the missing thing.
func Require(t testing.TB, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("MPIWRAP_TEST_REQUIRE") == "1" {
		t.Fatalf("missing requirement: %s", what)
	}
	t.Skipf("missing requirement: %s", what)
}

// slurm holds, per plugin, a func() string that probes Slurm once and then
// returns why it is unusable ("" when it is usable).
var slurm sync.Map

// slurmProbe is the probe behind Slurm; a variable so tests can count calls.
var slurmProbe = slurmWhyNot

// Slurm requires a running Slurm whose srun offers the MPI plugin. The
// probe runs once per plugin per process, however many tests (or
// goroutines) ask; the others wait for its answer.
func Slurm(t testing.TB, plugin string) {
	t.Helper()
	probe, _ := slurm.LoadOrStore(plugin, sync.OnceValue(func() string { return slurmProbe(plugin) }))
	why := probe.(func() string)()
	Require(t, why == "", why)
}

func slurmWhyNot(plugin string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "srun", "--mpi=list").CombinedOutput()
	if err != nil || !strings.Contains(string(out), plugin) {
		return "a single-node Slurm whose srun --mpi=list offers " + plugin + " (ci/slurm/setup.sh): " + strings.TrimSpace(string(out))
	}
	if out, err := exec.CommandContext(ctx, "srun", "-n1", "true").CombinedOutput(); err != nil {
		return "a Slurm that runs jobs: srun -n1 true failed: " + strings.TrimSpace(string(out))
	}
	return ""
}
