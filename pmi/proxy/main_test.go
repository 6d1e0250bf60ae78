package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/pmitest"
	"github.com/mpiwrap/mpiwrap/pmi/client"
	"github.com/mpiwrap/mpiwrap/pmi/proxy"
)

// Helper modes: the test binary re-executed by a launcher acts as
//   - proxy: a proxy (upstream wire MPIWRAP_PMI_TEST_WIRE, batching if
//     MPIWRAP_PMI_TEST_BATCH=1) running os.Args[1:] as its rank, as mpiwrap
//     does; the rank gets helper mode MPIWRAP_PMI_TEST_CHILD, if set;
//   - rank:  a PMI rank (MPIWRAP_PMI_TEST_RANKWIRE) doing put/fence/get-all,
//     aborting with code 7 on rank MPIWRAP_PMI_TEST_ABORT if set;
//   - rss:   one proxy between PMI_FD (upstream) and fd 4 (the rank), which
//     prints its resident size when the rank has finished.
const (
	helperEnv = "MPIWRAP_PMI_TEST_HELPER"
	childEnv  = "MPIWRAP_PMI_TEST_CHILD"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(pmitest.RunMain(m, "pmi-proxy-test-"))
}

func runHelper(mode string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var err error
	switch mode {
	case "proxy":
		err = helperProxy(ctx)
	case "rank":
		err = helperRank(ctx)
	case "rss":
		err = helperRSS(ctx)
	default:
		err = fmt.Errorf("unknown helper mode %q", mode)
	}
	if ae, ok := proxy.IsAbort(err); ok {
		return ae.Code
	}
	var ec *exitCode
	if errors.As(err, &ec) {
		return ec.code
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "helper %s: %v\n", mode, err)
		return 1
	}
	return 0
}

func helperProxy(ctx context.Context) error {
	w, err := proxy.ParseWire(os.Getenv("MPIWRAP_PMI_TEST_WIRE"))
	if err != nil {
		return err
	}
	up, err := proxy.UpstreamFromEnv(ctx, os.Environ(), w)
	if err != nil {
		return err
	}
	defer up.Close()
	cmd := exec.CommandContext(ctx, os.Args[1], os.Args[2:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = []string{helperEnv + "=" + os.Getenv(childEnv)}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, helperEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	local, _ := proxy.LocalSizeFromEnv(os.Environ())
	opts := proxy.Options{LocalSize: local, Batch: os.Getenv("MPIWRAP_PMI_TEST_BATCH") == "1",
		AbortSent: func(code int) { os.Exit(code) }} // the launcher sees this process as the task
	return proxy.Run(ctx, cmd, up, opts)
}

func helperRank(ctx context.Context) error {
	cfg, err := client.ConfigFromEnv(os.Environ())
	if err != nil {
		return err
	}
	v, _ := strconv.Atoi(os.Getenv("MPIWRAP_PMI_TEST_RANKWIRE"))
	c, err := pmitest.NewClient(ctx, cfg, v)
	if err != nil {
		return err
	}
	defer c.Close()
	if a := os.Getenv("MPIWRAP_PMI_TEST_ABORT"); a == strconv.Itoa(c.Info().Rank) {
		c.Abort(ctx, 7, "test abort")
		return &exitCode{7}
	}
	if err := pmitest.Exchange(ctx, c, 0, pmitest.ByRank); err != nil {
		return err
	}
	if err := c.Finalize(ctx); err != nil {
		return err
	}
	fmt.Printf("rank %d ok\n", c.Info().Rank)
	return nil
}

// exitCode makes runHelper exit with a code without printing.
type exitCode struct{ code int }

func (e *exitCode) Error() string { return "exit " + strconv.Itoa(e.code) }

// helperRSS proxies for one rank on fd 4 and reports its memory.
func helperRSS(ctx context.Context) error {
	up, err := proxy.UpstreamFromEnv(ctx, os.Environ(), proxy.WireAuto)
	if err != nil {
		return err
	}
	defer up.Close()
	down, err := net.FileConn(os.NewFile(4, "rank"))
	if err != nil {
		return err
	}
	if err := proxy.Serve(ctx, down, up, proxy.Options{}); err != nil {
		return err
	}
	rss, err := proxy.RSS()
	fmt.Printf("rss_bytes=%d\n", rss)
	return err
}
