package main

import (
	"context"
	"time"

	"github.com/mpiwrap/mpiwrap/netinject"
	"github.com/spf13/cobra"
)

func newNetCmd() *cobra.Command {
	var asJSON bool
	var fabric string
	cmd := &cobra.Command{
		Use:   "net [--json] [--fabric IFACE[,RDMADEV]]",
		Short: "Show this node's links and RDMA devices, the fabric a run would choose and why, and the hints it would set",
		Long: `net discovers this node's network as a rank would (links, addresses, link
speeds, RDMA devices and their ports and netdevs), chooses the fabric the
same way (an active RDMA port if there is one, otherwise the fastest up
interface that carries the address the host name resolves to; the site
rule in /etc/mpiwrap/mpiwrap.toml or --fabric override it), and lists the
variables (UCX_NET_DEVICES, OMPI_MCA_btl_tcp_if_include, ...) a run would
set where neither the user nor the site set them. It changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := netReport(fabric)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, r)
			}
			return r.Render(cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().StringVar(&fabric, "fabric", "", "choose as a run with `IFACE[,RDMADEV]` would")
	return cmd
}

// netReport is what a rank on this node would find and choose.
func netReport(fabric string) (netinject.Report, error) {
	node := netinject.Node{}
	site, err := node.Site()
	if err != nil {
		return netinject.Report{}, err
	}
	in := netinject.Inputs{Site: site.Rule}
	if fabric != "" {
		ov, err := netinject.ParseFabric(fabric, "--fabric")
		if err != nil {
			return netinject.Report{}, err
		}
		in.User = &ov
	}
	facts, err := node.Facts()
	if err != nil {
		return netinject.Report{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	host, addrs, _ := netinject.HostAddrs(ctx) // none: the choice says so
	in.HostAddrs = addrs
	choice, err := netinject.Choose(facts, in)
	if err != nil {
		return netinject.Report{}, err
	}
	r := netinject.NewReport(host, addrs, facts, choice)
	if site.HintsOff {
		r.Hints, r.HintsOff = []netinject.Hint{}, "the site (hints = false in "+site.DefinedIn+")"
	}
	return r, nil
}
