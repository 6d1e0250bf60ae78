package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/mpiwrap/mpiwrap/validate/verdict"
)

// WriteTable writes the report for a terminal or a job log: the setting,
// then per benchmark a row per message size with both medians, the ratio
// and the verdict (or the failed side's error), then the result.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "mpiwrap validate: container against bare metal (mpiwrap %s)\n", r.MpiwrapVersion)
	kv := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "  %-10s %s\n", k, v)
		}
	}
	kv("image", fmt.Sprintf("%s (%s)", r.Image.Path, r.Image.Kind))
	l := r.Launcher.Command
	if r.Launcher.CPUBind != "" {
		l = strings.Join(r.Launcher.Argv, " ")
	}
	kv("launcher", fmt.Sprintf("%s (%s)", l, r.Launcher.Kind))
	kv("native", sideLine(r.Native))
	kv("container", sideLine(r.Container))
	p := r.Placement.Summary
	if r.Placement.Error != "" {
		p = strings.TrimSpace(p + " (" + r.Placement.Error + ")")
	}
	kv("placement", p)
	if len(r.Placement.EnvDiff) > 0 {
		kv("env", strings.Join(r.Placement.EnvDiff, "; "))
	} else if r.Placement.EnvDiff != nil {
		kv("env", "the same MPI, fabric and thread variables on both sides")
	}
	kv("runs", fmt.Sprintf("%d timed pair(s) per benchmark after %d warm-up pair(s); %s; medians compared", r.Reps, r.Warmups, r.Order))
	kv("host", fmt.Sprintf("%s, %d CPUs, Linux %s%s", r.Host.Hostname, r.Host.CPUs, r.Host.Kernel, parens(r.Host.OS)))
	for _, n := range r.Notes {
		kv("note", n)
	}
	failed := 0
	total := 0
	var worst []string
	for _, bm := range r.Benchmarks {
		fmt.Fprintf(&b, "\n%s: %s, %s (PASS if %s)  %s\n", bm.Name, bm.Title, bm.Unit, bm.Rule, bm.Verdict)
		if bm.HungRuns > 0 {
			fmt.Fprintf(&b, "    %d run(s) printed their result but did not end (MPI_Finalize hang); stopped and run again\n", bm.HungRuns)
		}
		if bm.Error != nil {
			writeError(&b, bm.Error)
			continue
		}
		tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', tabwriter.AlignRight)
		first := "size"
		if !bm.Sized {
			first = ""
		}
		fmt.Fprintf(tw, "    %s\tnative\tcontainer\tratio\tverdict\t\n", first)
		for _, f := range bm.Figures {
			total++
			label := fmt.Sprint(f.Size)
			if !bm.Sized {
				label = f.Label
			}
			ratio := fmt.Sprintf("%.3f", f.Ratio)
			if f.Verdict == verdict.Error {
				ratio = "-"
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\t\n", label, num(f.NativeMedian), num(f.ContainerMedian), ratio, f.Verdict)
			if f.Verdict != verdict.Pass {
				failed++
				where := bm.Name
				if bm.Sized {
					where += fmt.Sprintf(" %d B", f.Size)
				}
				if f.Verdict == verdict.Error {
					worst = append(worst, where+" ("+f.Why+")")
				} else {
					worst = append(worst, fmt.Sprintf("%s %.3f", where, f.Ratio))
				}
			}
		}
		tw.Flush()
	}
	fmt.Fprintf(&b, "\nresult: %s", r.Verdict)
	switch r.Verdict {
	case verdict.Pass:
		fmt.Fprintf(&b, " (all %d figures within the tolerance)", total)
	case verdict.Fail:
		fmt.Fprintf(&b, " (%d of %d figures outside the tolerance: %s)", failed, total, firstFew(worst, 5))
	default:
		var errs []string
		for _, bm := range r.Benchmarks {
			if bm.Error != nil {
				errs = append(errs, bm.Name)
			}
		}
		if len(errs) > 0 {
			fmt.Fprintf(&b, " (no comparison for %s: a run failed)", strings.Join(errs, ", "))
		} else if len(worst) > 0 {
			fmt.Fprintf(&b, " (%s)", firstFew(worst, 5))
		}
	}
	fmt.Fprintf(&b, "; exit %d\n", r.ExitCode)
	_, err := io.WriteString(w, b.String())
	return err
}

func sideLine(s SideInfo) string {
	mpi := s.MPI.Summary
	if mpi == "" {
		mpi = "MPI unknown"
		if s.MPI.Error != "" {
			mpi += " (" + s.MPI.Error + ")"
		}
	}
	run := "bare metal"
	if len(s.Prefix) > 0 {
		run = strings.Join(s.Prefix, " ")
	}
	return fmt.Sprintf("%s; %s; benchmarks %s", mpi, run, s.BenchSource)
}

func parens(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// num prints a figure as OSU does (two decimals), with more for small ones.
func num(v float64) string {
	if v != 0 && v < 0.1 {
		return fmt.Sprintf("%.4f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func writeError(b *strings.Builder, e *RunError) {
	when := fmt.Sprintf("timed run %d", e.Rep+1)
	if e.Rep < 0 {
		when = fmt.Sprintf("warm-up run %d", -e.Rep)
	}
	fmt.Fprintf(b, "    the %s side failed in %s: %s\n", e.Side, when, e.Message)
	for _, q := range e.Quote {
		fmt.Fprintf(b, "      > %s\n", q)
	}
	fmt.Fprintf(b, "    command: %s\n", shellJoin(e.Argv))
}

// shellJoin quotes words that need it, for a command a user can paste.
func shellJoin(argv []string) string {
	var out []string
	for _, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
}

// firstFew joins the first n items and counts the others.
func firstFew(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}
