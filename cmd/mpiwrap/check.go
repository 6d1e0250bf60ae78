package main

import (
	"github.com/mpiwrap/mpiwrap/hostlib"
	"github.com/mpiwrap/mpiwrap/mpiwrap"
	"github.com/mpiwrap/mpiwrap/mpiwrap/plan"
	"github.com/spf13/cobra"
)

func newCheckCmd(c cli) *cobra.Command {
	opts := &runOptions{cwd: c.cwd}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check [flags] IMAGE [CMD [ARGS...]]",
		Short: "Print what a run would do (mounts, binds, environment, namespace) without doing it",
		Long: `check plans a run as a rank would and prints the plan: every mount, bind,
environment and namespace decision, the PMI mode, and, with profiles, the
injected files and the ABI verdict. It changes nothing: it writes no file,
makes no directory and takes no lock. When the node's ld.so cache for the
plan is not built yet, it says so and shows what a run would build.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				args = append(args, "true")
			}
			spec, err := opts.build(args)
			if err != nil {
				return err
			}
			h, err := mpiwrap.CurrentHost()
			if err != nil {
				return err
			}
			p, err := plan.New(spec, h)
			if err != nil {
				return err
			}
			if err := p.PreviewLdCache(); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, p)
			}
			p.Describe(cmd.OutOrStdout(), "")
			if in := p.Inject; in != nil && in.Built != nil {
				if err := hostlib.RenderInjection(cmd.OutOrStdout(), in.Built); err != nil {
					return err
				}
			}
			for _, w := range p.Warnings {
				cmd.PrintErrf("warning: %s\n", w)
			}
			return mpiwrap.CheckUserNamespaces()
		},
	}
	addRunFlags(cmd.Flags(), opts)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plan as JSON")
	cmd.Flags().SetInterspersed(false)
	cmd.SetFlagErrorFunc(flagError)
	return cmd
}
