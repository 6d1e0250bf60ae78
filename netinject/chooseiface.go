package netinject

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
)

// ifacePick is the interface decision: the name ("" for none), why, and
// the alternatives, the chosen one first.
type ifacePick struct {
	name string
	why  string
	alts []Alternative
}

// chooseInterface takes the interface an override names, or else the
// fastest usable interface that carries an address of the host name.
func chooseInterface(links []Link, host []netip.Addr, ov *Override) (ifacePick, error) {
	if ov != nil && ov.Interface != "" {
		return forcedInterface(links, ov)
	}
	return autoInterface(links, host), nil
}

// unusable says why a link can't carry traffic between nodes, or "".
func unusable(l Link) string {
	switch {
	case l.Loopback():
		return "loopback: reaches only this node"
	case !l.Up:
		return "down (not brought up)"
	case !l.Carries():
		return "no carrier (oper state " + l.OperState + ")"
	}
	return ""
}

// autoInterface ranks the usable links that carry a host-name address.
// Where none does (a host name that resolves to 127.0.1.1, as Debian's
// installer writes it), it falls back to the usable links that have any
// address other than link-local, those with a default route first (the
// kernel's own way to other nodes), and says so.
func autoInterface(links []Link, host []netip.Addr) ifacePick {
	var carrying, addressed []Link
	var rejected []Alternative
	for _, l := range links {
		if why := unusable(l); why != "" {
			rejected = append(rejected, Alternative{Kind: "interface", Name: l.Name, Why: why})
			continue
		}
		if _, ok := carriedAddr(l, host); ok {
			carrying = append(carrying, l)
		} else if hasRoutableAddr(l) {
			addressed = append(addressed, l)
		} else {
			rejected = append(rejected, Alternative{Kind: "interface", Name: l.Name, Why: "has no address other nodes can reach (none, or only link-local)"})
		}
	}
	hostText := addrList(host)
	if len(carrying) > 0 {
		p := rankedPick(carrying, false, func(best Link) string {
			a, _ := carriedAddr(best, host)
			return fmt.Sprintf("%s is up and carries %s, which the host name resolves to; it is %s", best.Name, a, fastestText(carrying))
		})
		miss := "carries none of the host name's addresses (" + hostText + ")"
		p.alts = append(p.alts, allWith(addressed, miss)...)
		p.alts = append(p.alts, rejected...)
		return p
	}
	if len(addressed) > 0 {
		p := rankedPick(addressed, true, func(best Link) string {
			return fmt.Sprintf("no up, non-loopback interface carries the host name's addresses (%s); %s is the fallback: %s", hostText, best.Name, fallbackText(best, addressed))
		})
		p.alts = append(p.alts, rejected...)
		return p
	}
	why := "no interface is up, non-loopback and addressed, so ranks reach only ranks on this node"
	return ifacePick{why: why, alts: rejected}
}

// forcedInterface takes the interface an override names; a glob that
// matches several takes the best-ranked of them. A name the node lacks is
// an error that lists the node's interfaces.
func forcedInterface(links []Link, ov *Override) (ifacePick, error) {
	var matched []Link
	var others []Alternative
	for _, l := range links {
		if matches(ov.Interface, l.Name) {
			matched = append(matched, l)
		} else {
			others = append(others, Alternative{Kind: "interface", Name: l.Name, Why: fmt.Sprintf("does not match %s %s", ov.Origin, ov.Interface)})
		}
	}
	if len(matched) == 0 {
		return ifacePick{}, fmt.Errorf("netinject: %s names interface %q, which this node does not have; its interfaces are: %s", ov.Origin, ov.Interface, linkNames(links))
	}
	p := rankedPick(matched, false, func(best Link) string {
		why := fmt.Sprintf("%s names %s", ov.Origin, ov.Interface)
		if len(matched) > 1 {
			why += "; " + best.Name + " is " + fastestText(matched)
		}
		if u := unusable(best); u != "" {
			why += "; used as asked, although it is " + u
		}
		return why
	})
	p.alts = append(p.alts, others...)
	return p, nil
}

// rankedPick ranks links (usable first, then, for the fallback, those with
// a default route, then fastest, then by name), takes the first and
// explains it with why; the others lost to it.
func rankedPick(links []Link, fallback bool, why func(best Link) string) ifacePick {
	ranked := slices.Clone(links)
	slices.SortStableFunc(ranked, func(a, b Link) int {
		if fallback && a.DefaultRoute != b.DefaultRoute {
			if a.DefaultRoute {
				return -1
			}
			return 1
		}
		return compareLinks(a, b)
	})
	best := ranked[0]
	p := ifacePick{name: best.Name, why: why(best)}
	p.alts = append(p.alts, Alternative{Kind: "interface", Name: best.Name, Chosen: true, Why: "chosen"})
	for _, l := range ranked[1:] {
		reason := unusable(l)
		switch {
		case reason != "":
		case fallback && best.DefaultRoute && !l.DefaultRoute:
			reason = "no default route leaves through it; one leaves through " + best.Name
		default:
			reason = lostTo(l.SpeedMbps, best.Name, best.SpeedMbps)
		}
		p.alts = append(p.alts, Alternative{Kind: "interface", Name: l.Name, Why: reason})
	}
	return p
}

// compareLinks orders usable links first, then the fastest (an unknown
// speed, -1, last), then by name, so that ties break the same way on
// every node.
func compareLinks(a, b Link) int {
	ua, ub := unusable(a) == "", unusable(b) == ""
	if ua != ub {
		if ua {
			return -1
		}
		return 1
	}
	if n := cmp.Compare(b.SpeedMbps, a.SpeedMbps); n != 0 {
		return n
	}
	return cmp.Compare(a.Name, b.Name)
}
