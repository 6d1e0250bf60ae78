package hostlib

import (
	"fmt"
	"io"
	"path"
	"strings"
	"text/tabwriter"

	"github.com/mpiwrap/mpiwrap/hostlib/abi"
)

// RenderInjection writes the plan of an injection for `mpiwrap check`:
// mounts, links, devices, environment, ld.so.conf, a summary of the
// cache, every ABI decision, and the verdict.
func RenderInjection(w io.Writer, inj *Injection) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "bind mounts (read-only, %d):\n", len(inj.Binds))
	for _, b := range inj.Binds {
		fmt.Fprintf(tw, "  %s\t<- %s\t%s\n", b.Dest, b.Source, b.Kind)
	}
	fmt.Fprintf(tw, "links (%d):\n", len(inj.Links))
	for _, l := range inj.Links {
		fmt.Fprintf(tw, "  %s\t-> %s\n", l.Path, l.Target)
	}
	fmt.Fprintf(tw, "devices (%d):\n", len(inj.Devices))
	for _, d := range inj.Devices {
		fmt.Fprintf(tw, "  %s\n", d.Dest)
	}
	fmt.Fprintf(tw, "environment, in order (%d):\n", len(inj.Env))
	for _, e := range inj.Env {
		fmt.Fprintf(tw, "  %s\t(%s)\n", e, e.Profile)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write injection plan: %w", err)
	}
	fmt.Fprintf(w, "ld.so.conf:\n  %s\n", strings.ReplaceAll(strings.TrimSpace(inj.LdSoConf), "\n", "\n  "))
	n := 0
	for _, e := range inj.CacheEntries {
		if e.Injected {
			n++
		}
	}
	fmt.Fprintf(w, "ld.so.cache: %d entries, %d injected, %d bytes\n", len(inj.CacheEntries), n, len(inj.LdSoCache))
	return renderABI(w, &inj.ABI)
}

func renderABI(w io.Writer, r *abi.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ABI checks:")
	for _, m := range r.MPI {
		fmt.Fprintf(tw, "  mpi %s\t%s\t%s\n", m.Profile, m.Verdict, m.Message)
	}
	for _, b := range r.Base.Libs {
		var need []string
		for _, n := range b.Needed {
			need = append(need, n.Version)
		}
		have := "(absent from image)"
		if b.ImagePath != "" {
			have = "image has " + strings.Join(b.Provided, ", ")
		}
		fmt.Fprintf(tw, "  needs %s\t%s\t%s\n", b.Soname, strings.Join(need, ", "), have)
	}
	for _, m := range r.Base.Messages {
		fmt.Fprintf(tw, "  base\t%s\t%s\n", r.Base.Verdict, m)
	}
	for _, u := range r.Base.Unloaded {
		fmt.Fprintf(tw, "  not loaded %s\tnote\t%s\n", path.Base(u.Path), u.Message)
	}
	for _, s := range r.Symbols {
		fmt.Fprintf(tw, "  symbols %s\t%s\t%s\n", s.Soname, s.Verdict, s.Message)
	}
	for _, d := range r.Dropped {
		fmt.Fprintf(tw, "  optional item %s\tdropped\t%s\n", d.Pos, d.Message)
	}
	verdict := "launch allowed"
	if err := r.Err(); err != nil {
		verdict = "launch REFUSED: " + err.Error()
	}
	fmt.Fprintf(tw, "verdict:\t%s\n", verdict)
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write ABI report: %w", err)
	}
	return nil
}
