package nsexec_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/mpiwrap/nsexec"
	"github.com/mpiwrap/mpiwrap/mpiwrap/userdir"
)

// A squat is what another user (or an accident) left at one name of a
// series before we came.
type squat func(t *testing.T, path string)

var (
	squatFile = func(t *testing.T, path string) { must(t, os.WriteFile(path, []byte("x"), 0o600)) }
	squatOpen = func(t *testing.T, path string) { must(t, os.Mkdir(path, 0o700)); must(t, os.Chmod(path, 0o755)) }
	squatOurs = func(t *testing.T, path string) { must(t, os.Mkdir(path, 0o700)) }
	// A symlink to a private directory of ours is still not one.
	squatLink = func(t *testing.T, path string) {
		target := t.TempDir()
		must(t, os.Chmod(target, 0o700))
		must(t, os.Symlink(target, path))
	}
	// Another user's private directory: only root can make one here.
	squatOther = func(t *testing.T, path string) {
		if os.Getuid() != 0 {
			t.Skip("needs root to make a directory of another user")
		}
		must(t, os.Mkdir(path, 0o700))
		must(t, os.Chown(path, 65534, 65534))
	}
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var squatCases = []struct {
	name   string
	squats map[int]squat // by index in the series
	want   int           // the entry used once made; -1: every one taken
	exists bool          // whether it exists before anything is made
}{
	{"none", nil, 0, false},
	{"a file", map[int]squat{0: squatFile}, 1, false},
	{"symlinks", map[int]squat{0: squatLink, 1: squatLink}, 2, false},
	{"open directory then a file", map[int]squat{0: squatOpen, 1: squatFile}, 2, false},
	{"another user's directory", map[int]squat{0: squatOther}, 1, false},
	{"ours further on", map[int]squat{2: squatOther, 3: squatOurs}, 3, true},
	{"ours after a missing one", map[int]squat{1: squatFile, 4: squatOurs}, 4, true},
	{"all taken", map[int]squat{0: squatFile, 1: squatLink, 2: squatOpen, 3: squatFile, 4: squatFile,
		5: squatFile, 6: squatLink, 7: squatOpen}, -1, false},
}

// prefixWith makes a fresh prefix whose series carries the squats.
func prefixWith(t *testing.T, squats map[int]squat) (string, []string) {
	t.Helper()
	prefix := filepath.Join(t.TempDir(), "mpiwrap-")
	series := userdir.Of(prefix, os.Getuid())
	if len(series) != nsexec.SeriesLen || series[1] != series[0]+".1" {
		t.Fatalf("series %q", series)
	}
	for i, s := range squats {
		s(t, series[i])
	}
	return prefix, series
}

// The C half (plancache.c reads plans from it, fastpath.c meets there)
// picks the same entry of a series as Go, squatted or not, before and
// after making one.
func TestUserDirMatchesC(t *testing.T) {
	for _, tt := range squatCases {
		t.Run(tt.name, func(t *testing.T) {
			want := func(series []string) string {
				if tt.want < 0 {
					return ""
				}
				return series[tt.want]
			}
			// Looking makes nothing.
			prefix, series := prefixWith(t, tt.squats)
			goDir := userdir.Find(series)
			cDir, ok := nsexec.UserDirC(prefix, false)
			if ok != (goDir != "") || cDir != goDir || (goDir != "") != tt.exists {
				t.Fatalf("read only: C %q (%v), Go %q", cDir, ok, goDir)
			}
			// C makes it; Go finds what C made.
			cDir, ok = nsexec.UserDirC(prefix, true)
			if cDir != want(series) || ok != (tt.want >= 0) || userdir.Find(series) != cDir {
				t.Fatalf("C made %q (%v), want %q; Go finds %q", cDir, ok, want(series), userdir.Find(series))
			}
			// Go makes it; C finds what Go made.
			prefix, series = prefixWith(t, tt.squats)
			goDir, err := userdir.Ensure(series)
			var taken *userdir.TakenError
			if goDir != want(series) || (tt.want < 0) != errors.As(err, &taken) {
				t.Fatalf("Go made %q (%v), want %q", goDir, err, want(series))
			}
			if cDir, _ := nsexec.UserDirC(prefix, false); cDir != goDir {
				t.Fatalf("C finds %q where Go made %q", cDir, goDir)
			}
			if goDir != "" && !userdir.Private(goDir) {
				t.Fatalf("%s is not private", goDir)
			}
		})
	}
}

// The socket path of a node key agrees too, with $XDG_RUNTIME_DIR first
// when it is private and skipped when it is not.
func TestRendezvousSocketMatchesC(t *testing.T) {
	const key = "hydra:1234|net:[4026531840]|node1"
	private, open := t.TempDir(), t.TempDir()
	must(t, os.Chmod(private, 0o700))
	must(t, os.Chmod(open, 0o755))
	for xname, xdg := range map[string]string{"no xdg": "", "private xdg": private, "open xdg": open} {
		for _, tt := range squatCases {
			t.Run(xname+" "+tt.name, func(t *testing.T) {
				t.Setenv("XDG_RUNTIME_DIR", xdg)
				prefix, series := prefixWith(t, tt.squats)
				cPath, ok := nsexec.SocketPathAtC(prefix, key)
				prefix2, _ := prefixWith(t, tt.squats)
				dir, err := userdir.Ensure(userdir.Rendezvous(prefix2, os.Getuid(), xdg))
				goPath := ""
				if err == nil {
					goPath = userdir.Socket(dir, key)
				}
				if ok != (err == nil) || strings.Replace(goPath, prefix2, prefix, 1) != cPath {
					t.Fatalf("C %q (%v), Go %q (%v)", cPath, ok, goPath, err)
				}
				switch {
				case xdg == private && filepath.Dir(cPath) != filepath.Join(private, nsexec.XDGDir):
					t.Fatalf("socket %s, not in the private $XDG_RUNTIME_DIR", cPath)
				case xdg != private && tt.want >= 0 && filepath.Dir(cPath) != series[tt.want]:
					t.Fatalf("socket %s, want it in %s", cPath, series[tt.want])
				}
			})
		}
	}
}
