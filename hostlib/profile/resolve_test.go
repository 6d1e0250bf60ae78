package profile

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/hostlib/abi"
	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

func mustParse(t *testing.T, name, src string) *Profile {
	t.Helper()
	p, err := Parse(name, name+".toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// copyHostLib copies the real file behind a host library into dst.
func copyHostLib(t *testing.T, soname, dst string) {
	t.Helper()
	r, err := elfdeps.NewResolver("/")
	if err != nil {
		t.Fatal(err)
	}
	o, err := r.Lookup(soname, nil)
	testreq.Require(t, err == nil, "host library "+soname)
	data, err := os.ReadFile(o.Real)
	if err != nil {
		t.Fatal(err)
	}
	write(t, dst, string(data))
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// fakeHost builds a host root without an ld.so.cache: libraries are
// found in the multiarch default directories.
func fakeHost(t *testing.T) (string, string) {
	ma := elfdeps.DetectMultiarch("/", nil)
	testreq.Require(t, ma != "", "a multiarch host")
	root := t.TempDir()
	lib := filepath.Join(root, "usr/lib", ma)
	copyHostLib(t, "libnl-route-3.so.200", filepath.Join(lib, "libnl-route-3.so.200"))
	copyHostLib(t, "libnl-3.so.200", filepath.Join(lib, "libnl-3.so.200"))
	copyHostLib(t, "libnuma.so.1", filepath.Join(lib, "libnuma.so.1.0.0"))
	copyHostLib(t, "libnuma.so.1", filepath.Join(root, "opt/x/libnl-3.so.200"))
	symlink(t, "libnuma.so.1.0.0", filepath.Join(lib, "libnuma.so.1"))
	symlink(t, "libnuma.so.1.0.0", filepath.Join(lib, "libalias.so.1"))
	symlink(t, "../libnuma.so.1.0.0", filepath.Join(lib, "plug/plug-a.so"))
	write(t, filepath.Join(lib, "plug/notes.txt"), "not a library")
	write(t, filepath.Join(root, "etc/thing.d/x.conf"), "x")
	write(t, filepath.Join(root, "etc/thing.conf"), "y")
	write(t, filepath.Join(root, "usr/bin/script"), "#!/bin/sh\n")
	if err := os.Chmod(filepath.Join(root, "usr/bin/script"), 0o755); err != nil {
		t.Fatal(err)
	}
	return root, ma
}

const profOne = `
[[library]]
names = ["libnl-route-3.so.200", "libalias.so.1"]

[[library]]
name = "/usr/lib/{multiarch}/plug/*"
dest = "/usr/lib/{multiarch}/plug"

[[library]]
name = "libmissing.so.9"
required = false

[[file]]
paths = ["/etc/thing.d", "/etc/thing.conf"]

[[file]]
path = "/etc/thing.conf"
dest = "/etc/other.conf"

[[binary]]
names = ["script", "nothere"]

[[env]]
op = "set"
name = "A"
value = "{injectdir}"

[[env]]
op = "default"
name = "B"
value = "1"
`

const profTwo = `
[[library]]
name = "libgone.so.3"

[[library]]
name = "/opt/x/libnl-3.so.200"
closure = false

[[env]]
op = "prepend"
name = "A"
value = "x"

[[env]]
op = "set"
name = "B"
value = "2"

[[env]]
op = "default"
name = "C"
value = "3"
`

func TestResolveFakeHost(t *testing.T) {
	root, ma := fakeHost(t)
	host, err := NewHost(root)
	if err != nil {
		t.Fatal(err)
	}
	ps := []*Profile{mustParse(t, "one", profOne), mustParse(t, "two", profTwo)}
	res, err := Resolve(ps, host, Options{})
	if err != nil {
		t.Fatal(err)
	}
	lib := "/usr/lib/" + ma
	wantFiles := []string{
		"/.mpiwrap/lib/libnl-3.so.200 library " + lib + "/libnl-3.so.200",
		"/.mpiwrap/lib/libnl-route-3.so.200 library " + lib + "/libnl-route-3.so.200",
		"/.mpiwrap/lib/libnuma.so.1 library " + lib + "/libnuma.so.1.0.0",
		"/etc/other.conf file /etc/thing.conf",
		"/etc/thing.conf file /etc/thing.conf",
		"/etc/thing.d dir /etc/thing.d",
		"/usr/bin/script binary /usr/bin/script",
		lib + "/plug/plug-a.so library " + lib + "/libnuma.so.1.0.0",
	}
	var got []string
	for _, f := range res.Files {
		got = append(got, f.Dest+" "+f.Kind+" "+f.Real)
	}
	if !slices.Equal(got, wantFiles) {
		t.Fatalf("files\n got: %q\nwant: %q", got, wantFiles)
	}
	if want := []Link{{"/.mpiwrap/lib/libalias.so.1", "libnuma.so.1"}}; !slices.Equal(res.Links, want) {
		t.Errorf("links %+v, want %+v", res.Links, want)
	}
	checkMissing(t, res)
	if want := (Conflict{Dest: "/.mpiwrap/lib/libnuma.so.1", Kept: lib + "/libnuma.so.1.0.0", Dropped: "/opt/x/libnl-3.so.200", Profile: "two"}); !slices.Equal(res.Conflicts, []Conflict{want}) {
		t.Errorf("conflicts %+v", res.Conflicts)
	}
	env := ApplyEnv([]string{"PATH=/bin", "C=keep"}, res.Env)
	if want := []string{"PATH=/bin", "C=keep", "A=x:/.mpiwrap/lib", "B=2"}; !slices.Equal(env, want) {
		t.Errorf("env %q, want %q", env, want)
	}
	again, _ := Resolve(ps, host, Options{})
	j1, _ := json.Marshal(res)
	j2, _ := json.Marshal(again)
	if !bytes.Equal(j1, j2) {
		t.Error("resolution is not deterministic")
	}
}

func checkMissing(t *testing.T, res *Resolution) {
	t.Helper()
	var got []string
	for _, m := range res.Missing {
		got = append(got, m.Profile+" "+m.Kind+" "+m.Name+" "+strings.TrimPrefix(m.Pos, m.Profile+".toml:"))
		if (m.Name == "libgone.so.3") != m.Required {
			t.Errorf("missing %+v: wrong required flag", m)
		}
	}
	want := []string{"one library libmissing.so.9 10", "two library libgone.so.3 3"}
	if !slices.Equal(got, want) {
		t.Fatalf("missing %q, want %q", got, want)
	}
	err := res.Err()
	if err == nil || !strings.Contains(err.Error(), "profile two: library libgone.so.3: not found") || strings.Contains(err.Error(), "libmissing") {
		t.Fatalf("Err() = %v", err)
	}
}

func TestResolveDevices(t *testing.T) {
	host, err := NewHost("/")
	if err != nil {
		t.Fatal(err)
	}
	p := mustParse(t, "dev", "[[device]]\npaths = [\"/dev/nul*\", \"/dev/zero\", \"/dev/shm\"]\n\n[[device]]\npath = \"/dev/no-such-dev*\"\nrequired = false\n")
	res, err := Resolve([]*Profile{p}, host, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Device{{"/dev/null", "/dev/null", "dev"}, {"/dev/zero", "/dev/zero", "dev"}}
	if !slices.Equal(res.Devices, want) {
		t.Fatalf("devices %+v", res.Devices)
	}
	if len(res.Missing) != 1 || res.Missing[0].Required || res.Err() != nil {
		t.Fatalf("missing %+v", res.Missing)
	}
}

func TestResolveInjectDir(t *testing.T) {
	host, err := NewHost("/")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"relative", "/", "/x/tls", "/y/x86-64-v3"} {
		t.Run(dir, func(t *testing.T) {
			if _, err := Resolve(nil, host, Options{InjectDir: dir}); err == nil {
				t.Fatalf("inject dir %q accepted", dir)
			}
		})
	}
}

// TestResolveBuiltinMPICH resolves the built-in mpich profile on this host.
func TestResolveBuiltinMPICH(t *testing.T) {
	host, err := NewHost("/")
	if err != nil {
		t.Fatal(err)
	}
	_, err = host.Resolver.Lookup("libmpich.so.12", nil)
	testreq.Require(t, err == nil, "host MPICH (libmpich.so.12)")
	s, err := Load(Roots{})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := s.Select([]string{"mpich", "verbs"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Resolve(ps, host, Options{InjectDir: "/.mpiwrap/lib"})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	dests := map[string]bool{}
	for _, f := range res.Files {
		dests[f.Dest] = true
		if f.Kind == KindLibrary && elfdeps.DefaultExclude(filepath.Base(f.Dest)) {
			t.Errorf("libc family member injected: %s", f.Dest)
		}
	}
	for _, want := range []string{"/.mpiwrap/lib/libmpich.so.12", "/.mpiwrap/lib/libucp.so.0", "/.mpiwrap/lib/libibverbs.so.1", "/etc/libibverbs.d"} {
		if !dests[want] {
			t.Errorf("resolution lacks %s", want)
		}
	}
	if len(res.ABI) != 1 || res.ABI[0].Family != abi.FamilyMPICH || len(res.ABI[0].Libraries) == 0 {
		t.Fatalf("ABI %+v", res.ABI)
	}
	var out bytes.Buffer
	if err := RenderResolution(&out, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"libraries (", "/.mpiwrap/lib/libmpich.so.12", "family mpich, policy warn", "optional"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("rendered resolution lacks %q:\n%s", want, out.String())
		}
	}
}
