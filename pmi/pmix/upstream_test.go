package pmix

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/pmitest"
	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/proxy"
	"github.com/mpiwrap/mpiwrap/pmi/server"
)

var (
	_ proxy.Upstream   = (*Upstream)(nil)
	_ proxy.NodeMapper = (*Upstream)(nil)
)

// served is an Upstream whose helper side runs Serve in this process.
type served struct {
	up     *Upstream
	helper chan error // Serve's result
}

func serveFake(ctx context.Context, t testing.TB, c Client) *served {
	t.Helper()
	a, b := pmitest.ConnPair(t)
	s := &served{helper: make(chan error, 1)}
	go func() { s.helper <- Serve(ctx, b, c) }()
	up, err := NewUpstream(ctx, a)
	if err != nil {
		t.Fatalf("NewUpstream: %v", err)
	}
	s.up = up
	t.Cleanup(func() { up.Close() })
	return s
}

// TestUpstreamThroughProxy runs real PMI-1 and PMI-2 clients as ranks
// behind proxy.Serve with a fake PMIx job upstream.
func TestUpstreamThroughProxy(t *testing.T) {
	tests := []struct {
		name    string
		nodes   map[int]map[string]string // per-rank keys
		univ    string
		appnum  string
		mapping string
	}{
		{"nodeid, two nodes", nodeKeys(KeyNodeID, "7", "7", "3", "3"), "16", "2", "(vector,(0,2,2))"},
		{"hostnames only, cyclic", nodeKeys(KeyHostname, "a", "b", "a", "b"), "", "", "(vector,(0,2,1),(0,2,1))"},
		{"local peers only", nil, "4", "0", "(vector,(0,1,4))"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			const n = 4
			job := newFakeJob(n)
			job.job[KeyLocalPeers] = "0,1,2,3"
			setIf(job.job, KeyUnivSize, tt.univ)
			setIf(job.job, KeyAppNum, tt.appnum)
			for r, kv := range tt.nodes {
				job.perRank[r] = kv
			}
			wantUniv := tt.univ
			if wantUniv == "" {
				wantUniv = strconv.Itoa(n) // the proxy's default: the job size
			}
			err := pmitest.RunRanks(n, func(r int) error {
				return rankBehindProxy(ctx, t, job.client(r), 1+r%2, wantUniv, tt.mapping)
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func nodeKeys(key string, vals ...string) map[int]map[string]string {
	m := map[int]map[string]string{}
	for r, v := range vals {
		m[r] = map[string]string{key: v}
	}
	return m
}

func setIf(m map[string]string, k, v string) {
	if v != "" {
		m[k] = v
	}
}

// rankBehindProxy is one rank speaking PMI-v to proxy.Serve, which
// forwards to c through an Upstream and a helper Serve.
func rankBehindProxy(ctx context.Context, t testing.TB, c Client, v int, univ, mapping string) error {
	s := serveFake(ctx, t, c)
	p, err := pmitest.ProxyRank(ctx, s.up, v, proxy.Options{})
	if err != nil {
		return err
	}
	rank := p.Rank
	defer rank.Close()
	in := rank.Info()
	if in.KVSName != "fake.ns" || in.Size != 4 {
		return fmt.Errorf("rank %d (PMI-%d): info %+v", in.Rank, v, in)
	}
	session := pmitest.Session{Mapping: mapping, Universe: univ, Rounds: 2, From: pmitest.ByAny}
	if err := session.Run(ctx, rank); err != nil {
		return fmt.Errorf("rank %d (PMI-%d): %w", in.Rank, v, err)
	}
	if err := rank.Finalize(ctx); err != nil {
		return err
	}
	rank.Close()
	if err := <-p.Served; err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	s.up.Close()
	return <-s.helper
}

// TestUpstreamDirect drives the Upstream API itself: info, ranked gets,
// node ids and the checks on arguments.
func TestUpstreamDirect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	job := newFakeJob(1)
	job.job[KeyAppNum] = "5"
	job.perRank[0] = map[string]string{KeyAppNum: "3", KeyNodeID: "42"}
	s := serveFake(ctx, t, job.client(0))
	up := s.up
	if got, want := up.Info(), (pmi.Info{Rank: 0, Size: 1, AppNum: 3, KVSName: "fake.ns"}); got != want {
		t.Errorf("Info = %+v, want %+v", got, want)
	}
	if up.Version() != "FakePMIx 9.9" || up.HelperPID() != 0 {
		t.Errorf("Version %q HelperPID %d", up.Version(), up.HelperPID())
	}
	if ids, err := up.NodeIDs(ctx); err != nil || !slices.Equal(ids, []int{0}) {
		t.Errorf("NodeIDs = %v, %v", ids, err)
	}
	if _, ok, err := up.JobAttr(ctx, pmi.AttrUniverseSize); ok || err != nil {
		t.Errorf("universe size without PMIX_UNIV_SIZE: found=%v err=%v", ok, err)
	}
	bad := []struct {
		name string
		call func() error
	}{
		{"empty key", func() error { return up.Put(ctx, "", "v") }},
		{"NUL in value", func() error { return up.Put(ctx, "k", "a\x00b") }},
		{"long key", func() error { return up.Put(ctx, strings.Repeat("k", 512), "v") }},
		{"rank out of job", func() error { _, _, err := up.Get(ctx, 1, "k"); return err }},
		{"negative rank", func() error { _, _, err := up.Get(ctx, -5, "k"); return err }},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			if err := b.call(); err == nil {
				t.Fatal("no error")
			}
		})
	}
	if err := up.Put(ctx, "mine", "x y;z"); err != nil {
		t.Fatal(err)
	}
	if err := up.Fence(ctx); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := up.Get(ctx, 0, "mine"); v != "x y;z" || !ok || err != nil {
		t.Errorf("Get = %q, %v, %v", v, ok, err)
	}
}

// TestUpstreamNames: MPI_Publish_name, Lookup_name and Unpublish_name
// behind the proxy reach the PMIx server's name service.
func TestUpstreamNames(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	job := newFakeJob(2)
	a, b := serveFake(ctx, t, job.client(0)).up, serveFake(ctx, t, job.client(1)).up
	if _, ok, err := b.Lookup(ctx, "svc"); ok || err != nil {
		t.Fatalf("lookup before publish: found=%v err=%v", ok, err)
	}
	if err := a.Publish(ctx, "svc", "port-1"); err != nil {
		t.Fatal(err)
	}
	if p, ok, err := b.Lookup(ctx, "svc"); p != "port-1" || !ok || err != nil {
		t.Fatalf("lookup = %q, %v, %v", p, ok, err)
	}
	if err := a.Unpublish(ctx, "svc"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := b.Lookup(ctx, "svc"); ok || err != nil {
		t.Fatalf("lookup after unpublish: found=%v err=%v", ok, err)
	}
	var _ server.Names = a // the proxy's backend forwards through it
}
