package netinject

import (
	"fmt"
	"net/netip"
	"slices"
)

// Fabric is the kind of fabric the ranks on a node use between nodes.
type Fabric string

const (
	// FabricRDMA: an RDMA device with an active port.
	FabricRDMA Fabric = "rdma"
	// FabricTCP: TCP over an interface, for lack of usable RDMA.
	FabricTCP Fabric = "tcp"
	// FabricNone: no usable interface, so ranks reach only ranks on
	// this node (shared memory).
	FabricNone Fabric = "none"
)

// Inputs are what the choice needs beside the discovered facts. The caller
// resolves them, so that Choose reads nothing from the machine.
type Inputs struct {
	// HostAddrs are the addresses the host name resolves to (see
	// [HostAddrs]): the interface that carries one is the one other
	// nodes reach this node through.
	HostAddrs []netip.Addr
	// Site is the site rule, nil where the site sets none.
	Site *Override
	// User is the parsed --fabric value, nil where it isn't given; it
	// replaces the site rule.
	User *Override
}

// Choice is the node's fabric, with a sentence for each decision and the
// alternatives each decision passed over.
type Choice struct {
	Fabric Fabric `json:"fabric"`
	// RDMADevice and RDMAPort are the chosen RDMA port, empty and 0
	// where none is.
	RDMADevice    string `json:"rdma_device,omitempty"`
	RDMAPort      int    `json:"rdma_port,omitempty"`
	RDMALinkLayer string `json:"rdma_link_layer,omitempty"`
	// Interface is the interface for TCP and for the MPI's out-of-band
	// traffic; empty where none is usable.
	Interface    string `json:"interface,omitempty"`
	RDMAWhy      string `json:"rdma_why"`
	InterfaceWhy string `json:"interface_why"`
	// Alternatives lists every RDMA port, then every interface: the
	// chosen one first, then the rest in the order they ranked.
	Alternatives []Alternative `json:"alternatives"`
}

// Alternative is one RDMA port or interface that the choice considered.
type Alternative struct {
	// Kind is "rdma" or "interface".
	Kind string `json:"kind"`
	// Name is "DEVICE:PORT" for an RDMA port, the name for an interface.
	Name   string `json:"name"`
	Chosen bool   `json:"chosen"`
	Why    string `json:"why"`
}

// Choose picks the fabric from the facts and the inputs, and nothing else:
// the same arguments always give the same choice. An RDMA device with an
// active port wins; the interface is the fastest up, non-loopback one that
// carries an address of the host name. An override that names an
// interface or a device this node lacks is an error that lists what the
// node has.
func Choose(f Facts, in Inputs) (Choice, error) {
	f = sortedFacts(f)
	host := slices.Clone(in.HostAddrs)
	slices.SortFunc(host, netip.Addr.Compare)
	ov := in.Site
	if in.User != nil {
		ov = in.User
	}
	rdma, err := chooseRDMA(f.RDMA, ov)
	if err != nil {
		return Choice{}, err
	}
	iface, err := chooseInterface(f.Links, host, ov)
	if err != nil {
		return Choice{}, err
	}
	c := Choice{
		Fabric:       FabricNone,
		Interface:    iface.name,
		RDMAWhy:      rdma.why,
		InterfaceWhy: iface.why,
		Alternatives: append(rdma.alts, iface.alts...),
	}
	if in.User != nil && in.Site != nil {
		c.InterfaceWhy += fmt.Sprintf(" (%s replaces %s)", in.User.Origin, in.Site.Origin)
	}
	switch {
	case rdma.cand != nil:
		c.Fabric = FabricRDMA
		c.RDMADevice, c.RDMAPort = rdma.cand.dev, rdma.cand.port.Port
		c.RDMALinkLayer = rdma.cand.port.LinkLayer
	case iface.name != "":
		c.Fabric = FabricTCP
	}
	return c, nil
}

// speedText writes a speed in Mbit/s, or "unknown speed" for -1.
func speedText(mbps int) string {
	if mbps < 0 {
		return "unknown speed"
	}
	return fmt.Sprintf("%d Mbit/s", mbps)
}

// lostTo says why a candidate that could have been chosen ranked below
// the chosen one: slower, or as fast and later by name.
func lostTo(speed int, best string, bestSpeed int) string {
	if speed == bestSpeed {
		return fmt.Sprintf("as fast as %s (%s); %s sorts first by name", best, speedText(speed), best)
	}
	return fmt.Sprintf("slower (%s) than %s (%s)", speedText(speed), best, speedText(bestSpeed))
}
