package netinject

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// portCand is one port of one RDMA device, as a candidate.
type portCand struct {
	dev  string
	port RDMAPort
}

func (c portCand) name() string { return fmt.Sprintf("%s:%d", c.dev, c.port.Port) }

// rdmaPick is the RDMA decision: the port (nil for none), why, and the
// alternatives in the order they ranked.
type rdmaPick struct {
	cand *portCand
	why  string
	alts []Alternative
}

// chooseRDMA takes the best active port, or the port an override names.
func chooseRDMA(r RDMA, ov *Override) (rdmaPick, error) {
	all := portCandidates(r.Devices)
	if ov != nil && ov.NoRDMA {
		why := ov.Origin + " names no RDMA device, so none is used"
		return rdmaPick{why: why, alts: passOver(all, why)}, nil
	}
	cands, others := all, []portCand(nil)
	if ov != nil && ov.RDMA != "" {
		var err error
		if cands, others, err = matchPorts(r, all, ov); err != nil {
			return rdmaPick{}, err
		}
	}
	if len(cands) == 0 {
		return rdmaPick{why: noRDMAWhy(r) + ", so no RDMA is used"}, nil
	}
	rankPorts(cands)
	best := cands[0]
	forced := ov != nil && ov.RDMA != ""
	if !best.port.Active() && !forced {
		why := "no RDMA port is ACTIVE (" + portStates(cands) + "), so no RDMA is used"
		return rdmaPick{why: why, alts: rdmaAlts(cands, nil)}, nil
	}
	alts := rdmaAlts(cands, &best)
	if forced {
		alts = append(alts, passOver(others, fmt.Sprintf("does not match %s %s", ov.Origin, rdmaSpec(*ov)))...)
	}
	return rdmaPick{cand: &best, why: rdmaWhy(cands, ov), alts: alts}, nil
}

// portCandidates lists every port of every device, in device order.
func portCandidates(devs []RDMADevice) []portCand {
	var out []portCand
	for _, d := range devs {
		for _, p := range d.Ports {
			out = append(out, portCand{dev: d.Name, port: p})
		}
	}
	return out
}

// matchPorts splits the ports into those the override names and the rest;
// naming a device or a port the node lacks is an error listing what it has.
func matchPorts(r RDMA, all []portCand, ov *Override) (in, out []portCand, err error) {
	devMatched := false
	for _, c := range all {
		devOK := matches(ov.RDMA, c.dev)
		devMatched = devMatched || devOK
		if devOK && (ov.RDMAPort == 0 || c.port.Port == ov.RDMAPort) {
			in = append(in, c)
		} else {
			out = append(out, c)
		}
	}
	switch {
	case !devMatched:
		return nil, nil, fmt.Errorf("netinject: %s names RDMA device %q, which this node does not have; %s", ov.Origin, ov.RDMA, rdmaInventory(r))
	case len(in) == 0:
		return nil, nil, fmt.Errorf("netinject: %s names port %d of RDMA device %q, which it does not have; %s", ov.Origin, ov.RDMAPort, ov.RDMA, rdmaInventory(r))
	}
	return in, out, nil
}

// rdmaInventory lists the node's RDMA ports for an error message.
func rdmaInventory(r RDMA) string {
	names := []string{}
	for _, c := range portCandidates(r.Devices) {
		names = append(names, c.name()+" ("+c.port.State+")")
	}
	if len(names) == 0 {
		return "it has no RDMA ports (" + noRDMAWhy(r) + "); name only an interface, --fabric IFACE, for TCP"
	}
	return "its RDMA ports are: " + strings.Join(names, ", ")
}

// rankPorts orders active ports first, then by rate (fastest first), then
// by device name and port number so that ties always break the same way.
func rankPorts(c []portCand) {
	slices.SortStableFunc(c, func(a, b portCand) int {
		if a.port.Active() != b.port.Active() {
			if a.port.Active() {
				return -1
			}
			return 1
		}
		if n := cmp.Compare(b.port.RateMbps, a.port.RateMbps); n != 0 {
			return n
		}
		if n := cmp.Compare(a.dev, b.dev); n != 0 {
			return n
		}
		return cmp.Compare(a.port.Port, b.port.Port)
	})
}
