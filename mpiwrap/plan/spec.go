package plan

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mpiwrap/mpiwrap/hostlib/abi"
)

// Spec is everything a user asked for on one rank's command line. It holds
// no host facts and makes no syscalls; New combines it with a Host.
type Spec struct {
	Image         string     // directory or SquashFS file
	Command       []string   // argv inside the container
	Binds         []BindSpec // -b SRC[:DST[:ro]], in command-line order
	NoHome        bool       // don't bind $HOME
	NoCwd         bool       // don't bind the working directory; start in /
	KeepLDEnv     bool       // keep the host's LD_LIBRARY_PATH and LD_PRELOAD
	EnvEdits      []EnvEdit  // --set-env, --unset-env, --env-file, in order
	JoinKey       string     // overrides the launcher-derived node join key
	JoinSize      int        // ranks expected to join (0: from the launcher)
	NoJoin        bool       // every rank gets its own namespace
	Verbose       bool       // print every mount, bind and env decision
	Profiles      []string   // --profile a,b: profiles to add to the site defaults
	NoProfile     []string   // --no-profile [a,b]: drop profiles ("all": every default)
	ProfileFiles  []string   // --profile-file: extra profile files
	ABIPolicy     string     // --abi-policy warn|strict|major: overrides the profiles'
	PMI           PMIMode    // auto (or ""), passthrough, proxy or off
	Fabric        string     // --fabric IFACE[,RDMADEV]: overrides the node's fabric choice
	NoFabricHints bool       // --fabric-hints=off: set none of the MPI's fabric variables
	Net           NetMode    // --net host (or "") or none
}

// NetMode is the network a container sees.
type NetMode string

// The network modes.
const (
	NetHost NetMode = "host" // the host's network namespace, fabric included
	NetNone NetMode = "none" // a private network namespace with only loopback
)

func (m NetMode) String() string { return string(m) }

// PMIMode is how a rank reaches the launcher's PMI: what the user asks for
// (--pmi, possibly auto) and what a plan decides (never auto).
type PMIMode string

// The PMI modes.
const (
	PMIAuto        PMIMode = "auto"        // decide from the launcher and the container's MPI
	PMIPassthrough PMIMode = "passthrough" // the launcher's PMI reaches the rank as it is
	PMIProxy       PMIMode = "proxy"       // mpiwrap serves PMI-1/2 to the rank and speaks upstream
	PMIOff         PMIMode = "off"         // no PMI: the rank is a singleton
	// PMIServer: the node's keeper serves PMIx to the rank over the
	// launcher's PMI-1/2 (an Open MPI image under hydra or srun
	// --mpi=pmi2). Only planning chooses it; it is no --pmi value.
	PMIServer PMIMode = "pmix-server"
)

func (m PMIMode) String() string { return string(m) }

// ParsePMIMode reads a --pmi value.
func ParsePMIMode(s string) (PMIMode, error) {
	switch m := PMIMode(s); m {
	case PMIAuto, PMIPassthrough, PMIProxy, PMIOff:
		return m, nil
	}
	return "", fmt.Errorf("bad --pmi %q: want auto, passthrough, proxy or off", s)
}

// Validate checks what flags alone can't: values that only make sense
// together, and ranges. The CLI calls it; New does too.
func (s *Spec) Validate() error {
	if s.PMI != "" { // the zero Spec means auto
		if _, err := ParsePMIMode(string(s.PMI)); err != nil {
			return err
		}
	}
	if s.JoinSize < 0 {
		return errors.New("bad --join-size: must be positive")
	}
	if s.ABIPolicy != "" {
		if _, err := abi.ParsePolicy(s.ABIPolicy); err != nil {
			return fmt.Errorf("bad --abi-policy: %w", err)
		}
	}
	switch s.Net {
	case "", NetHost, NetNone:
	default:
		return fmt.Errorf("bad --net %q: want host or none", s.Net)
	}
	return nil
}

// BindSpec is one -b/--bind request.
type BindSpec struct {
	Src      string `json:"src"`
	Dst      string `json:"dst"`
	ReadOnly bool   `json:"read_only"`
}

// ParseBind parses SRC[:DST[:ro]]. Relative sources are taken from cwd.
func ParseBind(s, cwd string) (BindSpec, error) {
	parts := strings.Split(s, ":")
	if len(parts) > 3 || parts[0] == "" {
		return BindSpec{}, fmt.Errorf("bad --bind %q: want SRC[:DST[:ro]]", s)
	}
	b := BindSpec{Src: parts[0], Dst: parts[0]}
	if len(parts) > 1 && parts[1] != "" {
		b.Dst = parts[1]
	}
	if len(parts) == 3 {
		if parts[2] != "ro" {
			return BindSpec{}, fmt.Errorf("bad --bind %q: the only option is \"ro\"", s)
		}
		b.ReadOnly = true
	}
	if !filepath.IsAbs(b.Src) {
		b.Src = filepath.Join(cwd, b.Src)
	}
	if !filepath.IsAbs(b.Dst) {
		return BindSpec{}, fmt.Errorf("bad --bind %q: destination %q must be absolute", s, b.Dst)
	}
	b.Src, b.Dst = filepath.Clean(b.Src), filepath.Clean(b.Dst)
	if b.Dst == "/" {
		return BindSpec{}, fmt.Errorf("bad --bind %q: can't bind over the image root", s)
	}
	// The kernel's trees are the host's own, bound by default; a bind
	// over them (or into /proc) would hide what the MPI reads there.
	for _, k := range []string{"/proc", "/sys", "/dev"} {
		if b.Dst == k || k == "/proc" && strings.HasPrefix(b.Dst, k+"/") {
			return BindSpec{}, fmt.Errorf("bad --bind %q: %s would cover the container's %s: bind somewhere else", s, b.Dst, k)
		}
	}
	return b, nil
}

// EnvEdit is one environment change requested on the command line.
type EnvEdit struct {
	Op    string `json:"op"`    // set, unset or file
	Name  string `json:"name"`  // variable name, glob for unset, path for file
	Value string `json:"value"` // for set
}

// ParseSetEnv parses K=V for --set-env.
func ParseSetEnv(s string) (EnvEdit, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" || strings.ContainsAny(k, " \t\n") {
		return EnvEdit{}, fmt.Errorf("bad --set-env %q: want NAME=VALUE", s)
	}
	return EnvEdit{Op: "set", Name: k, Value: v}, nil
}
