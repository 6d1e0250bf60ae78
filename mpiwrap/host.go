package mpiwrap

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
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
}

// Group is a group id and its name on the host.
type Group struct {
	GID  int
	Name string
}

// CurrentHost reads the current process's facts.
func CurrentHost() (*Host, error) {
	cwd, err := os.Getwd()
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
	if u, err := user.LookupId(strconv.Itoa(h.UID)); err == nil {
		h.User, h.Gecos = u.Username, u.Name
		if h.Home == "" {
			h.Home = u.HomeDir
		}
	}
	h.Shell = loginShell(h.UID, h.Shell)
	h.Groups = hostGroups(h.GID)
	return h
}

// Getenv is os.Getenv over the host's recorded environment.
func (h *Host) Getenv(name string) string {
	v, _ := lookupEnv(h.Env, name)
	return v
}

func lookupEnv(env []string, name string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// loginShell reads the shell from /etc/passwd; os/user doesn't expose it.
func loginShell(uid int, fallback string) string {
	data, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return fallback
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) == 7 && f[2] == strconv.Itoa(uid) && f[6] != "" {
			return f[6]
		}
	}
	return fallback
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
		name := strconv.Itoa(g)
		if gr, err := user.LookupGroupId(name); err == nil {
			name = gr.Name
		}
		groups = append(groups, Group{GID: g, Name: name})
	}
	return groups
}
