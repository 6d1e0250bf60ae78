package plan

import (
	"fmt"
	"net/netip"

	"github.com/mpiwrap/mpiwrap/netinject"
)

// Network is what planning may read of the node's network: its links and
// RDMA devices, the addresses its host name resolves to, and the site's
// fabric settings. It only reads.
type Network interface {
	Facts() (netinject.Facts, error)
	HostAddrs() ([]netip.Addr, error)
	Site() (netinject.Site, error)
}

// Fabric is the part of a plan that points the MPI at the node's fabric.
type Fabric struct {
	Choice  netinject.Choice `json:"choice"`
	Hints   []netinject.Hint `json:"hints"`               // set where neither the user nor the site did
	HintsBy string           `json:"hints_off,omitempty"` // who turned the hints off
}

// planFabric decides the container's network: the host's (with the
// node's fabric chosen, its device nodes visible and its hints planned) or
// a private one with only loopback (--net=none).
func (p *Plan) planFabric(spec *Spec, h *Host) error {
	if spec.Net == NetNone {
		return p.planNoNet()
	}
	switch {
	case h.Network == nil:
		return nil
	case p.Launcher.Step == "" && spec.JoinKey == "":
		p.notef("fabric: not chosen for a rank without a launcher (mpiwrap net shows the node's)")
		return nil
	}
	site, err := h.Network.Site()
	if err != nil {
		return err
	}
	in := netinject.Inputs{Site: site.Rule}
	if spec.Fabric != "" {
		ov, err := netinject.ParseFabric(spec.Fabric, "--fabric")
		if err != nil {
			return err
		}
		in.User = &ov
	}
	facts, err := h.Network.Facts()
	if err != nil {
		return fmt.Errorf("find the node's fabric: %w (pass --fabric IFACE to choose it yourself)", err)
	}
	if in.HostAddrs, err = h.Network.HostAddrs(); err != nil && in.User == nil && in.Site == nil {
		p.notef("fabric: %v", err)
	}
	choice, err := netinject.Choose(facts, in)
	if err != nil {
		return err
	}
	p.Fabric = &Fabric{Choice: choice}
	switch {
	case spec.NoFabricHints:
		p.Fabric.HintsBy = "--fabric-hints=off"
	case site.HintsOff:
		p.Fabric.HintsBy = "the site (hints = false in " + site.DefinedIn + ")"
	default:
		p.Fabric.Hints = netinject.Hints(choice)
	}
	p.planFabricDevices(facts, choice)
	return nil
}

// planFabricDevices makes the chosen RDMA device's nodes visible: the
// verbs device and the connection manager. The /dev bind normally covers
// them, and /sys the trees the verbs providers read.
func (p *Plan) planFabricDevices(f netinject.Facts, c netinject.Choice) {
	var nodes []netinject.DevNode
	for _, d := range f.RDMA.Devices {
		if d.Name == c.RDMADevice && d.Uverbs != nil {
			nodes = append(nodes, *d.Uverbs)
		}
	}
	if c.RDMADevice != "" && f.RDMA.CM.Path != "" {
		nodes = append(nodes, f.RDMA.CM)
	}
	for _, n := range nodes {
		switch {
		case !n.Present:
			p.Warnings = append(p.Warnings, fmt.Sprintf("fabric: %s of %s is missing on this host: verbs will fail in the container", n.Path, c.RDMADevice))
		case p.covered(n.Path):
			p.notef("fabric: %s is visible through the /dev bind", n.Path)
		default:
			p.Mounts = append(p.Mounts, Mount{Src: n.Path, Dst: n.Path, Why: "device of the fabric " + c.RDMADevice})
		}
	}
}

// planNoNet gives the ranks a private network namespace with only
// loopback. Ranks on other nodes could not be reached from it, so a job
// across nodes is refused before it starts.
func (p *Plan) planNoNet() error {
	l := p.Launcher
	if l.Size > 0 && l.LocalSize > 0 && l.Size > l.LocalSize {
		return fmt.Errorf("--net=none gives the ranks a network with only loopback, but this job has %d ranks and only %d on this node: ranks on other nodes can't be reached; use --net=host", l.Size, l.LocalSize)
	}
	p.NoNet = true
	p.notef("network: private, only loopback (--net=none)")
	return nil
}

// describeFabric writes the fabric choice and the hints' fate; the hints'
// own lines are in the environment's notes.
func (p *Plan) describeFabric(line func(string, ...any)) {
	f := p.Fabric
	if f == nil {
		return
	}
	c := f.Choice
	switch c.Fabric {
	case netinject.FabricRDMA:
		line("fabric: rdma %s:%d (%s); %s", c.RDMADevice, c.RDMAPort, c.RDMAWhy, c.InterfaceWhy)
	case netinject.FabricTCP:
		line("fabric: tcp over %s (%s; %s)", c.Interface, c.InterfaceWhy, c.RDMAWhy)
	default:
		line("fabric: none (%s; %s)", c.InterfaceWhy, c.RDMAWhy)
	}
	if f.HintsBy != "" {
		line("fabric hints: none (turned off by %s)", f.HintsBy)
	}
}
