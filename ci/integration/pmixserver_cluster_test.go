package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/ci/cluster"
	"github.com/mpiwrap/mpiwrap/internal/procs"
	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

// TestPMIxServerAcrossHosts runs Open MPI jobs through mpiwrap's PMIx
// server on the two-host test cluster (ci/cluster), as the test user:
// each host's keeper serves its ranks, and the fences that span the hosts
// go through the launcher's KVS. Open MPI's hello (2 ranks per host) and
// splitall (4 per host) under hydra and srun --mpi=pmi2, in the directory
// and the SquashFS image; nothing is left on the hosts.
func TestPMIxServerAcrossHosts(t *testing.T) {
	needSetup(t)
	testreq.Require(t, os.Geteuid() == 0, "root (to make the test hosts)")
	for _, c := range []string{"sudo", "nsenter", "unshare", "ip", "mpiexec.mpich", "srun", "slurmd"} {
		testreq.Require(t, have(c), c+" (ci/deps.sh installs it)")
	}
	testreq.Slurm(t, "pmi2")
	a := testUser(t)
	img := debian(t, "bookworm")
	c, err := cluster.Up(2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Down() })
	dir, err := os.MkdirTemp(c.SharedDir(), "pmixserver-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	mpw := filepath.Join(dir, "mpiwrap")
	if out, err := exec.Command("make", "-s", "-C", "../..", "build", "BIN="+mpw).CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	if err := exec.Command("chmod", "-R", "a+rX", dir).Run(); err != nil {
		t.Fatal(err)
	}
	launchers := []struct {
		name string
		argv func(n int, cmd ...string) []string
	}{
		{"hydra", func(n int, cmd ...string) []string {
			per := []string{"h1:" + strconv.Itoa(n/2), "h2:" + strconv.Itoa(n/2)}
			return c.Hydra(n, per, cmd...)
		}},
		{"srun-pmi2", func(n int, cmd ...string) []string { return c.Srun("pmi2", 2, n, cmd...) }},
	}
	for _, image := range []string{img, img + ".sqfs"} {
		for _, l := range launchers {
			t.Run(filepath.Base(image)+"/"+l.name+"/hello", func(t *testing.T) {
				out := clusterRun(t, a, dir, l.argv(4, mpw, image, "/opt/mpiwrap-test/openmpi/hello"))
				if strings.TrimSpace(out) != helloOut {
					t.Fatalf("want %q, got %q", helloOut, out)
				}
			})
			t.Run(filepath.Base(image)+"/"+l.name+"/splitall", func(t *testing.T) {
				out := clusterRun(t, a, dir, l.argv(8, mpw, image, "/opt/mpiwrap-test/openmpi/splitall"))
				if !strings.Contains(out, "splitall size=8 halves=4,4 ok") {
					t.Fatalf("want splitall ok, got %q", out)
				}
			})
		}
	}
	// One job, both hosts: every rank says where it runs.
	t.Run("hydra/spans-hosts", func(t *testing.T) {
		script := `import socket; from mpi4py import MPI; w = MPI.COMM_WORLD
print(w.Get_rank(), w.Get_size(), socket.gethostname(), w.allreduce(w.Get_rank()))`
		out := clusterRun(t, a, dir, c.Hydra(4, []string{"h1:2", "h2:2"}, mpw, img, "python3", "-c", script))
		hosts := map[string]int{}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(l)
			if len(f) != 4 || f[1] != "4" || f[3] != "6" {
				t.Fatalf("want rank, size 4, host and sum 6 from each rank, got %q", out)
			}
			hosts[f[2]]++
		}
		if hosts["h1"] != 2 || hosts["h2"] != 2 {
			t.Fatalf("want 2 ranks on each of h1 and h2, got %v", hosts)
		}
	})
	// A fence that collects no data: the ranks' data crosses the hosts
	// with it, and each host answers direct modex requests from it.
	t.Run("hydra/no-collect", func(t *testing.T) {
		argv := c.Hydra(4, []string{"h1:2", "h2:2"}, mpw, "--set-env", "OMPI_MCA_pmix_base_collect_data=0", img,
			"/opt/mpiwrap-test/openmpi/hello")
		if out := clusterRun(t, a, dir, argv); strings.TrimSpace(out) != helloOut {
			t.Fatalf("want %q, got %q", helloOut, out)
		}
	})
	// A rank killed on h2 while its peers wait in MPI_Finalize's fence,
	// which spans the hosts, ends the job on both.
	t.Run("hydra/rank-killed", func(t *testing.T) {
		prog := "/opt/mpiwrap-test/openmpi/hello"
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := cmdAs(ctx, a, dir, nil, c.Hydra(4, []string{"h1:2", "h2:2"}, mpw, img, prog, "lag", "60")...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var victim int
		eventually(t, 30*time.Second, "the lagging rank on h2", func() bool {
			victim = rankIn("h2", prog, "3")
			return victim != 0
		})
		time.Sleep(time.Second) // its peers reach the fence
		syscall.Kill(victim, syscall.SIGKILL)
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("the job succeeded after a rank was killed")
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the job did not end within 30 s of a rank's death")
		}
		eventually(t, 10*time.Second, "no rank left on either host", func() bool {
			return rankIn("h1", prog, "") == 0 && rankIn("h2", prog, "") == 0
		})
	})
	for _, h := range c.Hosts() {
		if left, err := c.Leftovers(h); err != nil || len(left) != 0 {
			t.Errorf("left on %s: %q (%v)", h, left, err)
		}
	}
}

// clusterRun runs argv as a in dir within 90 s and returns its stdout; it
// fails t unless the job succeeds without an error on stderr.
func clusterRun(t *testing.T, a account, dir string, argv []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := cmdAs(ctx, a, dir, nil, argv...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil || strings.Contains(errb.String(), "rror") {
		t.Fatalf("%q: %v (timed out: %v)\nstdout:\n%s\nstderr:\n%s", argv, err, ctx.Err() != nil, out.String(), errb.String())
	}
	return out.String()
}

// rankIn finds a process of prog in test host's network namespace, of PMIx
// rank rank unless that is "".
func rankIn(host, prog, rank string) int {
	var st syscall.Stat_t
	if syscall.Stat("/run/netns/mw-"+host, &st) != nil {
		return 0
	}
	want := "net:[" + strconv.FormatUint(st.Ino, 10) + "]"
	for _, p := range procs.All() {
		pid := strconv.Itoa(p)
		cmd, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		if ns, _ := os.Readlink("/proc/" + pid + "/ns/net"); ns != want || !strings.HasPrefix(string(cmd), prog+"\x00") {
			continue
		}
		env, _ := os.ReadFile("/proc/" + pid + "/environ")
		if rank == "" || strings.Contains("\x00"+string(env), "\x00PMIX_RANK="+rank+"\x00") {
			return p
		}
	}
	return 0
}
