package hostlib

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
)

func TestReadLdSoConf(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		want    []string // Line() of each dir
		from    string   // From of the first dir
		wantErr string
	}{
		{"missing file", nil, nil, "", ""},
		{"plain", map[string]string{"/etc/ld.so.conf": "/usr/local/lib\n\n# comment\n/opt/lib/ # trailing\n"},
			[]string{"/usr/local/lib", "/opt/lib"}, "/etc/ld.so.conf:1", ""},
		{"include glob sorted", map[string]string{
			"/etc/ld.so.conf":             "include /etc/ld.so.conf.d/*.conf\n/last\n",
			"/etc/ld.so.conf.d/b.conf":    "/b1\n/b2\n",
			"/etc/ld.so.conf.d/a.conf":    "  /a\n",
			"/etc/ld.so.conf.d/c.conf.no": "/never\n",
		}, []string{"/a", "/b1", "/b2", "/last"}, "/etc/ld.so.conf.d/a.conf:1", ""},
		{"relative include and several patterns", map[string]string{
			"/etc/ld.so.conf":    "include\tconf.d/x.conf  /etc/y.conf\n",
			"/etc/conf.d/x.conf": "/x\n",
			"/etc/y.conf":        "/y\n",
		}, []string{"/x", "/y"}, "/etc/conf.d/x.conf:1", ""},
		{"hwcap and type", map[string]string{"/etc/ld.so.conf": "hwcap 1 nosegneg\nHWCAP 2 x\n/lib32=libc6\n/includes-are-words\n"},
			[]string{"/lib32=libc6", "/includes-are-words"}, "/etc/ld.so.conf:3", ""},
		{"include without match", map[string]string{"/etc/ld.so.conf": "include /etc/none/*.conf\n/z\n"}, []string{"/z"}, "/etc/ld.so.conf:2", ""},
		{"include loop", map[string]string{"/etc/ld.so.conf": "include /etc/ld.so.conf\n"}, nil, "", "includes nest deeper than 16"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for p, c := range tc.files {
				writeFile(t, filepath.Join(root, p), c)
			}
			dirs, err := ReadLdSoConf(elfdeps.Root(root), "/etc/ld.so.conf")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range dirs {
				got = append(got, d.Line())
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("dirs %q, want %q", got, tc.want)
			}
			if len(dirs) > 0 && dirs[0].From != tc.from {
				t.Fatalf("From = %q, want %q", dirs[0].From, tc.from)
			}
		})
	}
}

// TestReadLdSoConfAbsoluteSymlink checks includes resolve inside the
// image even through an absolute symlink.
func TestReadLdSoConfAbsoluteSymlink(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "etc/real.conf"), "/inside\n")
	symlink(t, "/etc/real.conf", filepath.Join(root, "etc/ld.so.conf"))
	dirs, err := ReadLdSoConf(elfdeps.Root(root), "/etc/ld.so.conf")
	if err != nil || len(dirs) != 1 || dirs[0].Path != "/inside" {
		t.Fatalf("dirs %+v err %v", dirs, err)
	}
}

func TestGenerateLdSoConf(t *testing.T) {
	got := string(GenerateLdSoConf("/.mpiwrap/lib", []ConfDir{{Path: "/usr/local/lib"}, {Path: "/lib32", Type: "libc6"}}))
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if !strings.HasPrefix(lines[0], "#") || !slices.Equal(lines[1:], []string{"/.mpiwrap/lib", "/usr/local/lib", "/lib32=libc6"}) {
		t.Fatalf("conf:\n%s", got)
	}
}
