package plan

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mpiwrap/mpiwrap/hostlib"
	"github.com/mpiwrap/mpiwrap/hostlib/abi"
	"github.com/mpiwrap/mpiwrap/hostlib/profile"
)

// Host stacks are injected under InjectRoot, a directory of mpiwrap's own
// that a tmpfs provides: libraries appear at their resolved names in
// InjectRoot/lib as symlinks into InjectRoot/host, where each host directory
// that holds an injected file is bound read-only. That is one bind per
// directory instead of one per file (a mpich+verbs closure has dozens), and
// ld.so still finds exactly the injected files, through the cache.
const (
	InjectRoot = "/.mpiwrap"
	HostView   = InjectRoot + "/host"
)

// Injection is the host-stack part of a plan.
type Injection struct {
	Profiles   []string            `json:"profiles"`
	Resolution *profile.Resolution `json:"resolution"`
	Key        string              `json:"cache_key"`
	CacheDir   string              `json:"cache_dir"`
	Binaries   []string            `json:"binaries"`
	// LdCache says where the container's ld.so.conf and ld.so.cache come
	// from.
	LdCache LdCacheState `json:"ld_cache"`
	// Report is the ABI verdict, known once the entry is built (or, for
	// check, previewed).
	Report *abi.Report `json:"abi,omitempty"`
	// Built is the full injection when this process computed it.
	Built *hostlib.Injection `json:"built,omitempty"`

	confFile, cacheFile string // the entry's files on the host
	// mounts are where planInjectMounts put its mounts in Plan.Mounts
	// (first index and count), so that dropped items can be taken out.
	mounts [2]int
	// dropsApplied says the report's dropped items are out of the mounts.
	dropsApplied bool
}

// Refused is the ABI verdict: a launch that must not happen.
func (in *Injection) Refused() error {
	if in == nil || in.Report == nil {
		return nil
	}
	return in.Report.Err()
}

// Farm is a tree of directories and symlinks (paths relative to the
// farm, targets) made in the staging tmpfs under Stage and bound at its
// mount's destination: InjectRoot, or a plugin directory.
type Farm struct {
	Stage string      `json:"stage"`
	Dirs  []string    `json:"dirs"`
	Links [][2]string `json:"links"`
}

// systemLibDirs keep the image's own files: injected libraries that go
// there are bound one by one, not as a directory of links.
func systemLibDir(dir, multiarch string) bool {
	for _, d := range []string{"/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib",
		"/lib/" + multiarch, "/usr/lib/" + multiarch, "/bin", "/sbin", "/usr/bin", "/usr/sbin", "/etc"} {
		if dir == d {
			return true
		}
	}
	return false
}

// pluginFarms turns libraries bound one by one into a plugin directory
// (verbs providers, libfabric providers) into one directory of links each:
// a plugin directory holds the host stack's plugins, not the image's.
func pluginFarms(direct []Mount, libs map[string]string, multiarch string) (farms, rest []Mount) {
	byDir := map[string][]Mount{}
	for _, m := range direct {
		dir := path.Dir(m.Dst)
		if _, lib := libs[m.Dst]; !lib || systemLibDir(dir, multiarch) {
			rest = append(rest, m)
			continue
		}
		byDir[dir] = append(byDir[dir], m)
	}
	for i, dir := range sortedKeys(boolKeys(byDir)) {
		f := &Farm{Stage: fmt.Sprintf("plugins%d", i)}
		for _, m := range byDir[dir] {
			f.Links = append(f.Links, [2]string{path.Base(m.Dst), HostView + m.Src})
		}
		farms = append(farms, Mount{Dst: dir, Dir: true, ReadOnly: true, NoSuidDev: true, Farm: f,
			Why: fmt.Sprintf("plugin directory of injected libraries (%d links)", len(f.Links))})
	}
	return farms, rest
}

func boolKeys[V any](m map[string]V) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// selectProfiles loads every profile and picks this run's. What loading
// skipped (an unreadable user directory, broken user files the run does
// not select) comes back as warnings.
func (p *Plan) selectProfiles(spec *Spec, getenv func(string) string) ([]*profile.Profile, []string, error) {
	roots := profile.DefaultRoots(getenv)
	roots.Files = spec.ProfileFiles
	p.profileSources = []string{roots.SiteConfig, roots.SiteDir, roots.UserDir}
	set, err := profile.Load(roots)
	if err != nil {
		return nil, nil, err
	}
	profiles, err := set.Select(spec.Profiles, spec.NoProfile)
	return profiles, set.Warnings(), err
}

// planInject resolves the run's profiles on this host and plans their
// mounts; the ld.so configuration comes from the node cache (see
// ldcache.go).
func (p *Plan) planInject(spec *Spec, h *Host) error {
	profiles, warnings, err := p.selectProfiles(spec, h.Getenv)
	for _, w := range warnings {
		p.notef("warning: %s", w)
	}
	if err != nil || len(profiles) == 0 {
		return err
	}
	host, err := profile.NewHost("/")
	if err != nil {
		return fmt.Errorf("read the host's ld.so.cache: %w", err)
	}
	res, err := profile.Resolve(profiles, host, profile.Options{InjectDir: profile.DefaultInjectDir})
	if err != nil {
		return err
	}
	if err := res.Err(); err != nil {
		return err
	}
	if spec.ABIPolicy != "" {
		pol, err := abi.ParsePolicy(spec.ABIPolicy)
		if err != nil {
			return fmt.Errorf("bad --abi-policy: %w", err)
		}
		for i := range res.ABI {
			res.ABI[i].Policy = pol
		}
	}
	in := &Injection{Resolution: res}
	for _, pr := range profiles {
		in.Profiles = append(in.Profiles, pr.Name)
	}
	p.Inject = in
	p.ProfileEnv = res.Env
	return p.planInjectMounts(res)
}

// planInjectMounts adds the farm, the host directory binds and the binds of
// files that go elsewhere (plugin directories, binaries, configuration).
func (p *Plan) planInjectMounts(res *profile.Resolution) error {
	mounts, notes, err := p.injectMounts(res)
	if err != nil {
		return err
	}
	p.Inject.mounts = [2]int{len(p.Mounts), len(mounts)}
	p.Mounts = append(p.Mounts, mounts...)
	p.Notes = append(p.Notes, notes...)
	return nil
}

// applyDropped takes the files of the optional items that the ABI report
// dropped out of the injection's mounts, once: the plan then mounts what
// the ld.so cache entry was built for. A directory image's mount points
// are looked at again.
func (p *Plan) applyDropped() error {
	in := p.Inject
	if in == nil || in.Report == nil || len(in.Report.Dropped) == 0 || in.dropsApplied {
		return nil
	}
	mounts, _, err := p.injectMounts(hostlib.WithoutDropped(in.Resolution, in.Report.Dropped))
	if err != nil {
		return err
	}
	at, n := in.mounts[0], in.mounts[1]
	if at+n > len(p.Mounts) || n == 0 || p.Mounts[at].Dst != InjectRoot || p.Mounts[at].Farm == nil {
		return fmt.Errorf("plan: the injection's mounts moved; can't leave out the dropped items")
	}
	p.Mounts = slices.Replace(p.Mounts, at, at+n, mounts...)
	in.mounts[1] = len(mounts)
	in.dropsApplied = true
	if p.Image.Kind == ImageDir {
		p.Overlay, p.OverlayWhy = false, ""
		p.planOverlay()
	}
	return nil
}

// injectMounts are the mounts of a resolution, with notes about devices
// the /dev bind already shows.
func (p *Plan) injectMounts(res *profile.Resolution) ([]Mount, []string, error) {
	var mounts []Mount
	var notes []string
	farm := &Farm{Stage: "inject"}
	hostDirs := map[string]bool{}
	libs := map[string]string{}
	var direct []Mount
	for _, f := range res.Files {
		if f.Kind == "library" {
			libs[f.Dest] = f.Real
		}
		dir := path.Dir(f.Real)
		if f.Kind == "dir" {
			dir = f.Real
		}
		hostDirs[dir] = true
		why := fmt.Sprintf("profile %s: %s", f.Profile, f.Item)
		if strings.HasPrefix(f.Dest, InjectRoot+"/") {
			farm.Links = append(farm.Links, [2]string{strings.TrimPrefix(f.Dest, InjectRoot+"/"), HostView + f.Real})
			continue
		}
		direct = append(direct, Mount{Src: f.Real, Dst: f.Dest, Dir: f.Kind == "dir", ReadOnly: true,
			NoSuidDev: true, Why: why})
	}
	for _, l := range res.Links {
		if !strings.HasPrefix(l.Path, InjectRoot+"/") {
			return nil, nil, fmt.Errorf("profile link %s is outside %s: mpiwrap makes links only there", l.Path, InjectRoot)
		}
		farm.Links = append(farm.Links, [2]string{strings.TrimPrefix(l.Path, InjectRoot+"/"), l.Target})
	}
	hosts := sortedKeys(hostDirs)
	farm.Dirs = farmDirs(farm.Links, hosts)
	mounts = append(mounts, Mount{Dst: InjectRoot, Dir: true, ReadOnly: true, NoSuidDev: true, Farm: farm,
		Why: "injected host stacks (profiles " + strings.Join(p.Inject.Profiles, ",") + ")"})
	for _, d := range hosts {
		mounts = append(mounts, Mount{Src: d, Dst: HostView + d, Dir: true, ReadOnly: true, NoSuidDev: true,
			Why: "host directory of injected files"})
	}
	farms, direct := pluginFarms(direct, libs, res.Multiarch)
	mounts = append(mounts, farms...)
	mounts = append(mounts, direct...)
	for _, d := range res.Devices {
		if d.Source == d.Dest && p.covered(d.Dest) {
			notes = append(notes, fmt.Sprintf("device %s (profile %s) is visible through the /dev bind", d.Dest, d.Profile))
			continue
		}
		// A device must keep working: no nodev here.
		mounts = append(mounts, Mount{Src: d.Source, Dst: d.Dest, Why: "device of profile " + d.Profile})
	}
	return mounts, notes, nil
}

// farmDirs are the directories of the injected tree, parents first: those
// of its links, the mount points of the host directories, and "cache".
func farmDirs(links [][2]string, hosts []string) []string {
	dirs := map[string]bool{"cache": true}
	for _, l := range links {
		for d := path.Dir(l[0]); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	for _, d := range hosts {
		for x := "host" + d; x != "." && !dirs[x]; x = path.Dir(x) {
			dirs[x] = true
		}
	}
	out := sortedKeys(dirs)
	slices.SortFunc(out, func(a, b string) int { return strings.Count(a, "/") - strings.Count(b, "/") })
	return out
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// commandInImage resolves the command to an absolute path inside a
// directory image, for the symbol check; "" when it isn't in the image (a
// program in the bound working directory, say).
func (p *Plan) commandInImage() string {
	if p.Image.Kind != ImageDir || len(p.Argv) == 0 {
		return ""
	}
	cmd := p.Argv[0]
	if strings.Contains(cmd, "/") {
		if !filepath.IsAbs(cmd) {
			cmd = filepath.Join(p.Cwd, cmd)
		}
		if existsInImage(p.Image.Path, cmd) && !NestedIn(p.Mounts, cmd) {
			return cmd
		}
		return ""
	}
	pathVar, _ := p.Env.Get("PATH")
	for _, dir := range filepath.SplitList(pathVar) {
		if c := filepath.Join(dir, cmd); filepath.IsAbs(c) && existsInImage(p.Image.Path, c) {
			return c
		}
	}
	return ""
}
