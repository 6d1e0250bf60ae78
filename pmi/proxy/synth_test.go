package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/pmitest"
	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/client"
	"github.com/mpiwrap/mpiwrap/pmi/proxy"
)

// memUp is an in-memory single-rank Upstream, standing in for hosts that
// lack some attributes (a PMIx adapter would look like this).
type memUp struct {
	info   pmi.Info
	attrs  map[string]string
	kvs    map[string]string
	done   chan struct{}
	aborts []int
}

func newMemUp(size int, attrs map[string]string) *memUp {
	return &memUp{info: pmi.Info{Rank: 0, Size: size, KVSName: "mem"}, attrs: attrs,
		kvs: map[string]string{}, done: make(chan struct{})}
}

func (m *memUp) Info() pmi.Info                           { return m.info }
func (m *memUp) Put(_ context.Context, k, v string) error { m.kvs[k] = v; return nil }
func (m *memUp) Commit(context.Context) error             { return nil }
func (m *memUp) Fence(context.Context) error              { return nil }
func (m *memUp) Get(_ context.Context, _ int, k string) (string, bool, error) {
	v, ok := m.kvs[k]
	return v, ok, nil
}
func (m *memUp) JobAttr(_ context.Context, k string) (string, bool, error) {
	v, ok := m.attrs[k]
	return v, ok, nil
}
func (m *memUp) Abort(_ context.Context, code int, _ string) error {
	m.aborts = append(m.aborts, code)
	return nil
}
func (m *memUp) Finalize(context.Context) error { return nil }
func (m *memUp) Done() <-chan struct{}          { return m.done }
func (m *memUp) Err() error                     { return nil }
func (m *memUp) Close() error                   { return nil }

// memUpNodes adds NodeMapper.
type memUpNodes struct {
	*memUp
	nodes []int
	err   error
}

func (m *memUpNodes) NodeIDs(context.Context) ([]int, error) { return m.nodes, m.err }

func TestProxySynthesis(t *testing.T) {
	tests := []struct {
		name         string
		up           proxy.Upstream
		local        int
		wantMap      string // "" = not found
		wantUniverse string
		wantErr      bool
	}{
		{"host has both", newMemUp(4, map[string]string{pmi.AttrProcessMapping: "(vector,(0,2,2))", pmi.AttrUniverseSize: "-1"}), 0, "(vector,(0,2,2))", "-1", false},
		{"node ids", &memUpNodes{memUp: newMemUp(4, nil), nodes: []int{0, 1, 0, 1}}, 0, "(vector,(0,2,1),(0,2,1))", "4", false},
		{"all local", newMemUp(4, nil), 4, "(vector,(0,1,4))", "4", false},
		{"empty host value", newMemUp(4, map[string]string{pmi.AttrProcessMapping: ""}), 4, "(vector,(0,1,4))", "4", false},
		{"unknown layout", newMemUp(4, nil), 2, "", "4", false},
		{"node ids wrong length", &memUpNodes{memUp: newMemUp(4, nil), nodes: []int{0}}, 0, "", "4", true},
		{"node ids fail", &memUpNodes{memUp: newMemUp(4, nil), err: errors.New("boom")}, 0, "", "4", true},
	}
	for _, tt := range tests {
		for _, v := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s pmi%d", tt.name, v), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				p := pmitest.StartProxy(ctx, t, tt.up, v, proxy.Options{LocalSize: tt.local})
				defer p.Rank.Close()
				m, found, err := p.Rank.JobAttr(ctx, pmi.AttrProcessMapping)
				// A PMI-1 get has only rc: a failure reads as "not found".
				if (err != nil) != (tt.wantErr && v == 2) || m != tt.wantMap || found != (tt.wantMap != "") {
					t.Fatalf("PMI-%d mapping = %q found=%v err=%v; want %q", v, m, found, err, tt.wantMap)
				}
				if u, ok, err := p.Rank.JobAttr(ctx, pmi.AttrUniverseSize); err != nil || !ok || u != tt.wantUniverse {
					t.Fatalf("PMI-%d universe = %q found=%v err=%v; want %s", v, u, ok, err, tt.wantUniverse)
				}
				if err := p.Rank.Finalize(ctx); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestProxyUnsupported checks that a request the upstream cannot serve
// gets an error reply and the session goes on.
func TestProxyUnsupported(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := pmitest.StartProxy(ctx, t, newMemUp(1, nil), 2, proxy.Options{})
	defer p.Rank.Close()
	na, ok := p.Rank.(interface {
		PutNodeAttr(ctx context.Context, key, value string) error
	})
	if !ok {
		t.Fatal("PMI-2 client has no PutNodeAttr")
	}
	if err := na.PutNodeAttr(ctx, "k", "v"); err == nil {
		t.Fatal("node attributes worked through an upstream without them")
	}
	if err := p.Rank.Put(ctx, "k", "v"); err != nil {
		t.Fatalf("the session did not survive an error reply: %v", err)
	}
}

// countingUp counts JobAttr calls per key and reports the first one.
type countingUp struct {
	*memUp
	mu    sync.Mutex
	calls map[string]int
	first chan string
}

func (c *countingUp) JobAttr(ctx context.Context, k string) (string, bool, error) {
	c.mu.Lock()
	c.calls[k]++
	if c.calls[k] == 1 {
		select {
		case c.first <- k:
		default:
		}
	}
	c.mu.Unlock()
	return c.memUp.JobAttr(ctx, k)
}

// TestProxyPrefetchesMapping checks that the proxy asks the host for
// PMI_process_mapping before the rank does (MPI_Init always reads it) and
// only once, however often and over whichever protocol the rank asks.
func TestProxyPrefetchesMapping(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	up := &countingUp{memUp: newMemUp(2, map[string]string{pmi.AttrProcessMapping: "(vector,(0,1,2))"}),
		calls: map[string]int{}, first: make(chan string, 1)}
	mine, rankEnd, err := proxy.Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- proxy.Serve(ctx, mine, up, proxy.Options{}) }()
	select {
	case k := <-up.first:
		if k != pmi.AttrProcessMapping {
			t.Fatalf("first attribute asked upstream: %s", k)
		}
	case <-ctx.Done():
		t.Fatal("the proxy did not prefetch PMI_process_mapping before the rank asked")
	}
	rank, err := pmitest.NewClient(ctx, client.Config{Conn: pmitest.FileConn(t, rankEnd), Rank: 0, Size: 2}, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if v, ok, err := rank.JobAttr(ctx, pmi.AttrProcessMapping); err != nil || !ok || v != "(vector,(0,1,2))" {
			t.Fatalf("mapping = %q found=%v err=%v", v, ok, err)
		}
	}
	if err := rank.Finalize(ctx); err != nil {
		t.Fatal(err)
	}
	rank.Close()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	if n := up.calls[pmi.AttrProcessMapping]; n != 1 {
		t.Fatalf("PMI_process_mapping asked upstream %d times, want 1", n)
	}
}
