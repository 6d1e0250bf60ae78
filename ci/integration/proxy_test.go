package integration

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/procs"
	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

// The cells where the launcher and the image's MPI don't speak the same
// PMI: mpiwrap proxies.
var proxyCells = []interop{
	{"srun-pmix/mpich", []string{"srun"}, []string{"srun", "--mpi=pmix", "-n", "4"}, nil, "/opt/mpiwrap-test/mpich/hello"},
	{"mpirun/mpich", []string{"mpirun.openmpi"}, []string{"mpirun.openmpi", "--oversubscribe", "-n", "4"}, nil, "/opt/mpiwrap-test/mpich/hello"},
	{"hydra-forced-proxy/mpich", []string{"mpiexec.mpich"}, []string{"mpiexec.mpich", "-n", "4"}, []string{"--pmi=proxy"}, "/opt/mpiwrap-test/mpich/hello"},
	{"hydra-port-forced-proxy/mpich", []string{"mpiexec.mpich"}, []string{"mpiexec.mpich", "-pmi-port", "-n", "4"}, []string{"--pmi=proxy"}, "/opt/mpiwrap-test/mpich/hello"},
	{"srun-pmi2-forced-proxy/mpich", []string{"srun"}, []string{"srun", "--mpi=pmi2", "-n", "4"}, []string{"--pmi=proxy"}, "/opt/mpiwrap-test/mpich/hello"},
}

func TestInteropProxy(t *testing.T) {
	img := debian(t, "bookworm")
	for _, c := range proxyCells {
		t.Run(c.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, a account) {
				for _, image := range []string{img, img + ".sqfs"} {
					r := runCell(t, c, a, image)
					if r.code != 0 || strings.TrimSpace(r.stdout) != helloOut {
						t.Fatalf("%s: want %q, got %s", image, helloOut, r)
					}
				}
			})
		})
	}
}

// Natively MPICH under these launchers starts N singletons of size 1; with
// --pmi=passthrough mpiwrap does too, which shows the proxy is what fixes it.
func TestPassthroughUnderPMIxGivesSingletons(t *testing.T) {
	img := debian(t, "bookworm")
	c := interop{"srun-pmix/mpich", []string{"srun"}, []string{"srun", "--mpi=pmix", "-n", "2"}, []string{"--pmi=passthrough"}, "/opt/mpiwrap-test/mpich/hello"}
	r := runCell(t, c, accounts(t)[1], img)
	if strings.Count(r.stdout, "hello size=1 sum=0") != 2 {
		t.Fatalf("want 2 singletons, got %s", r)
	}
}

// An Open MPI image under a launcher that offers only PMI-1/2 is no
// longer refused: the node's keeper serves it PMIx (pmixserver_test.go).

// MPI_Abort in one rank ends the whole job with its code, passthrough and
// through the proxy.
func TestAbortEndsJob(t *testing.T) {
	img := debian(t, "bookworm")
	a := accounts(t)[1]
	for _, c := range append([]interop{passthroughCells[0]}, proxyCells[0], proxyCells[2]) {
		t.Run(c.name, func(t *testing.T) {
			c.program = "/opt/mpiwrap-test/mpich/hello"
			args := append(append(append([]string{}, c.launcher...), bin), c.flags...)
			for _, n := range c.needs {
				testreq.Require(t, have(n), n)
			}
			if c.launcher[0] == "srun" {
				testreq.Slurm(t, strings.TrimPrefix(c.launcher[1], "--mpi="))
			}
			r := runAs(t, a, work, nil, 60*time.Second, append(args, img, c.program, "abort", "7")...)
			if r.code != 7 && !(c.launcher[0] == "srun" && r.code != 0) {
				t.Fatalf("want exit 7 (srun: the aborting task's failure), got %s", r)
			}
		})
	}
}

// startJob starts a launcher and waits until its 4 ranks run.
func startJob(t *testing.T, a account, args []string) (*exec.Cmd, context.CancelFunc) {
	t.Helper()
	needSetup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	cmd := cmdAs(ctx, a, work, nil, args...)
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "ranks running", func() bool { return len(ranksOf(cmd, "")) == 4 })
	return cmd, cancel
}

// ranksOf lists the ranks of a job started by startJob; with state, only
// those in that state ("S", sleeping).
func ranksOf(cmd *exec.Cmd, wchan string) []int {
	var ranks []int
	for _, p := range procs.Descendants(cmd.Process.Pid) {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline")
		if !strings.HasPrefix(string(b), "/opt/mpiwrap-test/mpich/hello\x00") {
			continue
		}
		if w, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/wchan"); wchan == "" || string(w) == wchan {
			ranks = append(ranks, p)
		}
	}
	return ranks
}

// killJob ends whatever is left of a job.
func killJob(cmd *exec.Cmd) {
	for _, p := range procs.Descendants(cmd.Process.Pid) {
		syscall.Kill(p, syscall.SIGKILL)
	}
	syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
}

// A rank killed with SIGKILL while the others wait for it in MPI_Finalize's
// PMI fence makes the launcher end the job within bounds.
func TestRankKilledMidFence(t *testing.T) {
	img := debian(t, "bookworm")
	a := accounts(t)[1]
	for _, c := range []interop{passthroughCells[0], proxyCells[2]} {
		t.Run(c.name, func(t *testing.T) {
			args := append(append(append([]string{}, c.launcher...), bin), c.flags...)
			cmd, cancel := startJob(t, a, append(args, img, c.program, "lag", "60"))
			defer cancel()
			defer killJob(cmd)
			// The lagging rank sleeps (hrtimer); the others block in the fence.
			eventually(t, 20*time.Second, "three ranks in the fence", func() bool {
				return len(ranksOf(cmd, "hrtimer_nanosleep")) == 1 && len(ranksOf(cmd, "")) == 4
			})
			syscall.Kill(ranksOf(cmd, "hrtimer_nanosleep")[0], syscall.SIGKILL)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("the job succeeded after a rank was killed")
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the launcher did not end the job within 30 s of a rank's death")
			}
			eventually(t, 10*time.Second, "no rank left", func() bool { return len(ranksOf(cmd, "")) == 0 })
		})
	}
}

// When the launcher's side goes away, each proxy kills its rank.
func TestUpstreamLossKillsRank(t *testing.T) {
	img := debian(t, "bookworm")
	a := accounts(t)[1]
	c := proxyCells[2] // hydra, PMI-1 upstream
	args := append(append(append([]string{}, c.launcher...), bin), c.flags...)
	cmd, cancel := startJob(t, a, append(args, img, c.program, "sleep", "60"))
	defer cancel()
	ranks := ranksOf(cmd, "")
	defer killJob(cmd)
	exec.Command("pkill", "-9", "-P", strconv.Itoa(cmd.Process.Pid), "hydra_pmi_proxy").Run()
	eventually(t, 20*time.Second, "ranks killed after their upstream closed", func() bool {
		for _, r := range ranks {
			if syscall.Kill(r, 0) == nil {
				return false
			}
		}
		return true
	})
}

// Under a launcher that passes PMI_FD the node's keeper is the PMI proxy
// of all its ranks: they are the launcher's own children and one mpiwrap
// process serves them. Under PMI_PORT or PMIx every rank has a proxy
// process of its own.
func TestProxyHosting(t *testing.T) {
	img := debian(t, "bookworm")
	for _, tc := range []struct {
		cell   interop
		hosted bool
	}{{proxyCells[2], true}, {proxyCells[3], false}, {proxyCells[1], false}} {
		t.Run(tc.cell.name, func(t *testing.T) {
			for _, a := range accounts(t)[1:] { // the unprivileged user

				c := tc.cell
				for _, n := range c.needs {
					testreq.Require(t, have(n), n)
				}
				if c.launcher[0] == "srun" {
					testreq.Slurm(t, strings.TrimPrefix(c.launcher[1], "--mpi="))
				}
				args := append(append(append([]string{}, c.launcher...), bin), c.flags...)
				cmd, cancel := startJob(t, a, append(args, img, c.program, "sleep", "3"))
				defer cancel()
				defer killJob(cmd)
				var parents []string
				for _, r := range ranksOf(cmd, "") {
					parents = append(parents, procs.Exe(procs.Parent(r)))
				}
				proxies := 0
				for _, p := range parents {
					if p == bin {
						proxies++
					}
				}
				served := len(procs.Running(bin))
				if tc.hosted && (proxies != 0 || served != 1) {
					t.Fatalf("want the 4 ranks under the launcher and one keeper serving them; rank parents %q, %d mpiwrap processes", parents, served)
				}
				if !tc.hosted && proxies != 4 {
					t.Fatalf("want a proxy process per rank; rank parents %q", parents)
				}
				if err := cmd.Wait(); err != nil {
					t.Fatalf("job: %v", err)
				}
			}
		})
	}
}

// A rank that sends its proxy garbage (a PMI-1 line that never ends) is
// told so and killed at once, with the reason on its stderr, whether the
// keeper or a process of its own is its proxy.
func TestProxyRejectsGarbage(t *testing.T) {
	img := debian(t, "bookworm")
	// exec: the rank stays one process, which is what the proxy kills (a
	// child it forked would hold the launcher's output pipes open).
	garbage := `head -c 70000 /dev/zero | tr '\0' a >&$PMI_FD; exec sleep 30`
	for _, c := range []interop{proxyCells[2], proxyCells[3]} {
		t.Run(c.name, func(t *testing.T) {
			for _, n := range c.needs {
				testreq.Require(t, have(n), n)
			}
			launcher := slices.Clone(c.launcher)
			launcher[slices.Index(launcher, "-n")+1] = "1"
			args := append(append(append(launcher, bin), c.flags...), img, "/bin/sh", "-c", garbage)
			start := time.Now()
			r := runAs(t, accounts(t)[1], work, nil, 60*time.Second, args...)
			if r.code == 0 || !strings.Contains(r.stderr, "mpiwrap[rank ") || !strings.Contains(r.stderr, "line longer than 65536 bytes") {
				t.Fatalf("want a failed job with the proxy's reason, got %s", r)
			}
			if time.Since(start) > 20*time.Second {
				t.Fatalf("the rank was not stopped: the job took %v; %s", time.Since(start), r)
			}
		})
	}
}
