package plan

import (
	"fmt"
	"io"
	"strings"
)

// Describe writes the plan as human-readable lines, each starting with
// prefix: every mount, bind, environment and namespace decision.
func (p *Plan) Describe(w io.Writer, prefix string) {
	line := func(format string, args ...any) {
		fmt.Fprintf(w, "%s%s\n", prefix, fmt.Sprintf(format, args...))
	}
	line("image %s (%s), read-only, nosuid, nodev", p.Image.Path, p.Image.Kind)
	if p.Image.Kind == ImageSquashFS {
		line("squashfuse: %s, once per node, outside the container", p.Image.Squashfuse)
	}
	if p.Overlay {
		line("tmpfs overlay over the image %s", p.OverlayWhy)
	}
	for _, m := range p.Mounts {
		switch {
		case m.Detach:
			line("unmount %s (%s)", m.Dst, m.Why)
		case m.Content != nil:
			line("write %s (%s)", m.Dst, m.Why)
		case m.Farm != nil:
			line("mount %s: %d links, %d directories (%s)", m.Dst, len(m.Farm.Links), len(m.Farm.Dirs), m.Why)
		default:
			line("bind %s -> %s (%s; %s)", m.Src, m.Dst, m.describeFlags(), m.Why)
		}
	}
	for _, n := range p.Notes {
		line("%s", n)
	}
	for _, n := range p.Env.Notes {
		line("env: %s", n)
	}
	if in := p.Inject; in != nil {
		profiles := strings.Join(in.Profiles, ",")
		switch in.LdCache {
		case LdCacheMissing:
			line("profiles %s: ld.so.conf and ld.so.cache not built yet: a run builds them in %s", profiles, in.CacheDir)
		case LdCachePending:
			line("profiles %s: ld.so.conf and ld.so.cache built inside the container at start, into %s", profiles, in.CacheDir)
		default:
			line("profiles %s: ld.so.conf and ld.so.cache %s (node cache %s)", profiles, in.LdCache, in.CacheDir)
		}
		if in.Report != nil {
			verdict := "allowed"
			if err := in.Report.Err(); err != nil {
				verdict = "refused: " + err.Error()
			}
			line("ABI check: %s", verdict)
			for _, n := range in.Report.Notes() {
				line("ABI note: %s", strings.TrimPrefix(n, "hostlib: "))
			}
		}
	}
	p.describeFabric(line)
	line("PMI: %s: %s", p.PMIMode, p.PMIWhy)
	if p.Join.Shared {
		line("namespace: shared by the node's ranks: %s", p.Join.Why)
	} else {
		line("namespace: own: %s", p.Join.Why)
	}
	line("exec %s in %s", strings.Join(p.Argv, " "), p.Cwd)
}

func (m Mount) describeFlags() string {
	var f []string
	if m.Recursive {
		f = append(f, "recursive")
	}
	if m.ReadOnly {
		f = append(f, "read-only")
	} else {
		f = append(f, "read-write")
	}
	if m.NoSuidDev {
		f = append(f, "nosuid", "nodev")
	}
	if m.Optional {
		f = append(f, "optional")
	}
	return strings.Join(f, ", ")
}
