package profile

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
)

// DefaultInjectDir is where injected libraries appear in the container.
const DefaultInjectDir = "/.mpiwrap/lib"

// DefaultPathDirs are searched for [[binary]] names without a slash.
var DefaultPathDirs = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// Host is the machine profiles are resolved against.
type Host struct {
	// Resolver finds libraries; its Root is the host's root directory.
	Resolver *elfdeps.Resolver
	// PathDirs are searched for binaries; nil means DefaultPathDirs.
	PathDirs []string
}

// NewHost reads the host's ld.so.cache under root ("/" normally).
func NewHost(root string) (*Host, error) {
	r, err := elfdeps.NewResolver(elfdeps.Root(root))
	if err != nil {
		return nil, fmt.Errorf("inspect host: %w", err)
	}
	return &Host{Resolver: r}, nil
}

// Options tune Resolve.
type Options struct {
	// InjectDir is the container directory for libraries; "" means
	// DefaultInjectDir. Its last component must not be a hwcap name.
	InjectDir string
}

// Resolve works out every host file, device and environment edit the
// profiles ask for, in profile order. Items not found are listed in
// Resolution.Missing; use Resolution.Err to fail on required ones. The
// error result is for I/O failures and bad options only.
func Resolve(profiles []*Profile, host *Host, opt Options) (*Resolution, error) {
	if opt.InjectDir == "" {
		opt.InjectDir = DefaultInjectDir
	}
	if err := checkInjectDir(opt.InjectDir); err != nil {
		return nil, err
	}
	b := &builder{host: host, inject: opt.InjectDir, byDest: map[string]int{}, links: map[string]string{}}
	b.res = &Resolution{InjectDir: opt.InjectDir, Multiarch: host.Resolver.Multiarch}
	for _, p := range profiles {
		if err := b.profile(p); err != nil {
			return nil, err
		}
	}
	return b.finish(), nil
}

// checkInjectDir refuses directories ldconfig would treat as hwcap
// subdirectories, which would give their entries non-zero hwcap bits.
func checkInjectDir(dir string) error {
	base := path.Base(dir)
	if !path.IsAbs(dir) || dir == "/" {
		return fmt.Errorf("resolve profiles: inject dir %q must be an absolute directory below /", dir)
	}
	hw := []string{"tls", "x86_64", "i386", "i486", "i586", "i686", "haswell", "xeon_phi", "avx512_1", "glibc-hwcaps"}
	if slices.Contains(hw, base) || strings.HasPrefix(base, "x86-64-v") {
		return fmt.Errorf("resolve profiles: inject dir %q: %q is a hwcap directory name to ldconfig; choose another", dir, base)
	}
	return nil
}

type builder struct {
	host   *Host
	inject string
	res    *Resolution
	byDest map[string]int    // Files index by Dest
	links  map[string]string // link path -> target
}

// profile resolves one profile's items in file order.
func (b *builder) profile(p *Profile) error {
	b.res.Profiles = append(b.res.Profiles, ProfileRef{Name: p.Name, Source: p.Source, Description: p.Description})
	r := *b.hostResolver()
	r.ExtraDirs = b.expandAll(p.SearchDirs)
	r.Exclude = func(n string) bool { return elfdeps.DefaultExclude(n) || elfdeps.MatchAny(p.Exclude, n) }
	for _, l := range p.Libraries {
		if err := b.library(p, &r, l); err != nil {
			return err
		}
	}
	for _, f := range p.Files {
		if err := b.file(p, f); err != nil {
			return err
		}
	}
	for _, bin := range p.Binaries {
		if err := b.binary(p, &r, bin); err != nil {
			return err
		}
	}
	for _, d := range p.Devices {
		if err := b.device(p, d); err != nil {
			return err
		}
	}
	for _, e := range p.Env {
		e.Value, _ = b.expand(e.Value)
		b.res.Env = append(b.res.Env, e)
	}
	b.abi(p)
	return nil
}

func (b *builder) hostResolver() *elfdeps.Resolver { return b.host.Resolver }

func (b *builder) pathDirs() []string {
	if b.host.PathDirs != nil {
		return b.host.PathDirs
	}
	return DefaultPathDirs
}

// expand substitutes tokens; false means the string needs {multiarch}
// and the host has none, so the candidate does not apply here.
func (b *builder) expand(s string) (string, bool) {
	ma := b.res.Multiarch
	if ma == "" && strings.Contains(s, TokenMultiarch) {
		return "", false
	}
	return strings.NewReplacer(TokenMultiarch, ma, TokenInjectDir, b.inject).Replace(s), true
}

func (b *builder) expandAll(in []string) []string {
	var out []string
	for _, s := range in {
		if e, ok := b.expand(s); ok {
			out = append(out, e)
		}
	}
	return out
}

func (b *builder) missing(p *Profile, kind string, it Item, reason string) {
	b.res.Missing = append(b.res.Missing, Missing{
		Profile: p.Name, Kind: kind, Name: strings.Join(it.Candidates, " | "),
		Required: it.Required, Reason: reason, Pos: it.Pos,
	})
}

func isGlob(s string) bool { return strings.ContainsAny(s, "*?[") }

// notFound reports errors that mean "absent" rather than "broken".
func notFound(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, elfdeps.ErrNotFound) || errors.Is(err, elfdeps.ErrNotELF)
}
