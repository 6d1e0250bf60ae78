package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mpiwrap/mpiwrap/mpiwrap"
	"github.com/mpiwrap/mpiwrap/mpiwrap/plan"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// runFunc receives a parsed run; tests and the keeper pass their own to
// check parsing without side effects.
type runFunc func(spec *plan.Spec) error

// cli configures a command tree: runF replaces the real run when set, and
// cwd replaces the process's working directory for relative paths.
type cli struct {
	runF runFunc
	cwd  string
}

// runOptions collects the flags shared by run, the bare form and check.
type runOptions struct {
	spec  plan.Spec
	binds []string
	pmi   string
	net   string
	cwd   string
}

func newRootCmd(c cli) *cobra.Command {
	opts := &runOptions{cwd: c.cwd}
	root := &cobra.Command{
		Use:   "mpiwrap [flags] IMAGE CMD [ARGS...]",
		Short: "Run MPI ranks in unprivileged containers with the host's MPI, fabric and GPU stacks",
		Long: `mpiwrap runs one MPI rank in an unprivileged container made from IMAGE, an
unpacked root filesystem directory or a SquashFS file. Start it under any
launcher, one process per rank:

    mpiexec -n 4 mpiwrap IMAGE ./solver
    srun -n 1024 mpiwrap IMAGE /opt/app/bin/solver

All ranks of a job step on one node share one user and mount namespace.
The image is mounted read-only and never modified.`,
		Args:          cobra.ArbitraryArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       version,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return opts.finish(args, c.runF)
		},
	}
	addRunFlags(root.Flags(), opts)
	root.Flags().SetInterspersed(false)
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(newRunCmd(c), newCheckCmd(c), newProfileCmd(), newNetCmd(), newValidateCmd(), newVersionCmd(), newGenDocsCmd())
	return root
}

func newRunCmd(c cli) *cobra.Command {
	opts := &runOptions{cwd: c.cwd}
	cmd := &cobra.Command{
		Use:   "run [flags] IMAGE [--] CMD [ARGS...]",
		Short: "Run a command in IMAGE (the same as the bare form: mpiwrap IMAGE CMD)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return opts.finish(args, c.runF)
		},
	}
	addRunFlags(cmd.Flags(), opts)
	cmd.Flags().SetInterspersed(false)
	cmd.SetFlagErrorFunc(flagError)
	return cmd
}

func flagError(cmd *cobra.Command, err error) error {
	return fmt.Errorf("%w (mpiwrap flags go before IMAGE; see %s --help)", err, cmd.CommandPath())
}

// addRunFlags defines the flags that shape a container.
func addRunFlags(fs *pflag.FlagSet, o *runOptions) {
	s := &o.spec
	fs.StringArrayVarP(&o.binds, "bind", "b", nil, "bind `SRC[:DST[:ro]]` into the container (repeatable)")
	fs.BoolVar(&s.NoHome, "no-home", false, "don't bind $HOME")
	fs.BoolVar(&s.NoCwd, "no-cwd", false, "don't bind the working directory; start in /")
	fs.BoolVar(&s.KeepLDEnv, "keep-ld-env", false, "keep the host's LD_LIBRARY_PATH and LD_PRELOAD")
	fs.Var(&envEditFlag{edits: &s.EnvEdits, op: "set"}, "set-env", "set `NAME=VALUE` in the command's environment (repeatable)")
	fs.Var(&envEditFlag{edits: &s.EnvEdits, op: "unset"}, "unset-env", "unset variables matching `GLOB` (repeatable)")
	fs.Var(&envEditFlag{edits: &s.EnvEdits, op: "file"}, "env-file", "set variables from `FILE` of NAME=VALUE lines (repeatable)")
	fs.StringVar(&s.JoinKey, "join-key", "", "share one namespace among ranks giving the same `KEY` (default: from the launcher)")
	fs.IntVar(&s.JoinSize, "join-size", 0, "`N` ranks share the node's namespace (default: from the launcher)")
	fs.BoolVar(&s.NoJoin, "no-join", false, "give every rank its own namespace (breaks MPI shared memory)")
	fs.BoolVarP(&s.Verbose, "verbose", "v", false, "print every mount, bind and environment decision")
	fs.StringVar(&o.pmi, "pmi", "auto", "how the rank reaches the launcher's PMI, `auto|passthrough|proxy|off` (auto: decided from the launcher and the container's MPI; off: a singleton)")
	fs.StringSliceVar(&s.Profiles, "profile", nil, "inject the host stacks of profiles `NAME,...` on top of the site's defaults (see mpiwrap profile list)")
	fs.StringSliceVar(&s.NoProfile, "no-profile", nil, "drop the site's default profiles, `all|NAME,...` (all when given alone)")
	fs.Lookup("no-profile").NoOptDefVal = "all"
	fs.StringArrayVar(&s.ProfileFiles, "profile-file", nil, "read profiles from `FILE` too (repeatable)")
	fs.StringVar(&s.ABIPolicy, "abi-policy", "", "on a host/image MPI minor-version mismatch, `warn|strict|major`: warn (host older), refuse, or ignore (default: the profile's)")
	fs.StringVar(&s.Fabric, "fabric", "", "use `IFACE[,RDMADEV]` as the fabric instead of the node's choice (see mpiwrap net)")
	fs.Var(offSwitch{&s.NoFabricHints}, "fabric-hints", "set the MPI's fabric variables (UCX_NET_DEVICES, ...) where neither you nor the site did, `on|off`")
	fs.Lookup("fabric-hints").NoOptDefVal = "on"
	fs.StringVar(&o.net, "net", "host", "the container's network, `host|none`: the host's, or only loopback (single-node jobs)")
}

// offSwitch is an on/off flag whose Spec field says "off": the zero Spec
// keeps the default (on).
type offSwitch struct{ off *bool }

func (f offSwitch) String() string {
	if f.off != nil && *f.off {
		return "off"
	}
	return "on"
}

func (f offSwitch) Type() string { return "on|off" }

func (f offSwitch) Set(v string) error {
	switch strings.ToLower(v) {
	case "on", "true", "yes", "1":
		*f.off = false
	case "off", "false", "no", "0":
		*f.off = true
	default:
		return fmt.Errorf("want on or off, not %q", v)
	}
	return nil
}

// envEditFlag appends edits in command-line order across all three flags.
type envEditFlag struct {
	edits *[]plan.EnvEdit
	op    string
}

func (f *envEditFlag) String() string { return "" }
func (f *envEditFlag) Type() string   { return "string" }

func (f *envEditFlag) Set(v string) error {
	switch f.op {
	case "set":
		e, err := plan.ParseSetEnv(v)
		if err != nil {
			return err
		}
		*f.edits = append(*f.edits, e)
	case "unset":
		if _, err := filepath.Match(v, ""); err != nil || v == "" {
			return fmt.Errorf("bad --unset-env %q: want a variable name or glob", v)
		}
		*f.edits = append(*f.edits, plan.EnvEdit{Op: "unset", Name: v})
	default:
		*f.edits = append(*f.edits, plan.EnvEdit{Op: "file", Name: v})
	}
	return nil
}

// finish turns positional arguments and flags into a complete Spec.
func (o *runOptions) finish(args []string, runF runFunc) error {
	spec, err := o.build(args)
	if err != nil {
		return err
	}
	if runF != nil {
		return runF(spec)
	}
	return mpiwrap.Run(spec, os.Stderr)
}

func (o *runOptions) build(args []string) (*plan.Spec, error) {
	cwd := o.cwd
	if cwd == "" {
		var err error
		if cwd, err = os.Getwd(); err != nil {
			return nil, fmt.Errorf("get working directory: %w", err)
		}
	}
	spec := o.spec
	spec.Image = args[0]
	if spec.Image != "" && !filepath.IsAbs(spec.Image) {
		spec.Image = filepath.Join(cwd, spec.Image)
	}
	spec.Command = args[1:]
	if len(spec.Command) > 0 && spec.Command[0] == "--" {
		spec.Command = spec.Command[1:]
	}
	for _, b := range o.binds {
		bs, err := plan.ParseBind(b, cwd)
		if err != nil {
			return nil, err
		}
		spec.Binds = append(spec.Binds, bs)
	}
	spec.EnvEdits = slices.Clone(spec.EnvEdits)
	for i, e := range spec.EnvEdits {
		if e.Op == "file" && !filepath.IsAbs(e.Name) {
			spec.EnvEdits[i].Name = filepath.Join(cwd, e.Name)
		}
	}
	spec.ProfileFiles = slices.Clone(spec.ProfileFiles)
	for i, f := range spec.ProfileFiles {
		if !filepath.IsAbs(f) {
			spec.ProfileFiles[i] = filepath.Join(cwd, f)
		}
	}
	spec.PMI = plan.PMIMode(o.pmi)
	spec.Net = plan.NetMode(o.net)
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	return &spec, nil
}

// parseRun is the keeper's view of a rank's command line: the Spec for a
// run, or nil for anything else.
func parseRun(argv []string, cwd string) (*plan.Spec, error) {
	var got *plan.Spec
	cmd := newRootCmd(cli{runF: func(s *plan.Spec) error { got = s; return nil }, cwd: cwd})
	cmd.SetArgs(argv[1:])
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	if err := cmd.Execute(); err != nil {
		return nil, err
	}
	return got, nil
}
