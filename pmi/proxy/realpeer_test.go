package proxy_test

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
	"github.com/mpiwrap/mpiwrap/pmi/client"
	"github.com/mpiwrap/mpiwrap/pmi/proxy"
	"github.com/mpiwrap/mpiwrap/pmi/server"
)

func needHydra(t *testing.T) {
	_, err := exec.LookPath("mpiexec.mpich")
	testreq.Require(t, err == nil, "mpiexec.mpich (MPICH hydra) is not installed")
}

// hydraRun runs `mpiexec.mpich args... -n n <this binary as proxy> child...`.
func hydraRun(ctx context.Context, args []string, n int, env []string, child ...string) (string, error) {
	argv := append(append([]string{}, args...), "-n", fmt.Sprint(n), os.Args[0])
	cmd := exec.CommandContext(ctx, "mpiexec.mpich", append(argv, child...)...)
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=proxy"}, env...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestProxyHydra runs real MPI and PMI programs behind proxies whose
// upstream is MPICH's hydra, over PMI_FD and -pmi-port.
func TestProxyHydra(t *testing.T) {
	needHydra(t)
	hello := pmitest.BuildC(t, "mpicc.mpich", "hello.c")
	tests := []struct {
		name  string
		wire  string
		args  []string
		env   []string
		child []string
		want  string
		count int
	}{
		{"MPICH, pmi2 up", "pmi2", nil, nil, []string{hello}, "size=4 sum=6", 1},
		{"MPICH, pmi1 both sides", "pmi1", nil, nil, []string{hello}, "size=4 sum=6", 1},
		{"MPICH, pmi1 port up", "pmi1", []string{"-pmi-port"}, nil, []string{hello}, "size=4 sum=6", 1},
		{"MPICH, pmi2 port up", "pmi2", []string{"-pmi-port"}, nil, []string{hello}, "size=4 sum=6", 1},
		{"MPICH, pmi1 up, batch", "pmi1", nil, []string{"MPIWRAP_PMI_TEST_BATCH=1"}, []string{hello}, "size=4 sum=6", 1},
		{"MPICH, pmi2 port up, batch", "pmi2", []string{"-pmi-port"}, []string{"MPIWRAP_PMI_TEST_BATCH=1"}, []string{hello}, "size=4 sum=6", 1},
		{"Go PMI-1 rank, pmi2 up, batch", "pmi2", nil, []string{childEnv + "=rank", "MPIWRAP_PMI_TEST_RANKWIRE=1", "MPIWRAP_PMI_TEST_BATCH=1"}, []string{os.Args[0]}, "ok", 4},
		{"Go PMI-2 rank, pmi2 up", "pmi2", nil, []string{childEnv + "=rank", "MPIWRAP_PMI_TEST_RANKWIRE=2"}, []string{os.Args[0]}, "ok", 4},
		{"Go PMI-1 rank, pmi1 up", "pmi1", nil, []string{childEnv + "=rank", "MPIWRAP_PMI_TEST_RANKWIRE=1"}, []string{os.Args[0]}, "ok", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			out, err := hydraRun(ctx, tt.args, 4, append(tt.env, "MPIWRAP_PMI_TEST_WIRE="+tt.wire), tt.child...)
			if err != nil {
				t.Fatalf("mpiexec: %v\n%s", err, out)
			}
			if strings.Count(out, tt.want) != tt.count {
				t.Fatalf("want %d x %q in:\n%s", tt.count, tt.want, out)
			}
		})
	}
}

// TestProxyHydraLibPMI2 runs Slurm's libpmi2 behind proxies under hydra.
// Natively hydra loses the ';' that libpmi2 escapes as ";;"; through a
// PMI-1 upstream the value survives.
func TestProxyHydraLibPMI2(t *testing.T) {
	needHydra(t)
	_, err := os.Stat("/usr/include/slurm/pmi2.h")
	testreq.Require(t, err == nil, "libpmi2-0-dev (Slurm's PMI-2 client library) is not installed")
	bin := pmitest.BuildC(t, "cc", "pmi2hello.c", "-lpmi2")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := hydraRun(ctx, nil, 4, []string{"MPIWRAP_PMI_TEST_WIRE=pmi1"}, bin)
	if err != nil || !strings.Contains(out, "size=4 ok mapping=") {
		t.Fatalf("mpiexec: %v\n%s", err, out)
	}
}

// TestProxyHydraAbort checks that an abort behind a proxy ends the whole
// hydra job with the rank's exit code, with nothing left hanging. Hydra
// 4.0 does not know the PMI-2 abort command: it still ends the job, but
// with its own code 255 (as it does for a native PMI-2 MPICH).
func TestProxyHydraAbort(t *testing.T) {
	needHydra(t)
	abort := pmitest.BuildC(t, "mpicc.mpich", "abort.c")
	goRank := []string{childEnv + "=rank", "MPIWRAP_PMI_TEST_RANKWIRE=2", "MPIWRAP_PMI_TEST_ABORT=1"}
	tests := []struct {
		name  string
		env   []string
		child []string
		code  int
	}{
		{"MPICH MPI_Abort, pmi1 up", []string{"MPIWRAP_PMI_TEST_WIRE=pmi1"}, []string{abort}, 7},
		{"MPICH MPI_Abort, pmi2 up", []string{"MPIWRAP_PMI_TEST_WIRE=pmi2"}, []string{abort}, 255},
		{"Go PMI-2 abort, pmi1 up", append(goRank, "MPIWRAP_PMI_TEST_WIRE=pmi1"), []string{os.Args[0]}, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			out, err := hydraRun(ctx, nil, 3, tt.env, tt.child...)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != tt.code {
				t.Fatalf("mpiexec = %v, want exit code %d\n%s", err, tt.code, out)
			}
			if ctx.Err() != nil {
				t.Fatal("the job was ended by the test timeout, not by the abort")
			}
		})
	}
}

// TestProxyMPICHFake runs MPICH ranks behind in-process proxies whose
// upstream is the fake launcher, without hydra.
func TestProxyMPICHFake(t *testing.T) {
	hello := pmitest.BuildC(t, "mpicc.mpich", "hello.c")
	for _, v := range []int{1, 2} {
		t.Run(fmt.Sprintf("pmi%d up", v), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			const n = 4
			l := pmitest.Launch(ctx, t, server.JobConfig{Size: n}, false)
			outs := make([]bytes.Buffer, n)
			err := pmitest.RunRanks(n, func(r int) error {
				up := pmitest.Upstream(ctx, t, l, r, v)
				defer up.Close()
				cmd := exec.CommandContext(ctx, hello)
				cmd.Stdout, cmd.Stderr = &outs[r], &outs[r]
				return proxy.Run(ctx, cmd, up, proxy.Options{LocalSize: n})
			})
			if err != nil || !strings.Contains(outs[0].String(), "size=4 sum=6") {
				t.Fatalf("job: %v\n%s", err, outs[0].String())
			}
			if err := l.Wait(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestProxyRSS runs one proxy in its own process (this test binary in rss
// mode) between the fake launcher and a rank driven from here, and checks
// its resident size after a busy session.
func TestProxyRSS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l := pmitest.Launch(ctx, t, server.JobConfig{Size: 1}, false)
	upFile, err := l.RankFile(0)
	if err != nil {
		t.Fatal(err)
	}
	proxyEnd, rankEnd, err := proxy.Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	proxyFile, err := proxyEnd.(interface{ File() (*os.File, error) }).File()
	proxyEnd.Close()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(server.StripPMIEnv(os.Environ()), helperEnv+"=rss", "PMI_FD=3", "PMI_RANK=0", "PMI_SIZE=1")
	cmd.ExtraFiles = []*os.File{upFile, proxyFile}
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Start()
	upFile.Close()
	proxyFile.Close()
	if err != nil {
		t.Fatal(err)
	}
	c, err := pmitest.NewClient(ctx, client.Config{Conn: pmitest.FileConn(t, rankEnd), Rank: 0, Size: 1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2000; round++ {
		if err := pmitest.Exchange(ctx, c, round, pmitest.ByRank); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Finalize(ctx); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("proxy: %v\n%s", err, out.String())
	}
	var rss int64
	if _, err := fmt.Sscanf(out.String(), "rss_bytes=%d", &rss); err != nil {
		t.Fatalf("proxy printed %q", out.String())
	}
	t.Logf("proxy RSS per rank: %.1f MiB", float64(rss)/(1<<20))
	if rss > 15<<20 && !raceOn {
		t.Fatalf("proxy RSS %d bytes exceeds 15 MiB", rss)
	}
}
