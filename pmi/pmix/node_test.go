package pmix

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/pmitest"
	"github.com/mpiwrap/mpiwrap/internal/testreq"
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
func (s *simJob) kill(m string) { s.mu.Lock(); s.killed = append(s.killed, m); s.mu.Unlock() }

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
