package client_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	slurmOnce sync.Once
	slurmWhy  string // "" when srun --mpi=pmi2 can run jobs here
)

// needSlurm skips (or fails under MPIWRAP_TEST_REQUIRE=1) unless a Slurm
// cluster with the pmi2 plugin answers.
func needSlurm(t *testing.T) {
	slurmOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "srun", "--mpi=list").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "pmi2") {
			slurmWhy = "srun --mpi=list does not offer pmi2: " + strings.TrimSpace(string(out))
			return
		}
		if out, err := exec.CommandContext(ctx, "srun", "-n1", "true").CombinedOutput(); err != nil {
			slurmWhy = "srun -n1 true failed: " + strings.TrimSpace(string(out))
		}
	})
	requireOrSkip(t, slurmWhy == "", slurmWhy)
}

// TestSlurm runs this test binary as 4 ranks under srun --mpi=pmi2, so
// that our clients talk to slurmstepd's PMI server.
func TestSlurm(t *testing.T) {
	needSlurm(t)
	for _, mode := range []string{"pmi1", "pmi2"} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "srun", "--mpi=pmi2", "-n", "4", os.Args[0])
			cmd.Env = append(os.Environ(), helperEnv+"="+mode, "MPIWRAP_PMI_TEST_SIZE=4")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("srun: %v\n%s", err, out)
			}
			if n := strings.Count(string(out), "ok rank="); n != 4 {
				t.Fatalf("%d ranks reported ok, want 4:\n%s", n, out)
			}
		})
	}
}
