package netinject

import (
	"net/netip"
	"strconv"
	"strings"
)

// carriedAddr returns the first of the host addresses that l carries.
func carriedAddr(l Link, host []netip.Addr) (netip.Addr, bool) {
	for _, h := range host {
		for _, p := range l.Addrs {
			if p.Addr() == h.WithZone("") {
				return h, true
			}
		}
	}
	return netip.Addr{}, false
}

// hasRoutableAddr says whether l has an address other nodes could reach:
// not link-local (fe80::/10, 169.254/16) and not loopback.
func hasRoutableAddr(l Link) bool {
	for _, p := range l.Addrs {
		a := p.Addr()
		if !a.IsLinkLocalUnicast() && !a.IsLoopback() {
			return true
		}
	}
	return false
}

// allWith gives every link the same reason for being passed over.
func allWith(links []Link, why string) []Alternative {
	out := make([]Alternative, 0, len(links))
	for _, l := range links {
		out = append(out, Alternative{Kind: "interface", Name: l.Name, Why: why})
	}
	return out
}

// fastestText describes the chosen link's rank among the candidates.
func fastestText(cands []Link) string {
	if len(cands) == 1 {
		return "the only such interface"
	}
	return "the fastest of " + strconv.Itoa(len(cands)) + " such interfaces (ties go to the first name)"
}

func addrList(addrs []netip.Addr) string {
	if len(addrs) == 0 {
		return "none given"
	}
	parts := make([]string, 0, len(addrs))
	for _, a := range addrs {
		parts = append(parts, a.String())
	}
	return strings.Join(parts, ", ")
}

func linkNames(links []Link) string {
	if len(links) == 0 {
		return "none"
	}
	names := make([]string, 0, len(links))
	for _, l := range links {
		names = append(names, l.Name)
	}
	return strings.Join(names, ", ")
}

// fallbackText says why the fallback interface best won among cands.
func fallbackText(best Link, cands []Link) string {
	if best.DefaultRoute {
		return "up, with an address, and a default route leaves through it"
	}
	return "up, with an address, and " + fastestText(cands)
}
