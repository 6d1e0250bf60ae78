package pmix

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

// launcher is a PMIx launcher the tests run ranks under.
type launcher struct {
	name     string
	univFrom string // the rank's variable holding the universe size
	argv     func(n int, env []string) []string
}

var launchers = []launcher{
	{"srun", "SLURM_NTASKS", func(n int, _ []string) []string {
		return []string{"srun", "--mpi=pmix", "-n", strconv.Itoa(n)}
	}},
	{"mpirun", "OMPI_UNIVERSE_SIZE", func(n int, env []string) []string {
		argv := []string{"mpirun.openmpi", "-n", strconv.Itoa(n), "--oversubscribe"}
		if os.Geteuid() == 0 {
			argv = append(argv, "--allow-run-as-root")
		}
		for _, kv := range env { // mpirun forwards only what -x names
			k, _, _ := strings.Cut(kv, "=")
			argv = append(argv, "-x", k)
		}
		return argv
	}},
}

var (
	launcherMu  sync.Mutex
	launcherWhy = map[string]*string{} // "" when usable
)

// need skips (or fails under MPIWRAP_TEST_REQUIRE=1) unless l can run
// a PMIx job here and libpmix and a C compiler for the helper exist.
func (l launcher) need(t testing.TB) {
	t.Helper()
	launcherMu.Lock()
	why, ok := launcherWhy[l.name]
	if !ok {
		why = new(string)
		*why = l.probe()
		launcherWhy[l.name] = why
	}
	launcherMu.Unlock()
	testreq.Require(t, *why == "", *why)
}

func (l launcher) probe() string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if l.name == "srun" {
		out, err := exec.CommandContext(ctx, "srun", "--mpi=list").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "pmix") {
			return "srun --mpi=list does not offer pmix: " + strings.TrimSpace(string(out))
		}
	}
	argv := append(l.argv(1, nil), "true")
	if out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput(); err != nil {
		return strings.Join(argv, " ") + " failed: " + strings.TrimSpace(string(out))
	}
	return ""
}

// launch runs n ranks of this test binary in mode under l, with args.
func (l launcher) launch(ctx context.Context, t testing.TB, n int, mode string, env []string, args ...string) (string, error) {
	t.Helper()
	env = append([]string{modeEnv + "=" + mode, helperEnv + "=" + buildHelper(t),
		sizeEnv + "=" + strconv.Itoa(n), univEnv + "=" + l.univFrom}, env...)
	argv := append(append(l.argv(n, env), os.Args[0]), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A timeout kills the launcher's whole process group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s did not end within the test's time limit\n%s", strings.Join(argv, " "), out.String())
	}
	return out.String(), err
}

var okLine = regexp.MustCompile(`rank (\d+) ok size=(\d+) kvs=(\S+) appnum=(\d+) univ=(\d+) nodes=\[([0-9 ]*)\] helper_rss_kb=(\d+) helper_hwm_kb=(\d+) start_us=(\d+)`)

// TestLaunchUpstream: under each launcher, 4 ranks drive the Upstream
// directly: put, commit, fence, get of every key by rank and by
// PMIX_RANK_UNDEF, universe size, node ids. It logs the helper's memory.
func TestLaunchUpstream(t *testing.T) {
	for _, l := range launchers {
		t.Run(l.name, func(t *testing.T) {
			l.need(t)
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			out, err := l.launch(ctx, t, 4, "upstream", nil)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			ms := okLine.FindAllStringSubmatch(out, -1)
			if len(ms) != 4 {
				t.Fatalf("want 4 ok lines:\n%s", out)
			}
			maxRSS, maxHWM, maxStart := 0, 0, 0
			for _, m := range ms {
				if m[2] != "4" || m[6] != "0 0 0 0" {
					t.Errorf("rank %s: size %s nodes [%s], want 4 ranks on node 0", m[1], m[2], m[6])
				}
				rss, _ := strconv.Atoi(m[7])
				hwm, _ := strconv.Atoi(m[8])
				us, _ := strconv.Atoi(m[9])
				maxRSS, maxHWM, maxStart = max(maxRSS, rss), max(maxHWM, hwm), max(maxStart, us)
			}
			t.Logf("%s: kvs=%s univ=%s; helper RSS max %d KiB, peak (VmHWM) max %d KiB; Start (exec to PMIx_Init done) max %.1f ms",
				l.name, ms[0][3], ms[0][5], maxRSS, maxHWM, float64(maxStart)/1e3)
			if maxHWM > 15<<10 {
				t.Errorf("helper peak RSS %d KiB exceeds 15 MiB", maxHWM)
			}
		})
	}
}

// TestLaunchProxyHello: a real MPICH program (no PMIx client) behind
// proxy.Serve with the PMIx upstream. Natively it starts 4 singletons.
func TestLaunchProxyHello(t *testing.T) {
	for _, l := range launchers {
		t.Run(l.name, func(t *testing.T) {
			l.need(t)
			hello := buildMPI(t, "mpicc.mpich", "../../ci/progs/hello.c")
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			out, err := l.launch(ctx, t, 4, "proxy", nil, hello)
			if err != nil || strings.Count(out, "hello size=4 sum=6") != 1 {
				t.Fatalf("want one \"hello size=4 sum=6\": %v\n%s", err, out)
			}
		})
	}
}

// TestLaunchAbort: MPI_Abort(7) of rank 1 behind a proxy must end the
// whole job through PMIx_Abort: the other ranks wait in MPI_Allreduce
// forever unless the launcher kills them, and the aborting rank's proxy
// lingers 40 s after the abort, so that a launcher reacting to a task's
// exit instead would show as a slow job. MPI_Abort must not return: a
// hello line would mean rank 1 ran on into MPI_Allreduce.
func TestLaunchAbort(t *testing.T) {
	for _, l := range launchers {
		t.Run(l.name, func(t *testing.T) {
			l.need(t)
			hello := buildMPI(t, "mpicc.mpich", "../../ci/progs/hello.c")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			start := time.Now()
			out, err := l.launch(ctx, t, 4, "proxy", []string{lingerEnv + "=40s"}, hello, "abort", "7")
			var ee *exec.ExitError
			if !errors.As(err, &ee) || strings.Contains(out, "hello size=") {
				t.Fatalf("job = %v, want a failed job without hello\n%s", err, out)
			}
			if !strings.Contains(out, "rank 1 aborting with code 7") {
				t.Fatalf("rank 1 did not abort:\n%s", out)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Fatalf("the job took %v to end: the launcher did not act on PMIx_Abort\n%s", d, out)
			}
			t.Logf("%s exited with status %d after %v:\n%s", l.name, ee.ExitCode(), time.Since(start).Round(time.Millisecond), abortLines(out))
		})
	}
}

// abortLines keeps the launcher's lines about the end of the job.
func abortLines(out string) string {
	var keep []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "xit") || strings.Contains(line, "abort") || strings.Contains(line, "Abort") {
			keep = append(keep, "    "+line)
		}
	}
	return strings.Join(keep, "\n")
}
