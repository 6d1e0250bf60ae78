package plan

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mpiwrap/mpiwrap/hostlib/abi"
	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
	"github.com/mpiwrap/mpiwrap/hostlib/ldcache"
	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

// gcc compiles testdata/src into out with -nostdlib: the objects are read
// by the tests, never loaded. Without gcc the test skips (testreq).
func gcc(t *testing.T, out, src string, args ...string) {
	t.Helper()
	_, err := exec.LookPath("gcc")
	testreq.Require(t, err == nil, "gcc is not installed")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	args = append([]string{"-nostdlib", "-fPIC", "-o", out, filepath.Join("testdata", src)}, args...)
	if b, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %q: %v\n%s", args, err, b)
	}
}

// linkFlags makes out need each library (a path on this machine) by its
// soname, and lets the linker find what those need in turn.
func linkFlags(needs []string) []string {
	args := []string{"-Wl,--no-as-needed"}
	for _, n := range needs {
		args = append(args, "-L"+filepath.Dir(n), "-Wl,-rpath-link,"+filepath.Dir(n), "-l:"+filepath.Base(n))
	}
	return args
}

// fakeLib compiles a shared library with soname ("" for none) that needs
// the libraries needs.
func fakeLib(t *testing.T, out, soname string, needs ...string) string {
	t.Helper()
	args := []string{"-shared"}
	if soname != "" {
		args = append(args, "-Wl,-soname,"+soname)
	}
	gcc(t, out, "fakelib.c", append(args, linkFlags(needs)...)...)
	return out
}

// fakeProg compiles a program that needs the libraries needs, with
// RUNPATH runpath (a directory inside the image) unless it is "".
func fakeProg(t *testing.T, out, runpath string, needs ...string) string {
	t.Helper()
	args := linkFlags(needs)
	if runpath != "" {
		args = append(args, "-Wl,-rpath,"+runpath)
	}
	gcc(t, out, "fakeprog.c", args...)
	return out
}

// writeLdCache writes root's /etc/ld.so.cache mapping sonames to paths
// inside root; no entries removes the file.
func writeLdCache(t *testing.T, root string, entries map[string]string) {
	t.Helper()
	file := filepath.Join(root, "etc/ld.so.cache")
	if len(entries) == 0 {
		if err := os.Remove(file); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return
	}
	c := &ldcache.Cache{}
	for k, v := range entries {
		c.Entries = append(c.Entries, ldcache.Entry{Key: k, Value: v, Flags: elfdeps.NativeCacheFlags()})
	}
	ldcache.Sort(c.Entries)
	data, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeNodeCache is a node cache under dir whose entries are built when
// report is set; it records the keys looked up and writes nothing.
type fakeNodeCache struct {
	dir    string
	report *abi.Report
	err    error
	keys   []string
}

func (c *fakeNodeCache) LdCacheEntry(key string) (LdCacheEntry, error) {
	c.keys = append(c.keys, key)
	d := filepath.Join(c.dir, "ldcache", key)
	return LdCacheEntry{Dir: d, Conf: d + "/ld.so.conf", Cache: d + "/ld.so.cache", Report: c.report}, c.err
}

// treeState lists every path under root with its mode and mtime, to check
// that planning wrote nothing there.
func treeState(t *testing.T, root string) map[string]string {
	t.Helper()
	state := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		state[p] = fi.Mode().String() + " " + fi.ModTime().String()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return state
}
