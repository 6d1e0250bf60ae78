package integration

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/procs"
	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

// A rank that mpiwrap refuses after hydra started it (here: rank 1 asks
// for other binds than rank 0, and one node has one container) aborts the
// job through the launcher's PMI, so rank 0 does not wait for it in
// MPI_Init forever: the job ends, with mpiwrap's code and message.
func TestRefusedRankEndsJob(t *testing.T) {
	testreq.Require(t, have("mpiexec.mpich"), "mpiexec.mpich")
	img := debian(t, "bookworm")
	for _, launch := range [][]string{{"mpiexec.mpich", "-n", "2"}, {"mpiexec.mpich", "-pmi-port", "-n", "2"}} {
		t.Run(strings.Join(launch, " "), func(t *testing.T) {
			forEach(t, func(t *testing.T, a account) {
				other := userDir(t, a)
				script := `if [ "$MPI_LOCALRANKID" = 1 ]; then exec "$0" -b ` + other + `:/extra "$@"; else exec "$0" "$@"; fi`
				args := append(launch, "sh", "-c", script, bin, img, "/opt/mpiwrap-test/mpich/hello", "sleep", "1")
				r := runAs(t, a, work, nil, 60*time.Second, args...)
				if r.code == 0 || !strings.Contains(r.stderr, "share one container") {
					t.Fatalf("want the job to end with the refusal, got %s", r)
				}
			})
		})
	}
}

// --join-size below the node's real rank count: the ranks the keeper no
// longer expects get a clear error (or a group of their own), and the job
// ends instead of hanging in MPI_Init.
func TestJoinSizeTooSmallEnds(t *testing.T) {
	testreq.Require(t, have("mpiexec.mpich"), "mpiexec.mpich")
	img := debian(t, "bookworm")
	forEach(t, func(t *testing.T, a account) {
		r := runAs(t, a, work, nil, 90*time.Second, "mpiexec.mpich", "-n", "4", bin, "--join-size", "2",
			img, "/opt/mpiwrap-test/mpich/hello")
		if r.code == 0 && !strings.Contains(r.stdout, "hello size=4") {
			t.Fatalf("the job ended but did not run: %s", r)
		}
		if r.code != 0 && !strings.Contains(r.stderr, "is the local rank count right?") {
			t.Fatalf("the job failed without saying why: %s", r)
		}
	})
}

// A rank behind a proxy of its own (mpirun, MPICH image) dies with its
// proxy: a proxy killed with SIGKILL can't stop its rank, so the rank is
// tied to it (the parent-death signal), whether the rank was started by
// the Go proxy (the node's first rank) or forked from C (the others).
func TestRankDiesWithItsProxy(t *testing.T) {
	testreq.Require(t, have("mpirun.openmpi"), "mpirun.openmpi")
	img := debian(t, "bookworm")
	forEach(t, func(t *testing.T, a account) {
		args := []string{"mpirun.openmpi", "--oversubscribe", "-n", "4"}
		if a.uid == 0 {
			args = append(args, "--allow-run-as-root")
		}
		cmd, cancel := startJob(t, a, append(args, bin, img, "/opt/mpiwrap-test/mpich/hello", "sleep", "60"))
		defer cancel()
		defer killJob(cmd)
		// Past MPI_Init, a rank no longer notices its PMI socket close.
		eventually(t, 30*time.Second, "every rank asleep after MPI_Init", func() bool {
			return len(ranksOf(cmd, "hrtimer_nanosleep")) == 4
		})
		ranks := ranksOf(cmd, "")
		// Stopped, the launcher can't clean up after the proxies itself.
		syscall.Kill(cmd.Process.Pid, syscall.SIGSTOP)
		defer syscall.Kill(cmd.Process.Pid, syscall.SIGCONT)
		for _, r := range ranks {
			if p := procs.Parent(r); p > 1 {
				syscall.Kill(p, syscall.SIGKILL)
			}
		}
		eventually(t, 10*time.Second, "every rank gone with its proxy", func() bool {
			for _, r := range ranks {
				if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", r)); err == nil && !strings.Contains(string(st), ") Z ") {
					return false
				}
			}
			return true
		})
	})
}
