package proxy_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/pmitest"
	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

// srunProxies runs `srun --mpi=pmi2 -n n <this binary as proxy> child...`.
func srunProxies(ctx context.Context, n string, env []string, child ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "srun", append([]string{"--mpi=pmi2", "-n", n, os.Args[0]}, child...)...)
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=proxy"}, env...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestProxySlurm runs MPICH and libpmi2 ranks behind proxies whose
// upstream is slurmstepd's PMI server (srun --mpi=pmi2). pmi2hello puts
// values with ';', which slurmstepd's PMI-2 server cannot store (natively
// the job fails); through a PMI-1 upstream they survive.
func TestProxySlurm(t *testing.T) {
	testreq.Slurm(t, "pmi2")
	hello := pmitest.BuildC(t, "mpicc.mpich", "hello.c")
	tests := []struct {
		name  string
		wire  string
		child []string
		want  string
	}{
		{"MPICH, pmi2 up", "pmi2", []string{hello}, "size=4 sum=6"},
		{"MPICH, pmi1 up", "pmi1", []string{hello}, "size=4 sum=6"},
		{"MPICH, pmi2 up, batch", "pmi2 batch", []string{hello}, "size=4 sum=6"},
	}
	if _, err := os.Stat("/usr/include/slurm/pmi2.h"); err == nil {
		pmi2 := pmitest.BuildC(t, "cc", "pmi2hello.c", "-lpmi2")
		tests = append(tests, struct {
			name  string
			wire  string
			child []string
			want  string
		}{"libpmi2, pmi1 up", "pmi1", []string{pmi2}, "size=4 ok mapping=(vector,(0,1,4))"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			wire, batch, _ := strings.Cut(tt.wire, " ")
			env := []string{"MPIWRAP_PMI_TEST_WIRE=" + wire, "MPIWRAP_PMI_TEST_BATCH=" + map[string]string{"batch": "1"}[batch]}
			out, err := srunProxies(ctx, "4", env, tt.child...)
			if err != nil || !strings.Contains(out, tt.want) {
				t.Fatalf("srun: %v\n%s", err, out)
			}
		})
	}
}

// TestProxySlurmAbort checks that MPI_Abort behind a proxy ends the srun
// step: the aborting task exits with the rank's code and Slurm kills the
// others, so srun exits 137, exactly as it does natively.
func TestProxySlurmAbort(t *testing.T) {
	testreq.Slurm(t, "pmi2")
	abort := pmitest.BuildC(t, "mpicc.mpich", "abort.c")
	for _, wire := range []string{"pmi1", "pmi2"} {
		t.Run(wire, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			out, err := srunProxies(ctx, "3", []string{"MPIWRAP_PMI_TEST_WIRE=" + wire}, abort)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || !strings.Contains(out, "task 1: Exited with exit code 7") {
				t.Fatalf("srun = %v, want task 1 to exit with code 7\n%s", err, out)
			}
			if ctx.Err() != nil {
				t.Fatal("the step was ended by the test timeout, not by the abort")
			}
		})
	}
}
