package abi

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

func hostResolver(t *testing.T) *elfdeps.Resolver {
	t.Helper()
	r, err := elfdeps.NewResolver("/")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func hostObject(t *testing.T, soname string) *elfdeps.Object {
	t.Helper()
	o, err := hostResolver(t).Lookup(soname, nil)
	testreq.Require(t, err == nil, "host library "+soname)
	return o
}

// image is a fake image root whose libraries live in /usr/lib.
type image struct {
	t    *testing.T
	root string
}

func newImage(t *testing.T) *image { return &image{t, t.TempDir()} }

func (im *image) resolver() *elfdeps.Resolver {
	return &elfdeps.Resolver{Root: elfdeps.Root(im.root), DefaultDirs: []string{"/usr/lib"}}
}

// lib puts a copy of an ELF file at /usr/lib/file with a symlink name.
func (im *image) lib(src, file, link string) {
	im.t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		im.t.Fatal(err)
	}
	dir := filepath.Join(im.root, "usr/lib")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		im.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), data, 0o755); err != nil {
		im.t.Fatal(err)
	}
	if link != "" && link != file {
		if err := os.Symlink(file, filepath.Join(dir, link)); err != nil {
			im.t.Fatal(err)
		}
	}
}

func TestCheckMPI(t *testing.T) {
	elf := hostObject(t, "libz.so.1").Real // any ELF will do as a stand-in
	mpich := func(real string) []HostLib { return []HostLib{{Soname: "libmpich.so.12", Real: real}} }
	tests := []struct {
		name   string
		policy Policy
		family Family
		host   []HostLib
		image  [][2]string // file, link
		want   Verdict
		msg    string
	}{
		{"host newer minor", PolicyWarn, FamilyMPICH, mpich("/l/libmpich.so.12.2.2"), [][2]string{{"libmpich.so.12.1.10", "libmpich.so.12"}}, OK, "serves"},
		{"host older minor warns", PolicyWarn, FamilyMPICH, mpich("/l/libmpich.so.12.1.0"), [][2]string{{"libmpich.so.12.2.2", "libmpich.so.12"}}, Warn, "is older than"},
		{"major ignores minor", PolicyMajor, FamilyMPICH, mpich("/l/libmpich.so.12.1.0"), [][2]string{{"libmpich.so.12.2.2", "libmpich.so.12"}}, OK, ""},
		{"strict refuses minor", PolicyStrict, FamilyMPICH, mpich("/l/libmpich.so.12.3.0"), [][2]string{{"libmpich.so.12.2.2", "libmpich.so.12"}}, Refuse, "abi_policy strict"},
		{"strict allows patch", PolicyStrict, FamilyMPICH, mpich("/l/libmpich.so.12.2.9"), [][2]string{{"libmpich.so.12.2.2", "libmpich.so.12"}}, OK, ""},
		{"major differs", PolicyMajor, FamilyMPICH, mpich("/l/libmpich.so.12.2.2"), [][2]string{{"libmpi.so.12.0.0", "libmpi.so.12"}, {"libmpich.so.13.0.0", "libmpich.so.12"}}, Refuse, "ABI major 12"},
		{"pairs by soname", PolicyStrict, FamilyMPICH, []HostLib{{"libmpi.so.12", "/l/libmpi.so.12.4.0"}, {"libmpich.so.12", "/l/libmpich.so.12.2.2"}}, [][2]string{{"libmpich.so.12.2.0", "libmpich.so.12"}}, OK, ""},
		{"image has other family", PolicyWarn, FamilyMPICH, mpich("/l/libmpich.so.12.2.2"), [][2]string{{"libmpi.so.40.30.4", "libmpi.so.40"}}, Refuse, "the image's MPI is openmpi"},
		{"image has no MPI", PolicyWarn, FamilyOpenMPI, []HostLib{{"libmpi.so.40", "/l/libmpi.so.40.30.4"}}, nil, NoImageMPI, "has no MPI library"},
		{"nothing injected", PolicyWarn, FamilyMPICH, nil, nil, Refuse, "injects none of"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			im := newImage(t)
			for _, f := range tc.image {
				im.lib(elf, f[0], f[1])
			}
			spec := MPISpec{Profile: "p", Family: tc.family, Policy: tc.policy, Host: tc.host}
			res, err := CheckMPI(spec, im.resolver())
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != tc.want || !strings.Contains(res.Message, tc.msg) {
				t.Fatalf("verdict %s message %q; want %s containing %q", res.Verdict, res.Message, tc.want, tc.msg)
			}
		})
	}
}

// cc compiles src into out inside dir, skipping without a compiler.
func cc(t *testing.T, dir, out, src string, args ...string) string {
	t.Helper()
	compiler, err := exec.LookPath("cc")
	testreq.Require(t, err == nil, "a C compiler (cc)")
	c := filepath.Join(dir, out+".c")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, out)
	all := append([]string{"-Wl,--no-as-needed", "-o", path, c}, args...)
	if b, err := exec.Command(compiler, all...).CombinedOutput(); err != nil {
		t.Fatalf("cc %v: %v\n%s", all, err, b)
	}
	return path
}

// olderThan returns the versions the host's soname defines up to max,
// which is what that library of an older glibc defines.
func olderThan(t *testing.T, soname, max string) []string {
	var out []string
	for _, v := range hostObject(t, soname).Defines {
		if p := ParseSymVersion(v); p.Numeric() && p.Compare(ParseSymVersion(max)) <= 0 {
			out = append(out, v)
		}
	}
	return out
}

// fakeLibc builds a library called soname that defines the given symbol
// versions, like that library of an older distribution's glibc.
func fakeLibc(t *testing.T, dir, soname string, versions []string) string {
	var script strings.Builder
	prev := ""
	for i, v := range versions {
		script.WriteString(v + " { global: fake_" + strings.ReplaceAll(v, ".", "_") + "; ")
		if i == 0 {
			script.WriteString("local: *; ")
		}
		script.WriteString("} " + prev + ";\n")
		prev = v
	}
	var src strings.Builder
	for _, v := range versions {
		src.WriteString("void fake_" + strings.ReplaceAll(v, ".", "_") + "(void){}\n")
	}
	if soname == "libc.so.6" {
		src.WriteString("const char banner[] = \"GNU C Library (fake) stable release version 2.31.\";\n")
	}
	vs := filepath.Join(dir, soname+".map")
	if err := os.WriteFile(vs, []byte(script.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return cc(t, dir, soname, src.String(), "-shared", "-fPIC", "-nostdlib", "-Wl,-soname,"+soname, "-Wl,--version-script,"+vs)
}

// bullseyeBase gives an image the libc.so.6 and dynamic loader version
// sets of glibc 2.31 (Debian 11).
func bullseyeBase(t *testing.T, im *image) {
	dir := t.TempDir()
	im.lib(fakeLibc(t, dir, "libc.so.6", olderThan(t, "libc.so.6", "GLIBC_2.30")), "libc.so.6", "")
	ld := "ld-linux-x86-64.so.2"
	if _, err := hostResolver(t).Lookup(ld, nil); err == nil {
		im.lib(fakeLibc(t, dir, ld, olderThan(t, ld, "GLIBC_2.31")), ld, "")
	}
}

func TestCheckBaseLibraries(t *testing.T) {
	mpich := hostObject(t, "libmpich.so.12")
	zlib := hostObject(t, "libz.so.1")
	tests := []struct {
		name     string
		libc     bool
		injected []Injected
		want     Verdict
		msg      string
	}{
		{"glibc too old", true, []Injected{{Object: mpich, Path: mpich.Path, Profile: "mpich", Explicit: true}}, Refuse,
			"hostlib: " + mpich.Path + " needs GLIBC_2.34 but the image's libc.so.6 provides up to GLIBC_2.31; use an image with glibc >= 2.34 or drop profile mpich"},
		{"old requirement passes", true, []Injected{{Object: zlib, Path: zlib.Path, Profile: "z", Explicit: true}}, OK, ""},
		{"several profiles", true, []Injected{
			{Object: hostObject(t, "libnl-3.so.200"), Path: hostObject(t, "libnl-3.so.200").Path, Profile: "verbs", Explicit: true},
			{Object: mpich, Path: mpich.Path, Profile: "mpich", Explicit: true}}, Refuse,
			"hostlib: " + mpich.Path + " needs GLIBC_2.34 but the image's libc.so.6 provides up to GLIBC_2.31; use an image with glibc >= 2.34 or drop profiles mpich, verbs"},
		{"no libc in image", false, []Injected{{Object: zlib, Path: zlib.Path, Profile: "z"}}, Refuse,
			"hostlib: " + zlib.Path + " needs libc.so.6 (GLIBC_2.14) but the image has no libc.so.6"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			im := newImage(t)
			if tc.libc {
				bullseyeBase(t, im)
			}
			res, err := CheckBaseLibraries(tc.injected, im.resolver())
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != tc.want {
				t.Fatalf("verdict %s, messages %q", res.Verdict, res.Messages)
			}
			if tc.msg != "" && (len(res.Messages) == 0 || !strings.HasPrefix(res.Messages[0], tc.msg)) {
				t.Fatalf("message %q\nwant prefix %q", res.Messages, tc.msg)
			}
			rep := Report{Base: res}
			if rep.Refused() != (tc.want == Refuse) || (rep.Err() == nil) == (tc.want == Refuse) {
				t.Fatalf("Refused %v Err %v", rep.Refused(), rep.Err())
			}
		})
	}
}

// TestHighestNeededOnHost checks the needed-version summary on real
// host libraries: host MPICH 4.0 needs GLIBC_2.34 (NOTES.md).
func TestHighestNeededOnHost(t *testing.T) {
	r := hostResolver(t)
	r.Exclude = elfdeps.DefaultExclude
	mpich := hostObject(t, "libmpich.so.12")
	g, err := r.Closure(mpich.Path)
	if err != nil {
		t.Fatal(err)
	}
	var inj []Injected
	for _, n := range g.Nodes {
		inj = append(inj, Injected{Object: n.Object, Path: n.Path, Profile: "mpich", Explicit: n.Root})
	}
	res, err := CheckBaseLibraries(inj, r) // against the host itself: must pass
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != OK {
		t.Fatalf("host libraries refused against the host: %q", res.Messages)
	}
	i := slices.IndexFunc(res.Libs, func(b BaseLib) bool { return b.Soname == "libc.so.6" })
	if i < 0 {
		t.Fatalf("no libc.so.6 in %+v", res.Libs)
	}
	if got := res.Libs[i].Needed; len(got) == 0 || got[0].Version != "GLIBC_2.34" || got[0].By != mpich.Path {
		t.Fatalf("libc.so.6 needed %+v, want GLIBC_2.34 by %s", got, mpich.Path)
	}
}
