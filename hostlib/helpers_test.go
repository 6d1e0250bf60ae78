package hostlib

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
	"github.com/mpiwrap/mpiwrap/hostlib/profile"
	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

func mkdirs(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	mkdirs(t, filepath.Dir(path))
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	mkdirs(t, filepath.Dir(link))
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// copyFile copies src to dst (never a hard link: nothing in a test tree
// may alias a host library).
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	mkdirs(t, filepath.Dir(dst))
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// hostReal returns the real file of a host library, skipping without it.
func hostReal(t *testing.T, soname string) string {
	t.Helper()
	r, err := elfdeps.NewResolver("/")
	if err != nil {
		t.Fatal(err)
	}
	o, err := r.Lookup(soname, nil)
	testreq.Require(t, err == nil, "host library "+soname)
	return o.Real
}

func ldconfig(t *testing.T, args ...string) []byte {
	t.Helper()
	p, err := exec.LookPath("ldconfig")
	if err != nil {
		p = "/sbin/ldconfig"
	}
	_, err = os.Stat(p)
	testreq.Require(t, err == nil, "ldconfig")
	cmd := exec.Command(p, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ldconfig %v: %v\n%s", args, err, stderr.Bytes())
	}
	return out
}

func parseProfile(t *testing.T, name, src string) *profile.Profile {
	t.Helper()
	p, err := profile.Parse(name, name+".toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func resolveOnHost(t *testing.T, ps ...*profile.Profile) *profile.Resolution {
	t.Helper()
	host, err := profile.NewHost("/")
	if err != nil {
		t.Fatal(err)
	}
	res, err := profile.Resolve(ps, host, profile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	return res
}

// layInjection creates in root what the runtime's mounts would show: a
// copy of every bound library and every link.
func layInjection(t *testing.T, root string, res *profile.Resolution) {
	t.Helper()
	for _, f := range res.Files {
		if f.Kind == profile.KindLibrary {
			copyFile(t, f.Real, filepath.Join(root, f.Dest))
		}
	}
	for _, l := range res.Links {
		symlink(t, l.Target, filepath.Join(root, l.Path))
	}
}
