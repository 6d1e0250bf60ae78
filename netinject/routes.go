package netinject

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// defaultRouteLinks returns the indexes of the links that carry a default
// route (IPv4 or IPv6, main table, every hop of a multipath route). The
// choice falls back on them when no interface carries the host name's
// address: that is where the kernel itself sends traffic for other nodes.
func defaultRouteLinks() (map[int]bool, error) {
	var routes []netlink.Route
	var err error
	for try := 0; try < dumpTries; try++ {
		routes, err = netlink.RouteList(nil, netlink.FAMILY_ALL)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("netinject: list routes through netlink (RTM_GETROUTE): %w", err)
	}
	out := map[int]bool{}
	for _, r := range routes {
		if r.Type != unix.RTN_UNICAST || !isDefault(r) {
			continue // a blackhole or unreachable default carries nothing
		}
		if r.LinkIndex > 0 {
			out[r.LinkIndex] = true
		}
		for _, hop := range r.MultiPath {
			out[hop.LinkIndex] = true
		}
	}
	return out, nil
}

// isDefault says whether r is a default route; netlink writes its
// destination as nil or as 0.0.0.0/0 (::/0) depending on the version.
func isDefault(r netlink.Route) bool {
	if r.Dst == nil {
		return true
	}
	ones, _ := r.Dst.Mask.Size()
	return ones == 0 && r.Dst.IP.IsUnspecified()
}
