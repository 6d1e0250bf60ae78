package client_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

// TestSlurm runs this test binary as 4 ranks under srun --mpi=pmi2, so
// that our clients talk to slurmstepd's PMI server.
func TestSlurm(t *testing.T) {
	testreq.Slurm(t, "pmi2")
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
