package userdir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func series(t *testing.T) []string {
	t.Helper()
	return Of(filepath.Join(t.TempDir(), "mpiwrap-"), os.Getuid())
}

func TestSeries(t *testing.T) {
	s := Of("/tmp/mpiwrap-", 1001)
	if len(s) != 8 || s[0] != "/tmp/mpiwrap-1001" || s[1] != "/tmp/mpiwrap-1001.1" || s[7] != "/tmp/mpiwrap-1001.7" {
		t.Fatalf("series %q", s)
	}
	r := Rendezvous("/tmp/mpiwrap-", 1001, "/nonexistent")
	if len(r) != 8 || r[0] != s[0] {
		t.Fatalf("a missing XDG_RUNTIME_DIR is not skipped: %q", r)
	}
	xdg := t.TempDir()
	os.Chmod(xdg, 0o700)
	if r := Rendezvous("/tmp/mpiwrap-", 1001, xdg); len(r) != 9 || r[0] != xdg+"/mpiwrap" {
		t.Fatalf("a private XDG_RUNTIME_DIR is not first: %q", r)
	}
}

// Squatted names are skipped, looking makes nothing, and the entry made is
// private.
func TestEnsureSkipsSquats(t *testing.T) {
	s := series(t)
	os.WriteFile(s[0], nil, 0o600)
	os.Symlink(t.TempDir(), s[1])
	os.Mkdir(s[2], 0o755)
	os.Chmod(s[2], 0o755)
	dir, made, err := Preview(s)
	if dir != s[3] || made || err != nil {
		t.Fatalf("Preview %q %v %v, want %s not made", dir, made, err, s[3])
	}
	if _, err := os.Lstat(s[3]); !os.IsNotExist(err) {
		t.Fatal("Preview made a directory")
	}
	if dir, err := Ensure(s); dir != s[3] || err != nil || !Private(dir) {
		t.Fatalf("Ensure %q %v", dir, err)
	}
	why := Skipped(s, s[3])
	for _, w := range []string{s[0] + " (not a directory)", s[1] + " (a symlink)", s[2] + " (mode 0755, not 0700)"} {
		if !strings.Contains(why, w) {
			t.Errorf("Skipped says %q, not %q", why, w)
		}
	}
}

// An entry of ours stays the one used when a squatter takes away the name
// before it: no rank then makes a new one there.
func TestOursStaysUsed(t *testing.T) {
	s := series(t)
	os.WriteFile(s[0], nil, 0o600)
	if dir, _ := Ensure(s); dir != s[1] {
		t.Fatalf("Ensure %q", dir)
	}
	os.Remove(s[0])
	if dir, err := Ensure(s); dir != s[1] || err != nil {
		t.Fatalf("after the squat went: %q %v", dir, err)
	}
	if _, err := os.Lstat(s[0]); !os.IsNotExist(err) {
		t.Fatal("Ensure made the first name while an entry of ours existed")
	}
}

func TestAllTaken(t *testing.T) {
	s := series(t)
	for _, d := range s {
		os.WriteFile(d, nil, 0o600)
	}
	_, err := Ensure(s)
	var taken *TakenError
	if !errors.As(err, &taken) || !strings.Contains(err.Error(), s[0]+" to "+s[7]) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("got %v", err)
	}
	if _, _, err := Preview(s); !errors.As(err, &taken) {
		t.Fatalf("Preview: %v", err)
	}
	if _, err := LockAll(s); !errors.As(err, &taken) {
		t.Fatalf("LockAll: %v", err)
	}
}

// Two electors always share a lock, even when an earlier entry became
// ours while the first held its set: the second waits, then sees the new
// entry first.
func TestLockAllSerialises(t *testing.T) {
	s := series(t)
	os.WriteFile(s[0], nil, 0o600)
	a, err := LockAll(s)
	if err != nil || a.Dir != s[1] {
		t.Fatalf("LockAll %+v %v", a, err)
	}
	os.Remove(s[0])
	os.Mkdir(s[0], 0o700) // another rank made it meanwhile
	got := make(chan *Locked)
	go func() {
		b, err := LockAll(s)
		if err != nil {
			t.Error(err)
		}
		got <- b
	}()
	select {
	case <-got:
		t.Fatal("a second elector got its locks while the first held them")
	case <-time.After(100 * time.Millisecond):
	}
	a.Unlock()
	b := <-got
	if b == nil || b.Dir != s[0] || len(b.fds) != 2 {
		t.Fatalf("second elector %+v", b)
	}
	b.Unlock()
}

// A lock on a directory removed while we waited for it is refused.
func TestLockRemovedWhileWaiting(t *testing.T) {
	s := series(t)
	os.Mkdir(s[0], 0o700)
	fd, err := Lock(s[0])
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		fd, err := Lock(s[0])
		if err == nil {
			defer closeFd(fd)
		}
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	os.Remove(s[0])
	closeFd(fd)
	if err := <-done; err == nil || !strings.Contains(err.Error(), "changed while we waited") {
		t.Fatalf("got %v", err)
	}
}

func closeFd(fd int) { (&Locked{fds: []int{fd}}).Unlock() }
