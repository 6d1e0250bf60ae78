package elfdeps

import (
	"bufio"
	"bytes"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

func hostResolver(t *testing.T) *Resolver {
	t.Helper()
	r, err := NewResolver("/")
	if err != nil {
		t.Fatal(err)
	}
	testreq.Require(t, r.Cache != nil, "a host /etc/ld.so.cache")
	return r
}

// hostLib finds a library through the host cache, skipping without it.
func hostLib(t *testing.T, r *Resolver, soname string) string {
	t.Helper()
	o, err := r.Lookup(soname, nil)
	testreq.Require(t, err == nil, "host library "+soname)
	return o.Path
}

// lddMap runs ldd and returns name => path, without the vDSO and the
// dynamic loader, which ld.so provides itself.
func lddMap(t *testing.T, path string) map[string]string {
	t.Helper()
	cmd := exec.Command("ldd", path)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"} // no LD_LIBRARY_PATH
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ldd %s: %v", path, err)
	}
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		name, rest, ok := strings.Cut(strings.TrimSpace(sc.Text()), " => ")
		if !ok || strings.HasPrefix(name, "ld-linux") {
			continue
		}
		m[name] = strings.Fields(rest)[0]
	}
	return m
}

func closureMap(g *Graph) map[string]string {
	m := map[string]string{}
	for _, n := range g.Nodes {
		for _, name := range n.Names {
			if !strings.HasPrefix(name, "ld-linux") {
				m[name] = n.Path
			}
		}
	}
	return m
}

// TestClosureMatchesLdd compares our closure of real host libraries,
// with nothing excluded, to what ldd (that is, ld.so) loads.
func TestClosureMatchesLdd(t *testing.T) {
	r := hostResolver(t)
	for _, soname := range []string{"libmpich.so.12", "libibverbs.so.1", "libucp.so.0", "libfabric.so.1", "libmpi.so.40"} {
		t.Run(soname, func(t *testing.T) {
			path := hostLib(t, r, soname)
			g, err := r.Closure(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(g.Missing) > 0 {
				t.Fatalf("unresolved: %+v", g.Missing)
			}
			got, want := closureMap(g), lddMap(t, path)
			if !maps.Equal(got, want) {
				t.Fatalf("closure differs from ldd\n got: %v\nwant: %v", got, want)
			}
		})
	}
}

func TestClosureExcludesLibcFamily(t *testing.T) {
	r := hostResolver(t)
	r.Exclude = DefaultExclude
	g, err := r.Closure(hostLib(t, r, "libmpich.so.12"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range g.Nodes {
		if DefaultExclude(n.Name()) {
			t.Errorf("closure contains excluded %s", n.Path)
		}
	}
	for _, want := range []string{"libc.so.6", "libm.so.6"} {
		if !slices.Contains(g.Excluded, want) {
			t.Errorf("Excluded = %v, want it to list %s", g.Excluded, want)
		}
	}
	if !slices.ContainsFunc(g.Nodes, func(n *Node) bool { return n.Soname == "libucp.so.0" }) {
		t.Error("closure of libmpich lacks libucp.so.0")
	}
}

// TestSearchOrder builds objects with RPATH, RUNPATH and $ORIGIN and
// checks the closure against ldd: an executable's RPATH serves its
// dependencies' dependencies, RUNPATH disables RPATH, and RUNPATH wins
// over a copy in the executable's RPATH.
func TestSearchOrder(t *testing.T) {
	cc, err := exec.LookPath("cc")
	testreq.Require(t, err == nil, "a C compiler (cc)")
	dir := t.TempDir()
	build := func(out, src string, args ...string) {
		t.Helper()
		c := filepath.Join(dir, "src.c")
		if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		all := append([]string{"-Wl,--no-as-needed", "-o", filepath.Join(dir, out), c}, args...)
		if b, err := exec.Command(cc, all...).CombinedOutput(); err != nil {
			t.Fatalf("cc %v: %v\n%s", all, err, b)
		}
	}
	for _, d := range []string{"other", "sub"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	lib := func(out, soname, fn string, args ...string) {
		build(out, "int "+fn+"(void){return 1;}", append([]string{"-shared", "-fPIC", "-Wl,-soname," + soname}, args...)...)
	}
	lib("other/libx.so.1", "libx.so.1", "x")
	lib("other/liby.so.1", "liby.so.1", "y")
	lib("sub/liby.so.1", "liby.so.1", "y")
	lib("other/libd.so.1", "libd.so.1", "d", "-L"+dir+"/other", "-l:libx.so.1")
	lib("other/libe.so.1", "libe.so.1", "e", "-L"+dir+"/sub", "-l:liby.so.1", "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../sub")
	build("prog", "int d(void); int e(void); int main(void){return d()+e();}",
		"-L"+dir+"/other", "-l:libd.so.1", "-l:libe.so.1", "-Wl,--disable-new-dtags,-rpath,$ORIGIN/other")
	r := hostResolver(t)
	g, err := r.Closure(filepath.Join(dir, "prog"))
	if err != nil {
		t.Fatal(err)
	}
	got, want := closureMap(g), lddMap(t, filepath.Join(dir, "prog"))
	if !maps.Equal(got, want) {
		t.Fatalf("closure differs from ldd\n got: %v\nwant: %v", got, want)
	}
	if filepath.Clean(got["liby.so.1"]) != filepath.Join(dir, "sub/liby.so.1") || got["libx.so.1"] != filepath.Join(dir, "other/libx.so.1") {
		t.Fatalf("unexpected resolution %v", got)
	}
}
