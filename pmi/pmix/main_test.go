package pmix

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/pmitest"
	"github.com/mpiwrap/mpiwrap/internal/testreq"
	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/proxy"
)

// Under a launcher this test binary runs as a rank in one of these modes
// (MPIWRAP_PMIX_TEST_MODE), with the helper at MPIWRAP_PMIX_TEST_HELPER:
//   - upstream: drives an Upstream directly (exchange, attributes, node
//     ids) and prints "rank R ok ..." with the helper's memory;
//   - proxy: serves os.Args[1:] as its rank through proxy.Run, as mpiwrap
//     does, and exits with the rank's status (or its abort code);
//   - hold: starts the helper, writes MPIWRAP_PMIX_TEST_DIR/ready.R, waits
//     for the Upstream to report its end and writes done.R.
const (
	modeEnv   = "MPIWRAP_PMIX_TEST_MODE"
	helperEnv = "MPIWRAP_PMIX_TEST_HELPER"
	dirEnv    = "MPIWRAP_PMIX_TEST_DIR"
	sizeEnv   = "MPIWRAP_PMIX_TEST_SIZE"      // ranks the launcher started
	lingerEnv = "MPIWRAP_PMIX_TEST_LINGER"    // proxy mode: stay this long after forwarding an abort
	univEnv   = "MPIWRAP_PMIX_TEST_UNIV_FROM" // variable holding the launcher's universe size
)

var (
	testDir   string
	startTime time.Duration // Start in a helper mode: helper exec to hello
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(modeEnv); mode != "" {
		os.Exit(runMode(mode))
	}
	dir, err := os.MkdirTemp("", "pmix-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	testDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func runMode(mode string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	start := time.Now()
	up, err := Start(ctx, Config{Helper: os.Getenv(helperEnv), Stderr: os.Stderr})
	startTime = time.Since(start)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mode %s: %v\n", mode, err)
		return 1
	}
	defer up.Close()
	switch mode {
	case "upstream":
		err = modeUpstream(ctx, up)
	case "proxy":
		err = modeProxy(ctx, up)
	case "hold":
		err = modeHold(up)
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if ae, ok := proxy.IsAbort(err); ok {
		if d, _ := time.ParseDuration(os.Getenv(lingerEnv)); d > 0 {
			// Only the launcher acting on PMIx_Abort ends the job now.
			fmt.Fprintf(os.Stderr, "rank %d: abort forwarded, lingering %v\n", up.Info().Rank, d)
			time.Sleep(d)
		}
		return ae.Code
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "mode %s rank %d: %v\n", mode, up.Info().Rank, err)
		return 1
	}
	return 0
}

// modeUpstream checks what a rank learns through the Upstream.
func modeUpstream(ctx context.Context, up *Upstream) error {
	in := up.Info()
	if want, _ := strconv.Atoi(os.Getenv(sizeEnv)); in.Size != want {
		return fmt.Errorf("size %d, launcher says %d", in.Size, want)
	}
	univ, ok, err := up.JobAttr(ctx, pmi.AttrUniverseSize)
	if err != nil || !ok || univ != os.Getenv(os.Getenv(univEnv)) {
		return fmt.Errorf("universe size %q (found %v, %v), launcher says %q", univ, ok, err, os.Getenv(os.Getenv(univEnv)))
	}
	for round := 0; round < 2; round++ {
		if err := pmitest.Exchange(ctx, up, round, pmitest.ByRank|pmitest.ByAny); err != nil {
			return err
		}
	}
	start := time.Now()
	if _, ok, err := up.Get(ctx, pmi.AnyRank, "nobody-put-this"); ok || err != nil || time.Since(start) > time.Second {
		return fmt.Errorf("missing key: found %v, err %v, after %v", ok, err, time.Since(start))
	}
	ids, err := up.NodeIDs(ctx)
	if err != nil {
		return err
	}
	rss, hwm := procMemory(up.HelperPID())
	if err := up.Finalize(ctx); err != nil {
		return err
	}
	fmt.Printf("rank %d ok size=%d kvs=%s appnum=%d univ=%s nodes=%v helper_rss_kb=%d helper_hwm_kb=%d start_us=%d\n",
		in.Rank, in.Size, in.KVSName, in.AppNum, univ, ids, rss, hwm, startTime.Microseconds())
	return nil
}

// procMemory reads VmRSS and VmHWM (kB) of pid.
func procMemory(pid int) (rss, hwm int) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm
}

// modeProxy serves os.Args[1:] as the rank, as mpiwrap's runtime does.
func modeProxy(ctx context.Context, up *Upstream) error {
	cmd := exec.CommandContext(ctx, os.Args[1], os.Args[2:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, modeEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	local, _ := proxy.LocalSizeFromEnv(os.Environ())
	return proxy.Run(ctx, cmd, up, proxy.Options{LocalSize: local})
}

// modeHold waits for the Upstream to report the PMIx server's loss.
func modeHold(up *Upstream) error {
	dir, rank := os.Getenv(dirEnv), up.Info().Rank
	ready := fmt.Sprintf("%d %d\n", os.Getpid(), up.HelperPID())
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("ready.%d", rank)), []byte(ready), 0o644); err != nil {
		return err
	}
	var result string
	select {
	case <-up.Done():
		result = fmt.Sprintf("ended: %v", up.Err())
	case <-time.After(60 * time.Second):
		result = "still up after 60s"
	}
	return os.WriteFile(filepath.Join(dir, fmt.Sprintf("done.%d", rank)), []byte(result), 0o644)
}

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// buildHelper builds cmd/mpiwrap-pmix (once), dynamically linked.
func buildHelper(t testing.TB) string {
	t.Helper()
	_, err := exec.LookPath("cc")
	testreq.Require(t, err == nil, "no C compiler (cc) to build the cgo helper")
	goTool, err := exec.LookPath("go")
	testreq.Require(t, err == nil, "the go tool on PATH, to build the helper")
	return buildOnce(t, "helper", func(out string) *exec.Cmd {
		cmd := exec.Command(goTool, "build", "-buildvcs=false", "-o", out, "github.com/mpiwrap/mpiwrap/cmd/"+HelperName)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		return cmd
	})
}

// buildMPI compiles an MPI program with compiler (once).
func buildMPI(t testing.TB, compiler, src string) string {
	t.Helper()
	_, err := exec.LookPath(compiler)
	testreq.Require(t, err == nil, compiler+" is not installed")
	return buildOnce(t, compiler+" "+src, func(out string) *exec.Cmd {
		return exec.Command(compiler, "-O2", "-o", out, src)
	})
}

func buildOnce(t testing.TB, key string, build func(out string) *exec.Cmd) string {
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := built[key]; ok {
		return bin
	}
	out := filepath.Join(testDir, strconv.Itoa(len(built))+"-"+filepath.Base(strings.Fields(key)[len(strings.Fields(key))-1]))
	if o, err := build(out).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", key, err, o)
	}
	built[key] = out
	return out
}
