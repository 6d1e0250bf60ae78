package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/mpiwrap/mpiwrap/hostlib/profile"
	"github.com/spf13/cobra"
)

func newProfileCmd() *cobra.Command {
	var files []string
	var asJSON bool
	load := func() (*profile.Set, error) {
		roots := profile.DefaultRoots(os.Getenv)
		roots.Files = files
		return profile.Load(roots)
	}
	cmd := &cobra.Command{
		Use:   "profile",
		Short: "List the library-injection profiles, or show what one resolves to on this host",
	}
	cmd.PersistentFlags().StringArrayVar(&files, "profile-file", nil, "read profiles from `FILE` too (repeatable)")
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON")
	list := &cobra.Command{
		Use:   "list",
		Short: "List every profile: name, where it comes from, and whether runs get it by default",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			set, err := load()
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, set.List())
			}
			return profile.RenderList(cmd.OutOrStdout(), set.List())
		},
	}
	show := &cobra.Command{
		Use:   "show NAME",
		Short: "Show every host file, device and environment edit a profile resolves to here, and what is missing",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			set, err := load()
			if err != nil {
				return err
			}
			p, ok := set.Get(args[0])
			if !ok {
				return fmt.Errorf("no profile %q: see mpiwrap profile list", args[0])
			}
			host, err := profile.NewHost("/")
			if err != nil {
				return err
			}
			res, err := profile.Resolve([]*profile.Profile{p}, host, profile.Options{})
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, res)
			}
			return profile.RenderResolution(cmd.OutOrStdout(), res)
		},
	}
	cmd.AddCommand(list, show)
	return cmd
}

func printJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
