package hostlib

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/hostlib/abi"
	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
	"github.com/mpiwrap/mpiwrap/hostlib/ldcache"
	"github.com/mpiwrap/mpiwrap/hostlib/profile"
	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

// ccBuild compiles C source into out; args follow the source.
func ccBuild(t *testing.T, out, src string, args ...string) string {
	t.Helper()
	compiler, err := exec.LookPath("cc")
	testreq.Require(t, err == nil, "a C compiler (cc)")
	c := out + ".c"
	writeFile(t, c, src)
	all := append([]string{"-o", out, c}, args...)
	if b, err := exec.Command(compiler, all...).CombinedOutput(); err != nil {
		t.Fatalf("cc %q: %v\n%s", all, err, b)
	}
	return out
}

// linking makes a program or library need the host library at path by
// its file name.
func linking(path string) []string {
	return []string{"-Wl,--no-as-needed", "-L" + filepath.Dir(path), "-Wl,-rpath-link," + filepath.Dir(path), "-l:" + filepath.Base(path)}
}

// noCompilerRuntime makes a fakeImage lack libstdc++ and libgcc_s, as a
// C-only image does.
func noCompilerRuntime(t *testing.T, root string) string {
	t.Helper()
	for _, so := range []string{"libstdc++.so.6", "libgcc_s.so.1"} {
		if err := os.Remove(filepath.Join(root, "usr/lib", elfdeps.DetectMultiarch("/", nil), so)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// imageProgram compiles a program that needs the given host libraries and
// puts it at /opt/NAME in the image.
func imageProgram(t *testing.T, image, name string, needs ...string) string {
	t.Helper()
	var args []string
	for _, n := range needs {
		args = append(args, linking(n)...)
	}
	out := ccBuild(t, filepath.Join(t.TempDir(), name), "int main(void){return 0;}\n", args...)
	copyFile(t, out, filepath.Join(image, "opt", name))
	return "/opt/" + name
}

// notes returns the report's notes, one per line.
func notes(inj *Injection) string { return strings.Join(inj.ABI.Notes(), "\n") }

func bound(inj *Injection, dest string) bool {
	return slices.ContainsFunc(inj.Binds, func(b Bind) bool { return b.Dest == dest })
}

// The C hello with host MPICH in an image without libstdc++: the C++ and
// Fortran bindings are injected with a note, since no program that could
// load them would run there anyway; only what the program loads refuses.
func TestBuildChecksWhatTheCommandLoads(t *testing.T) {
	mpich := builtinResolution(t, "mpich")
	cxx := hostReal(t, "libmpichcxx.so.12")
	img := noCompilerRuntime(t, fakeImage(t, "", "libmpich.so.12.2.2"))
	hello := imageProgram(t, img, "hello", hostReal(t, "libmpich.so.12"))
	helloCxx := imageProgram(t, img, "hellocxx", cxx)
	script := "/opt/run.sh"
	writeFile(t, filepath.Join(img, script), "#!/bin/sh\nexec /opt/hello\n")
	note := "hostlib: /lib/" + elfdeps.DetectMultiarch("/", nil) + "/libmpichcxx.so.12 injected, needs libstdc++.so.6 the image lacks"
	tests := []struct {
		name     string
		binaries []string
		refuse   string
	}{
		{"C MPI program", []string{hello}, ""},
		{"unknown command: the MPI library's closure", nil, ""},
		{"script: the MPI library's closure", []string{script}, ""},
		{"C++ MPI program", []string{helloCxx}, "libmpichcxx.so.12 needs libstdc++.so.6 (CXXABI_"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inj, err := Build(mpich, Options{ImageRoot: img, Binaries: tc.binaries})
			if err != nil {
				t.Fatal(err)
			}
			err = inj.ABI.Err()
			if (tc.refuse == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.refuse)) {
				t.Fatalf("ABI error %v, want %q", err, tc.refuse)
			}
			if !bound(inj, mpich.InjectDir+"/libmpichcxx.so.12") {
				t.Errorf("libmpichcxx is not injected")
			}
			if tc.refuse == "" && !strings.Contains(notes(inj), note) {
				t.Errorf("notes:\n%s\nwant %q", notes(inj), note)
			}
			if tc.refuse != "" && strings.Contains(notes(inj), "libmpichcxx") {
				t.Errorf("a loaded library is only noted:\n%s", notes(inj))
			}
			var out bytes.Buffer
			if err := RenderInjection(&out, inj); err != nil {
				t.Fatal(err)
			}
			if tc.refuse == "" && !strings.Contains(out.String(), note) {
				t.Errorf("rendered injection lacks the note:\n%s", out.String())
			}
		})
	}
}

// On glibc 2.31 host MPICH is still refused for what needs it: an MPI
// program, and commands that could start one (a program that loads no
// MPI, a script, an unknown command). The optional bindings are dropped.
func TestBuildOldGlibcStillRefusesMPI(t *testing.T) {
	mpich := builtinResolution(t, "mpich")
	img := fakeImage(t, "2.31", "libmpich.so.12.1.10")
	hello := imageProgram(t, img, "hello", hostReal(t, "libmpich.so.12"))
	plain := imageProgram(t, img, "plain")
	for _, bins := range [][]string{{hello}, {plain}, nil} {
		inj, err := Build(mpich, Options{ImageRoot: img, Binaries: bins})
		if err != nil {
			t.Fatal(err)
		}
		if err := inj.ABI.Err(); err == nil || !strings.Contains(err.Error(), "libmpich.so.12 needs GLIBC_2.34 but the image's libc.so.6 provides up to GLIBC_2.31") {
			t.Fatalf("%q: ABI error %v, want the glibc refusal", bins, err)
		}
		i := slices.IndexFunc(inj.ABI.Dropped, func(d abi.DroppedItem) bool { return strings.Contains(d.Item, "libmpichcxx.so.12") })
		if i < 0 {
			t.Fatalf("%q: dropped %+v, want the optional C++/Fortran bindings", bins, inj.ABI.Dropped)
		}
		if d := inj.ABI.Dropped[i]; d.Profile != "mpich" || d.Pos != "builtin:mpich.toml:12" ||
			!strings.HasPrefix(d.Message, "hostlib: dropped optional item library libmpichfort.so.12 | ") ||
			!strings.Contains(d.Message, " because ") || bound(inj, mpich.InjectDir+"/libmpichcxx.so.12") {
			t.Errorf("%q: dropped %+v", bins, d)
		}
		checkInjection(t, inj, mpich)
	}
}

// fakeSite is a host tree with a tool and the libraries it and others
// need: libfakehw (old glibc is enough), libfakenew (needs GLIBC_2.34 for
// dlopen) and bin/fakelstopo (needs libfakehw and, being a program built
// here, GLIBC_2.34).
func fakeSite(t *testing.T) string {
	dir := t.TempDir()
	hw := ccBuild(t, filepath.Join(dir, "lib/libfakehw.so.1"), "int hw(void){return 1;}\n", "-shared", "-fPIC", "-Wl,-soname,libfakehw.so.1")
	ccBuild(t, filepath.Join(dir, "lib/libfakenew.so.1"), "#include <dlfcn.h>\nvoid *fn(void){return dlopen(\"x\",0);}\n",
		"-shared", "-fPIC", "-Wl,-soname,libfakenew.so.1")
	ccBuild(t, filepath.Join(dir, "bin/fakelstopo"), "int hw(void);\nint main(void){return hw();}\n", linking(hw)...)
	o, err := elfdeps.ReadObject("/", filepath.Join(dir, "lib/libfakenew.so.1"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(o.Needs, func(v elfdeps.VersionNeed) bool { return slices.Contains(v.Versions, "GLIBC_2.34") }) {
		t.Skipf("this host's dlopen is not GLIBC_2.34 (%+v): no stand-in for a new-glibc library", o.Needs)
	}
	return dir
}

func siteProfile(t *testing.T, dir, items string) *profile.Resolution {
	t.Helper()
	src := strings.ReplaceAll("search_dirs = [\"@/lib\"]\n"+items, "@", dir)
	return resolveOnHost(t, parseProfile(t, "site", src))
}

// An optional item whose closure needs what the image's base libraries
// lack is dropped, with the closure members no kept item needs; the rest
// is checked without it. A required one is kept: refused if the command
// loads it, noted if not.
func TestBuildDropsOptionalItems(t *testing.T) {
	site := fakeSite(t)
	old, current := fakeImage(t, "2.31", ""), fakeImage(t, "", "")
	tool := "[[binary]]\nname = \"@/bin/fakelstopo\"\nrequired = false\n"
	hwLib := "[[library]]\nname = \"libfakehw.so.1\"\n"
	newLib := func(required bool) string {
		return "[[library]]\nname = \"libfakenew.so.1\"\nrequired = " + map[bool]string{true: "true", false: "false"}[required] + "\n"
	}
	useNew := imageProgram(t, old, "usenew", filepath.Join(site, "lib/libfakenew.so.1"))
	plain := imageProgram(t, old, "plain")
	inject := profile.DefaultInjectDir
	tests := []struct {
		name     string
		image    string
		items    string
		binaries []string
		dropped  map[string][]string // item -> files left out
		refuse   string
		notes    []string // substrings of the notes
	}{
		{"optional tool on old glibc", old, tool, nil,
			map[string][]string{"binary " + site + "/bin/fakelstopo": {site + "/bin/fakelstopo", inject + "/libfakehw.so.1"}}, "",
			[]string{"hostlib: dropped optional item binary " + site + "/bin/fakelstopo (profile site, site.toml:3) because " + site + "/bin/fakelstopo needs GLIBC_2.34 but the image's libc.so.6 provides up to GLIBC_2.31"}},
		{"a required item keeps what it shares", old, tool + hwLib, nil,
			map[string][]string{"binary " + site + "/bin/fakelstopo": {site + "/bin/fakelstopo"}}, "", nil},
		{"optional tool on current glibc", current, tool, nil, nil, "", nil},
		{"optional library on old glibc", old, newLib(false), []string{useNew},
			map[string][]string{"library libfakenew.so.1": {inject + "/libfakenew.so.1"}}, "", nil},
		{"required library the command loads", old, newLib(true), []string{useNew}, nil,
			"libfakenew.so.1 needs GLIBC_2.34 but the image's libc.so.6 provides up to GLIBC_2.31", nil},
		{"required library the command does not load", old, newLib(true), []string{plain}, nil, "",
			[]string{"/lib/libfakenew.so.1 injected, needs GLIBC_2.34 the image lacks"}},
		{"required library, unknown command, no MPI profile", old, newLib(true), nil, nil, "",
			[]string{"/lib/libfakenew.so.1 injected, needs GLIBC_2.34 the image lacks"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := siteProfile(t, site, tc.items)
			inj, err := Build(res, Options{ImageRoot: tc.image, Binaries: tc.binaries})
			if err != nil {
				t.Fatal(err)
			}
			err = inj.ABI.Err()
			if (tc.refuse == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.refuse)) {
				t.Fatalf("ABI error %v, want %q", err, tc.refuse)
			}
			got := map[string][]string{}
			for _, d := range inj.ABI.Dropped {
				got[d.Item] = d.Files
				for _, f := range d.Files {
					if bound(inj, f) {
						t.Errorf("dropped %s is bound", f)
					}
				}
			}
			if len(got) != len(tc.dropped) {
				t.Fatalf("dropped %+v, want %v", inj.ABI.Dropped, tc.dropped)
			}
			for item, files := range tc.dropped {
				if !slices.Equal(got[item], files) {
					t.Errorf("dropped %s: files %q, want %q", item, got[item], files)
				}
			}
			for _, n := range tc.notes {
				if !strings.Contains(notes(inj), n) {
					t.Errorf("notes:\n%s\nwant %q", notes(inj), n)
				}
			}
			c, err := ldcache.Parse(inj.LdSoCache)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range inj.ABI.Dropped {
				for _, f := range d.Files {
					if _, ok := c.Lookup(filepath.Base(f), ldcache.LookupOptions{Flags: elfdeps.NativeCacheFlags()}); ok && filepath.Dir(f) == inject {
						t.Errorf("dropped %s is in the ld.so.cache", f)
					}
				}
			}
			checkInjection(t, inj, res)
			// The report keeps its meaning through the node cache's JSON.
			data, err := json.Marshal(inj.ABI)
			if err != nil {
				t.Fatal(err)
			}
			var back abi.Report
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(back.Notes(), inj.ABI.Notes()) || (back.Err() == nil) != (inj.ABI.Err() == nil) {
				t.Errorf("report after JSON: notes %q, error %v", back.Notes(), back.Err())
			}
		})
	}
}

// WithoutDropped leaves out the dropped files, the links to them, their
// items and ABI libraries, and nothing else.
func TestWithoutDropped(t *testing.T) {
	res := &profile.Resolution{
		InjectDir: "/i",
		Files: []profile.File{{Kind: profile.KindLibrary, Dest: "/i/liba.so.1"}, {Kind: profile.KindLibrary, Dest: "/i/libb.so.1"},
			{Kind: profile.KindFile, Dest: "/etc/x"}},
		Links: []profile.Link{{Path: "/i/liba.so", Target: "liba.so.1"}, {Path: "/i/libb.so", Target: "libb.so.1"}},
		Items: []profile.ResolvedItem{{Profile: "p", Pos: "p.toml:1", Dests: []string{"/i/liba.so.1"}},
			{Profile: "p", Pos: "p.toml:4", Dests: []string{"/i/libb.so.1"}}},
		ABI: []profile.ABISpec{{Profile: "p", Libraries: []profile.ABILibrary{{Soname: "liba.so.1", Dest: "/i/liba.so.1"}}}},
	}
	if got := WithoutDropped(res, nil); got != res {
		t.Errorf("nothing dropped: want res itself")
	}
	got := WithoutDropped(res, []abi.DroppedItem{{Profile: "p", Pos: "p.toml:1", Files: []string{"/i/liba.so.1"}}})
	if len(got.Files) != 2 || got.Files[0].Dest != "/i/libb.so.1" || len(got.Links) != 1 || got.Links[0].Path != "/i/libb.so" ||
		len(got.Items) != 1 || got.Items[0].Pos != "p.toml:4" || len(got.ABI[0].Libraries) != 0 {
		t.Errorf("without liba: %+v", got)
	}
	if len(res.Files) != 3 || len(res.Links) != 2 || len(res.Items) != 2 || len(res.ABI[0].Libraries) != 1 {
		t.Errorf("the input changed: %+v", res)
	}
}
