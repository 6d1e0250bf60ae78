// Command mpiwrap-validate compares MPI benchmarks run natively and in a
// container under the same launcher, and reports PASS/FAIL per message
// size. `mpiwrap validate` parses the flags and execs it with them as
// JSON (--options-json); it takes the same flags itself too:
//
//	mpiwrap-validate --launcher 'mpiexec.mpich -n 2' --profile mpich IMAGE
//
// It is a binary of its own, installed next to mpiwrap, so that the
// plotting and progress packages cost nothing when mpiwrap starts a rank.
// Exit status: 0 all pass, 1 any FAIL, 2 no comparison could be made.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/mpiwrap/mpiwrap/validate"
	"github.com/mpiwrap/mpiwrap/validate/plot"
	"github.com/mpiwrap/mpiwrap/validate/progress"
	"github.com/mpiwrap/mpiwrap/validate/report"
	"github.com/mpiwrap/mpiwrap/validate/run"
	"github.com/spf13/pflag"
)

const exitNoComparison = 2

func main() {
	os.Exit(mainWith(os.Args[1:], os.Stdout, os.Stderr))
}

func mainWith(args []string, stdout io.Writer, stderr *os.File) int {
	o, code := parse(args, stderr)
	if code >= 0 {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	disp := progress.New(stderr, o.Progress)
	rep, err := (&run.Runner{Opts: o, Progress: disp}).Run(ctx)
	disp.Stop()
	if err != nil {
		fmt.Fprintf(stderr, "mpiwrap validate: error: %v\n", err)
		var re *report.RunError
		if errors.As(err, &re) {
			for _, q := range re.Quote {
				fmt.Fprintf(stderr, "  > %s\n", q)
			}
		}
		if o.JSONFile != "" {
			if err := rep.WriteJSON(o.JSONFile); err != nil {
				fmt.Fprintf(stderr, "mpiwrap validate: error: --json: %v\n", err)
			}
		}
		return exitNoComparison
	}
	if err := rep.WriteTable(stdout); err != nil {
		fmt.Fprintf(stderr, "mpiwrap validate: error: %v\n", err)
		return exitNoComparison
	}
	code = rep.ExitCode
	if o.JSONFile != "" {
		if err := rep.WriteJSON(o.JSONFile); err != nil {
			fmt.Fprintf(stderr, "mpiwrap validate: error: --json: %v\n", err)
			code = exitNoComparison
		}
	}
	if o.PlotFile != "" {
		if err := plot.WriteFile(rep, o.PlotFile); err != nil {
			fmt.Fprintf(stderr, "mpiwrap validate: error: --plot: %v\n", err)
			code = exitNoComparison
		}
	}
	return code
}

// parse reads the flags, or the options mpiwrap passed as JSON. It
// returns an exit code >= 0 when there is nothing to run.
func parse(args []string, stderr io.Writer) (validate.Options, int) {
	o := validate.Defaults()
	fs := pflag.NewFlagSet("mpiwrap-validate", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	validate.AddFlags(fs, &o)
	optsJSON := fs.String("options-json", "", "the options as JSON (from mpiwrap validate)")
	fs.MarkHidden("options-json")
	help := fs.BoolP("help", "h", false, "print this help")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: mpiwrap-validate [flags] IMAGE (as mpiwrap validate; see mpiwrap validate --help)\n%s", fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "mpiwrap validate: error: %v\n", err)
		return o, exitNoComparison
	}
	if *help {
		fs.Usage()
		return o, 0
	}
	if *optsJSON != "" {
		o = validate.Options{}
		if err := json.Unmarshal([]byte(*optsJSON), &o); err != nil {
			fmt.Fprintf(stderr, "mpiwrap validate: error: --options-json: %v\n", err)
			return o, exitNoComparison
		}
	} else {
		if fs.NArg() != 1 {
			fmt.Fprintf(stderr, "mpiwrap validate: error: want one IMAGE, got %d arguments\n", fs.NArg())
			return o, exitNoComparison
		}
		o.Image = fs.Arg(0)
	}
	cwd, err := os.Getwd()
	if err == nil {
		err = o.Finish(cwd)
	}
	for _, out := range []struct{ flag, path string }{{"--json", o.JSONFile}, {"--plot", o.PlotFile}} {
		// Before minutes of runs, not after.
		if st, serr := os.Stat(filepath.Dir(out.path)); err == nil && out.path != "" && (serr != nil || !st.IsDir()) {
			err = fmt.Errorf("%s %s: no directory %s to write it in", out.flag, out.path, filepath.Dir(out.path))
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "mpiwrap validate: error: %v\n", err)
		return o, exitNoComparison
	}
	return o, -1
}
