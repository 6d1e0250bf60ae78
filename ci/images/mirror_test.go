// Package images holds the scripts that build the CI images; this test
// checks apt-mirror.sh, which picks the Debian mirror they debootstrap from.
package images

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAptMirror runs apt-mirror.sh on made-up /etc/apt directories.
func TestAptMirror(t *testing.T) {
	const fallback = "http://deb.debian.org/debian"
	debian12 := `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"no sources", nil, fallback},
		{"Debian 12 default", map[string]string{"sources.list.d/debian.sources": debian12}, "http://deb.debian.org/debian"},
		{"local mirror, security first, URIs on continuation lines", map[string]string{"sources.list.d/debian.sources": `Types: deb
URIs: http://mirror.site/debian-security
Suites: bookworm-security
Components: main

Types: deb deb-src
URIs:
 http://mirror.site/debian/
 http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main contrib
`}, "http://mirror.site/debian"},
		{"disabled stanza and no main", map[string]string{"sources.list.d/debian.sources": `Types: deb
URIs: http://off/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb
URIs: http://nomain/debian
Suites: bookworm
Components: contrib
`}, fallback},
		{"sources.list with options and comments", map[string]string{"sources.list": `# deb http://commented/debian bookworm main
deb [arch=amd64 signed-by=/k.gpg] https://download.docker.com/linux/debian bookworm stable
deb http://security.debian.org/debian-security bookworm-security main
deb [ trusted=yes ] http://local.example/debian/ bookworm main contrib # the site mirror
`}, "http://local.example/debian"},
		{"debian.sources before sources.list", map[string]string{
			"sources.list":                  "deb http://second/debian bookworm main\n",
			"sources.list.d/debian.sources": debian12,
		}, "http://deb.debian.org/debian"},
		{"third-party files are not Debian", map[string]string{
			"sources.list.d/nodesource.sources": "Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\nComponents: main\n",
			"sources.list.d/local.list":         "deb file:/srv/debian bullseye main\n",
		}, "file:/srv/debian"},
		{"apt's mirror method is not for debootstrap", map[string]string{"sources.list": "deb mirror+file:/etc/apt/mirrors.txt bookworm main\n"}, fallback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tt.files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out, err := exec.Command("./apt-mirror.sh", dir).CombinedOutput()
			if got := strings.TrimSpace(string(out)); err != nil || got != tt.want {
				t.Errorf("apt-mirror.sh = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
