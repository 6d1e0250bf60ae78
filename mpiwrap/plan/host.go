package plan

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Host is what a rank knows about where it runs: identity, environment and
// working directory. NewHost reads it; tests build it by hand.
type Host struct {
	UID, GID int
	User     string   // login name, or the uid when there is none
	Gecos    string   // full name for the generated /etc/passwd
	Shell    string   // login shell on the host
	Groups   []Group  // primary first, then supplementary
	Home     string   // $HOME
	Cwd      string   // working directory
	Env      []string // environment, as K=V
	PPid     int      // parent process: the launcher for a rank
	// NodeCache is the node's cache as planning may read it (the ld.so
	// cache entries); nil when a plan needs none.
	NodeCache NodeCache
	// Network is the node's network as planning may read it; nil plans
	// no fabric.
	Network Network
}

// Group is a group id and its name on the host.
type Group struct {
	GID  int
	Name string
}

// CurrentHost reads the current process's facts.
func CurrentHost() (*Host, error) {
	// getcwd, not os.Getwd (which may answer $PWD): the C half uses it too.
	cwd, err := unix.Getwd()
	if err != nil {
		return nil, fmt.Errorf("get working directory: %w", err)
	}
	return NewHost(os.Environ(), cwd), nil
}

// NewHost is the current user's identity with a given environment and
// working directory: the keeper uses it for the ranks that join it.
func NewHost(env []string, cwd string) *Host {
	h := &Host{UID: os.Getuid(), GID: os.Getgid(), Cwd: cwd, Env: env, PPid: os.Getppid()}
	h.Home = h.Getenv("HOME")
	h.User, h.Gecos, h.Shell = strconv.Itoa(h.UID), "", "/bin/sh"
	if f := passwdEntry(h.UID); f != nil {
		h.User, h.Gecos = f[0], f[4]
		if h.Home == "" {
			h.Home = f[5]
		}
		if f[6] != "" {
			h.Shell = f[6]
		}
	}
	h.Groups = hostGroups(h.GID)
	return h
}

// passwdEntry finds the caller in /etc/passwd, then through NSS with getent
// (sites keep users in LDAP or sssd). mpiwrap is linked statically, so it
// can't load NSS modules itself.
func passwdEntry(uid int) []string {
	id := strconv.Itoa(uid)
	if data, err := os.ReadFile("/etc/passwd"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Split(line, ":"); len(f) == 7 && f[2] == id {
				return f
			}
		}
	}
	out, err := exec.Command("getent", "passwd", id).Output()
	if f := strings.Split(strings.TrimSpace(string(out)), ":"); err == nil && len(f) == 7 {
		return f
	}
	return nil
}

// groupName finds a group's name in /etc/group, then through getent.
func groupName(gid int) string {
	id := strconv.Itoa(gid)
	if g, err := user.LookupGroupId(id); err == nil {
		return g.Name
	}
	out, err := exec.Command("getent", "group", id).Output()
	if f := strings.Split(strings.TrimSpace(string(out)), ":"); err == nil && len(f) >= 3 {
		return f[0]
	}
	return id
}

// Getenv is os.Getenv over the host's recorded environment.
func (h *Host) Getenv(name string) string {
	v, _ := LookupEnv(h.Env, name)
	return v
}

// LookupEnv is os.LookupEnv over an environment list; the last setting wins.
func LookupEnv(env []string, name string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

func hostGroups(primary int) []Group {
	gids := []int{primary}
	if extra, err := os.Getgroups(); err == nil {
		for _, g := range extra {
			if g != primary {
				gids = append(gids, g)
			}
		}
	}
	groups := make([]Group, 0, len(gids))
	for _, g := range gids {
		groups = append(groups, Group{GID: g, Name: groupName(g)})
	}
	return groups
}
