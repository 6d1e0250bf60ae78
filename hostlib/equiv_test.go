package hostlib

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
	"github.com/mpiwrap/mpiwrap/hostlib/ldcache"
	"github.com/mpiwrap/mpiwrap/hostlib/profile"
	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

// equivTree is a temporary image root with an injected directory laid
// out as the runtime would, plus both caches: ours and ldconfig's.
type equivTree struct {
	root, ma          string
	res               *profile.Resolution
	ours              *ldcache.Cache
	oursFile, refFile string
}

// buildEquivTree makes a merged-/usr image with its own copies of some
// injected sonames (one also in a glibc-hwcaps subdirectory), runs
// ldconfig on it, injects host libraries, then builds our merged cache
// and ldconfig's cache over the generated ld.so.conf.
func buildEquivTree(t *testing.T) *equivTree {
	ma := elfdeps.DetectMultiarch("/", nil)
	testreq.Require(t, ma != "", "a multiarch host")
	root := t.TempDir()
	lib := filepath.Join(root, "usr/lib", ma)
	symlink(t, "usr/lib", filepath.Join(root, "lib"))
	mkdirs(t, filepath.Join(root, "var/cache/ldconfig"), filepath.Join(root, "usr/local/lib"))
	for _, so := range []string{"libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2", "libz.so.1", "libnuma.so.1"} {
		copyFile(t, hostReal(t, so), filepath.Join(lib, filepath.Base(hostReal(t, so))))
	}
	copyFile(t, hostReal(t, "ld-linux-x86-64.so.2"), filepath.Join(root, "lib64/ld-linux-x86-64.so.2"))
	copyFile(t, hostReal(t, "libnuma.so.1"), filepath.Join(lib, "glibc-hwcaps/x86-64-v2/libnuma.so.1"))
	copyFile(t, hostReal(t, "libnl-3.so.200"), filepath.Join(root, "opt/app/lib/libnl-3.so.200"))
	writeFile(t, filepath.Join(root, "etc/ld.so.conf"), "include /etc/ld.so.conf.d/*.conf\n")
	writeFile(t, filepath.Join(root, "etc/ld.so.conf.d/libc.conf"), "# libc default configuration\n/usr/local/lib\n")
	writeFile(t, filepath.Join(root, "etc/ld.so.conf.d/"+ma+".conf"), "/usr/local/lib/"+ma+"\n/lib/"+ma+"\n/usr/lib/"+ma+"\n")
	writeFile(t, filepath.Join(root, "etc/ld.so.conf.d/zz-app.conf"), "  /opt/app/lib/  # the app's own libraries\nhwcap 0 nosegneg\n")
	ldconfig(t, "-r", root) // the image's own cache, with symlinks

	p := parseProfile(t, "inj", `
[[library]]
names = ["libnuma.so.1", "libnl-route-3.so.200", "/usr/lib/`+ma+`/libnuma.so"]
`)
	res := resolveOnHost(t, p)
	layInjection(t, root, res)

	image, err := ldcache.ParseFile(filepath.Join(root, "etc/ld.so.cache"))
	if err != nil {
		t.Fatal(err)
	}
	injected, err := InjectedEntries(res, "/")
	if err != nil {
		t.Fatal(err)
	}
	ours, data, err := MergedCache(injected, image, "")
	if err != nil {
		t.Fatal(err)
	}
	tr := &equivTree{root: root, ma: ma, res: res, ours: ours, oursFile: "/etc/ld.so.cache.ours", refFile: "/etc/ld.so.cache.ref"}
	writeFile(t, filepath.Join(root, tr.oursFile), string(data))
	dirs, err := ReadLdSoConf(elfdeps.Root(root), "/etc/ld.so.conf")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "etc/ld.so.conf.mpiwrap"), string(GenerateLdSoConf(res.InjectDir, dirs)))
	ldconfig(t, "-X", "-r", root, "-f", "/etc/ld.so.conf.mpiwrap", "-C", tr.refFile)
	if tr.refCache(t); len(injected) == 0 {
		t.Fatal("no injected entries")
	}
	return tr
}

func (tr *equivTree) refCache(t *testing.T) *ldcache.Cache {
	t.Helper()
	c, err := ldcache.ParseFile(filepath.Join(tr.root, tr.refFile))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// shadowed reports whether ldconfig's entry e is one our merge drops: an
// image entry with the key and flags of an injected one.
func (tr *equivTree) shadowed(e ldcache.Entry) bool {
	if strings.HasPrefix(e.Value, tr.res.InjectDir+"/") {
		return false
	}
	return slices.ContainsFunc(tr.ours.Entries, func(o ldcache.Entry) bool {
		return o.Key == e.Key && o.Flags == e.Flags && strings.HasPrefix(o.Value, tr.res.InjectDir+"/")
	})
}

// TestCacheMatchesLdconfig: our merged cache must equal what ldconfig
// writes for the generated ld.so.conf, except for image entries the
// injection shadows, and must answer every lookup the same way.
func TestCacheMatchesLdconfig(t *testing.T) {
	tr := buildEquivTree(t)
	ref := tr.refCache(t)
	var want []ldcache.Entry
	for _, e := range ref.Entries {
		if !tr.shadowed(e) {
			want = append(want, e)
		}
	}
	if !slices.Equal(tr.ours.Entries, want) {
		t.Fatalf("entries differ from ldconfig's\n got: %v\nwant: %v", tr.ours.Entries, want)
	}
	if len(want) == len(ref.Entries) {
		t.Fatal("the test tree shadows nothing; it should shadow the image's libnuma.so.1")
	}
	keys := map[string]bool{}
	for _, e := range append(slices.Clone(ref.Entries), tr.ours.Entries...) {
		keys[e.Key] = true
	}
	keys["libmissing.so.1"] = true
	opt := ldcache.LookupOptions{Flags: elfdeps.NativeCacheFlags()}
	for k := range keys {
		g, gok := tr.ours.Lookup(k, opt)
		w, wok := ref.Lookup(k, opt)
		if g.Value != w.Value || gok != wok {
			t.Errorf("lookup %s: ours %q, ldconfig's %q", k, g.Value, w.Value)
		}
	}
	for _, name := range []string{"libnuma.so.1", "libnuma.so", "libnl-route-3.so.200", "libnl-3.so.200"} {
		want := tr.res.InjectDir + "/" + name
		if e, _ := tr.ours.Lookup(name, opt); e.Value != want {
			t.Errorf("lookup %s = %q, want %q", name, e.Value, want)
		}
	}
	hw := opt
	hw.HWCaps = []string{"x86-64-v2"}
	if e, _ := tr.ours.Lookup("libnuma.so.1", hw); e.Value != tr.res.InjectDir+"/libnuma.so.1" {
		t.Errorf("with x86-64-v2, ours gives %q; the image's hwcaps copy must be shadowed", e.Value)
	}
	if e, _ := ref.Lookup("libnuma.so.1", hw); e.HWCapsSubdir != "x86-64-v2" {
		t.Errorf("ldconfig's cache gives %+v with x86-64-v2; the test expects its hwcaps entry", e)
	}
}

// TestCacheListingMatchesLdconfig compares `ldconfig -p` of both files.
func TestCacheListingMatchesLdconfig(t *testing.T) {
	tr := buildEquivTree(t)
	ours := ldconfig(t, "-p", "-C", filepath.Join(tr.root, tr.oursFile))
	ref := ldconfig(t, "-p", "-C", filepath.Join(tr.root, tr.refFile))
	var want []string
	refCache := tr.refCache(t)
	lines := strings.Split(strings.TrimSpace(string(ref)), "\n")
	for i, e := range refCache.Entries {
		if !tr.shadowed(e) {
			want = append(want, lines[i+1])
		}
	}
	got := strings.Split(strings.TrimSpace(string(ours)), "\n")
	got = got[1 : len(got)-1] // count line and generator line
	if !slices.Equal(got, want) {
		t.Fatalf("ldconfig -p listings differ\n got: %q\nwant: %q", got, want)
	}
	if !bytes.HasSuffix(bytes.TrimSpace(ours), []byte("Cache generated by: "+ldcache.DefaultGenerator)) {
		t.Errorf("generator line missing:\n%s", ours)
	}
}

// TestLdSoUsesMergedCache runs the real dynamic loader in a chroot of
// the test tree, once with each cache: both must load the injected
// libraries, and agree on everything except the image's glibc-hwcaps
// copy that our cache shadows.
func TestLdSoUsesMergedCache(t *testing.T) {
	testreq.Require(t, os.Geteuid() == 0, "root (for chroot)")
	cc, err := exec.LookPath("cc")
	testreq.Require(t, err == nil, "a C compiler (cc)")
	tr := buildEquivTree(t)
	src := filepath.Join(t.TempDir(), "probe.c")
	writeFile(t, src, "int numa_available(void); void *rtnl_link_alloc(void); int main(void){return numa_available() + (rtnl_link_alloc() != 0);}\n")
	probe := filepath.Join(tr.root, "usr/bin/probe")
	mkdirs(t, filepath.Dir(probe))
	if b, err := exec.Command(cc, "-o", probe, src, "-lnuma", "-lnl-route-3", "-lnl-3").CombinedOutput(); err != nil {
		testreq.Require(t, false, "libnuma and libnl-route-3 development files: "+string(b))
	}
	loads := func(cache string) map[string]string {
		data, err := os.ReadFile(filepath.Join(tr.root, cache))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(tr.root, "etc/ld.so.cache"), string(data))
		out, err := exec.Command("chroot", tr.root, "/lib64/ld-linux-x86-64.so.2", "--list", "/usr/bin/probe").CombinedOutput()
		if err != nil {
			t.Fatalf("ld.so --list in chroot: %v\n%s", err, out)
		}
		m := map[string]string{}
		for _, line := range strings.Split(string(out), "\n") {
			if name, rest, ok := strings.Cut(strings.TrimSpace(line), " => "); ok {
				m[name] = strings.Fields(rest)[0]
			}
		}
		return m
	}
	ours, ref := loads(tr.oursFile), loads(tr.refFile)
	inj := tr.res.InjectDir
	for _, name := range []string{"libnuma.so.1", "libnl-route-3.so.200", "libnl-3.so.200"} {
		if ours[name] != inj+"/"+name {
			t.Errorf("ld.so with our cache loads %s from %q, want %s/%s", name, ours[name], inj, name)
		}
	}
	for name, p := range ref {
		if name != "libnuma.so.1" && ours[name] != p {
			t.Errorf("%s: ours %q, ldconfig's %q", name, ours[name], p)
		}
	}
	if strings.Contains(ref["libnuma.so.1"], "glibc-hwcaps") {
		t.Logf("ldconfig's cache picks the image's hwcaps copy %s; ours the injected one", ref["libnuma.so.1"])
	}
}
