package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/mpiwrap/mpiwrap/mpiwrap"
	"github.com/mpiwrap/mpiwrap/validate"
	"github.com/spf13/cobra"
)

// validateHelper runs the validation; mpiwrap only parses its flags. The
// plotting and progress packages it needs would cost every rank's start
// of mpiwrap (see README, Dependencies), so they live in a binary of their
// own, installed next to mpiwrap.
const validateHelper = "mpiwrap-validate"

// validateExit is the exit status for a validation that could not be
// made, usage errors included, so that a site can tell it from a FAIL (1).
const validateExit = 2

func newValidateCmd() *cobra.Command {
	o := validate.Defaults()
	cmd := &cobra.Command{
		Use:   "validate [flags] IMAGE",
		Short: "Compare MPI benchmarks in IMAGE against bare metal under a launcher: medians, ratios, PASS/FAIL",
		Long: `validate runs MPI micro-benchmarks natively and in IMAGE through mpiwrap,
under the same launcher, alternately (A B A B ...) for --reps repetitions,
and prints per message size the median of each side, the container/native
ratio and PASS or FAIL against the tolerance (latency at most 5% above
native, bandwidth at most 5% below; start-up times +10% or +50 ms):

    mpiwrap validate --launcher 'mpiexec.mpich -n 2' --profile mpich IMAGE
    mpiwrap validate --launcher 'srun -N2 -n2 --mpi=pmi2' --bench latency,bw,bibw,allreduce,init IMAGE

Benchmarks: latency (ping-pong), bw (windowed bandwidth), bibw
(bidirectional), allreduce, init (MPI_Init time) and hello (a whole job's
wall time). They are mpiwrap's own, in the OSU layout: built for the host
with the host's mpicc in $XDG_CACHE_HOME/mpiwrap/validate, and taken from
the image (/opt/mpiwrap-test/MPI) or built there with the image's own
compiler. --osu-dir uses a site's OSU Micro-Benchmarks instead.

The report says how ranks were placed (the launcher's binding, or
--cpu-bind's) and which MPI library each side loaded. --json writes every
sample, --plot a PNG or SVG figure. A failed side's error is quoted.

Exit status: 0 when every figure passes, 1 on any FAIL, 2 when a
comparison could not be made (a run failed, bad flags). The work is done
by mpiwrap-validate, installed next to mpiwrap.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return validateFailed(cmd, fmt.Errorf("want one IMAGE, got %d arguments", len(args)))
			}
			o.Image = args[0]
			if o.Mpiwrap == "" {
				if exe, err := os.Executable(); err == nil {
					o.Mpiwrap = exe
				}
			}
			cwd, err := os.Getwd()
			if err != nil {
				return validateFailed(cmd, err)
			}
			if err := o.Finish(cwd); err != nil {
				return validateFailed(cmd, err)
			}
			helper, err := findValidateHelper()
			if err != nil {
				return validateFailed(cmd, err)
			}
			data, err := json.Marshal(&o)
			if err != nil {
				return validateFailed(cmd, err)
			}
			err = syscall.Exec(helper, []string{helper, "--options-json=" + string(data)}, os.Environ())
			return validateFailed(cmd, fmt.Errorf("exec %s: %w", helper, err))
		},
	}
	validate.AddFlags(cmd.Flags(), &o)
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return validateFailed(c, fmt.Errorf("%w (see %s --help)", err, c.CommandPath()))
	})
	return cmd
}

// validateFailed reports err and ends with validateExit.
func validateFailed(cmd *cobra.Command, err error) error {
	fmt.Fprintf(cmd.ErrOrStderr(), "mpiwrap validate: error: %v\n", err)
	return &mpiwrap.ExitStatus{Code: validateExit}
}

// findValidateHelper looks for mpiwrap-validate next to this executable,
// then in $PATH.
func findValidateHelper() (string, error) {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), validateHelper)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath(validateHelper)
	if err != nil {
		return "", fmt.Errorf("%s is not next to mpiwrap nor in $PATH; install it beside mpiwrap (make build or make install)", validateHelper)
	}
	return p, nil
}
