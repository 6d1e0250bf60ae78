package profile

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// RenderList writes the `mpiwrap profile list` table.
func RenderList(w io.Writer, list []Listing) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDEFAULT\tSOURCE\tDESCRIPTION")
	for _, l := range list {
		def := "no"
		if l.Default {
			def = "yes"
		}
		src := l.Source
		if len(l.Overrides) > 0 {
			src += " (overrides " + strings.Join(l.Overrides, ", ") + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.Name, def, src, l.Description)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write profile list: %w", err)
	}
	return nil
}

// RenderResolution writes what `mpiwrap profile show` prints: every host
// file and where it goes, links, devices, environment edits, ABI
// declarations, then what is missing (required first) and conflicts.
// Each section is aligned on its own.
func RenderResolution(w io.Writer, r *Resolution) error {
	names := make([]string, len(r.Profiles))
	for i, p := range r.Profiles {
		names[i] = fmt.Sprintf("%s (%s)", p.Name, p.Source)
	}
	s := &sections{w: w}
	s.start("", 1)
	s.row("profiles:\t%s", strings.Join(names, ", "))
	s.row("inject dir:\t%s", r.InjectDir)
	s.row("multiarch:\t%s", orNone(r.Multiarch))
	renderFiles(s, r.Files)
	s.start("links", len(r.Links))
	for _, l := range r.Links {
		s.row("  %s\t-> %s", l.Path, l.Target)
	}
	s.start("devices", len(r.Devices))
	for _, d := range r.Devices {
		s.row("  %s\t(%s)", d.Dest, d.Profile)
	}
	s.start("environment, in order", len(r.Env))
	for _, e := range r.Env {
		s.row("  %s\t(%s)", e, e.Profile)
	}
	renderABI(s, r.ABI)
	renderMissing(s, r.Missing)
	s.start("conflicts", len(r.Conflicts))
	for _, c := range r.Conflicts {
		s.row("  %s\tkept %s, dropped %s (%s)", c.Dest, c.Kept, c.Dropped, c.Profile)
	}
	return s.flush()
}

// sections writes titled blocks, each aligned by its own tabwriter.
type sections struct {
	w   io.Writer
	tw  *tabwriter.Writer
	err error
}

func (s *sections) start(title string, n int) {
	s.flush()
	s.tw = tabwriter.NewWriter(s.w, 0, 4, 2, ' ', 0)
	switch {
	case title == "":
	case n == 0:
		fmt.Fprintf(s.tw, "%s: none\n", title)
	default:
		fmt.Fprintf(s.tw, "%s (%d):\n", title, n)
	}
}

func (s *sections) row(format string, args ...any) {
	fmt.Fprintf(s.tw, format+"\n", args...)
}

func (s *sections) flush() error {
	if s.tw != nil && s.err == nil {
		if err := s.tw.Flush(); err != nil {
			s.err = fmt.Errorf("write resolution: %w", err)
		}
	}
	return s.err
}

func renderFiles(s *sections, files []File) {
	kinds := []struct{ kind, title string }{
		{KindLibrary, "libraries"}, {KindBinary, "binaries"}, {KindFile, "files"}, {KindDir, "directories"},
	}
	for _, k := range kinds {
		var rows []File
		for _, f := range files {
			if f.Kind == k.kind {
				rows = append(rows, f)
			}
		}
		s.start(k.title, len(rows))
		for _, f := range rows {
			why := f.Profile
			if f.NeededBy != "" {
				why += ", needed by " + f.NeededBy
			}
			s.row("  %s\t<- %s\t(%s)", f.Dest, f.Real, why)
		}
	}
}

func renderABI(s *sections, specs []ABISpec) {
	s.start("MPI ABI", len(specs))
	for _, spec := range specs {
		var libs []string
		for _, l := range spec.Libraries {
			libs = append(libs, l.Soname+" = "+l.Real)
		}
		s.row("  %s\tfamily %s, policy %s: %s", spec.Profile, spec.Family, spec.Policy, orNone(strings.Join(libs, ", ")))
	}
}

func renderMissing(s *sections, missing []Missing) {
	s.start("missing", len(missing))
	for _, req := range []bool{true, false} {
		for _, m := range missing {
			if m.Required != req {
				continue
			}
			label := "optional"
			if req {
				label = "REQUIRED"
			}
			pos := ""
			if m.Pos != "" {
				pos = " (" + m.Pos + ")"
			}
			s.row("  %s\t%s %s\t%s: %s%s", label, m.Kind, m.Name, m.Profile, m.Reason, pos)
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
