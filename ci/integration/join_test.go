package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

// rendezvousDirs are the names where a's ranks may meet (the commands run
// without XDG_RUNTIME_DIR): /tmp/mpiwrap-UID, then, where another user took
// that, /tmp/mpiwrap-UID.1 to .7 (nsexec.h).
func rendezvousDirs(a account) []string {
	dirs := []string{fmt.Sprintf("/tmp/mpiwrap-%d", a.uid)}
	for i := 1; i < 8; i++ {
		dirs = append(dirs, fmt.Sprintf("%s.%d", dirs[0], i))
	}
	return dirs
}

// ownDir reports whether path is a directory of a's (not a symlink).
func ownDir(path string, a account) bool {
	st, err := os.Lstat(path)
	return err == nil && st.IsDir() && int(st.Sys().(*syscall.Stat_t).Uid) == a.uid
}

// rendezvous is where a's ranks meet: the first of rendezvousDirs that is
// a's, or the first name when none is. It must be gone after every job.
func rendezvous(a account) string {
	for _, d := range rendezvousDirs(a) {
		if ownDir(d, a) {
			return d
		}
	}
	return rendezvousDirs(a)[0]
}

func noLeftovers(t *testing.T, a account) {
	t.Helper()
	eventually(t, 10*time.Second, "rendezvous directory removed", func() bool {
		for _, d := range rendezvousDirs(a) {
			if ownDir(d, a) {
				return false
			}
		}
		return true
	})
	entries, _ := os.ReadDir("/dev/shm")
	for _, e := range entries {
		if strings.Contains(e.Name(), "mpiwrap") {
			t.Errorf("left in /dev/shm: %s", e.Name())
		}
	}
}

func lines(s string) []string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	sort.Strings(l)
	return l
}

func TestHydraRanksShareNamespace(t *testing.T) {
	testreq.Require(t, have("mpiexec.mpich"), "mpiexec.mpich (apt-get install mpich)")
	forEach(t, func(t *testing.T, a account) {
		r := must(t, runAs(t, a, work, nil, 60*time.Second, "mpiexec.mpich", "-n", "4", bin, tiny,
			"sh", "-c", "echo $(readlink /proc/self/ns/mnt) $(readlink /proc/self/ns/user)"))
		got := lines(r.stdout)
		host, _ := os.Readlink("/proc/self/ns/mnt")
		if len(got) != 4 || got[0] != got[3] || strings.Contains(got[0], host) {
			t.Fatalf("4 ranks should share one new namespace (host %s):\n%s", host, r)
		}
		noLeftovers(t, a)
	})
}

// The C half reads its own arguments from the process's initial stack
// (nsexec.c, stack_args): each rank's command must get them exactly, empty
// ones, spaces, a glob and a leading dash included, on the fast path (the
// joiners), the leader's Go path and a single rank's plan cache replay.
func TestArgumentsExact(t *testing.T) {
	testreq.Require(t, have("mpiexec.mpich"), "mpiexec.mpich (apt-get install mpich)")
	args := []string{"", "a b", "*", "-n", "x=y", "last"}
	want := "[][a b][*][-n][x=y][last]" // one write per rank: hydra merges their lines
	cmd := append([]string{tiny, "sh", "-c", `out=$(printf '[%s]' "$@"); echo "$out"`, "sh"}, args...)
	forEach(t, func(t *testing.T, a account) {
		r := must(t, runAs(t, a, work, nil, 60*time.Second, append([]string{"mpiexec.mpich", "-n", "4", bin}, cmd...)...))
		if got := lines(r.stdout); len(got) != 4 || got[0] != want || got[3] != want {
			t.Fatalf("4 ranks: want %s from each:\n%s", want, r)
		}
		for i := 0; i < 2; i++ { // planned, then replayed from the plan cache
			r := must(t, mpiwrap(t, a, nil, cmd...))
			if got := strings.TrimSpace(r.stdout); got != want {
				t.Fatalf("single rank, run %d: got %s, want %s\n%s", i, got, want, r)
			}
		}
		noLeftovers(t, a)
	})
}

// The first rank may exit before the others arrive: the keeper holds the
// namespace until every expected rank has joined.
func TestLeaderExitsEarly(t *testing.T) {
	forEach(t, func(t *testing.T, a account) {
		key := fmt.Sprintf("early-%d-%d", a.uid, time.Now().UnixNano())
		var seen []string
		for i := 0; i < 3; i++ {
			r := must(t, mpiwrap(t, a, nil, "--join-key", key, "--join-size", "3", tiny, "readlink", "/proc/self/ns/mnt"))
			seen = append(seen, strings.TrimSpace(r.stdout))
		}
		if seen[0] != seen[1] || seen[1] != seen[2] {
			t.Fatalf("ranks started one after another must share one namespace: %q", seen)
		}
		noLeftovers(t, a)
	})
}

// A job that dies before all its ranks joined leaves nothing behind: the
// keeper sees its launcher go.
func TestCrashedJobLeavesNothing(t *testing.T) {
	forEach(t, func(t *testing.T, a account) {
		key := fmt.Sprintf("crash-%d-%d", a.uid, time.Now().UnixNano())
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		// The "launcher" is a shell that starts 2 of 4 ranks, then is killed.
		script := fmt.Sprintf("%[1]s --join-key %[2]s --join-size 4 %[3]s sleep 60 & %[1]s --join-key %[2]s --join-size 4 %[3]s sleep 60 & wait",
			bin, key, tiny)
		cmd := cmdAs(ctx, a, work, nil, "sh", "-c", script)
		cmd.SysProcAttr = withPgid(cmd.SysProcAttr)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, "keeper socket appears", func() bool {
			m, _ := filepath.Glob(rendezvous(a) + "/*.sock")
			return len(m) == 1
		})
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		noLeftovers(t, a)
	})
}

func withPgid(attr *syscall.SysProcAttr) *syscall.SysProcAttr {
	if attr == nil {
		attr = &syscall.SysProcAttr{}
	}
	attr.Setpgid = true
	return attr
}

func TestDifferentImageOnOneNodeRefused(t *testing.T) {
	a := accounts(t)[1]
	key := fmt.Sprintf("mismatch-%d", time.Now().UnixNano())
	must(t, mpiwrap(t, a, nil, "--join-key", key, "--join-size", "2", tiny, "true"))
	r := mpiwrap(t, a, nil, "--join-key", key, "--join-size", "2", "-b", work+":/extra", tiny, "true")
	wantFail(t, r, 125, "all ranks of a step on one node share one container")
	// The refused rank was one of the two: the keeper is done.
	noLeftovers(t, a)
}

// Ranks that arrive once the keeper has planned their shape join its
// namespace directly, without asking it (nsexec/direct.c): they share it
// with the rank it answered, the keeper counts them and leaves as soon as
// all have joined (while they still run), and nothing is left behind. The
// ranks start 100 ms apart, so all but the first find the published shape.
func TestDirectJoin(t *testing.T) {
	for _, l := range []struct {
		name, rankVar string
		launcher      []string
	}{
		{"hydra", "PMI_RANK", []string{"mpiexec.mpich", "-n", "8"}},
		{"srun", "SLURM_PROCID", []string{"srun", "--mpi=pmix", "-n", "8"}},
	} {
		t.Run(l.name, func(t *testing.T) {
			testreq.Require(t, have(l.launcher[0]), l.launcher[0])
			if l.name == "srun" {
				testreq.Slurm(t, "pmix")
			}
			forEach(t, func(t *testing.T, a account) { testDirectJoin(t, a, l.launcher, l.rankVar) })
		})
	}
}

func testDirectJoin(t *testing.T, a account, launcher []string, rankVar string) {
	counts := filepath.Join(userDir(t, a), "counts") // where a's keeper can write
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := cmdAs(ctx, a, work, []string{"_MPIWRAP_KEEPER_COUNTS=" + counts}, append(launcher,
		"sh", "-c", `sleep 0.$`+rankVar+`; exec "$0" "$@"`, bin, tiny,
		"sh", "-c", "echo $(readlink /proc/self/ns/mnt) $(readlink /proc/self/ns/user); sleep 3")...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, _ := os.ReadFile(counts); len(b) > 0 {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("the keeper left only with the job (%v): it should leave once all ranks joined\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no counts from the keeper\n%s", out.String())
		}
	}
	if err := <-exited; err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	got := lines(out.String())
	host, _ := os.Readlink("/proc/self/ns/mnt")
	if len(got) != 8 || got[0] != got[7] || strings.Contains(got[0], host) {
		t.Fatalf("8 ranks should share one new namespace (host %s):\n%s", host, out.String())
	}
	b, _ := os.ReadFile(counts)
	var socket, direct int
	if _, err := fmt.Sscanf(string(b), "socket %d direct %d", &socket, &direct); err != nil || socket+direct != 8 || direct < 4 {
		t.Fatalf("keeper counted %q: want 8 ranks, most of them direct", b)
	}
	noLeftovers(t, a)
}

// A published shape whose holder is gone is never joined, even when its
// pid now names another container of the same user and a keeper of the
// next generation is counting: the holder's lock file (its inode in the
// published header, its lock held while the holder lives) says whether
// the pid is still the holder's. The test kills a job's keeper and holder
// once the first rank has joined, points the published file at a decoy
// container's pid, plays a next keeper (a counting FIFO with a reader, a
// lock file of its own, locked), and lets the other ranks arrive: they
// must elect a keeper of their own, not enter the decoy.
func TestDirectJoinStaleHolder(t *testing.T) {
	testreq.Require(t, have("mpiexec.mpich"), "mpiexec.mpich (apt-get install mpich)")
	forEach(t, func(t *testing.T, a account) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		decoy := cmdAs(ctx, a, work, nil, bin, "--no-join", tiny, "sleep", "60")
		if err := decoy.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { decoy.Process.Kill(); decoy.Wait() }()
		host, _ := os.Readlink("/proc/self/ns/mnt")
		var decoyNS string
		eventually(t, 20*time.Second, "the decoy in its container", func() bool {
			decoyNS, _ = os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", decoy.Process.Pid))
			return decoyNS != "" && decoyNS != host
		})

		cmd := cmdAs(ctx, a, work, nil, "mpiexec.mpich", "-n", "4",
			"sh", "-c", `sleep $((PMI_RANK * 2)); exec "$0" "$@"`, bin, tiny,
			// Rank 0 outlives the others' start: a namespace that ends
			// may lend its inode number to the next one.
			"sh", "-c", "echo $(readlink /proc/self/ns/mnt); sleep $((PMI_RANK == 0 ? 7 : 1))")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		started := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var shapes string
		eventually(t, 20*time.Second, "this job's published shape", func() bool {
			m, _ := filepath.Glob(rendezvous(a) + "/*.shapes")
			for _, f := range m {
				if st, err := os.Stat(f); err == nil && st.ModTime().After(started) {
					shapes = f
				}
			}
			return shapes != ""
		})
		b, err := os.ReadFile(shapes)
		if err != nil || len(b) < 24 {
			t.Fatalf("shapes file: %v", err)
		}
		holder := int(binary.NativeEndian.Uint32(b[8:]))
		status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", holder))
		var keeper int
		for _, l := range strings.Split(string(status), "\n") {
			fmt.Sscanf(l, "PPid: %d", &keeper)
		}
		if holder <= 1 || keeper <= 1 {
			t.Fatalf("holder %d, its keeper %d: not running", holder, keeper)
		}
		syscall.Kill(keeper, syscall.SIGKILL)
		syscall.Kill(holder, syscall.SIGKILL)
		binary.NativeEndian.PutUint32(b[8:], uint32(decoy.Process.Pid))
		tmp := shapes + ".test"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chown(tmp, a.uid, a.gid)
		if err := os.Rename(tmp, shapes); err != nil {
			t.Fatal(err)
		}
		base := strings.TrimSuffix(shapes, ".shapes")
		for _, f := range []string{base + ".joined", base + ".holder"} {
			os.Remove(f)
		}
		if err := syscall.Mkfifo(base+".joined", 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chown(base+".joined", a.uid, a.gid)
		reader, err := os.OpenFile(base+".joined", os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer reader.Close()
		lock, err := os.OpenFile(base+".holder", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Close()
		os.Chown(base+".holder", a.uid, a.gid)
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatal(err)
		}

		if err := cmd.Wait(); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		got := lines(out.String())
		if len(got) != 4 {
			t.Fatalf("4 ranks should run:\n%s", out.String())
		}
		for _, ns := range got {
			if ns == decoyNS || ns == host {
				t.Fatalf("a rank ran in the decoy's namespace %s or the host's:\n%s", decoyNS, out.String())
			}
		}
		seen := map[string]int{}
		for _, ns := range got {
			seen[ns]++
		}
		if len(seen) != 2 { // rank 0's, and the one the three after the kill made
			t.Fatalf("the ranks after the kill should share the namespace of the keeper they elected:\n%s", out.String())
		}
		noLeftovers(t, a)
	})
}
