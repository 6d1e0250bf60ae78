package plan

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/hostlib/abi"
	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
	"github.com/mpiwrap/mpiwrap/hostlib/ldcache"
	"github.com/mpiwrap/mpiwrap/hostlib/profile"
)

// hostStack is a fake host MPI stack and the profile that injects it.
type hostStack struct {
	dir     string // the stack's host directory (outside /tmp: see dirOutsideTmp)
	profile string // the profile file, fakempi.toml in dir
}

// fakeHostStack compiles the stack's libraries and writes its profile:
// an MPICH library (named by absolute path, injected under its soname), a
// plugin in a plugin directory, a library bound into a system directory,
// a file, a directory, a device the /dev bind already shows and an
// environment edit.
func fakeHostStack(t *testing.T, extra string) hostStack {
	t.Helper()
	dir := dirOutsideTmp(t)
	fakeLib(t, filepath.Join(dir, "lib/libmpich.so.12.1.0"), "libmpich.so.12")
	fakeLib(t, filepath.Join(dir, "plugins/libfake-rdmav34.so"), "")
	fakeLib(t, filepath.Join(dir, "lib64/libfakesys.so.1"), "libfakesys.so.1")
	if err := os.MkdirAll(filepath.Join(dir, "etc/fake.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc/fake.conf"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	profile := filepath.Join(dir, "fakempi.toml")
	toml := strings.ReplaceAll(`description = "fake host MPICH for the plan tests"
abi = "mpich"

[[library]]
name = "@STACK@/lib/libmpich.so.12.1.0"

[[library]]
name = "@STACK@/plugins/libfake-rdmav34.so"
dest = "/usr/lib/fake-plugins"

[[library]]
name = "@STACK@/lib64/libfakesys.so.1"
dest = "/usr/lib64"

[[file]]
path = "@STACK@/etc/fake.conf"
dest = "/etc/fake.conf"

[[file]]
path = "@STACK@/etc/fake.d"
dest = "/etc/fake.d"

[[device]]
path = "/dev/null"

[[env]]
op = "set"
name = "FAKE_MPI_DIR"
value = "{injectdir}"
`, "@STACK@", dir) + extra
	if err := os.WriteFile(profile, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	return hostStack{dir: dir, profile: profile}
}

func (s hostStack) spec(img string, cmd ...string) *Spec {
	return &Spec{Image: img, Command: cmd, ProfileFiles: []string{s.profile}, Profiles: []string{"fakempi"},
		NoCwd: true, NoHome: true}
}

// injectHost is the test host with a fake node cache in a fresh directory.
func injectHost(t *testing.T, env ...string) (*Host, *fakeNodeCache) {
	t.Helper()
	cache := &fakeNodeCache{dir: t.TempDir()}
	h := testHost("/nonexistent", "/")
	h.Env = append(h.Env, env...)
	h.NodeCache = cache
	return h, cache
}

// mountsAt returns the plan's mounts at dst.
func mountsAt(p *Plan, dst string) []Mount {
	var out []Mount
	for _, m := range p.Mounts {
		if m.Dst == dst {
			out = append(out, m)
		}
	}
	return out
}

// oneMount is the plan's only mount at dst.
func oneMount(t *testing.T, p *Plan, dst string) Mount {
	t.Helper()
	ms := mountsAt(p, dst)
	if len(ms) != 1 {
		t.Fatalf("%d mounts at %s, want 1: %+v", len(ms), dst, ms)
	}
	return ms[0]
}

func TestPlanInjectMounts(t *testing.T) {
	stack := fakeHostStack(t, "")
	img := testImage(t)
	h, cache := injectHost(t)
	before := []map[string]string{treeState(t, img), treeState(t, cache.dir), treeState(t, stack.dir)}
	p, err := New(stack.spec(img, "sh"), h)
	if err != nil {
		t.Fatal(err)
	}
	for i, root := range []string{img, cache.dir, stack.dir} {
		if after := treeState(t, root); !maps.Equal(before[i], after) {
			t.Errorf("planning changed %s:\nbefore %v\nafter  %v", root, before[i], after)
		}
	}
	if entries, _ := os.ReadDir(cache.dir); len(entries) != 0 {
		t.Errorf("planning wrote %v into the node cache", entries)
	}
	in := p.Inject
	if in == nil || !slices.Equal(in.Profiles, []string{"fakempi"}) {
		t.Fatalf("injection %+v, want profile fakempi", in)
	}
	host := func(rel string) string { return filepath.Join(stack.dir, rel) }

	farm := oneMount(t, p, InjectRoot)
	if !farm.Dir || !farm.ReadOnly || !farm.NoSuidDev || farm.Farm == nil || farm.Farm.Stage != "inject" {
		t.Fatalf("inject root mount %+v: want a read-only, nosuid, nodev farm staged in inject", farm)
	}
	wantLinks := [][2]string{
		{"lib/libmpich.so.12", HostView + host("lib/libmpich.so.12.1.0")},
		{"lib/libmpich.so.12.1.0", "libmpich.so.12"},
	}
	if !slices.Equal(farm.Farm.Links, wantLinks) {
		t.Errorf("farm links %q\nwant       %q", farm.Farm.Links, wantLinks)
	}
	for i, d := range farm.Farm.Dirs {
		if parent := path.Dir(d); parent != "." && !slices.Contains(farm.Farm.Dirs[:i], parent) {
			t.Errorf("farm directory %s comes before its parent %s: %q", d, parent, farm.Farm.Dirs)
		}
	}
	for _, d := range []string{"cache", "lib", "host", strings.TrimPrefix(HostView, InjectRoot+"/") + host("lib")} {
		if !slices.Contains(farm.Farm.Dirs, d) {
			t.Errorf("farm directories %q lack %s", farm.Farm.Dirs, d)
		}
	}

	// Every host directory holding an injected file is bound read-only,
	// nosuid, nodev, not recursively, below HostView.
	for _, d := range []string{"etc", "etc/fake.d", "lib", "lib64", "plugins"} {
		m := oneMount(t, p, HostView+host(d))
		if m.Src != host(d) || !m.Dir || !m.ReadOnly || !m.NoSuidDev || m.Recursive {
			t.Errorf("host directory bind %+v: want %s read-only, nosuid, nodev", m, host(d))
		}
	}

	plugins := oneMount(t, p, "/usr/lib/fake-plugins")
	if plugins.Farm == nil || plugins.Farm.Stage != "plugins0" || !plugins.ReadOnly || !plugins.NoSuidDev ||
		!slices.Equal(plugins.Farm.Links, [][2]string{{"libfake-rdmav34.so", HostView + host("plugins/libfake-rdmav34.so")}}) {
		t.Errorf("plugin directory %+v (farm %+v): want one link into the host view", plugins, plugins.Farm)
	}
	for dst, src := range map[string]string{
		"/usr/lib64/libfakesys.so.1": host("lib64/libfakesys.so.1"), // a system directory: the file alone
		"/etc/fake.conf":             host("etc/fake.conf"),
		"/etc/fake.d":                host("etc/fake.d"),
	} {
		m := oneMount(t, p, dst)
		if m.Src != src || m.Farm != nil || !m.ReadOnly || !m.NoSuidDev || m.Dir != strings.HasSuffix(dst, ".d") {
			t.Errorf("bind %+v: want %s read-only, nosuid, nodev", m, src)
		}
	}
	if ms := mountsAt(p, "/dev/null"); len(ms) != 0 || !slices.Contains(p.Notes, "device /dev/null (profile fakempi) is visible through the /dev bind") {
		t.Errorf("/dev/null: mounts %+v, notes %q: want only a note", ms, p.Notes)
	}
	if v, _ := p.Env.Get("FAKE_MPI_DIR"); v != "/.mpiwrap/lib" {
		t.Errorf("FAKE_MPI_DIR=%q, want the profile's {injectdir}", v)
	}

	// The ld.so files come from the node cache entry, to be built.
	if !slices.Equal(cache.keys, []string{in.Key}) || in.Key == "" {
		t.Fatalf("node cache looked up %q, plan key %q", cache.keys, in.Key)
	}
	entry := filepath.Join(cache.dir, "ldcache", in.Key)
	if in.LdCache != LdCacheMissing || in.CacheDir != entry || in.Report != nil {
		t.Errorf("ld cache %s in %s (report %v), want %s in %s", in.LdCache, in.CacheDir, in.Report, LdCacheMissing, entry)
	}
	conf, ldc := in.HostFiles()
	for dst, src := range map[string]string{"/etc/ld.so.conf": entry + "/ld.so.conf", "/etc/ld.so.cache": entry + "/ld.so.cache"} {
		m := oneMount(t, p, dst)
		if m.Src != src || !m.ReadOnly || !m.NoSuidDev || m.Why != "injected stacks first, from the node cache" {
			t.Errorf("bind %+v: want %s read-only, nosuid, nodev", m, src)
		}
	}
	if conf != entry+"/ld.so.conf" || ldc != entry+"/ld.so.cache" {
		t.Errorf("HostFiles %s, %s", conf, ldc)
	}
	if !slices.Equal(in.Binaries, []string{"/bin/sh"}) {
		t.Errorf("binaries %q: want the command found in the image's PATH", in.Binaries)
	}
	if err := in.Refused(); err != nil {
		t.Errorf("Refused() = %v before any verdict", err)
	}
}

// The cache key names the image, the profiles and the command in the
// image: the same inputs find the same entry, other ones another.
func TestPlanInjectKey(t *testing.T) {
	stack := fakeHostStack(t, "")
	img := testImage(t)
	key := func(cmd string) string {
		t.Helper()
		h, _ := injectHost(t)
		p, err := New(stack.spec(img, cmd), h)
		if err != nil {
			t.Fatal(err)
		}
		return p.Inject.Key
	}
	k := key("sh")
	if again := key("sh"); again != k {
		t.Errorf("same plan, keys %s and %s", k, again)
	}
	if notInImage, other := key("true"), key("/opt/not-there"); notInImage != other || notInImage == k {
		t.Errorf("commands outside the image: keys %s and %s (the image's sh: %s)", notInImage, other, k)
	}
	writeLdCache(t, img, map[string]string{"libfoo.so.1": "/usr/lib/libfoo.so.1"})
	if changed := key("sh"); changed == k {
		t.Error("a new ld.so.cache in the image kept the key")
	}
}

func TestPlanInjectLdCacheStates(t *testing.T) {
	stack := fakeHostStack(t, "")
	warn := &abi.Report{MPI: []abi.MPIResult{{Verdict: abi.Warn, Message: "host MPICH 4.1 is newer than the image's 4.0"}}}
	refuse := &abi.Report{Base: abi.BaseResult{Verdict: abi.Refuse, Messages: []string{"image glibc is too old"}}}

	t.Run("reused", func(t *testing.T) {
		h, cache := injectHost(t)
		cache.report = warn
		p, err := New(stack.spec(testImage(t), "true"), h)
		if err != nil {
			t.Fatal(err)
		}
		in := p.Inject
		if in.LdCache != LdCacheReused || in.Report != warn || !slices.Contains(p.Warnings, warn.MPI[0].Message) {
			t.Fatalf("state %s, report %v, warnings %q: want reused with the stored verdict", in.LdCache, in.Report, p.Warnings)
		}
		if m := oneMount(t, p, "/etc/ld.so.cache"); m.Src != filepath.Join(in.CacheDir, "ld.so.cache") || m.Why != "injected stacks first, from the node cache" {
			t.Errorf("ld.so.cache bind %+v", m)
		}
		p.RecordLdCache(LdCacheReused, warn, nil)
		if n := len(mountsAt(p, "/etc/ld.so.conf")); n != 1 {
			t.Errorf("%d ld.so.conf binds after recording a reused entry, want 1", n)
		}
		if err := p.PreviewLdCache(); err != nil || in.Built != nil {
			t.Errorf("PreviewLdCache of a reused entry: %v, built %v: want nothing done", err, in.Built)
		}
	})

	t.Run("refused", func(t *testing.T) {
		h, cache := injectHost(t)
		cache.report = refuse
		p, err := New(stack.spec(testImage(t), "true"), h)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Inject.Refused(); err == nil || err.Error() != "image glibc is too old" {
			t.Errorf("Refused() = %v, want the stored refusal", err)
		}
	})

	t.Run("missing, then built", func(t *testing.T) {
		h, cache := injectHost(t)
		p, err := New(stack.spec(testImage(t), "true"), h)
		if err != nil {
			t.Fatal(err)
		}
		n := len(p.Mounts)
		p.RecordLdCache(LdCacheBuilt, warn, nil)
		in := p.Inject
		if in.LdCache != LdCacheBuilt || in.Report != warn || len(p.Mounts) != n || !slices.Contains(p.Warnings, warn.MPI[0].Message) {
			t.Errorf("after recording a build: state %s, report %v, %d mounts (was %d), warnings %q", in.LdCache, in.Report, len(p.Mounts), n, p.Warnings)
		}
		if entries, _ := os.ReadDir(cache.dir); len(entries) != 0 {
			t.Errorf("the node cache holds %v", entries)
		}
	})

	t.Run("preview", func(t *testing.T) {
		h, cache := injectHost(t)
		p, err := New(stack.spec(testImage(t), "true"), h)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.PreviewLdCache(); err != nil {
			t.Fatal(err)
		}
		in := p.Inject
		if in.LdCache != LdCacheMissing || in.Built == nil || in.Report != &in.Built.ABI || in.Refused() != nil {
			t.Fatalf("after a preview: state %s, built %v, report %v: want still missing, with a verdict that allows", in.LdCache, in.Built, in.Report)
		}
		if !strings.HasPrefix(in.Built.LdSoConf, "# Written by mpiwrap") || !strings.Contains(in.Built.LdSoConf, "\n/.mpiwrap/lib\n") {
			t.Errorf("previewed ld.so.conf %q: want the inject directory first", in.Built.LdSoConf)
		}
		c, err := ldcache.Parse(in.Built.LdSoCache)
		if err != nil {
			t.Fatal(err)
		}
		if e, ok := c.Lookup("libmpich.so.12", ldcache.LookupOptions{Flags: elfdeps.NativeCacheFlags()}); !ok || e.Value != "/.mpiwrap/lib/libmpich.so.12" {
			t.Errorf("previewed ld.so.cache: libmpich.so.12 -> %q (%v), want the injected file", e.Value, ok)
		}
		if entries, _ := os.ReadDir(cache.dir); len(entries) != 0 {
			t.Errorf("a preview wrote %v into the node cache", entries)
		}
		// A broken image ld.so.cache makes the build fail, and says where.
		os.WriteFile(filepath.Join(p.Image.Path, "etc/ld.so.cache"), []byte("garbage"), 0o644)
		if _, err := p.BuildInjection(); err == nil || !strings.Contains(err.Error(), "inject profiles fakempi into "+p.Image.Path) {
			t.Errorf("BuildInjection with a broken image cache: %v", err)
		}
	})

	t.Run("squashfs pending", func(t *testing.T) {
		img := fakeSquashFS(t)
		h, cache := injectHost(t)
		p, err := New(stack.spec(img, "/opt/app/solver"), h)
		if err != nil {
			t.Fatal(err)
		}
		in := p.Inject
		if in.LdCache != LdCachePending || in.Binaries != nil || !p.Overlay {
			t.Fatalf("SquashFS: state %s, binaries %q, overlay %v: want pending, none, an overlay", in.LdCache, in.Binaries, p.Overlay)
		}
		view := oneMount(t, p, CacheView)
		if view.Src != filepath.Join(cache.dir, "ldcache") || !view.Dir || !view.ReadOnly || !view.NoSuidDev {
			t.Errorf("node cache bind %+v: want %s/ldcache read-only, nosuid, nodev", view, cache.dir)
		}
		if len(mountsAt(p, "/etc/ld.so.conf"))+len(mountsAt(p, "/etc/ld.so.cache")) != 0 {
			t.Error("a pending entry is bound before it is built")
		}
		if !slices.Equal(p.ExtraTargets, []string{"/etc/ld.so.conf", "/etc/ld.so.cache"}) {
			t.Errorf("extra targets %q", p.ExtraTargets)
		}
		conf, ldc := in.InsideFiles()
		if conf != CacheView+"/"+in.Key+"/ld.so.conf" || ldc != CacheView+"/"+in.Key+"/ld.so.cache" {
			t.Errorf("InsideFiles %s, %s", conf, ldc)
		}
		if err := p.PreviewLdCache(); err != nil || in.Built != nil {
			t.Errorf("PreviewLdCache of a pending entry: %v, built %v: want nothing done", err, in.Built)
		}
		p.RecordLdCache(LdCacheBuilt, &abi.Report{}, nil)
		if m := oneMount(t, p, "/etc/ld.so.conf"); in.LdCache != LdCacheBuilt || m.Src != filepath.Join(in.CacheDir, "ld.so.conf") || m.Why != "injected stacks first, from the node cache" {
			t.Errorf("after the build inside: state %s, bind %+v", in.LdCache, m)
		}
		if entries, _ := os.ReadDir(cache.dir); len(entries) != 0 {
			t.Errorf("the node cache holds %v", entries)
		}
	})
}

// fakeSquashFS is a file with the SquashFS magic, with a fake squashfuse
// first in PATH.
func fakeSquashFS(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	img := filepath.Join(dir, "image.sqfs")
	if err := os.WriteFile(img, []byte("hsqs and not much else"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	if err := os.WriteFile(filepath.Join(bin, "squashfuse_ll"), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(filepath.ListSeparator)+os.Getenv("PATH"))
	return img
}

func TestPlanInjectErrors(t *testing.T) {
	stack := fakeHostStack(t, "")
	missing := fakeHostStack(t, "\n[[library]]\nname = \"/nonexistent/libnothere.so.1\"\n")
	optional := fakeHostStack(t, "\n[[library]]\nname = \"/nonexistent/libnothere.so.1\"\nrequired = false\n")
	img := testImage(t)
	tests := []struct {
		name  string
		spec  *Spec
		cache NodeCache
		want  string
	}{
		{"no node cache", stack.spec(img, "true"), nil, "plan: no node cache to find the ld.so cache for profiles [fakempi] in"},
		{"node cache fails", stack.spec(img, "true"), &fakeNodeCache{dir: t.TempDir(), err: errors.New("node cache is not a directory of yours")}, "not a directory of yours"},
		{"missing required library", missing.spec(img, "true"), &fakeNodeCache{dir: t.TempDir()}, "resolve profiles: profile fakempi: library /nonexistent/libnothere.so.1: no such shared library file"},
		{"unknown profile", &Spec{Image: img, Command: []string{"true"}, Profiles: []string{"no-such-profile"}}, &fakeNodeCache{dir: t.TempDir()}, `select profile "no-such-profile": no such profile`},
		{"bad abi policy", func() *Spec { s := stack.spec(img, "true"); s.ABIPolicy = "lenient"; return s }(), &fakeNodeCache{dir: t.TempDir()}, "bad --abi-policy"},
		{"optional library missing", optional.spec(img, "true"), &fakeNodeCache{dir: t.TempDir()}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testHost("/nonexistent", "/")
			h.NodeCache = tt.cache
			p, err := New(tt.spec, h)
			if tt.want == "" {
				if err != nil || p.Inject == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestPlanInjectPolicyAndPMI(t *testing.T) {
	stack := fakeHostStack(t, "")
	h, _ := injectHost(t, "PMIX_NAMESPACE=ns", "PMIX_RANK=0", "PMIX_SERVER_URI41=x")
	spec := stack.spec(testImage(t), "true")
	spec.ABIPolicy, spec.PMI = "strict", PMIAuto
	p, err := New(spec, h)
	if err != nil {
		t.Fatal(err)
	}
	if abis := p.Inject.Resolution.ABI; len(abis) != 1 || abis[0].Policy != abi.Policy("strict") {
		t.Errorf("ABI specs %+v: want the profile's, with --abi-policy strict", abis)
	}
	want := MPIClient{Family: FamilyMPICH, Library: "libmpich.so.12", Why: "the host MPI injected by profiles fakempi"}
	if p.MPI != want || p.PMIMode != PMIProxy {
		t.Errorf("MPI %+v, PMI %s (%s): want the injected MPICH, proxied under PMIx", p.MPI, p.PMIMode, p.PMIWhy)
	}
}

// Known bug: Spec says the zero PMI mode means auto, and DecidePMI and
// RankEnv treat it so, but New looks for the container's MPI only when
// PMI is "auto": with "", a PMIx launcher and an MPICH without PMIx get
// passthrough, "which the container's  speaks".
func TestNewZeroPMIModeIsAuto(t *testing.T) {
	stack := fakeHostStack(t, "")
	h, _ := injectHost(t, "PMIX_NAMESPACE=ns", "PMIX_RANK=0", "PMIX_SERVER_URI41=x")
	p, err := New(stack.spec(testImage(t), "true"), h)
	if err != nil {
		t.Fatal(err)
	}
	if p.MPI.Family != FamilyMPICH || p.PMIMode != PMIProxy {
		t.Errorf("zero PMI mode: MPI %+v, PMI %s (%s): want what auto gives, the injected MPICH proxied", p.MPI, p.PMIMode, p.PMIWhy)
	}
}

func TestPluginFarms(t *testing.T) {
	const ma = "x86_64-linux-gnu"
	lib := func(dst string) Mount { return Mount{Src: "/host" + dst, Dst: dst, ReadOnly: true, NoSuidDev: true} }
	direct := []Mount{
		lib("/usr/lib/" + ma + "/libibverbs/libmlx5-rdmav34.so"),
		lib("/usr/lib/" + ma + "/libucx.so.0"), // a system directory
		lib("/opt/fabric/prov/libefa-fi.so"),
		lib("/usr/lib/" + ma + "/libibverbs/libefa-rdmav34.so"),
		lib("/usr/lib/" + ma + "/libibverbs/README"), // not a library
		lib("/etc/libibverbs.d/mlx5.driver"),
	}
	libs := map[string]string{}
	for _, m := range direct {
		if !strings.HasSuffix(m.Dst, "README") && !strings.HasSuffix(m.Dst, ".driver") {
			libs[m.Dst] = m.Src
		}
	}
	farms, rest := pluginFarms(direct, libs, ma)
	var got []string
	for _, f := range farms {
		if !f.Dir || !f.ReadOnly || !f.NoSuidDev || f.Farm == nil {
			t.Errorf("farm %+v: want a read-only, nosuid, nodev directory of links", f)
			continue
		}
		got = append(got, fmt.Sprintf("%s %s %q", f.Dst, f.Farm.Stage, f.Farm.Links))
	}
	want := []string{
		`/opt/fabric/prov plugins0 [["libefa-fi.so" "/.mpiwrap/host/host/opt/fabric/prov/libefa-fi.so"]]`,
		`/usr/lib/x86_64-linux-gnu/libibverbs plugins1 [["libmlx5-rdmav34.so" "/.mpiwrap/host/host/usr/lib/x86_64-linux-gnu/libibverbs/libmlx5-rdmav34.so"] ["libefa-rdmav34.so" "/.mpiwrap/host/host/usr/lib/x86_64-linux-gnu/libibverbs/libefa-rdmav34.so"]]`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("farms\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var restDst []string
	for _, m := range rest {
		restDst = append(restDst, m.Dst)
	}
	if wantRest := []string{"/usr/lib/" + ma + "/libucx.so.0", "/usr/lib/" + ma + "/libibverbs/README", "/etc/libibverbs.d/mlx5.driver"}; !slices.Equal(restDst, wantRest) {
		t.Errorf("bound one by one %q, want %q", restDst, wantRest)
	}
}

func TestPlanInjectMountsResolution(t *testing.T) {
	p := &Plan{Inject: &Injection{Profiles: []string{"x"}}}
	err := p.planInjectMounts(&profile.Resolution{Links: []profile.Link{{Path: "/usr/lib/libx.so", Target: "libx.so.1"}}})
	if err == nil || !strings.Contains(err.Error(), "profile link /usr/lib/libx.so is outside /.mpiwrap") {
		t.Errorf("a link outside the inject root: %v", err)
	}
	// A device the plan doesn't show otherwise is bound, and keeps working
	// (no nodev).
	p = &Plan{Inject: &Injection{Profiles: []string{"x"}}}
	dev := profile.Device{Source: "/dev/infiniband/uverbs0", Dest: "/dev/infiniband/uverbs0", Profile: "x"}
	if err := p.planInjectMounts(&profile.Resolution{Devices: []profile.Device{dev}}); err != nil {
		t.Fatal(err)
	}
	if m := oneMount(t, p, dev.Dest); m.Src != dev.Source || m.NoSuidDev || m.Why != "device of profile x" {
		t.Errorf("device bind %+v", m)
	}
	if f := oneMount(t, p, InjectRoot).Farm; len(f.Links) != 0 || !slices.Equal(f.Dirs, []string{"cache"}) {
		t.Errorf("empty farm %+v: want only the cache directory", f)
	}
}
