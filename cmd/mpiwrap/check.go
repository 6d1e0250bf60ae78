package main

import (
	"github.com/mpiwrap/mpiwrap/hostlib"
	"github.com/mpiwrap/mpiwrap/mpiwrap"
	"github.com/spf13/cobra"
)

func newCheckCmd(c cli) *cobra.Command {
	opts := &runOptions{cwd: c.cwd}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check [flags] IMAGE [CMD [ARGS...]]",
		Short: "Print what a run would do (mounts, binds, environment, namespace) without doing it",
		Args:  cobra.MinimumNArgs(1),
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
			p, err := mpiwrap.NewPlan(spec, h)
			if err != nil {
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
