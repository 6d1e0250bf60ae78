package pmix

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServerLossMpirun kills mpirun, the PMIx server of its ranks, with
// SIGKILL while 4 ranks hold an Upstream each: every Upstream must report
// ErrLost promptly, and every rank and helper must be gone soon after.
//
// Slurm's PMIx server lives in slurmstepd, which cannot be killed without
// disturbing slurmd for everyone using this cluster; killing srun instead
// makes slurmstepd kill the tasks, which tests nothing here.
func TestServerLossMpirun(t *testing.T) {
	l := launchers[1]
	l.need(t)
	dir := t.TempDir()
	env := []string{modeEnv + "=hold", helperEnv + "=" + buildHelper(t), dirEnv + "=" + dir}
	argv := append(l.argv(4, env), os.Args[0])
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pids []int // ranks and helpers, to clean up whatever happens
	defer func() {
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}()
	ready, err := waitFiles(dir, "ready", 4, 30*time.Second)
	if err != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, s := range ready {
		for _, f := range strings.Fields(s) {
			pid, _ := strconv.Atoi(f)
			pids = append(pids, pid)
		}
	}
	killed := time.Now()
	cmd.Process.Kill() // mpirun only: its ranks are orphaned
	cmd.Wait()
	done, err := waitFiles(dir, "done", 4, 20*time.Second)
	if err != nil {
		t.Fatalf("%v\nmpirun output:\n%s", err, out.String())
	}
	reported := time.Since(killed)
	for r, s := range done {
		if !strings.Contains(s, ErrLost.Error()) {
			t.Errorf("rank %d: %s; want %q", r, s, ErrLost)
		}
	}
	for _, pid := range pids {
		if err := waitGone(pid, 10*time.Second); err != nil {
			t.Error(err)
		}
	}
	t.Logf("all 4 Upstreams reported the loss within %v of SIGKILL to mpirun: %s", reported.Round(time.Millisecond), done[0])
}

// waitFiles waits for prefix.0 .. prefix.n-1 in dir and returns them.
func waitFiles(dir, prefix string, n int, limit time.Duration) ([]string, error) {
	deadline := time.Now().Add(limit)
	for {
		var got []string
		for r := 0; r < n; r++ {
			b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%s.%d", prefix, r)))
			if err != nil {
				break
			}
			got = append(got, string(b))
		}
		if len(got) == n {
			return got, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("only %d of %d %s files after %v", len(got), n, prefix, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitGone waits for pid to exit (it is not our child: poll kill 0).
func waitGone(pid int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for syscall.Kill(pid, 0) == nil {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); bytes.Contains(b, []byte(") Z ")) {
			return nil // a zombie: exited, its parent has not reaped it yet
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pid %d still running %v after the PMIx server died", pid, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}
