package plan

import (
	"os"
	"os/user"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

func TestNewHost(t *testing.T) {
	env := []string{"HOME=/somewhere/else", "PATH=/bin", "X=1", "X=2"}
	h := NewHost(env, "/work/dir")
	if h.UID != os.Getuid() || h.GID != os.Getgid() || h.PPid != os.Getppid() || h.Cwd != "/work/dir" {
		t.Errorf("host %+v: want this process's ids and the given cwd", h)
	}
	if h.Home != "/somewhere/else" || h.Getenv("X") != "2" || h.Getenv("NOPE") != "" {
		t.Errorf("home %q, X=%q: want $HOME from the given environment, the last X", h.Home, h.Getenv("X"))
	}
	if len(h.Groups) == 0 || h.Groups[0].GID != os.Getgid() || h.Groups[0].Name == "" {
		t.Errorf("groups %+v: want the primary group first, named", h.Groups)
	}
	if u, err := user.LookupId(strconv.Itoa(os.Getuid())); err == nil {
		if h.User != u.Username {
			t.Errorf("user %q, want %q", h.User, u.Username)
		}
		if g, err := user.LookupGroupId(strconv.Itoa(os.Getgid())); err == nil && h.Groups[0].Name != g.Name {
			t.Errorf("primary group %q, want %q", h.Groups[0].Name, g.Name)
		}
	}
	if h.Shell == "" || h.NodeCache != nil {
		t.Errorf("shell %q, node cache %v: want a shell and no node cache", h.Shell, h.NodeCache)
	}
	// Without $HOME, the home comes from the passwd entry, when there is one.
	if u, err := user.LookupId(strconv.Itoa(os.Getuid())); err == nil {
		if h := NewHost([]string{"PATH=/bin"}, "/"); h.Home != u.HomeDir {
			t.Errorf("home without $HOME: %q, want %q", h.Home, u.HomeDir)
		}
	}
}

func TestCurrentHost(t *testing.T) {
	h, err := CurrentHost()
	if err != nil {
		t.Fatal(err)
	}
	cwd, _ := unix.Getwd()
	if h.Cwd != cwd || h.UID != os.Getuid() || len(h.Env) != len(os.Environ()) {
		t.Errorf("CurrentHost %+v: want cwd %s and this process's environment", h, cwd)
	}
}

func TestLookupEnv(t *testing.T) {
	env := []string{"A=1", "B=", "A=3", "NOEQUALS"}
	for _, tt := range []struct {
		name, val string
		ok        bool
	}{{"A", "3", true}, {"B", "", true}, {"C", "", false}, {"NOEQUALS", "", false}} {
		if v, ok := LookupEnv(env, tt.name); v != tt.val || ok != tt.ok {
			t.Errorf("LookupEnv(%s) = %q, %v; want %q, %v", tt.name, v, ok, tt.val, tt.ok)
		}
	}
}
