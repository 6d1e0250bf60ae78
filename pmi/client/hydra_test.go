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

// TestHydra runs this test binary as 4 ranks under MPICH's hydra, so that
// our clients talk to a real server, over PMI_FD and over -pmi-port.
func TestHydra(t *testing.T) {
	_, err := exec.LookPath("mpiexec.mpich")
	testreq.Require(t, err == nil, "mpiexec.mpich (MPICH hydra) is not installed")
	tests := []struct {
		name string
		mode string
		args []string
	}{
		{"pmi1 fd", "pmi1", nil},
		{"pmi1 port", "pmi1", []string{"-pmi-port"}},
		{"pmi2 fd", "pmi2", nil},
		{"pmi2 port", "pmi2", []string{"-pmi-port"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			args := append(append([]string{}, tt.args...), "-n", "4", os.Args[0])
			cmd := exec.CommandContext(ctx, "mpiexec.mpich", args...)
			cmd.Env = append(os.Environ(), helperEnv+"="+tt.mode, "MPIWRAP_PMI_TEST_SIZE=4")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("mpiexec: %v\n%s", err, out)
			}
			if n := strings.Count(string(out), "ok rank="); n != 4 {
				t.Fatalf("%d ranks reported ok, want 4:\n%s", n, out)
			}
			if n := strings.Count(string(out), "nodes=[0 0 0 0]"); n != 4 {
				t.Fatalf("hydra's PMI_process_mapping does not put all 4 ranks on node 0:\n%s", out)
			}
		})
	}
}
