package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/pmitest"
	"github.com/mpiwrap/mpiwrap/internal/testreq"
	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/server"
)

// runJob starts n copies of bin as the ranks of a fake-launcher job and
// returns rank 0's stdout and the launcher's verdict.
func runJob(t *testing.T, ctx context.Context, port bool, n int, bin string, env ...string) (string, error) {
	t.Helper()
	l := pmitest.Launch(ctx, t, server.JobConfig{Size: n}, port)
	outs := make([]*bytes.Buffer, n)
	cmds := make([]*exec.Cmd, n)
	for r := range cmds {
		outs[r] = &bytes.Buffer{}
		cmds[r] = exec.CommandContext(ctx, bin)
		cmds[r].Env = append(os.Environ(), env...)
		cmds[r].Stdout, cmds[r].Stderr = outs[r], outs[r]
		if err := l.StartProcess(r, cmds[r]); err != nil {
			t.Fatal(err)
		}
	}
	var exitErrs []error
	for r, c := range cmds {
		if err := c.Wait(); err != nil {
			exitErrs = append(exitErrs, fmt.Errorf("rank %d: %w: %s", r, err, outs[r]))
		}
	}
	jobErr := l.Wait(ctx)
	if jobErr == nil && len(exitErrs) > 0 {
		jobErr = errors.Join(exitErrs...)
	}
	return outs[0].String(), jobErr
}

// TestMPICHClient runs Debian's MPICH (PMI-1 wire, PMI_FD and PMI_PORT
// modes) against the fake launcher.
func TestMPICHClient(t *testing.T) {
	hello := pmitest.BuildC(t, "mpicc.mpich", "hello.c")
	for _, port := range []bool{false, true} {
		t.Run(fmt.Sprintf("port=%v", port), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			out, err := runJob(t, ctx, port, 4, hello)
			if err != nil {
				t.Fatalf("job failed: %v\n%s", err, out)
			}
			if !strings.Contains(out, "size=4 sum=6") {
				t.Fatalf("rank 0 printed %q, want size=4 sum=6", out)
			}
		})
	}
}

// TestMPICHAbort checks that MPI_Abort ends the job with its exit code and
// that the ranks stuck in a barrier are killed rather than left hanging.
func TestMPICHAbort(t *testing.T) {
	bin := pmitest.BuildC(t, "mpicc.mpich", "abort.c")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := runJob(t, ctx, false, 3, bin)
	var ae *pmi.AbortError
	if !errors.As(err, &ae) || ae.Code != 7 || ae.Rank != 1 {
		t.Fatalf("job error = %v, want rank 1 abort with code 7", err)
	}
	if ctx.Err() != nil {
		t.Fatal("job had to be ended by the test timeout")
	}
}

// TestLibPMI2Client runs Slurm's libpmi2 (a PMI-2 wire client that escapes
// ';' in values and pads lengths on the left) against the fake launcher.
func TestLibPMI2Client(t *testing.T) {
	_, err := os.Stat("/usr/include/slurm/pmi2.h")
	testreq.Require(t, err == nil, "libpmi2-0-dev (Slurm's PMI-2 client library) is not installed")
	bin := pmitest.BuildC(t, "cc", "pmi2hello.c", "-lpmi2")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := runJob(t, ctx, false, 4, bin)
	if err != nil {
		t.Fatalf("job failed: %v\n%s", err, out)
	}
	if !strings.Contains(out, "size=4 ok mapping=(vector,(0,1,4))") {
		t.Fatalf("rank 0 printed %q", out)
	}
}
