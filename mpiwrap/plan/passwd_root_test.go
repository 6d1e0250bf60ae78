package plan

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	securejoin "github.com/cyphar/filepath-securejoin/pathrs-lite"
)

// existsInImage and readImageFile resolve as securejoin.OpenInRoot does:
// symlinks, absolute or relative, and ".." stay inside the image.
func TestImageLookupsAsOpenInRoot(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(outside, "secret"), []byte("host"), 0o644))
	must(os.MkdirAll(filepath.Join(root, "etc/sub"), 0o755))
	must(os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755))
	must(os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\n"), 0o644))
	must(os.WriteFile(filepath.Join(root, "usr/bin/bash"), []byte("#!"), 0o755))
	must(os.Symlink("usr/bin", filepath.Join(root, "bin")))
	must(os.Symlink("/etc/passwd", filepath.Join(root, "etc/abs")))
	must(os.Symlink("../passwd", filepath.Join(root, "etc/sub/rel")))
	must(os.Symlink("../../../../../../../../"+outside+"/secret", filepath.Join(root, "etc/escape")))
	must(os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "etc/hostabs")))
	must(os.Symlink("nowhere", filepath.Join(root, "etc/dangling")))
	must(os.Symlink("loop", filepath.Join(root, "etc/loop")))
	must(os.WriteFile(filepath.Join(root, "etc/secret"), []byte("image"), 0o644))
	for _, name := range []string{"/etc/passwd", "/etc/abs", "/etc/sub/rel", "/etc/escape", "/etc/hostabs",
		"/etc/dangling", "/etc/loop", "/bin/bash", "/bin/sh", "/../../etc/passwd", "/etc/passwd/x", "/", "/etc", "/nope", "etc/passwd", ""} {
		f, err := securejoin.OpenInRoot(root, name)
		want, wantText := err == nil, ""
		if err == nil {
			if r, err := securejoin.Reopen(f, os.O_RDONLY); err == nil {
				b, _ := io.ReadAll(r)
				wantText = string(b)
				r.Close()
			}
			f.Close()
		}
		if got := existsInImage(root, name); got != want {
			t.Errorf("existsInImage(%q) = %v, want %v", name, got, want)
		}
		if st, err := os.Stat(filepath.Join(root, name)); err == nil && st.IsDir() {
			continue
		}
		if got, _ := readImageFile(root, name); got != wantText {
			t.Errorf("readImageFile(%q) = %q, want %q", name, got, wantText)
		}
	}
}
