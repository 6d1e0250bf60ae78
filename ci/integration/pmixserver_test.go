package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/procs"
)

// The cells where the launcher offers only PMI-1/2 and the image's MPI is
// Open MPI: the node's keeper serves PMIx to its ranks.
var serverCells = []interop{
	{"hydra/openmpi", []string{"mpiexec.mpich"}, []string{"mpiexec.mpich", "-n", "4"}, nil, "/opt/mpiwrap-test/openmpi/hello"},
	{"hydra-pmi-port/openmpi", []string{"mpiexec.mpich"}, []string{"mpiexec.mpich", "-pmi-port", "-n", "4"}, nil, "/opt/mpiwrap-test/openmpi/hello"},
	{"srun-pmi2/openmpi", []string{"srun"}, []string{"srun", "--mpi=pmi2", "-n", "4"}, nil, "/opt/mpiwrap-test/openmpi/hello"},
}

// testUser is the unprivileged account.
func testUser(t *testing.T) account { return accounts(t)[1] }

// serverDir is the PMIx server's directory that process pid was given.
func serverDir(pid int) string {
	env, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	for _, kv := range strings.Split(string(env), "\x00") {
		if v, ok := strings.CutPrefix(kv, "PMIX_SERVER_TMPDIR="); ok {
			return v
		}
	}
	return ""
}

// gone waits for path to be removed.
func gone(t *testing.T, path string) {
	t.Helper()
	eventually(t, 10*time.Second, path+" removed", func() bool {
		_, err := os.Stat(path)
		return err != nil
	})
}

// TestPMIxServerHello: a 4-rank Open MPI hello (Init, Allreduce,
// Finalize) under hydra (PMI_FD and -pmi-port) and srun --mpi=pmi2, in
// the directory and the SquashFS image, as the test user.
func TestPMIxServerHello(t *testing.T) {
	img := debian(t, "bookworm")
	for _, c := range serverCells {
		t.Run(c.name, func(t *testing.T) {
			a := testUser(t)
			for _, image := range []string{img, img + ".sqfs"} {
				r := runCell(t, c, a, image)
				if r.code != 0 || strings.TrimSpace(r.stdout) != helloOut || strings.Contains(r.stderr, "rror") {
					t.Fatalf("%s: want %q and no errors, got %s", image, helloOut, r)
				}
			}
		})
	}
}

// TestPMIxServerAsRoot: the same under hydra as root.
func TestPMIxServerAsRoot(t *testing.T) {
	img := debian(t, "bookworm")
	r := runCell(t, serverCells[0], accounts(t)[0], img)
	if r.code != 0 || strings.TrimSpace(r.stdout) != helloOut {
		t.Fatalf("want %q, got %s", helloOut, r)
	}
}

// TestPMIxServerMpi4py: Debian's python3-mpi4py, a third-party Open MPI
// client that is no ELF command, under hydra.
func TestPMIxServerMpi4py(t *testing.T) {
	img := debian(t, "bookworm")
	r := runCellCmd(t, serverCells[0], testUser(t), img, "python3", "/opt/mpiwrap-test/py/hello.py")
	if r.code != 0 || strings.TrimSpace(r.stdout) != helloOut {
		t.Fatalf("want %q, got %s", helloOut, r)
	}
}

// TestPMIxServerSplitAlltoall: 8 ranks split MPI_COMM_WORLD and do
// Alltoalls in both, and publish, look up and unpublish a name through
// the launcher's name service, under hydra (both images) and srun pmi2.
func TestPMIxServerSplitAlltoall(t *testing.T) {
	img := debian(t, "bookworm")
	a := testUser(t)
	for _, c := range []interop{serverCells[0], serverCells[2]} {
		c.launcher = append(append([]string{}, c.launcher[:len(c.launcher)-1]...), "8")
		for _, image := range []string{img, img + ".sqfs"} {
			t.Run(c.name+"/"+filepath.Base(image), func(t *testing.T) {
				r := runCellCmd(t, c, a, image, "/opt/mpiwrap-test/openmpi/splitall", "names")
				if r.code != 0 || !strings.Contains(r.stdout, "splitall size=8 halves=4,4 ok") || !strings.Contains(r.stdout, "names ok") {
					t.Fatalf("want splitall and names ok, got %s", r)
				}
			})
		}
	}
}

// TestPMIxServerVerbose: -v names the mode and why, and the job runs (the
// Go half reaches the server too).
func TestPMIxServerVerbose(t *testing.T) {
	img := debian(t, "bookworm")
	c := serverCells[0]
	c.flags = []string{"-v"}
	r := runCell(t, c, testUser(t), img)
	want := "PMI: pmix-server: PMIx server for the launcher's PMI-1/2, in the node's keeper: the container's Open MPI (libmpi.so.40) speaks only PMIx"
	if r.code != 0 || strings.TrimSpace(r.stdout) != helloOut || strings.Count(r.stderr, want) != 4 {
		t.Fatalf("want %q and %q from every rank, got %s", helloOut, want, r)
	}
}

// TestPMIxServerAbort: MPI_Abort(7) in one rank ends the job with 7 under
// hydra; srun reports the aborting task's failure.
func TestPMIxServerAbort(t *testing.T) {
	img := debian(t, "bookworm")
	for _, c := range []interop{serverCells[0], serverCells[2]} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			r := runCellCmd(t, c, testUser(t), img, c.program, "abort", "7")
			if c.launcher[0] != "srun" && r.code != 7 || r.code == 0 {
				t.Fatalf("want exit 7 (srun: the task's failure), got %s", r)
			}
			if !strings.Contains(r.stderr, "rank 1 aborted the job with exit code 7") {
				t.Fatalf("want the abort on the rank's stderr, got %s", r)
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Fatalf("the job took %v to end", d)
			}
		})
	}
}

// serverRanks lists the Open MPI ranks of a job started by startJob
// (program under /opt/mpiwrap-test/openmpi), by PMIx rank.
func serverRanks(cmd int, program string) map[int]int {
	ranks := map[int]int{}
	for _, p := range procs.Descendants(cmd) {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline")
		if !strings.HasPrefix(string(b), program+"\x00") {
			continue
		}
		env, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/environ")
		for _, kv := range strings.Split(string(env), "\x00") {
			if v, ok := strings.CutPrefix(kv, "PMIX_RANK="); ok {
				if r, err := strconv.Atoi(v); err == nil {
					ranks[r] = p
				}
			}
		}
	}
	return ranks
}

// shmSegments are Open MPI's shared-memory files of a's in /dev/shm.
func shmSegments(a account) map[string]bool {
	files, _ := filepath.Glob(fmt.Sprintf("/dev/shm/vader_segment.*.%d.*", a.uid))
	m := map[string]bool{}
	for _, f := range files {
		m[f] = true
	}
	return m
}

// TestPMIxServerRankKilledMidFence: the last rank sleeps before
// MPI_Finalize while the others wait for it in Finalize's fence; killed,
// it ends the job within bounds, leaving no rank, no server directory and
// none of the shared-memory files the ranks had the server clean up.
func TestPMIxServerRankKilledMidFence(t *testing.T) {
	img := debian(t, "bookworm")
	a := testUser(t)
	before := shmSegments(a)
	prog := "/opt/mpiwrap-test/openmpi/hello"
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := cmdAs(ctx, a, work, nil, "mpiexec.mpich", "-n", "4", bin, img, prog, "lag", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer killJob(cmd)
	var ranks map[int]int
	eventually(t, 30*time.Second, "4 ranks running", func() bool {
		ranks = serverRanks(cmd.Process.Pid, prog)
		return len(ranks) == 4
	})
	time.Sleep(time.Second) // the others reach MPI_Finalize's fence
	dir := serverDir(ranks[3])
	if dir == "" {
		t.Fatal("the rank has no PMIX_SERVER_TMPDIR")
	}
	syscall.Kill(ranks[3], syscall.SIGKILL)
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the job succeeded after a rank was killed")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the job did not end within 30 s of a rank's death")
	}
	eventually(t, 10*time.Second, "no rank left", func() bool { return len(serverRanks(cmd.Process.Pid, prog)) == 0 })
	gone(t, dir)
	var left []string
	eventually(t, 10*time.Second, "no shared-memory file left", func() bool {
		left = nil
		for f := range shmSegments(a) {
			if !before[f] {
				left = append(left, f)
			}
		}
		return len(left) == 0
	})
}

// TestPMIxServerLauncherLoss: when hydra's proxy, which holds the ranks'
// PMI connections, dies, the keeper kills the node's ranks.
func TestPMIxServerLauncherLoss(t *testing.T) {
	img := debian(t, "bookworm")
	a := testUser(t)
	prog := "/opt/mpiwrap-test/openmpi/hello"
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := cmdAs(ctx, a, work, nil, "mpiexec.mpich", "-n", "4", bin, img, prog, "sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go cmd.Wait()
	defer killJob(cmd)
	var ranks map[int]int
	eventually(t, 30*time.Second, "4 ranks running", func() bool {
		ranks = serverRanks(cmd.Process.Pid, prog)
		return len(ranks) == 4
	})
	for _, p := range procs.Descendants(cmd.Process.Pid) {
		if strings.HasSuffix(procs.Exe(p), "/hydra_pmi_proxy") {
			syscall.Kill(p, syscall.SIGKILL)
		}
	}
	eventually(t, 20*time.Second, "ranks killed after the launcher's PMI went away", func() bool {
		for _, p := range ranks {
			if syscall.Kill(p, 0) == nil {
				return false
			}
		}
		return true
	})
}

// TestPMIxServerDirectory: the server's files are in a 0700 directory of
// the job's in the user's rendezvous directory, seen at the same path
// inside the container; a keeper killed with its job leaves it, and the
// next job's keeper removes it.
func TestPMIxServerDirectory(t *testing.T) {
	img := debian(t, "bookworm")
	a := testUser(t)
	// python3 importing mpi4py: an Open MPI program, which prints what it sees.
	script := `import os, stat; from mpi4py import MPI; d = os.environ["PMIX_SERVER_TMPDIR"]; st = os.stat(d)
if MPI.COMM_WORLD.Get_rank() == 0: print("dir", d, oct(stat.S_IMODE(st.st_mode)), os.environ["PMIX_SYSTEM_TMPDIR"] == d)`
	r := runCellCmd(t, serverCells[0], a, img, "python3", "-c", script)
	f := strings.Fields(r.stdout)
	if r.code != 0 || len(f) != 4 || f[0] != "dir" || f[2] != "0o700" || f[3] != "True" || !strings.HasPrefix(f[1], fmt.Sprintf("/tmp/mpiwrap-%d", a.uid)) {
		t.Fatalf("want the server's directory, mode 0700, in the rendezvous directory; got %s", r)
	}
	gone(t, f[1])
	// A crash: the keeper and the ranks killed.
	prog := "/opt/mpiwrap-test/openmpi/hello"
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := cmdAs(ctx, a, work, nil, "mpiexec.mpich", "-n", "4", bin, img, prog, "sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go cmd.Wait()
	var ranks map[int]int
	eventually(t, 30*time.Second, "4 ranks running", func() bool {
		ranks = serverRanks(cmd.Process.Pid, prog)
		return len(ranks) == 4
	})
	dir := serverDir(ranks[0])
	if dir == "" {
		t.Fatal("the rank has no PMIX_SERVER_TMPDIR")
	}
	for _, p := range procs.Running(bin) { // the job's keeper (the ranks have exec'd)
		syscall.Kill(p, syscall.SIGKILL)
	}
	killJob(cmd)
	eventually(t, 10*time.Second, "the job gone", func() bool { return len(serverRanks(cmd.Process.Pid, prog)) == 0 })
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the killed keeper's directory is already gone (%v): the test shows nothing", err)
	}
	r = runCell(t, serverCells[0], a, img)
	if r.code != 0 || strings.TrimSpace(r.stdout) != helloOut {
		t.Fatalf("want %q, got %s", helloOut, r)
	}
	gone(t, dir)
}

// TestPMIxServerCheck: mpiwrap check under a PMI-1/2 launcher prints the
// mode and why, for the Open MPI program and for mpi4py (a script), and
// under hydra the node's other rank does too (its first rank running no
// command, the keeper sends the others to the Go half as well).
func TestPMIxServerCheck(t *testing.T) {
	img := debian(t, "bookworm")
	want := "PMI: pmix-server: PMIx server for the launcher's PMI-1/2, in the node's keeper: the container's Open MPI (libmpi.so.40) speaks only PMIx"
	c := serverCells[0]
	c.launcher = []string{"mpiexec.mpich", "-n", "2"}
	for _, cmd := range [][]string{{"/opt/mpiwrap-test/openmpi/hello"}, {"python3", "/opt/mpiwrap-test/py/hello.py"}} {
		args := append(append(append([]string{}, c.launcher...), bin, "check", img), cmd...)
		r := runAs(t, testUser(t), work, nil, 60*time.Second, args...)
		if r.code != 0 || strings.Count(r.stdout+r.stderr, want) != 2 {
			t.Fatalf("%q: want %q from both ranks, got %s", cmd, want, r)
		}
	}
}

// TestProxyNameService: MPICH's MPI_Publish_name, Lookup_name and
// Unpublish_name behind the PMI proxy reach the launcher's name service:
// PMIx's under mpirun, PMI-1's under hydra with --pmi=proxy; Slurm's
// PMIx has none, and the rank is told which call was refused.
func TestProxyNameService(t *testing.T) {
	img := debian(t, "bookworm")
	a := testUser(t)
	two := func(c interop) interop {
		c.launcher = append(append([]string{}, c.launcher[:len(c.launcher)-1]...), "2")
		return c
	}
	for _, c := range []interop{proxyCells[1], proxyCells[2]} {
		t.Run(c.name, func(t *testing.T) {
			r := runCellCmd(t, two(c), a, img, "/opt/mpiwrap-test/mpich/splitall", "names")
			if r.code != 0 || !strings.Contains(r.stdout, "names ok") {
				t.Fatalf("want names ok, got %s", r)
			}
		})
	}
	t.Run(proxyCells[0].name, func(t *testing.T) {
		r := runCellCmd(t, two(proxyCells[0]), a, img, "/opt/mpiwrap-test/mpich/splitall", "names")
		if r.code == 0 || !strings.Contains(r.stderr, `error: MPI_Publish_name of "mpiwrap-splitall": the launcher's name service refused it`) {
			t.Fatalf("want the refusal named, got %s", r)
		}
	})
}

// TestPMIxServerXDGRuntimeDir: with a private XDG_RUNTIME_DIR the
// rendezvous, and so the server's directory, are there, outside the
// container's /tmp: it is bound in at its path (a mount point the
// directory image lacks, made in the overlay), for both images.
func TestPMIxServerXDGRuntimeDir(t *testing.T) {
	img := debian(t, "bookworm")
	a := testUser(t)
	xdg := userDir(t, a)
	if err := os.Chmod(xdg, 0o700); err != nil {
		t.Fatal(err)
	}
	script := `import os; from mpi4py import MPI; d = os.environ["PMIX_SERVER_TMPDIR"]
if MPI.COMM_WORLD.Get_rank() == 0: print(MPI.COMM_WORLD.Get_size(), d, os.path.isdir(d))`
	for _, image := range []string{img, img + ".sqfs"} {
		args := []string{"mpiexec.mpich", "-n", "2", bin, image, "python3", "-c", script}
		r := runAs(t, a, work, []string{"XDG_RUNTIME_DIR=" + xdg}, 60*time.Second, args...)
		f := strings.Fields(r.stdout)
		if r.code != 0 || len(f) != 3 || f[0] != "2" || !strings.HasPrefix(f[1], xdg+"/mpiwrap/") || f[2] != "True" {
			t.Fatalf("%s: want the server's directory under %s/mpiwrap, seen inside; got %s", image, xdg, r)
		}
		gone(t, f[1])
	}
}
