package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/pmitest"
	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/proxy"
	"github.com/mpiwrap/mpiwrap/pmi/server"
)

// TestProxyFakeLauncher runs ranks behind proxies against the fake
// launcher for every combination of upstream and downstream protocol.
func TestProxyFakeLauncher(t *testing.T) {
	mixed := func(r int) int { return 1 + r%2 }
	tests := []struct {
		name     string
		port     bool
		up, down func(r int) int
		batch    bool
	}{
		{"pmi1 up pmi1 down", false, one, one, false},
		{"pmi1 up pmi2 down", false, one, two, false},
		{"pmi2 up pmi1 down", false, two, one, false},
		{"pmi2 up pmi2 down", false, two, two, false},
		{"mixed", false, mixed, func(r int) int { return 2 - r%2 }, false},
		{"pmi1 port up", true, one, two, false},
		{"pmi2 port up", true, two, one, false},
		{"batch pmi1 up", false, one, mixed, true},
		{"batch pmi2 up", false, two, mixed, true},
		{"batch mixed port", true, mixed, mixed, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			const n = 6
			l := pmitest.Launch(ctx, t, server.JobConfig{Size: n, PPN: 3, AppNum: 2}, tt.port)
			ps := make([]*pmitest.Proxied, n)
			err := pmitest.RunRanks(n, func(r int) error {
				ps[r] = pmitest.StartProxy(ctx, t, pmitest.Upstream(ctx, t, l, r, tt.up(r)), tt.down(r), proxy.Options{Batch: tt.batch})
				return rankSession(ctx, ps[r].Rank)
			})
			if err != nil {
				t.Fatal(err)
			}
			for r, p := range ps {
				if err := <-p.Served; err != nil {
					t.Errorf("proxy %d: %v", r, err)
				}
				p.Up.Close()
			}
			if err := l.Wait(ctx); err != nil {
				t.Fatalf("launcher: %v", err)
			}
		})
	}
}

func one(int) int { return 1 }
func two(int) int { return 2 }

// rankSession is what an MPI library does through PMI, then finalize.
func rankSession(ctx context.Context, c pmitest.Rank) error {
	defer c.Close()
	if in := c.Info(); in.Size != 6 || in.AppNum != 2 || in.KVSName != "kvs_fake_0" {
		return fmt.Errorf("info %+v", in)
	}
	s := pmitest.Session{Mapping: "(vector,(0,2,3))", Universe: "6", Rounds: 3}
	if err := s.Run(ctx, c); err != nil {
		return fmt.Errorf("rank %d: %w", c.Info().Rank, err)
	}
	return c.Finalize(ctx)
}

// TestProxyAbort checks that an abort behind a proxy reaches the launcher
// with its code, and that the other proxies then report the upstream gone
// instead of hanging in their fence.
func TestProxyAbort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const n = 3
	l := pmitest.Launch(ctx, t, server.JobConfig{Size: n}, false)
	ps := make([]*pmitest.Proxied, n)
	for r := range ps {
		ps[r] = pmitest.StartProxy(ctx, t, pmitest.Upstream(ctx, t, l, r, 1+r%2), 2-r%2, proxy.Options{})
	}
	fenced := make(chan error, n)
	for _, r := range []int{0, 2} {
		go func() { fenced <- ps[r].Rank.Fence(ctx) }()
	}
	if err := ps[1].Rank.Abort(ctx, 7, "bye"); err != nil {
		t.Fatal(err)
	}
	if ae, ok := proxy.IsAbort(<-ps[1].Served); !ok || ae.Code != 7 || ae.Rank != 1 {
		t.Fatalf("proxy 1 returned %v, want abort with code 7", ae)
	}
	if ae, ok := proxy.IsAbort(l.Wait(ctx)); !ok || ae.Code != 7 {
		t.Fatalf("launcher returned %v, want abort with code 7", l.Job().Err())
	}
	for _, r := range []int{0, 2} {
		if err := <-ps[r].Served; !errors.Is(err, proxy.ErrUpstreamClosed) {
			t.Errorf("proxy %d returned %v, want ErrUpstreamClosed", r, err)
		}
		if err := <-fenced; err == nil {
			t.Errorf("a fence succeeded in an aborted job")
		}
	}
}

// TestProxyUpstreamClosed checks that the proxy reports the host going
// away, both while the rank is idle and while it waits in a fence.
func TestProxyUpstreamClosed(t *testing.T) {
	for _, inFence := range []bool{false, true} {
		t.Run(fmt.Sprintf("in fence %v", inFence), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			l := pmitest.Launch(ctx, t, server.JobConfig{Size: 2}, false)
			p := pmitest.StartProxy(ctx, t, pmitest.Upstream(ctx, t, l, 0, 1), 1, proxy.Options{})
			fenced := make(chan error, 1)
			if inFence {
				go func() { fenced <- p.Rank.Fence(ctx) }()
				time.Sleep(50 * time.Millisecond) // let the fence reach the launcher
			}
			l.Close()
			start := time.Now()
			if err := <-p.Served; !errors.Is(err, proxy.ErrUpstreamClosed) {
				t.Fatalf("Serve = %v, want ErrUpstreamClosed", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("took %v to notice", d)
			}
			if inFence {
				if err := <-fenced; err == nil {
					t.Fatal("fence succeeded after the upstream closed")
				}
			}
		})
	}
}

// TestProxyRankExits covers a rank that never speaks PMI (the proxy must
// finalize upstream for it) and one that leaves after init.
func TestProxyRankExits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l := pmitest.Launch(ctx, t, server.JobConfig{Size: 1}, false)
	up := pmitest.Upstream(ctx, t, l, 0, 1)
	mine, rankEnd, err := proxy.Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	rankEnd.Close() // the rank exits without PMI
	if err := proxy.Serve(ctx, mine, up, proxy.Options{}); err != nil {
		t.Fatalf("Serve = %v, want nil", err)
	}
	up.Close()
	if err := l.Wait(ctx); err != nil {
		t.Fatalf("launcher saw %v, want an orderly finalize", err)
	}

	l2 := pmitest.Launch(ctx, t, server.JobConfig{Size: 1}, false)
	p := pmitest.StartProxy(ctx, t, pmitest.Upstream(ctx, t, l2, 0, 2), 2, proxy.Options{})
	p.Rank.Close() // after init, before finalize
	if err := <-p.Served; !errors.Is(err, server.ErrEarlyClose) {
		t.Fatalf("Serve = %v, want ErrEarlyClose", err)
	}
}

// TestProxyBatchValues sends values that need the batch encoding (spaces
// and ';' do not survive a PMI-1 or PMI-2 upstream as they are) and that
// span several chunks.
func TestProxyBatchValues(t *testing.T) {
	for _, up := range []int{1, 2} {
		t.Run(fmt.Sprintf("pmi%d up", up), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			const n = 5
			l := pmitest.Launch(ctx, t, server.JobConfig{Size: n}, false)
			val := func(r, i int) string {
				if r%2 == 0 { // PMI-1 rank: no spaces, but ';' and ','
					return fmt.Sprintf("%d;%d,%s", r, i, strings.Repeat("x=%", 220))
				}
				return fmt.Sprintf("%d %d %s", r, i, strings.Repeat("y ", 500))
			}
			err := pmitest.RunRanks(n, func(r int) error {
				c := pmitest.StartProxy(ctx, t, pmitest.Upstream(ctx, t, l, r, up), 1+r%2, proxy.Options{Batch: true}).Rank
				defer c.Close()
				for i := 0; i < 3; i++ {
					if err := c.Put(ctx, fmt.Sprintf("k%d-%d", r, i), val(r, i)); err != nil {
						return err
					}
				}
				if err := c.Fence(ctx); err != nil {
					return err
				}
				for p := 0; p < n; p++ {
					if r%2 == 0 && p%2 == 1 {
						continue // PMI-1 cannot carry the PMI-2 ranks' spaces
					}
					for i := 0; i < 3; i++ {
						v, ok, err := c.Get(ctx, pmi.AnyRank, fmt.Sprintf("k%d-%d", p, i))
						if err != nil || !ok || v != val(p, i) {
							return fmt.Errorf("rank %d: k%d-%d = %.30q... found=%v err=%v", r, p, i, v, ok, err)
						}
					}
				}
				return c.Finalize(ctx)
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// countGets counts an upstream's gets.
type countGets struct {
	proxy.Upstream
	n *atomic.Int64
}

func (c countGets) Get(ctx context.Context, rank int, key string) (string, bool, error) {
	c.n.Add(1)
	return c.Upstream.Get(ctx, rank, key)
}

// TestProxyBatchSharedCache runs 8 batching ranks on two "nodes" of 4 whose
// proxies share a Cache per node, for three fences: every value arrives,
// and each fence's group blobs are read from the host once per node.
func TestProxyBatchSharedCache(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 8
	l := pmitest.Launch(ctx, t, server.JobConfig{Size: n}, false)
	var gets atomic.Int64
	caches := []*proxy.Cache{proxy.NewCache(), proxy.NewCache()}
	ranks := make([]pmitest.Rank, n)
	for r := range ranks {
		up := countGets{pmitest.Upstream(ctx, t, l, r, 1), &gets}
		defer up.Close()
		ranks[r] = pmitest.StartProxy(ctx, t, up, 1, proxy.Options{Batch: true, Cache: caches[r/4]}).Rank
		defer ranks[r].Close()
	}
	// Groups of ceil(sqrt(8)) = 3: {0,1,2} {3,4,5} {6,7}. Per fence the
	// leaders read 2+2+1 member blobs, and each node reads the 3 group
	// blobs once; every blob here fits one chunk.
	const want = 5 + 2*3
	for round := 0; round < 3; round++ {
		gets.Store(0)
		if err := pmitest.RunRanks(n, func(r int) error { return pmitest.Exchange(ctx, ranks[r], round, pmitest.ByRank) }); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if got := gets.Load(); got != want {
			t.Fatalf("round %d: %d gets upstream, want %d", round, got, want)
		}
	}
}

// noNames hides an upstream's name service.
type noNames struct{ proxy.Upstream }

// TestProxyNames: a rank's publish, lookup and unpublish go to the
// launcher's name service through the proxy; where the upstream has none,
// the call is refused and Note names it.
func TestProxyNames(t *testing.T) {
	type names interface {
		Publish(ctx context.Context, service, port string) error
		Lookup(ctx context.Context, service string) (string, bool, error)
		Unpublish(ctx context.Context, service string) error
	}
	for _, hide := range []bool{false, true} {
		t.Run(fmt.Sprintf("hidden=%v", hide), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			l := pmitest.Launch(ctx, t, server.JobConfig{Size: 1}, false)
			var up proxy.Upstream = pmitest.Upstream(ctx, t, l, 0, 1)
			if hide {
				up = noNames{up}
			}
			var notes []string
			p := pmitest.StartProxy(ctx, t, up, 1, proxy.Options{Note: func(m string) { notes = append(notes, m) }})
			n := p.Rank.(names)
			err := n.Publish(ctx, "svc", "port-9")
			if hide {
				if err == nil || len(notes) != 1 || !strings.Contains(notes[0], `MPI_Publish_name of "svc": the launcher's name service refused it`) {
					t.Fatalf("publish: %v; notes %q", err, notes)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if port, ok, err := n.Lookup(ctx, "svc"); port != "port-9" || !ok || err != nil {
				t.Fatalf("lookup = %q %v %v", port, ok, err)
			}
			if err := n.Unpublish(ctx, "svc"); err != nil || len(notes) != 0 {
				t.Fatalf("unpublish: %v; notes %q", err, notes)
			}
		})
	}
}
