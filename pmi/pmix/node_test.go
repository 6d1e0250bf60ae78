package pmix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/pmitest"
	"github.com/mpiwrap/mpiwrap/internal/testreq"
	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/server"
)

// simJob is a job of real processes under the in-process fake launcher,
// each simulated node with its own PMIx server (a helper process and a
// Node) holding its ranks' PMI-1 connections, as a node's keeper does.
type simJob struct {
	t      *testing.T
	l      *server.Launcher
	nodes  []*Node
	mu     sync.Mutex
	notes  []string
	killed []string
	procs  []*exec.Cmd // the ranks started: Kill ends them, as a keeper does
}

// startSim starts a job of size ranks on size/ppn simulated nodes and
// their servers (not the ranks).
func startSim(ctx context.Context, t *testing.T, size, ppn int) *simJob {
	t.Helper()
	helper := buildHelper(t)
	s := &simJob{t: t, l: pmitest.Launch(ctx, t, server.JobConfig{Size: size, PPN: ppn, KVSName: "kvs_sim_" + strconv.Itoa(os.Getpid())}, false)}
	for first := 0; first < size; first += ppn {
		up := pmitest.Upstream(ctx, t, s.l, first, 1)
		job, err := JobFromUpstream(ctx, up, "simhost", min(ppn, size-first))
		if err != nil {
			t.Fatal(err)
		}
		node := len(s.nodes)
		n, err := StartNode(ctx, NodeConfig{Helper: helper, Dir: t.TempDir(), UID: os.Getuid(), GID: os.Getgid(), Job: job, Stderr: os.Stderr,
			Note: func(r int, msg string) { s.note(fmt.Sprintf("node %d rank %d: %s", node, r, msg)) },
			Kill: func(why string) { s.kill(fmt.Sprintf("node %d: %s", node, why)) }})
		testreq.Require(t, err == nil || !strings.Contains(err.Error(), "load libpmix"), fmt.Sprint("libpmix is not installed: ", err))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		if err := n.Attach(first, up); err != nil {
			t.Fatal(err)
		}
		for _, r := range n.Locals()[1:] {
			if err := n.Attach(r, pmitest.Upstream(ctx, t, s.l, r, 1)); err != nil {
				t.Fatal(err)
			}
		}
		s.nodes = append(s.nodes, n)
	}
	return s
}

func (s *simJob) note(m string) { s.mu.Lock(); s.notes = append(s.notes, m); s.mu.Unlock() }
func (s *simJob) kill(m string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killed = append(s.killed, m)
	for _, c := range s.procs {
		c.Process.Kill()
	}
}

func (s *simJob) said() (notes, killed []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.notes), slices.Clone(s.killed)
}

// node is the server of rank r.
func (s *simJob) node(r int) *Node {
	for _, n := range s.nodes {
		if _, ok := n.Env(r); ok {
			return n
		}
	}
	s.t.Fatalf("no node has rank %d", r)
	return nil
}

// simRank is a started rank.
type simRank struct {
	cmd      *exec.Cmd
	out, err bytes.Buffer
	done     chan struct{}
}

// run starts rank r as argv with its server's client environment plus env,
// and reports its exit to the server.
func (s *simJob) run(r int, env []string, argv ...string) *simRank {
	s.t.Helper()
	n := s.node(r)
	cenv, _ := n.Env(r)
	sr := &simRank{cmd: exec.Command(argv[0], argv[1:]...), done: make(chan struct{})}
	sr.cmd.Env = append(append(append(server.StripPMIEnv(os.Environ()), OpenMPIEnv...), cenv...), env...)
	sr.cmd.Stdout, sr.cmd.Stderr = &sr.out, &sr.err
	if err := sr.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	s.procs = append(s.procs, sr.cmd)
	s.mu.Unlock()
	s.t.Cleanup(func() { sr.cmd.Process.Kill(); <-sr.done })
	go func() { sr.cmd.Wait(); n.Exited(r); close(sr.done) }()
	return sr
}

// runAll starts every rank and waits for them within bound.
func (s *simJob) runAll(bound time.Duration, env []string, argv ...string) []*simRank {
	s.t.Helper()
	size := s.l.Job().Config().Size
	var ranks []*simRank
	for r := 0; r < size; r++ {
		ranks = append(ranks, s.run(r, env, argv...))
	}
	deadline := time.After(bound)
	for r, sr := range ranks {
		select {
		case <-sr.done:
		case <-deadline:
			for _, sr := range ranks {
				sr.cmd.Process.Kill()
			}
			s.t.Fatalf("rank %d did not end within %v; stderr: %s", r, bound, sr.err.String())
		}
	}
	return ranks
}

// btlEnv keeps Open MPI's shared-memory transport off between simulated
// nodes of one real host: its segment names would collide.
var btlEnv = []string{"OMPI_MCA_btl=self,tcp", "OMPI_MCA_btl_tcp_if_include=lo", "OMPI_MCA_pml=ob1"}

// TestNodeOpenMPI runs Open MPI's hello (Init, Allreduce, Finalize) under
// the fake PMI-1 launcher through a PMIx server per simulated node: one
// node (libpmix completes the fences itself) and two (fences go through
// the launcher's KVS, split into values), collecting data or not.
func TestNodeOpenMPI(t *testing.T) {
	hello := buildMPI(t, "mpicc.openmpi", "../../ci/progs/hello.c")
	for _, tc := range []struct {
		name      string
		size, ppn int
		env       []string
	}{
		{"one-node", 4, 4, nil},
		{"two-nodes", 4, 2, btlEnv},
		{"two-nodes-no-collect", 4, 2, append([]string{"OMPI_MCA_pmix_base_collect_data=0"}, btlEnv...)},
		{"three-nodes-uneven", 5, 2, btlEnv},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			s := startSim(ctx, t, tc.size, tc.ppn)
			ranks := s.runAll(60*time.Second, tc.env, hello)
			want := fmt.Sprintf("hello size=%d sum=%d", tc.size, tc.size*(tc.size-1)/2)
			for r, sr := range ranks {
				if sr.cmd.ProcessState.ExitCode() != 0 {
					t.Errorf("rank %d: %v\nstderr: %s", r, sr.cmd.ProcessState, sr.err.String())
				}
			}
			if got := strings.TrimSpace(ranks[0].out.String()); got != want {
				t.Fatalf("rank 0 said %q, want %q; notes %q", got, want, s.notes)
			}
			if err := s.l.Wait(ctx); err != nil {
				t.Fatalf("launcher: %v", err)
			}
			for _, n := range s.nodes {
				select {
				case <-n.Done():
				case <-time.After(10 * time.Second):
					t.Fatal("a node's server did not end after its ranks")
				}
			}
			if len(s.killed) != 0 {
				t.Fatalf("ranks were killed: %q", s.killed)
			}
			// libpmix fences a node alone by itself; across nodes each of
			// MPI_Init's two fences and MPI_Finalize's went upstream.
			for i, n := range s.nodes {
				if want := 3; len(s.nodes) == 1 && n.fences != 0 || len(s.nodes) > 1 && n.fences != want {
					t.Errorf("node %d carried %d fences through the launcher", i, n.fences)
				}
			}
		})
	}
}

// buildClient compiles testdata/pmixclient.c against libpmix-dev (once).
func buildClient(t *testing.T) string {
	t.Helper()
	_, err := exec.LookPath("cc")
	testreq.Require(t, err == nil, "no C compiler (cc)")
	flags, err := exec.Command("pkg-config", "--cflags", "--libs", "pmix").Output()
	testreq.Require(t, err == nil, "libpmix-dev (pkg-config pmix) for the test client")
	return buildOnce(t, "cc pmixclient", func(out string) *exec.Cmd {
		return exec.Command("sh", "-c", "cc -Wall -Werror -O2 -o "+out+" testdata/pmixclient.c "+string(flags))
	})
}

// TestNodeKeys: every key Open MPI 4.1 reads in MPI_Init (and the rest of
// what the issue lists), as a PMIx client on each of three simulated
// nodes of an uneven job (ranks 0,1 | 2,3 | 4) gets it, for the job, for
// itself and for a rank of another node.
func TestNodeKeys(t *testing.T) {
	client := buildClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s := startSim(ctx, t, 5, 2)
	nodeOf := []int{0, 0, 1, 1, 2}
	locals := [][]int{{0, 1}, {2, 3}, {4}}
	host := func(n, self int) string {
		if n == self {
			return "simhost"
		}
		return "mpiwrap-node" + strconv.Itoa(n)
	}
	var ranks []*simRank
	want := map[int][]string{}
	for r := 0; r < 5; r++ {
		n := nodeOf[r]
		other := (r + 2) % 5
		dir := s.nodes[n].cfg.Dir
		w := []string{
			"pmix.job.size@job 5", "pmix.univ.size@job 5", "pmix.max.size@job 5",
			"pmix.num.nodes@job 3", "pmix.appnum@job 0",
			// The node and proc maps are libpmix's own: a client sees
			// the node list made from the first and, from the second,
			// the local peers and ranks below.
			"pmix.nlist@job " + host(0, n) + "," + host(1, n) + "," + host(2, n),
			fmt.Sprintf("pmix.local.size@job %d", len(locals[n])),
			"pmix.lpeers@job " + strings.Trim(strings.Join(strings.Fields(fmt.Sprint(locals[n])), ","), "[]"),
			fmt.Sprintf("pmix.lldr@job %d", locals[n][0]),
			"pmix.tmpdir@job " + dir, "pmix.nsdir@job " + dir + "/ns", "pmix.tdir.rmclean@job 1",
			fmt.Sprintf("pmix.pdir@%d %s/ns/%d", r, dir, r),
		}
		// A rank's node id, as libpmix 4.2's client looks it up for a
		// rank on another node (by the node's name, in node data it does
		// not hand its clients for other nodes), is not found, though the
		// server has it in both the node's and the rank's arrays; Open
		// MPI 4.1 reads only its own.
		w = append(w, fmt.Sprintf("pmix.nodeid@%d %d", r, n))
		for _, q := range []int{r, other} {
			w = append(w,
				fmt.Sprintf("pmix.hname@%d %s", q, host(nodeOf[q], n)),
				fmt.Sprintf("pmix.lrank@%d %d", q, slices.Index(locals[nodeOf[q]], q)),
				fmt.Sprintf("pmix.nrank@%d %d", q, slices.Index(locals[nodeOf[q]], q)),
				fmt.Sprintf("pmix.appnum@%d 0", q))
		}
		want[r] = w
		args := []string{client, "keys"}
		for _, kv := range w {
			args = append(args, strings.Fields(kv)[0])
		}
		ranks = append(ranks, s.run(r, nil, args...))
	}
	for r, sr := range ranks {
		select {
		case <-sr.done:
		case <-time.After(60 * time.Second):
			t.Fatalf("rank %d did not end", r)
		}
		got := strings.Split(strings.TrimSpace(sr.out.String()), "\n")
		if !slices.Equal(got, want[r]) {
			t.Errorf("rank %d (node %d):\n got %q\nwant %q\nstderr: %s", r, nodeOf[r], got, want[r], sr.err.String())
		}
	}
}

// TestNodeOpenMPIReads: what Open MPI 4.1's MPI_Init asks the server (its
// PMIx client's get trace) is all there: every key it needs is found, and
// only optional ones may be missing; on one node and across two.
func TestNodeOpenMPIReads(t *testing.T) {
	hello := buildMPI(t, "mpicc.openmpi", "../../ci/progs/hello.c")
	for _, ppn := range []int{2, 1} {
		t.Run(fmt.Sprintf("ppn%d", ppn), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			s := startSim(ctx, t, 2, ppn)
			env := append([]string{"PMIX_MCA_pmix_client_get_verbose=10"}, btlEnv...)
			ranks := s.runAll(60*time.Second, env, hello)
			read := map[string]bool{}
			for r, sr := range ranks {
				if sr.cmd.ProcessState.ExitCode() != 0 {
					t.Fatalf("rank %d: %v\n%s", r, sr.cmd.ProcessState, sr.err.String())
				}
				for _, l := range strings.Split(sr.err.String(), "\n") {
					if _, k, ok := strings.Cut(l, " key "); ok && strings.Contains(l, "pmix:client get for") {
						read[strings.Fields(k)[0]] = true
					}
					if strings.Contains(l, "was not found") && !strings.Contains(l, "request was optional") {
						t.Errorf("rank %d: a get Open MPI needs failed: %s", r, l)
					}
				}
			}
			for _, k := range []string{KeyJobSize, KeyUnivSize, KeyMaxProcs, KeyLocalSize, KeyLocalPeers, KeyLocalRank,
				KeyNodeRank, KeyNodeID, KeyNumNodes, KeyHostname, KeyAppNum, KeyTmpdir, KeyNsdir} {
				if !read[k] {
					t.Errorf("Open MPI did not read %s (the trace changed?); it read %v", k, read)
				}
			}
		})
	}
}

// waitRanks waits for ranks to end within bound.
func waitRanks(t *testing.T, bound time.Duration, ranks ...*simRank) {
	t.Helper()
	deadline := time.After(bound)
	for r, sr := range ranks {
		select {
		case <-sr.done:
		case <-deadline:
			t.Fatalf("rank %d did not end within %v", r, bound)
		}
	}
}

// TestNodeAbort: a rank's PMIx_Abort reaches the launcher as its abort,
// with its code, and the message goes where the rank's errors go.
func TestNodeAbort(t *testing.T) {
	client := buildClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := startSim(ctx, t, 2, 2)
	r0, r1 := s.run(0, nil, client, "abort", "9"), s.run(1, nil, client, "abort", "9")
	err := s.l.Wait(ctx)
	if ab := new(pmi.AbortError); !errors.As(err, &ab) || ab.Code != 9 || ab.Rank != 1 {
		t.Fatalf("launcher: %v; want rank 1's abort with code 9", err)
	}
	waitRanks(t, 20*time.Second, r0, r1) // the launcher's end ends them
	notes, _ := s.said()
	if !slices.Contains(notes, "node 0 rank 1: rank 1 aborted the job with exit code 9: pmixclient aborts") {
		t.Fatalf("notes %q", notes)
	}
}

// TestNodeExitUnfinalized: a rank that connected and exits without
// finalizing aborts the job (its peers would wait for it), which ends.
func TestNodeExitUnfinalized(t *testing.T) {
	client := buildClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := startSim(ctx, t, 2, 1)
	hold := s.run(1, nil, client, "hold")
	gone := s.run(0, nil, client, "exit")
	err := s.l.Wait(ctx)
	if ab := new(pmi.AbortError); !errors.As(err, &ab) || ab.Code != 1 || ab.Rank != 0 {
		t.Fatalf("launcher: %v; want rank 0's abort", err)
	}
	waitRanks(t, 20*time.Second, gone, hold)
	if _, killed := s.said(); len(killed) == 0 {
		t.Fatal("the holding rank was not ended when the launcher ended the job")
	}
}

// TestNodeNotPMIx: ranks that never speak PMIx (a wrapper that runs no
// MPI program) end the job cleanly: each is finalized upstream for them.
func TestNodeNotPMIx(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := startSim(ctx, t, 3, 2)
	ranks := s.runAll(20*time.Second, nil, "/bin/true")
	if err := s.l.Wait(ctx); err != nil {
		t.Fatalf("launcher: %v", err)
	}
	for _, n := range s.nodes {
		select {
		case <-n.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("a node's server did not end")
		}
	}
	if notes, killed := s.said(); len(killed) != 0 || len(notes) != 0 || len(ranks) != 3 {
		t.Fatalf("notes %q, killed %q", notes, killed)
	}
}

// TestNodeLauncherLoss: when the launcher's side goes away, the node's
// ranks are ended, saying why.
func TestNodeLauncherLoss(t *testing.T) {
	client := buildClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := startSim(ctx, t, 2, 2)
	r0, r1 := s.run(0, nil, client, "hold"), s.run(1, nil, client, "hold")
	time.Sleep(200 * time.Millisecond)
	s.l.Close()
	waitRanks(t, 20*time.Second, r0, r1)
	_, killed := s.said()
	if len(killed) == 0 || !strings.Contains(killed[0], "the launcher's PMI connection of rank") {
		t.Fatalf("killed %q", killed)
	}
	select {
	case <-s.nodes[0].Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the node's server did not end")
	}
}
