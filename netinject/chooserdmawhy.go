package netinject

import (
	"fmt"
	"strings"
)

// rdmaWhy explains the chosen port, cands[0] of the ranked candidates.
func rdmaWhy(cands []portCand, ov *Override) string {
	best := cands[0]
	desc := fmt.Sprintf("%s port %d is %s (%s, %s)", best.dev, best.port.Port, best.port.State, best.port.LinkLayer, rateText(best.port))
	active := 0
	for _, c := range cands {
		if c.port.Active() {
			active++
		}
	}
	if ov != nil && ov.RDMA != "" {
		why := fmt.Sprintf("%s names RDMA device %s; %s", ov.Origin, rdmaSpec(*ov), desc)
		if !best.port.Active() {
			why += "; used as asked, although the MPI cannot use a port that is not ACTIVE"
		}
		return why
	}
	if active == 1 {
		return desc + "; it is the only active RDMA port, and RDMA is preferred over TCP"
	}
	return desc + fmt.Sprintf("; it is the fastest of %d active RDMA ports, and RDMA is preferred over TCP", active)
}

// rdmaAlts describes the ranked candidates; best is nil where none was
// chosen.
func rdmaAlts(cands []portCand, best *portCand) []Alternative {
	out := make([]Alternative, 0, len(cands))
	for _, c := range cands {
		a := Alternative{Kind: "rdma", Name: c.name()}
		switch {
		case best != nil && c == *best:
			a.Chosen, a.Why = true, "chosen"
		case !c.port.Active():
			a.Why = "port is " + stateText(c.port) + ", not ACTIVE"
		default:
			a.Why = lostTo(c.port.RateMbps, best.name(), best.port.RateMbps)
		}
		out = append(out, a)
	}
	return out
}

// passOver lists candidates that were not considered, with one reason.
func passOver(cands []portCand, why string) []Alternative {
	out := make([]Alternative, 0, len(cands))
	for _, c := range cands {
		out = append(out, Alternative{Kind: "rdma", Name: c.name(), Why: why})
	}
	return out
}

// noRDMAWhy explains why there are no RDMA ports to choose from.
func noRDMAWhy(r RDMA) string {
	if len(r.Devices) > 0 {
		names := []string{}
		for _, d := range r.Devices {
			names = append(names, d.Name)
		}
		return "RDMA devices " + strings.Join(names, ", ") + " show no ports in sysfs"
	}
	if r.Note != "" {
		return r.Note
	}
	return "no RDMA devices"
}

// portStates lists ports with their states, for "no port is ACTIVE".
func portStates(cands []portCand) string {
	parts := make([]string, 0, len(cands))
	for _, c := range cands {
		parts = append(parts, c.name()+" is "+stateText(c.port))
	}
	return strings.Join(parts, ", ")
}

func stateText(p RDMAPort) string {
	if p.State == "" {
		return "in an unknown state"
	}
	return p.State
}

func rateText(p RDMAPort) string {
	if p.Rate == "" {
		return "rate unknown"
	}
	return p.Rate
}

// rdmaSpec writes the RDMA part of an override, DEVICE[:PORT].
func rdmaSpec(o Override) string {
	if o.RDMAPort > 0 {
		return fmt.Sprintf("%s:%d", o.RDMA, o.RDMAPort)
	}
	return o.RDMA
}
