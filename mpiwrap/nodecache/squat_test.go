package nodecache

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Another user's file, symlink or directory at the cache's name does not
// stop a run: the cache is the next name of the series, and lookups find
// it there.
func TestCacheSkipsSquats(t *testing.T) {
	for name, squat := range map[string]func(string) error{
		"file":      func(p string) error { return os.WriteFile(p, nil, 0o600) },
		"symlink":   func(p string) error { return os.Symlink(t.TempDir(), p) },
		"open dir":  func(p string) error { os.Mkdir(p, 0o700); return os.Chmod(p, 0o755) },
		"dangling":  func(p string) error { return os.Symlink("/nonexistent/mpiwrap", p) },
		"two names": func(p string) error { os.WriteFile(p, nil, 0o600); return os.Symlink("/", p+".1") },
	} {
		t.Run(name, func(t *testing.T) {
			dir := fakeRoot(t)
			if err := squat(dir); err != nil {
				t.Fatal(err)
			}
			want := dir + ".1"
			if name == "two names" {
				want = dir + ".2"
			}
			if got, why := Describe(); got != want || !strings.Contains(why, "skipped "+dir+" (") || !strings.Contains(why, "not made yet") {
				t.Fatalf("Describe %q %q, want %s", got, why, want)
			}
			e, err := LdCacheEntry("k")
			if err != nil || e.Dir != filepath.Join(want, "ldcache", "k") {
				t.Fatalf("entry %+v %v", e, err)
			}
			if _, built, err := EnsureLdCache(e, files, BuildLog{Image: "/img"}); err != nil || !built {
				t.Fatalf("build: %v %v", built, err)
			}
			if again, err := LdCacheEntry("k"); err != nil || again.Report == nil || Root() != want {
				t.Fatalf("lookup after the build %+v %v (root %s)", again, err, Root())
			}
			if got, why := Describe(); got != want || strings.Contains(why, "not made") {
				t.Fatalf("Describe after the build %q %q", got, why)
			}
		})
	}
}

// When every name is taken, planning says so in one line, and what to do.
func TestCacheAllTaken(t *testing.T) {
	dir := fakeRoot(t)
	for _, d := range dirs() {
		os.WriteFile(d, nil, 0o600)
	}
	_, err := LdCacheEntry("k")
	if err == nil || !strings.Contains(err.Error(), dir+" to "+dir+".7") || !strings.Contains(err.Error(), "ask the node's admin") {
		t.Fatalf("got %v", err)
	}
	if _, err := create(""); err == nil {
		t.Fatal("create made a cache with every name taken")
	}
}

// A name taken between planning and the build: nothing is built where the
// plan does not bind from, and the error says to plan again (the runtime
// does, once), which finds the cache made under the next name.
func TestCacheTakenSincePlanning(t *testing.T) {
	dir := fakeRoot(t)
	e, err := LdCacheEntry("k")
	if err != nil || filepath.Dir(filepath.Dir(e.Dir)) != dir {
		t.Fatalf("entry %+v %v", e, err)
	}
	os.WriteFile(dir, nil, 0o600)
	if _, _, _, err := UseLdCache(e, files, BuildLog{Image: "/img"}); !errors.Is(err, ErrMoved) {
		t.Fatalf("got %v", err)
	}
	if e, err = LdCacheEntry("k"); err != nil || filepath.Dir(filepath.Dir(e.Dir)) != dir+".1" {
		t.Fatalf("planned again: %+v %v", e, err)
	}
	if _, built, h, err := UseLdCache(e, files, BuildLog{Image: "/img"}); err != nil || !built {
		t.Fatalf("built %v %v", built, err)
	} else {
		h.Release()
	}
}
