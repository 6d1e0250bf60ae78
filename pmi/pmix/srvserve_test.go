package pmix

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/pmitest"
	"github.com/mpiwrap/mpiwrap/pmi/server"
)

func TestNodeBlob(t *testing.T) {
	for _, tc := range []struct {
		data  []byte
		ranks []rankData
	}{
		{nil, nil},
		{[]byte("fence data"), nil},
		{nil, []rankData{{0, []byte("a")}, {7, nil}, {1 << 20, bytes.Repeat([]byte{0xff}, 300)}}},
	} {
		b := appendNodeBlob(nil, tc.data, tc.ranks)
		data, ranks, err := parseNodeBlob(b)
		if err != nil || !bytes.Equal(data, tc.data) || len(ranks) != len(tc.ranks) {
			t.Fatalf("round trip of %q %v: %q %v %v", tc.data, tc.ranks, data, ranks, err)
		}
		for i := range ranks {
			if ranks[i].rank != tc.ranks[i].rank || !bytes.Equal(ranks[i].data, tc.ranks[i].data) {
				t.Fatalf("rank %d: %v, want %v", i, ranks[i], tc.ranks[i])
			}
		}
		for cut := 0; cut < len(b); cut++ {
			if _, _, err := parseNodeBlob(b[:cut]); err == nil && cut != len(b) {
				t.Fatalf("a blob cut at %d of %d parsed", cut, len(b))
			}
		}
		if _, _, err := parseNodeBlob(append(b, 0)); err == nil {
			t.Fatal("a blob with a trailing byte parsed")
		}
	}
}

func FuzzNodeBlob(f *testing.F) {
	f.Add(appendNodeBlob(nil, []byte("x"), []rankData{{3, []byte("y")}}))
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		data, ranks, err := parseNodeBlob(b)
		if err != nil {
			return
		}
		// Lengths may be padded varints; the values must survive.
		d2, r2, err := parseNodeBlob(appendNodeBlob(nil, data, ranks))
		if err != nil || !bytes.Equal(d2, data) || fmt.Sprint(r2) != fmt.Sprint(ranks) {
			t.Fatalf("%x parsed as %q %v, which encodes back as %q %v (%v)", b, data, ranks, d2, r2, err)
		}
	})
}

func TestStartCodec(t *testing.T) {
	st := start{dir: "/d", nspace: "mpiwrap.kvs", uid: 1001, gid: 1001, locals: []int{2, 3},
		job:    []Attr{{KeyJobSize, 'u', "4"}, {KeyLocalPeers, 's', "2,3"}},
		arrays: [][]Attr{{{KeyProcData, 'A', ""}, {KeyRank, 'r', "0"}}, {{KeyNodeArray, 'A', ""}}}}
	got, err := decodeStart(encodeStart(st))
	if err != nil || fmt.Sprint(got) != fmt.Sprint(st) {
		t.Fatalf("round trip: %+v, %v; want %+v", got, err, st)
	}
	f := encodeStart(st)
	for _, bad := range [][]string{nil, f[:6], append(slices.Clone(f), "extra"), append([]string{"/d", "ns", "x"}, f[3:]...)} {
		if _, err := decodeStart(bad); err == nil {
			t.Errorf("decodeStart(%q) succeeded", bad)
		}
	}
	noHead := slices.Clone(f)
	noHead[len(noHead)-2] = "u" // the last array's head is no 'A'
	if _, err := decodeStart(noHead); err == nil {
		t.Error("an array without its head decoded")
	}
}

// fakeLib is a ServerLib whose upcalls the test makes.
type fakeLib struct {
	mu     sync.Mutex
	calls  []string
	events chan ServerEvent
}

func (l *fakeLib) log(format string, args ...any) {
	l.mu.Lock()
	l.calls = append(l.calls, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *fakeLib) Version() string            { return "fake 4.2" }
func (l *fakeLib) Init(dir string) error      { l.log("init %s", dir); return nil }
func (l *fakeLib) Events() <-chan ServerEvent { return l.events }
func (l *fakeLib) Finalize() error            { l.log("finalize"); return nil }
func (l *fakeLib) RegisterClient(ns string, r, u, g int) error {
	l.log("client %s %d %d:%d", ns, r, u, g)
	return nil
}
func (l *fakeLib) RegisterNamespace(ns string, nlocal int, job []Attr, arrays [][]Attr) error {
	l.log("nspace %s %d %d %d", ns, nlocal, len(job), len(arrays))
	return nil
}
func (l *fakeLib) SetupFork(ns string, r int) ([]string, error) {
	return []string{"PMIX_NAMESPACE=" + ns, fmt.Sprintf("PMIX_RANK=%d", r)}, nil
}
func (l *fakeLib) DmodexRequest(ns string, r int) ([]byte, error) {
	return []byte(fmt.Sprintf("dm-%d", r)), nil
}
func (l *fakeLib) Deregister(ns string, ranks []int) error {
	l.log("deregister %s %v", ns, ranks)
	return nil
}

// TestServeServer drives the helper's side with a fake library and plays
// the host: start, a fence that collects no data (the ranks' data goes
// with it and answers direct modex requests later), a publish of a value
// that is no string, a lookup, and stop.
func TestServeServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	lib := &fakeLib{events: make(chan ServerEvent, 16)}
	hostEnd, helperEnd := pmitest.ConnPair(t)
	served := make(chan error, 1)
	go func() { served <- ServeServer(ctx, helperEnd, lib) }()
	host := newPeer(hostEnd)
	if f, err := readFrame(hostEnd); err != nil || f.op != opSrvHello || f.fields[0] != "fake 4.2" {
		t.Fatalf("hello: %v %v", f, err)
	}
	events := make(chan frame, 16)
	go host.run(func(f frame) error { events <- f; return nil })
	st := start{dir: "/d", nspace: "ns", uid: 5, gid: 6, locals: []int{0, 1}, job: []Attr{{KeyJobSize, 'u', "3"}}}
	f, err := host.call(ctx, opSrvStart, encodeStart(st)...)
	want := []string{"fake 4.2", "0", "2", "PMIX_NAMESPACE=ns", "PMIX_RANK=0", "1", "2", "PMIX_NAMESPACE=ns", "PMIX_RANK=1"}
	if err != nil || !slices.Equal(f.fields, want) {
		t.Fatalf("start: %q %v; want %q", f.fields, err, want)
	}
	next := func() frame {
		select {
		case f := <-events:
			return f
		case <-ctx.Done():
			t.Fatal("no event from the helper")
			return frame{}
		}
	}
	lib.events <- ServerEvent{Kind: EvConnected, Rank: 1}
	if f := next(); !slices.Equal(f.fields, []string{"connected", "1"}) || f.id != 0 {
		t.Fatalf("connected: %v", f)
	}

	fenced := make(chan []byte, 1)
	lib.events <- ServerEvent{Kind: EvFence, Data: []byte("ours"), Reply: func(st int, d []byte) { fenced <- d }}
	f = next()
	data, ranks, err := parseNodeBlob([]byte(f.fields[1]))
	if f.fields[0] != "fence" || err != nil || string(data) != "ours" || len(ranks) != 2 || string(ranks[1].data) != "dm-1" {
		t.Fatalf("fence event %q: %q %v %v", f.fields, data, ranks, err)
	}
	other := appendNodeBlob(nil, []byte("theirs"), []rankData{{2, []byte("dm-2")}})
	host.reply(f.id, opOK, f.fields[1], string(other))
	if got := <-fenced; string(got) != "ourstheirs" {
		t.Fatalf("fence answered %q, want every node's data in node order", got)
	}

	type modex struct {
		st   int
		data string
	}
	dm := make(chan modex, 2)
	reply := func(st int, d []byte) { dm <- modex{st, string(d)} }
	lib.events <- ServerEvent{Kind: EvDmodex, Nspace: "ns", Rank: 2, Reply: reply}
	if m := <-dm; m != (modex{StatusSuccess, "dm-2"}) {
		t.Fatalf("direct modex of rank 2: %v", m)
	}
	lib.events <- ServerEvent{Kind: EvDmodex, Nspace: "ns", Rank: 0, Reply: reply}
	if m := <-dm; m != (modex{StatusSuccess, "dm-0"}) {
		t.Fatalf("direct modex of rank 0: %v", m)
	}
	lib.events <- ServerEvent{Kind: EvDmodex, Nspace: "other", Rank: 2, Reply: reply}
	if m := <-dm; m.st != StatusNotFound {
		t.Fatalf("direct modex of another namespace: %v", m)
	}
	if f := next(); f.fields[0] != "note" || !strings.Contains(f.fields[2], "before any fence carried it") {
		t.Fatalf("want a note, got %q", f.fields)
	}

	done := make(chan int, 1)
	lib.events <- ServerEvent{Kind: EvPublish, Rank: 0, Keys: []string{"svc"}, Values: []*string{nil}, Done: func(st int) { done <- st }}
	if f := next(); f.fields[0] != "note" || !strings.Contains(f.fields[2], "only string values") {
		t.Fatalf("want a note, got %q", f.fields)
	}
	if st := <-done; st != StatusNotSupported {
		t.Fatalf("publish of a non-string: %d", st)
	}
	found := make(chan int, 1)
	lib.events <- ServerEvent{Kind: EvLookup, Rank: 0, Keys: []string{"svc"}, Found: func(st int, k, v []string) { found <- st }}
	f = next()
	if !slices.Equal(f.fields, []string{"lookup", "0", "svc"}) {
		t.Fatalf("lookup event %q", f.fields)
	}
	host.reply(f.id, opNotFound)
	if st := <-found; st != StatusNotFound {
		t.Fatalf("lookup: %d", st)
	}

	if _, err := host.call(ctx, opSrvSync); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if _, err := host.call(ctx, opSrvStop); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("ServeServer: %v", err)
	}
	wantCalls := []string{"init /d", "nspace ns 2 1 0", "client ns 0 5:6", "client ns 1 5:6", "deregister ns [0 1]", "finalize"}
	if !slices.Equal(lib.calls, wantCalls) {
		t.Fatalf("library calls %q, want %q", lib.calls, wantCalls)
	}
}

// TestJobFromUpstream reads the job from a fake launcher: its mapping,
// universe size and kvsname; hydra's "unlimited" universe (-1) and
// Slurm's appnum -1 fall back.
func TestJobFromUpstream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l := pmitest.Launch(ctx, t, server.JobConfig{Size: 5, PPN: 2, KVSName: "kvs_7", AppNum: -1, UniverseSize: -1}, false)
	up := pmitest.Upstream(ctx, t, l, 3, 1)
	j, err := JobFromUpstream(ctx, up, "me", 2)
	if err != nil {
		t.Fatal(err)
	}
	if j.Namespace != "mpiwrap.kvs_7" || j.Size != 5 || j.Universe != 5 || j.AppNum != 0 || j.Node != 1 ||
		!slices.Equal(j.NodeOf, []int{0, 0, 1, 1, 2}) || j.Nodes() != 3 || !slices.Equal(j.Locals(1), []int{2, 3}) {
		t.Fatalf("job %+v", j)
	}
	job, arrays := j.attrs("/srv")
	attr := func(key string) string {
		for _, a := range job {
			if a.Key == key {
				return a.Value
			}
		}
		return "<none>"
	}
	for k, v := range map[string]string{KeyLocalPeers: "2,3", KeyLocalLdr: "2", KeyNodeMap: "mpiwrap-node0,me,mpiwrap-node2",
		KeyProcMap: "0,1;2,3;4", KeyNumNodes: "3", KeyNsdir: "/srv/ns", KeyLocalSize: "2"} {
		if got := attr(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if len(arrays) != 3+5 || arrays[0][0].Key != KeyNodeArray || arrays[3][0].Key != KeyProcData {
		t.Fatalf("arrays %v", arrays)
	}
}

// TestNodeFenceBlobs: two simulated nodes' fences carry large blobs
// through the fake launcher's KVS, split into values its PMI-1 or PMI-2
// clients can put, and each node gets both back, in node order, over
// several fences.
func TestNodeFenceBlobs(t *testing.T) {
	for _, v := range []int{1, 2} {
		t.Run(fmt.Sprintf("pmi%d", v), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			l := pmitest.Launch(ctx, t, server.JobConfig{Size: 4, PPN: 2, KVSName: "kvs_" + strings.Repeat("k", 200)}, false)
			var nodes []*Node
			for first := 0; first < 4; first += 2 {
				up0 := pmitest.Upstream(ctx, t, l, first, v)
				job, err := JobFromUpstream(ctx, up0, "h", 2)
				if err != nil {
					t.Fatal(err)
				}
				n := &Node{cfg: NodeConfig{Job: job}, ctx: ctx, ranks: map[int]*nodeRank{}, locals: job.Locals(job.Node)}
				n.ranks[first] = &nodeRank{up: up0}
				n.ranks[first+1] = &nodeRank{up: pmitest.Upstream(ctx, t, l, first+1, v)}
				nodes = append(nodes, n)
			}
			for round, size := range []int{0, 1, 5000, 100000} {
				blobs := make([][]byte, 2)
				for i := range blobs {
					blobs[i] = bytes.Repeat([]byte{byte(i + 1), 0, ';', ' ', '='}, size/5+i)
				}
				got := make([][]string, 2)
				err := pmitest.RunRanks(2, func(i int) (err error) {
					got[i], err = nodes[i].fence(blobs[i])
					return err
				})
				if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				for i := range got {
					if len(got[i]) != 2 || got[i][0] != string(blobs[0]) || got[i][1] != string(blobs[1]) {
						t.Fatalf("round %d: node %d got %d blobs (sizes wrong or order)", round, i, len(got[i]))
					}
				}
			}
		})
	}
}
