package plan

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mpiwrap/mpiwrap/internal/fileid"
)

// CacheDeps are the files a plan was made from, with the identity each
// must keep for a cached copy of the plan to stay valid: the full identity
// of files whose contents the planner read, the kind only of bind sources.
func (p *Plan) CacheDeps(spec *Spec) [][2]string {
	var deps [][2]string
	for _, f := range []string{p.Image.Path, filepath.Join(p.Image.Path, "etc"),
		filepath.Join(p.Image.Path, "etc/passwd"), filepath.Join(p.Image.Path, "etc/group"),
		"/etc/passwd", "/etc/group"} {
		deps = append(deps, [2]string{f, fileid.Of(f)})
	}
	for _, e := range spec.EnvEdits {
		if e.Op == "file" {
			deps = append(deps, [2]string{e.Name, fileid.Of(e.Name)})
		}
	}
	for _, src := range p.profileSources { // a new profile or default changes the selection
		if src != "" {
			deps = append(deps, [2]string{src, fileid.Of(src)})
		}
	}
	if p.Inject != nil { // profile files: their edits would change the plan
		for _, pr := range p.Inject.Resolution.Profiles {
			if !strings.HasPrefix(pr.Source, "builtin:") {
				deps = append(deps, [2]string{pr.Source, fileid.Of(pr.Source)})
			}
		}
		deps = append(deps, [2]string{"/etc/ld.so.cache", fileid.Of("/etc/ld.so.cache")})
	}
	for _, m := range defaultBinds {
		deps = append(deps, [2]string{m.Src, fileid.Kind(m.Src)})
	}
	for _, m := range p.Mounts {
		if m.Src != "" {
			deps = append(deps, [2]string{m.Src, fileid.Kind(m.Src)})
		}
	}
	return uniqueDeps(deps)
}

// uniqueDeps drops repeats, keeping the first: the C replay stats each.
func uniqueDeps(deps [][2]string) [][2]string {
	seen := map[[2]string]bool{}
	out := deps[:0]
	for _, d := range deps {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// Cacheable says whether the C replay can run this plan: directory images
// without -v (whose output only the Go half prints), and a rank of its own.
func (p *Plan) Cacheable(spec *Spec) bool {
	return p.Image.Kind == ImageDir && !spec.Verbose && p.Launcher.Step == ""
}

// RankLabel is the rank for log lines, "-" when there is no launcher.
func (p *Plan) RankLabel() string {
	if p.Launcher.Rank < 0 {
		return "-"
	}
	return strconv.Itoa(p.Launcher.Rank)
}
