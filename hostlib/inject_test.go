package hostlib

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/hostlib/abi"
	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
	"github.com/mpiwrap/mpiwrap/hostlib/ldcache"
	"github.com/mpiwrap/mpiwrap/hostlib/profile"
	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

// olderVersions lists the versions the host's soname defines up to max.
func olderVersions(t *testing.T, soname, max string) []string {
	r, err := elfdeps.NewResolver("/")
	if err != nil {
		t.Fatal(err)
	}
	o, err := r.Lookup(soname, nil)
	testreq.Require(t, err == nil, "host "+soname)
	var out []string
	for _, v := range o.Defines {
		if p := abi.ParseSymVersion(v); p.Numeric() && p.Compare(abi.ParseSymVersion(max)) <= 0 {
			out = append(out, v)
		}
	}
	return out
}

// oldGlibc compiles a stand-in for soname that defines only the given
// symbol versions, as that library of an older glibc does, and carries
// the release banner libc.so.6 has.
func oldGlibc(t *testing.T, soname string, versions []string, release string) string {
	compiler, err := exec.LookPath("cc")
	testreq.Require(t, err == nil, "a C compiler (cc)")
	dir := t.TempDir()
	var script, src strings.Builder
	prev := ""
	for i, v := range versions {
		fn := "v_" + strings.ReplaceAll(v, ".", "_")
		local := ""
		if i == 0 {
			local = "local: *; "
		}
		script.WriteString(v + " { global: " + fn + "; " + local + "} " + prev + ";\n")
		src.WriteString("void " + fn + "(void){}\n")
		prev = v
	}
	src.WriteString("const char banner[] = \"GNU C Library (stand-in) stable release version " + release + ".\";\n")
	writeFile(t, filepath.Join(dir, "v.map"), script.String())
	writeFile(t, filepath.Join(dir, "v.c"), src.String())
	out := filepath.Join(dir, soname)
	args := []string{"-shared", "-fPIC", "-nostdlib", "-o", out, filepath.Join(dir, "v.c"), "-Wl,-soname," + soname, "-Wl,--version-script," + filepath.Join(dir, "v.map")}
	if b, err := exec.Command(compiler, args...).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, b)
	}
	return out
}

// fakeImage makes an image root. With glibc "" it gets the host's own
// libc, loader, libm and libstdc++; with "2.31" stand-ins that define
// the symbol versions of glibc 2.31 on x86-64 (up to GLIBC_2.30: 2.31
// added none). mpich names the image's MPICH file.
func fakeImage(t *testing.T, glibc, mpich string) string {
	ma := elfdeps.DetectMultiarch("/", nil)
	testreq.Require(t, ma != "", "a multiarch host")
	root := t.TempDir()
	lib := filepath.Join(root, "usr/lib", ma)
	for _, so := range []string{"libc.so.6", "ld-linux-x86-64.so.2", "libm.so.6"} {
		if glibc == "" {
			copyFile(t, hostReal(t, so), filepath.Join(lib, so))
		} else {
			copyFile(t, oldGlibc(t, so, olderVersions(t, so, "GLIBC_2.30"), glibc), filepath.Join(lib, so))
		}
	}
	copyFile(t, hostReal(t, "libstdc++.so.6"), filepath.Join(lib, "libstdc++.so.6"))
	copyFile(t, hostReal(t, "libgcc_s.so.1"), filepath.Join(lib, "libgcc_s.so.1"))
	if mpich != "" {
		copyFile(t, hostReal(t, "libz.so.1"), filepath.Join(lib, mpich)) // only the name matters here
		symlink(t, mpich, filepath.Join(lib, "libmpich.so.12"))
	}
	writeFile(t, filepath.Join(root, "etc/ld.so.conf"), "/usr/lib/"+ma+"\n")
	return root
}

func builtinResolution(t *testing.T, names ...string) *profile.Resolution {
	s, err := profile.Load(profile.Roots{})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := s.Select(names, nil)
	if err != nil {
		t.Fatal(err)
	}
	host, err := profile.NewHost("/")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		for _, l := range p.Libraries {
			if l.Required {
				_, err := host.Resolver.Lookup(l.Candidates[0], nil)
				testreq.Require(t, err == nil, "host library "+l.Candidates[0]+" for profile "+p.Name)
			}
		}
	}
	return resolveOnHost(t, ps...)
}

const zlibOnly = "[[library]]\nname = \"libz.so.1\"\n"

// TestBuildThreeImages covers the decisions the lead's end-to-end tests
// make on real images, with stand-in images: a current image takes host
// MPICH, an old-glibc image refuses it with the glibc message, and the
// old image takes a library with no new glibc requirement.
func TestBuildThreeImages(t *testing.T) {
	mpich := builtinResolution(t, "mpich")
	zlib := resolveOnHost(t, parseProfile(t, "zlib", zlibOnly))
	tests := []struct {
		name       string
		image      string
		res        *profile.Resolution
		refuse     string
		mpiVerdict abi.Verdict
	}{
		{"current image takes host MPICH", fakeImage(t, "", "libmpich.so.12.2.2"), mpich, "", abi.OK},
		{"old glibc refuses host MPICH", fakeImage(t, "2.31", "libmpich.so.12.1.10"), mpich,
			"needs GLIBC_2.34 but the image's libc.so.6 provides up to GLIBC_2.31; use an image with glibc >= 2.34 or drop profile mpich", abi.OK},
		{"old glibc takes zlib", fakeImage(t, "2.31", ""), zlib, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inj, err := Build(tc.res, Options{ImageRoot: tc.image})
			if err != nil {
				t.Fatal(err)
			}
			err = inj.ABI.Err()
			if (tc.refuse == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.refuse)) {
				t.Fatalf("ABI error %v, want %q", err, tc.refuse)
			}
			if tc.mpiVerdict != "" && (len(inj.ABI.MPI) != 1 || inj.ABI.MPI[0].Verdict != tc.mpiVerdict) {
				t.Fatalf("MPI results %+v", inj.ABI.MPI)
			}
			checkInjection(t, inj, tc.res)
		})
	}
}

// checkInjection verifies the cache and conf of any injection.
func checkInjection(t *testing.T, inj *Injection, res *profile.Resolution) {
	t.Helper()
	res = WithoutDropped(res, inj.ABI.Dropped)
	c, err := ldcache.Parse(inj.LdSoCache)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Libraries() {
		if filepath.Dir(f.Dest) != res.InjectDir {
			continue
		}
		e, ok := c.Lookup(filepath.Base(f.Dest), ldcache.LookupOptions{Flags: elfdeps.NativeCacheFlags()})
		if !ok || e.Value != f.Dest {
			t.Errorf("cache lookup %s = %q, want %s", filepath.Base(f.Dest), e.Value, f.Dest)
		}
	}
	if !strings.Contains(inj.LdSoConf, "\n"+res.InjectDir+"\n") || len(inj.Binds) != len(res.Files) {
		t.Errorf("conf %q, %d binds for %d files", inj.LdSoConf, len(inj.Binds), len(res.Files))
	}
	var out bytes.Buffer
	if err := RenderInjection(&out, inj); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "verdict:") || !strings.Contains(out.String(), "ld.so.cache:") {
		t.Errorf("rendered plan:\n%s", out.String())
	}
	if _, err := json.Marshal(inj); err != nil {
		t.Fatal(err)
	}
}

const ciImages = "/var/cache/mpiwrap-ci/images"

func ciImage(t *testing.T, name string) string {
	dir := filepath.Join(ciImages, name)
	_, err := os.Stat(filepath.Join(dir, "opt/mpiwrap-test/mpich/hello"))
	testreq.Require(t, err == nil, "the CI image "+dir+" (built by ci/)")
	return dir
}

// TestBuildCIImages runs the three decisions on the real Debian 12 and
// Debian 11 images, with the symbol check on the image's MPI program.
func TestBuildCIImages(t *testing.T) {
	mpich := builtinResolution(t, "mpich")
	zlib := resolveOnHost(t, parseProfile(t, "zlib", zlibOnly))
	hello := []string{"/opt/mpiwrap-test/mpich/hello"}
	tests := []struct {
		image  string
		res    *profile.Resolution
		refuse string
	}{
		{"bookworm", mpich, ""},
		{"bullseye", mpich, "needs GLIBC_2.34 but the image's libc.so.6 provides up to GLIBC_2.31; use an image with glibc >= 2.34 or drop profile mpich"},
		{"bullseye", zlib, ""},
	}
	for _, tc := range tests {
		t.Run(tc.image+"/"+tc.res.Profiles[0].Name, func(t *testing.T) {
			inj, err := Build(tc.res, Options{ImageRoot: ciImage(t, tc.image), Binaries: hello})
			if err != nil {
				t.Fatal(err)
			}
			err = inj.ABI.Err()
			if (tc.refuse == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.refuse)) {
				t.Fatalf("ABI error %v, want %q", err, tc.refuse)
			}
			checkInjection(t, inj, tc.res)
		})
	}
}
