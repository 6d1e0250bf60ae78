package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"

	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/client"
	"github.com/mpiwrap/mpiwrap/pmi/proxy"
	"github.com/mpiwrap/mpiwrap/pmi/server"
)

// rankClient is the client API the tests drive ranks with.
type rankClient interface {
	Info() pmi.Info
	Put(ctx context.Context, key, value string) error
	Fence(ctx context.Context) error
	Get(ctx context.Context, src int, key string) (string, bool, error)
	JobAttr(ctx context.Context, key string) (string, bool, error)
	Abort(ctx context.Context, code int, msg string) error
	Finalize(ctx context.Context) error
	Close() error
}

// fileConn turns a socket file into a net.Conn and closes the file.
func fileConn(t testing.TB, f *os.File) net.Conn {
	t.Helper()
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// dial starts a PMI-v client (1 or 2) on cfg.
func dial(ctx context.Context, cfg client.Config, v int) (rankClient, error) {
	if v == 2 {
		return client.NewPMI2(ctx, cfg)
	}
	return client.NewPMI1(ctx, cfg)
}

// upstreamFor connects a PMI-v client to rank r of a fake launcher.
func upstreamFor(ctx context.Context, t testing.TB, l *server.Launcher, r, v int) proxy.Upstream {
	t.Helper()
	cfg := client.Config{Rank: r, Size: l.Job().Config().Size, ID: r}
	if l.Addr() != "" {
		cfg.Addr = l.Addr()
	} else {
		f, err := l.RankFile(r)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Conn = fileConn(t, f)
	}
	c, err := dial(ctx, cfg, v)
	if err != nil {
		t.Fatalf("upstream rank %d: %v", r, err)
	}
	return c.(proxy.Upstream)
}

// proxied is one rank behind a proxy.
type proxied struct {
	rank   rankClient
	up     proxy.Upstream
	served chan error // Serve's result
}

// startProxy runs proxy.Serve for up and connects a PMI-v client as the
// rank behind it.
func startProxy(ctx context.Context, t testing.TB, up proxy.Upstream, v int, opts proxy.Options) *proxied {
	t.Helper()
	mine, rankEnd, err := proxy.Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	p := &proxied{up: up, served: make(chan error, 1)}
	go func() { p.served <- proxy.Serve(ctx, mine, up, opts) }()
	in := up.Info()
	p.rank, err = dial(ctx, client.Config{Conn: fileConn(t, rankEnd), Rank: in.Rank, Size: in.Size}, v)
	if err != nil {
		t.Fatalf("rank %d behind proxy: %v", in.Rank, err)
	}
	return p
}

// runRanks runs f for every rank concurrently and joins the errors.
func runRanks(n int, f func(r int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r := 0; r < n; r++ {
		wg.Add(1)
		go func() { defer wg.Done(); errs[r] = f(r) }()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// exchange puts one key, fences and reads every rank's key back.
func exchange(ctx context.Context, c rankClient, round int) error {
	in := c.Info()
	key := func(r int) string { return fmt.Sprintf("k%d-%d", round, r) }
	val := func(r int) string { return fmt.Sprintf("v%d-%d-%s", round, r, in.KVSName) }
	if err := c.Put(ctx, key(in.Rank), val(in.Rank)); err != nil {
		return err
	}
	if err := c.Fence(ctx); err != nil {
		return err
	}
	for r := 0; r < in.Size; r++ {
		v, ok, err := c.Get(ctx, r, key(r))
		if err != nil || !ok || v != val(r) {
			return fmt.Errorf("rank %d: get %s = %q found=%v err=%v", in.Rank, key(r), v, ok, err)
		}
	}
	return nil
}

// clientConfig is a client.Config for a rank on the socket file f.
func clientConfig(t testing.TB, f *os.File, rank, size int) client.Config {
	return client.Config{Conn: fileConn(t, f), Rank: rank, Size: size}
}
