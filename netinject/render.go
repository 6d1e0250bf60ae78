package netinject

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Render writes the report as text: the host, a table of links, a table
// of RDMA ports, the choice with its reasons and the alternatives. The
// order is the report's, so two nodes with the same fabric print the same.
func (r Report) Render(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := &printer{w: tw}
	p.line("host: %s (%s)", orDash(r.Hostname), addrList(r.HostAddrs))
	p.line("")
	r.renderLinks(p)
	p.line("")
	r.renderRDMA(p)
	p.line("")
	r.renderChoice(p)
	p.line("")
	r.renderHints(p)
	if p.err != nil {
		return fmt.Errorf("netinject: write the report: %w", p.err)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("netinject: write the report: %w", err)
	}
	return nil
}

func (r Report) renderLinks(p *printer) {
	p.line("links:")
	p.line("  NAME\tINDEX\tKIND\tTYPE\tMTU\tSTATE\tFLAGS\tSPEED\tMAC\tMASTER\tDEFAULT\tADDRESSES")
	for _, l := range r.Links {
		speed := "-"
		if l.SpeedMbps >= 0 {
			speed = strconv.Itoa(l.SpeedMbps) + " Mb/s"
		}
		addrs := make([]string, 0, len(l.Addrs))
		for _, a := range l.Addrs {
			addrs = append(addrs, a.String())
		}
		route := "-"
		if l.DefaultRoute {
			route = "yes"
		}
		p.line("  %s\t%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s", l.Name, l.Index, l.Kind, l.Type, l.MTU,
			l.OperState, orDash(strings.Join(l.Flags, ",")), speed, orDash(l.MAC), orDash(l.Master), route,
			orDash(strings.Join(addrs, " ")))
	}
}

func (r Report) renderRDMA(p *printer) {
	head := "rdma: none"
	if n := len(r.RDMA.Devices); n > 0 {
		head = fmt.Sprintf("rdma: %d device(s), from %s; rdma_cm %s", n, r.RDMA.Source, nodeText(&r.RDMA.CM))
	}
	if r.RDMA.NetnsMode != "" {
		head += "; netns mode " + r.RDMA.NetnsMode
	}
	p.line("%s", head)
	if r.RDMA.Note != "" {
		p.line("  note: %s", r.RDMA.Note)
	}
	if len(r.RDMA.Devices) == 0 {
		return
	}
	p.line("  DEVICE\tTYPE\tGUID\tFW\tUVERBS\tPORT\tSTATE\tLINK LAYER\tRATE\tNETDEV")
	for _, d := range r.RDMA.Devices {
		head := fmt.Sprintf("  %s\t%s\t%s\t%s\t%s", d.Name, orDash(d.NodeType), orDash(d.NodeGUID), orDash(d.FirmwareVersion), nodeText(d.Uverbs))
		if len(d.Ports) == 0 {
			p.line("%s\t-\t-\t-\t-\t-", head)
		}
		for _, pt := range d.Ports {
			p.line("%s\t%d\t%s\t%s\t%s\t%s", head, pt.Port, orDash(pt.State), orDash(pt.LinkLayer), orDash(pt.Rate), orDash(pt.Netdev))
		}
		if d.Note != "" {
			p.line("    note: %s", d.Note)
		}
	}
}

func (r Report) renderChoice(p *printer) {
	c := r.Choice
	what := string(c.Fabric)
	if c.RDMADevice != "" {
		what += fmt.Sprintf(" over %s port %d (%s)", c.RDMADevice, c.RDMAPort, orDash(c.RDMALinkLayer))
	}
	p.line("choice: %s; interface %s", what, orDash(c.Interface))
	p.line("  rdma: %s", c.RDMAWhy)
	p.line("  interface: %s", c.InterfaceWhy)
	if len(c.Alternatives) == 0 {
		return
	}
	p.line("alternatives:")
	p.line("  KIND\tNAME\tCHOSEN\tWHY")
	for _, a := range c.Alternatives {
		chosen := "no"
		if a.Chosen {
			chosen = "yes"
		}
		p.line("  %s\t%s\t%s\t%s", a.Kind, a.Name, chosen, a.Why)
	}
}

func (r Report) renderHints(p *printer) {
	switch {
	case r.HintsOff != "":
		p.line("hints: none (turned off by %s)", r.HintsOff)
		return
	case len(r.Hints) == 0:
		p.line("hints: none (no usable fabric)")
		return
	}
	p.line("hints (set in each rank where neither you nor the site set them):")
	p.line("  NAME\tVALUE\tWHY")
	for _, h := range r.Hints {
		p.line("  %s\t%s\t%s", h.Name, h.Value, h.Why)
	}
}

// printer keeps the first write error, so that the renderers stay plain
// sequences of lines.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) line(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format+"\n", args...)
	}
}

func nodeText(n *DevNode) string {
	switch {
	case n == nil || n.Path == "":
		return "-"
	case n.Present:
		return n.Path
	}
	return n.Path + " (missing)"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
