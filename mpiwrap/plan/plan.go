package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mpiwrap/mpiwrap/hostlib/profile"
	"github.com/mpiwrap/mpiwrap/netinject"
	"github.com/mpiwrap/mpiwrap/pmi/launchenv"
)

// Mount is one bind into the container, in the order it is made.
type Mount struct {
	Src       string `json:"src,omitempty"` // host path; empty for a generated file
	Dst       string `json:"dst"`           // path inside the container
	Dir       bool   `json:"dir"`
	Recursive bool   `json:"recursive"`
	ReadOnly  bool   `json:"read_only"`
	NoSuidDev bool   `json:"nosuid_nodev"`
	Optional  bool   `json:"optional"`         // warn and skip if the target can't be made
	Detach    bool   `json:"detach,omitempty"` // unmount Dst instead of binding
	Farm      *Farm  `json:"farm,omitempty"`   // a generated tree of links (InjectRoot)
	Why       string `json:"why"`
	Content   []byte `json:"-"` // a generated file's content
}

// Join says whether this rank shares its node's namespace, and under which key.
type Join struct {
	Shared bool   `json:"shared"`
	Key    string `json:"key,omitempty"`
	Size   int    `json:"size"` // expected local ranks; 0 when unknown
	Why    string `json:"why"`
}

// Plan is everything one rank will do, decided before any syscall that
// changes state. `mpiwrap check` prints it; Apply carries it out.
type Plan struct {
	Image      Image    `json:"image"`
	Overlay    bool     `json:"overlay"`
	OverlayWhy string   `json:"overlay_reason,omitempty"`
	Mounts     []Mount  `json:"mounts"`
	Env        *Env     `json:"env"`
	Argv       []string `json:"argv"`
	Cwd        string   `json:"cwd"`
	Launcher   Launcher `json:"launcher"`
	Join       Join     `json:"join"`
	Notes      []string `json:"notes,omitempty"`
	Warnings   []string `json:"warnings,omitempty"`
	// Inject is the host stacks the profiles bring; nil without profiles.
	Inject *Injection `json:"inject,omitempty"`
	// ProfileEnv are the profiles' environment edits, applied before the
	// user's own.
	ProfileEnv []profile.EnvEdit `json:"-"`
	// ExtraTargets are files bound later (after setup) that must exist.
	ExtraTargets []string `json:"extra_targets,omitempty"`
	// MPI is the container's MPI, for --pmi=auto.
	MPI MPIClient `json:"mpi"`
	// Fabric points the MPI at the node's fabric; nil when none was
	// chosen (no launcher, --net=none).
	Fabric *Fabric `json:"fabric,omitempty"`
	// NoNet gives every rank a private network namespace with only
	// loopback (--net=none).
	NoNet bool `json:"no_net,omitempty"`
	// PMIMode is passthrough, proxy or off, and PMIWhy says why.
	PMIMode PMIMode `json:"pmi_mode"`
	PMIWhy  string  `json:"pmi_why"`

	// profileSources are the site file and the profile directories that
	// selecting profiles read, even when it selected none.
	profileSources []string
}

// defaultBinds are made for every container. /dev brings /dev/shm and
// /dev/pts with it. /tmp is not recursive: in the rank's mount namespace the
// staging tmpfs sits on /tmp, and it must not show through.
var defaultBinds = []Mount{
	{Src: "/dev", Dst: "/dev", Dir: true, Recursive: true, Why: "default (with /dev/shm)"},
	{Src: "/proc", Dst: "/proc", Dir: true, Recursive: true, Why: "default"},
	{Src: "/sys", Dst: "/sys", Dir: true, Recursive: true, Why: "default"},
	{Src: "/tmp", Dst: "/tmp", Dir: true, NoSuidDev: true, Why: "default"},
	{Src: "/etc/hosts", Dst: "/etc/hosts", ReadOnly: true, NoSuidDev: true, Optional: true, Why: "default"},
	{Src: "/etc/resolv.conf", Dst: "/etc/resolv.conf", ReadOnly: true, NoSuidDev: true, Optional: true, Why: "default"},
}

// systemDirs, and anything below the first group, are never bound in as the
// working directory: binding the host's /usr/lib over the image's would
// replace the image. Below /opt and /var (apps, scratch) is fine.
var systemDirs = []string{"/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64",
	"/libx32", "/proc", "/run", "/sbin", "/sys", "/usr"}

var topOnlyDirs = []string{"/opt", "/var", "/home", "/srv", "/mnt", "/media"}

// New combines a spec with the host facts into a plan. It changes nothing
// on the host: it writes no file, makes no directory and takes no lock.
func New(spec *Spec, h *Host) (*Plan, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	img, err := OpenImage(spec.Image)
	if err != nil {
		return nil, err
	}
	if len(spec.Command) == 0 {
		return nil, fmt.Errorf("no command given: usage is mpiwrap [flags] %s CMD [ARGS...]", spec.Image)
	}
	p := &Plan{Image: img, Argv: spec.Command, Launcher: DetectLauncher(h.Env)}
	for _, m := range defaultBinds {
		if _, err := os.Stat(m.Src); err != nil {
			if m.Optional {
				p.notef("skip %s: not on this host", m.Src)
				continue
			}
			return nil, fmt.Errorf("host %s is missing: %w", m.Src, err)
		}
		if err := kernelTreeInImage(img, m); err != nil {
			return nil, err
		}
		p.Mounts = append(p.Mounts, m)
	}
	if err := p.planInject(spec, h); err != nil {
		return nil, err
	}
	if err := p.planFabric(spec, h); err != nil {
		return nil, err
	}
	if p.Env, err = RankEnv(h.Env, spec, p.ProfileEnv, p.HintEnv()); err != nil {
		return nil, err
	}
	p.planHome(spec, h)
	p.planCwd(spec, h)
	if spec.PMI != PMIOff {
		p.planPassthrough(h.Env)
	}
	// User binds come last, so they can nest inside $HOME or the cwd.
	if err := p.planBinds(spec); err != nil {
		return nil, err
	}
	passwd, group, note := Accounts(img, h)
	p.Mounts = append(p.Mounts,
		Mount{Dst: "/etc/passwd", ReadOnly: true, NoSuidDev: true, Content: passwd, Why: "generated: " + note},
		Mount{Dst: "/etc/group", ReadOnly: true, NoSuidDev: true, Content: group, Why: "generated: " + note})
	if p.Inject != nil {
		if err := p.planLdCache(h.NodeCache); err != nil {
			return nil, err
		}
	}
	p.planOverlay()
	p.Join = planJoin(spec, p.Launcher)
	if (spec.PMI == PMIAuto || spec.PMI == "") && HostOffer(h.Env) != launchenv.OfferNone {
		p.MPI = p.detectMPI()
	}
	if p.PMIMode, p.PMIWhy, err = DecidePMI(spec, h.Env, p.MPI); err != nil {
		return nil, err
	}
	return p, nil
}

// HintEnv is the fabric hints a rank's environment gets where unset.
func (p *Plan) HintEnv() []netinject.Hint {
	if p.Fabric == nil {
		return nil
	}
	return p.Fabric.Hints
}

func (p *Plan) notef(format string, args ...any) {
	p.Notes = append(p.Notes, fmt.Sprintf(format, args...))
}

// kernelTreeInImage refuses an image whose /dev, /proc, /sys or /tmp is a
// symlink: the bind would follow it (inside the image) and land elsewhere,
// and the container would silently lack the tree.
func kernelTreeInImage(img Image, m Mount) error {
	if img.Kind != ImageDir || !m.Dir {
		return nil
	}
	st, err := os.Lstat(filepath.Join(img.Path, m.Dst))
	if err != nil || st.Mode()&os.ModeSymlink == 0 {
		return nil
	}
	target, _ := os.Readlink(filepath.Join(img.Path, m.Dst))
	return fmt.Errorf("image %s: its %s is a symlink (to %s), but mpiwrap binds the host's %s there: make %s a directory in the image", img.Path, m.Dst, target, m.Dst, m.Dst)
}

// covered reports whether path is already visible at the same place through
// an identity bind planned earlier.
func (p *Plan) covered(path string) bool {
	for _, m := range p.Mounts {
		if m.Dir && m.Src == m.Dst && (path == m.Dst || strings.HasPrefix(path, m.Dst+"/")) {
			return true
		}
	}
	return false
}

func (p *Plan) planHome(spec *Spec, h *Host) {
	switch st, err := os.Stat(h.Home); {
	case spec.NoHome:
		p.notef("don't bind $HOME (--no-home)")
	case h.Home == "" || h.Home == "/":
		p.notef("don't bind $HOME: it is %q", h.Home)
	case err != nil || !st.IsDir():
		p.notef("don't bind $HOME %s: not a directory on this host", h.Home)
	case p.covered(h.Home):
		p.notef("$HOME %s is visible through an earlier bind", h.Home)
	default:
		p.Mounts = append(p.Mounts, Mount{Src: h.Home, Dst: h.Home, Dir: true, Recursive: true,
			NoSuidDev: true, Why: "home (--no-home to skip)"})
	}
}

func (p *Plan) planBinds(spec *Spec) error {
	for _, b := range spec.Binds {
		st, err := os.Stat(b.Src)
		if err != nil {
			return fmt.Errorf("bind source %s does not exist on this host (--bind %s:%s): create it or fix the path", b.Src, b.Src, b.Dst)
		}
		p.Mounts = append(p.Mounts, Mount{Src: b.Src, Dst: b.Dst, Dir: st.IsDir(), Recursive: true,
			ReadOnly: b.ReadOnly, NoSuidDev: true, Why: "--bind"})
		if b.Src == "/" {
			// The staging tmpfs is on /tmp in this namespace; hide its copy.
			p.Mounts = append(p.Mounts, Mount{Dst: filepath.Join(b.Dst, "tmp"), Dir: true, Detach: true,
				Why: "hide mpiwrap's staging mount"})
		}
	}
	return nil
}

func (p *Plan) planCwd(spec *Spec, h *Host) {
	p.Cwd = h.Cwd
	switch {
	case spec.NoCwd:
		p.Cwd = "/"
		p.notef("don't bind the working directory (--no-cwd); start in /")
	case p.covered(h.Cwd):
		p.notef("working directory %s is visible through an earlier bind", h.Cwd)
	case isSystemDir(h.Cwd):
		p.Cwd = "/"
		p.Warnings = append(p.Warnings, fmt.Sprintf("not binding the working directory %s over the image's own system directory; starting in / (cd elsewhere, or use --no-cwd to silence this)", h.Cwd))
	default:
		p.Mounts = append(p.Mounts, Mount{Src: h.Cwd, Dst: h.Cwd, Dir: true, Recursive: true,
			NoSuidDev: true, Why: "working directory (--no-cwd to skip)"})
	}
}

func isSystemDir(path string) bool {
	if slices.Contains(topOnlyDirs, path) {
		return true
	}
	for _, d := range systemDirs {
		if path == d || (d != "/" && strings.HasPrefix(path, d+"/")) {
			return true
		}
	}
	return false
}

// planOverlay decides whether a tmpfs overlay is needed to make mount points
// the image lacks. A SquashFS image can't be looked into before it is
// mounted, so it always gets one; it costs one small tmpfs.
func (p *Plan) planOverlay() {
	if p.Image.Kind == ImageSquashFS {
		p.Overlay, p.OverlayWhy = true, "SquashFS image: mount points can't be checked before mounting"
		return
	}
	var missing []string
	for i, m := range p.Mounts {
		if m.Detach || NestedIn(p.Mounts[:i], m.Dst) {
			continue
		}
		if !existsInImage(p.Image.Path, m.Dst) {
			missing = append(missing, m.Dst)
		}
	}
	for _, t := range p.ExtraTargets {
		if !existsInImage(p.Image.Path, t) {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		p.Overlay, p.OverlayWhy = true, "to make mount points missing in the image: "+strings.Join(missing, ", ")
	}
}

// NestedIn reports whether dst lies inside an earlier directory mount, where
// the host directory, not the image, decides what exists.
func NestedIn(earlier []Mount, dst string) bool {
	for _, m := range earlier {
		if m.Dir && (m.Src != "" || m.Farm != nil) && strings.HasPrefix(dst, strings.TrimSuffix(m.Dst, "/")+"/") {
			return true
		}
	}
	return false
}

func planJoin(spec *Spec, l Launcher) Join {
	switch {
	case spec.NoJoin:
		return Join{Why: "every rank gets its own namespace (--no-join)"}
	case spec.JoinKey != "":
		return Join{Shared: true, Key: NodeKey("user:" + spec.JoinKey), Size: max(spec.JoinSize, 0),
			Why: "--join-key " + spec.JoinKey}
	case l.Step == "":
		return Join{Why: "no launcher found in the environment: a single rank"}
	case l.LocalSize == 1:
		return Join{Why: "the only rank of this step on this node (" + l.Source + ")"}
	}
	size := max(l.LocalSize, 0)
	if spec.JoinSize > 0 {
		size = spec.JoinSize
	}
	return Join{Shared: true, Key: NodeKey(l.Step), Size: size,
		Why: fmt.Sprintf("%s step %s, %d local ranks (%s)", l.Name, l.Step, size, l.Source)}
}

// MountInputs digests everything in a rank's request that shapes the
// container's mounts. The keeper gives a rank whose inputs match the
// leader's the leader's mounts without planning them again, and refuses a
// rank whose inputs differ: one node, one container.
func MountInputs(spec *Spec, env []string, cwd string) string {
	home, _ := LookupEnv(env, "HOME")
	h := sha256.New()
	enc := json.NewEncoder(h)
	_ = enc.Encode([]any{spec.Image, spec.Binds, spec.NoHome, spec.NoCwd, spec.Profiles,
		spec.NoProfile, spec.ProfileFiles, spec.ABIPolicy, spec.PMI, home, pmixDirs(env)})
	if !spec.NoCwd {
		_ = enc.Encode(cwd)
	}
	return hex.EncodeToString(h.Sum(nil))
}
