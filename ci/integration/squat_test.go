package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

// cacheDirs are the names of a's node cache: /var/tmp/mpiwrap-UID, then
// .1 to .7 where another user took that.
func cacheDirs(a account) []string {
	dirs := []string{fmt.Sprintf("/var/tmp/mpiwrap-%d", a.uid)}
	for i := 1; i < 8; i++ {
		dirs = append(dirs, fmt.Sprintf("%s.%d", dirs[0], i))
	}
	return dirs
}

// squatting takes victim's per-user names (its rendezvous and node cache)
// away for one test, and gives back afterwards what it moved: the victim's
// cache directories go aside while the test runs and come back at its end,
// and the squats and whatever the test's jobs made are removed. It waits
// for the rendezvous directory of a running job to go rather than move it.
func squatting(t *testing.T, victim account) {
	t.Helper()
	rv, cache := rendezvousDirs(victim), cacheDirs(victim)
	for _, d := range append(append([]string{}, rv...), cache...) {
		if !ownDir(d, victim) { // a squat left by a test that was killed
			os.RemoveAll(d)
		}
		if _, err := os.Lstat(d + ".saved-by-squat-test"); err == nil && !ownDir(d, victim) {
			os.Rename(d+".saved-by-squat-test", d) // and what it had moved
		}
	}
	eventually(t, 60*time.Second, "no job of "+victim.name+" running on this node", func() bool {
		for _, d := range rv {
			if _, err := os.Lstat(d); err == nil {
				return false
			}
		}
		return true
	})
	var moved []string
	for _, d := range cache {
		if _, err := os.Lstat(d); err != nil {
			continue
		}
		os.RemoveAll(d + ".saved-by-squat-test")
		if err := os.Rename(d, d+".saved-by-squat-test"); err != nil {
			t.Fatal(err)
		}
		moved = append(moved, d)
	}
	t.Cleanup(func() {
		for _, d := range append(append([]string{}, rv...), cache...) {
			os.RemoveAll(d) // a squat (RemoveAll takes a symlink, not its target) or what the jobs made
		}
		for _, d := range moved {
			if err := os.Rename(d+".saved-by-squat-test", d); err != nil {
				t.Errorf("restore %s: %v", d, err)
			}
		}
	})
}

// squat makes path, as squatter, the way kind says: another user's
// directory, a file, or a symlink to target (a private directory of the
// victim's, which must not be taken for one).
func squat(t *testing.T, squatter account, path, kind, target string) {
	t.Helper()
	script := map[string]string{
		"dir":     "mkdir -m 700 " + path,
		"open":    "mkdir -m 777 " + path,
		"file":    "echo squat > " + path,
		"symlink": "ln -s " + target + " " + path,
	}[kind]
	must(t, runAs(t, squatter, "/", nil, 10*time.Second, "sh", "-c", script))
	st, err := os.Lstat(path)
	if err != nil || int(st.Sys().(*syscall.Stat_t).Uid) != squatter.uid {
		t.Fatalf("squat %s: %v", path, err)
	}
}

// Another user who takes a user's /tmp/mpiwrap-UID and /var/tmp/mpiwrap-UID
// first, with a directory, a file or a symlink (to a private directory of
// the victim's, even), stops none of the victim's jobs: a 4-rank hydra job
// with a profile runs, its ranks share one namespace, nothing is put in or
// through the squats, and -v says which directories the run used. Both
// ways round: the test user squats root's names; root, and a third user,
// squat the test user's.
func TestSquattedUserDirs(t *testing.T) {
	testreq.Require(t, have("mpiexec.mpich"), "mpiexec.mpich (apt-get install mpich)")
	img := debian(t, "bookworm")
	hostLibmpich(t)
	accts := accounts(t)
	root, user := accts[0], accts[1]
	nobody := account{"nobody", 65534, 65534, "/nonexistent"}
	host, _ := os.Readlink("/proc/self/ns/mnt")
	for _, c := range []struct{ victim, squatter account }{{root, user}, {user, root}, {user, nobody}} {
		for _, kind := range []string{"dir", "file", "symlink", "open"} {
			t.Run(fmt.Sprintf("%s squats %s %s", c.squatter.name, c.victim.name, kind), func(t *testing.T) {
				squatting(t, c.victim)
				target := userDir(t, c.victim) // the victim's, private
				if err := os.Chmod(target, 0o700); err != nil {
					t.Fatal(err)
				}
				rv, cache := rendezvousDirs(c.victim), cacheDirs(c.victim)
				squat(t, c.squatter, rv[0], kind, target)
				squat(t, c.squatter, cache[0], kind, target)
				if kind == "dir" { // and the next names with another kind
					squat(t, c.squatter, rv[1], "file", target)
					squat(t, c.squatter, cache[1], "symlink", target)
				}
				used := 1
				if kind == "dir" {
					used = 2
				}
				r := must(t, runAs(t, c.victim, work, nil, 120*time.Second, "mpiexec.mpich", "-n", "4", bin,
					"--profile", "mpich", img, "sh", "-c",
					"echo ns $(readlink /proc/self/ns/mnt); exec /opt/mpiwrap-test/mpich/hello"))
				var ns []string
				for _, l := range lines(r.stdout) {
					if strings.HasPrefix(l, "ns ") {
						ns = append(ns, l)
					}
				}
				if !strings.Contains(r.stdout, helloOut) || len(ns) != 4 || ns[0] != ns[3] || strings.Contains(ns[0], host) {
					t.Fatalf("4 ranks should say hello from one new namespace (host %s):\n%s", host, r)
				}
				if !ownDir(cache[used], c.victim) || ownDir(rendezvous(c.victim), c.victim) {
					t.Fatalf("node cache %s not made, or rendezvous %s left", cache[used], rendezvous(c.victim))
				}
				// -v (which every rank takes through Go) says where.
				r = must(t, runAs(t, c.victim, work, nil, 120*time.Second, "mpiexec.mpich", "-n", "2", bin,
					"-v", "--profile", "mpich", img, "/opt/mpiwrap-test/mpich/hello"))
				for _, want := range []string{
					"rendezvous " + rv[used] + "/", "skipped " + rv[0] + " (",
					"node cache " + cache[used] + " (skipped " + cache[0] + " (",
				} {
					if strings.Count(r.stderr, want) != 2 {
						t.Errorf("-v of 2 ranks should say %q twice:\n%s", want, r.stderr)
					}
				}
				// Nothing went into or through the squats.
				for _, d := range []string{target, rv[0], cache[0]} {
					if ents, _ := os.ReadDir(d); len(ents) != 0 {
						t.Errorf("%s holds %d entries", d, len(ents))
					}
				}
				noLeftovers(t, c.victim)
			})
		}
	}
}

// With every name taken, a run fails at once with one line that names
// them and says what to do.
func TestSquattedAllNames(t *testing.T) {
	accts := accounts(t)
	root, user := accts[0], accts[1]
	squatting(t, user)
	for _, d := range rendezvousDirs(user) {
		squat(t, root, d, "file", "")
	}
	r := mpiwrap(t, user, nil, "--join-key", fmt.Sprintf("squat-%d", time.Now().UnixNano()), "--join-size", "1", tiny, "true")
	wantFail(t, r, 125, "none of /tmp/mpiwrap-"+fmt.Sprint(user.uid)+" to /tmp/mpiwrap-"+fmt.Sprint(user.uid)+".7 is a directory of yours")
	if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, "ask the node's admin") ||
		!strings.Contains(r.stderr, "XDG_RUNTIME_DIR") {
		t.Fatalf("want one line saying what to do, got %s", r)
	}
	// A private XDG_RUNTIME_DIR is a way out.
	xdg := userDir(t, user)
	if err := os.Chmod(xdg, 0o700); err != nil {
		t.Fatal(err)
	}
	must(t, mpiwrap(t, user, []string{"XDG_RUNTIME_DIR=" + xdg}, "--join-key", fmt.Sprintf("squat-%d", time.Now().UnixNano()),
		"--join-size", "1", tiny, "true"))
	eventually(t, 10*time.Second, "rendezvous directory in XDG_RUNTIME_DIR removed", func() bool {
		_, err := os.Lstat(filepath.Join(xdg, "mpiwrap"))
		return os.IsNotExist(err)
	})
}

// A squatter who keeps taking and giving back the names while the victim's
// jobs start (so that ranks of one job walk the series at moments when it
// differs) splits no job and stops none: the 4 ranks of every job share one
// namespace.
func TestSquatterFlips(t *testing.T) {
	testreq.Require(t, have("mpiexec.mpich"), "mpiexec.mpich (apt-get install mpich)")
	accts := accounts(t)
	root, user := accts[0], accts[1]
	squatting(t, root)
	rv := rendezvousDirs(root)
	ctx, cancel := context.WithCancel(context.Background())
	flip := cmdAs(ctx, user, "/", nil, "sh", "-c", fmt.Sprintf(
		"while :; do mkdir %[1]s; sleep 0.02; : > %[2]s; rmdir %[1]s; sleep 0.003; rm -f %[2]s; done 2>/dev/null",
		rv[0], rv[1]))
	if err := flip.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); flip.Wait() }()
	host, _ := os.Readlink("/proc/self/ns/mnt")
	for i := range 40 {
		r := must(t, runAs(t, root, work, nil, 60*time.Second, "mpiexec.mpich", "-n", "4", bin, tiny,
			"sh", "-c", "echo $(readlink /proc/self/ns/mnt)"))
		got := lines(r.stdout)
		if len(got) != 4 || got[0] != got[3] || strings.Contains(got[0], host) {
			t.Fatalf("job %d: 4 ranks should share one new namespace (host %s):\n%s", i, host, r)
		}
	}
	cancel()
	flip.Wait()
	noLeftovers(t, root)
}
