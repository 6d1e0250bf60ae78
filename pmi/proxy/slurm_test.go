package proxy_test

import (
	"context"
	"errors"
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
	needSlurm(t)
	hello := buildC(t, "mpicc.mpich", "hello.c")
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
		pmi2 := buildC(t, "cc", "pmi2hello.c", "-lpmi2")
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
	needSlurm(t)
	abort := buildC(t, "mpicc.mpich", "abort.c")
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
