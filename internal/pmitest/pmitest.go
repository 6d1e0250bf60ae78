// Package pmitest is the test scaffolding shared by the tests of
// pmi/server, pmi/proxy and pmi/pmix: it starts in-process fake launcher
// jobs, connects PMI-1/PMI-2 clients as their ranks, puts ranks behind
// proxies, runs a function per rank, and does the put / fence / get
// exchange an MPI library does at MPI_Init, checking every answer.
//
// It imports pmi/server, pmi/client and pmi/proxy, so only external test
// packages of those (server_test, proxy_test) can use it; pmi/pmix's
// internal tests can, since none of those imports pmi/pmix.
package pmitest

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"testing"

	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/client"
	"github.com/mpiwrap/mpiwrap/pmi/proxy"
	"github.com/mpiwrap/mpiwrap/pmi/server"
)

// Rank is what the tests need of a rank's client, PMI-1 or PMI-2.
type Rank interface {
	KVS
	JobAttr(ctx context.Context, key string) (string, bool, error)
	Abort(ctx context.Context, code int, msg string) error
	Finalize(ctx context.Context) error
	Close() error
}

// KVS is the part of a client, or of a proxy.Upstream, that Exchange uses.
type KVS interface {
	Info() pmi.Info
	Put(ctx context.Context, key, value string) error
	Fence(ctx context.Context) error
	Get(ctx context.Context, src int, key string) (string, bool, error)
}

// NewClient starts a PMI-v client (2: PMI-2, else PMI-1) on cfg.
func NewClient(ctx context.Context, cfg client.Config, v int) (Rank, error) {
	if v == 2 {
		return client.NewPMI2(ctx, cfg)
	}
	return client.NewPMI1(ctx, cfg)
}

// Launch starts a fake launcher job for cfg, listening on a TCP port when
// port is set and on one socketpair per rank otherwise; it is closed when
// t ends (closing it earlier is fine).
func Launch(ctx context.Context, t testing.TB, cfg server.JobConfig, port bool) *server.Launcher {
	t.Helper()
	start := server.Start
	if port {
		start = server.StartPort
	}
	l, err := start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// Dial connects a PMI-v client as rank r of l, over whichever of port or
// fd the launcher offers.
func Dial(ctx context.Context, t testing.TB, l *server.Launcher, r, v int) Rank {
	t.Helper()
	cfg := client.Config{Rank: r, Size: l.Job().Config().Size, ID: r}
	if l.Addr() != "" {
		cfg.Addr = l.Addr()
	} else {
		f, err := l.RankFile(r)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Conn = FileConn(t, f)
	}
	c, err := NewClient(ctx, cfg, v)
	if err != nil {
		t.Fatalf("rank %d: %v", r, err)
	}
	return c
}

// Upstream is Dial for a proxy's upstream: both clients are one.
func Upstream(ctx context.Context, t testing.TB, l *server.Launcher, r, v int) proxy.Upstream {
	t.Helper()
	return Dial(ctx, t, l, r, v).(proxy.Upstream)
}

// RunRanks runs f for ranks 0..n-1 concurrently and joins their errors.
func RunRanks(n int, f func(r int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r := 0; r < n; r++ {
		wg.Add(1)
		go func() { defer wg.Done(); errs[r] = f(r) }()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// fileConn turns a socket file into a net.Conn; the file is closed
// either way, as the conn holds its own descriptor.
func fileConn(f *os.File) (net.Conn, error) {
	c, err := net.FileConn(f)
	f.Close()
	return c, err
}

// FileConn is fileConn that fails t on error.
func FileConn(t testing.TB, f *os.File) net.Conn {
	t.Helper()
	c, err := fileConn(f)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ConnPair is a connected pair of unix stream sockets.
func ConnPair(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	a, f, err := server.Socketpair("pmitest")
	if err != nil {
		t.Fatal(err)
	}
	return a, FileConn(t, f)
}

// ServeOne serves rank 0 of the job for cfg (Size 1) on a socketpair and
// returns the rank's end, closed when t ends, and Serve's result.
func ServeOne(ctx context.Context, t testing.TB, cfg server.JobConfig) (net.Conn, <-chan error) {
	t.Helper()
	job, err := server.NewJob(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := job.Rank(0)
	if err != nil {
		t.Fatal(err)
	}
	srv, c := ConnPair(t)
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, srv, b) }()
	t.Cleanup(func() { c.Close() })
	return c, done
}
