package server_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/client"
	"github.com/mpiwrap/mpiwrap/pmi/server"
)

// rankClient is what the tests need of either client.
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

// dialRank connects a PMI-1 (v=1) or PMI-2 (v=2) client as rank r.
func dialRank(ctx context.Context, t testing.TB, l *server.Launcher, r, v int) rankClient {
	t.Helper()
	cfg := client.Config{Rank: r, Size: l.Job().Config().Size, ID: r}
	if l.Addr() != "" {
		cfg.Addr = l.Addr()
	} else {
		f, err := l.RankFile(r)
		if err != nil {
			t.Fatal(err)
		}
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Conn = c
	}
	var rc rankClient
	var err error
	if v == 2 {
		rc, err = client.NewPMI2(ctx, cfg)
	} else {
		rc, err = client.NewPMI1(ctx, cfg)
	}
	if err != nil {
		t.Fatalf("rank %d: %v", r, err)
	}
	return rc
}

// exchange is one rank's put / fence / get-all round, checking values.
func exchange(ctx context.Context, c rankClient, round int) error {
	in := c.Info()
	if err := c.Put(ctx, fmt.Sprintf("k%d-%d", round, in.Rank), fmt.Sprintf("v%d-%d", round, in.Rank)); err != nil {
		return err
	}
	if err := c.Fence(ctx); err != nil {
		return err
	}
	for r := 0; r < in.Size; r++ {
		v, ok, err := c.Get(ctx, r, fmt.Sprintf("k%d-%d", round, r))
		if err != nil || !ok || v != fmt.Sprintf("v%d-%d", round, r) {
			return fmt.Errorf("rank %d get k%d-%d = %q, %v, %v", in.Rank, round, r, v, ok, err)
		}
	}
	return nil
}

// runRanks runs f for every rank concurrently and returns the first error.
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

func TestLauncher(t *testing.T) {
	tests := []struct {
		name string
		port bool
		ver  func(r int) int
	}{
		{"pmi1 fd", false, func(int) int { return 1 }},
		{"pmi2 fd", false, func(int) int { return 2 }},
		{"mixed fd", false, func(r int) int { return 1 + r%2 }},
		{"pmi1 port", true, func(int) int { return 1 }},
		{"pmi2 port", true, func(int) int { return 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := server.Start
			if tt.port {
				start = server.StartPort
			}
			const n = 8
			l, err := start(ctx, server.JobConfig{Size: n, PPN: 4, AppNum: 3})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			err = runRanks(n, func(r int) error {
				c := dialRank(ctx, t, l, r, tt.ver(r))
				defer c.Close()
				if in := c.Info(); in.Rank != r || in.Size != n || in.AppNum != 3 || in.KVSName != "kvs_fake_0" {
					return fmt.Errorf("rank %d info %+v", r, in)
				}
				if m, ok, err := c.JobAttr(ctx, pmi.AttrProcessMapping); err != nil || !ok || m != "(vector,(0,2,4))" {
					return fmt.Errorf("mapping %q %v %v", m, ok, err)
				}
				if u, ok, err := c.JobAttr(ctx, pmi.AttrUniverseSize); err != nil || !ok || u != "8" {
					return fmt.Errorf("universe %q %v %v", u, ok, err)
				}
				for round := 0; round < 3; round++ {
					if err := exchange(ctx, c, round); err != nil {
						return err
					}
				}
				if _, ok, err := c.Get(ctx, pmi.AnyRank, "missing"); ok || err != nil {
					return fmt.Errorf("missing key: found=%v err=%v", ok, err)
				}
				return c.Finalize(ctx)
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Wait(ctx); err != nil {
				t.Fatalf("Wait = %v", err)
			}
		})
	}
}
