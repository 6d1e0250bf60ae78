package netinject

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Link is one network interface as the kernel reports it.
type Link struct {
	Name  string `json:"name"`
	Index int    `json:"index"`
	// Kind is netlink's link kind: "veth", "bridge", "vlan", "bond", …,
	// or "device" for a plain device (a NIC, lo, an IPoIB port).
	Kind string `json:"kind"`
	// Type names ARPHRD, the link-layer type ("ether", "infiniband",
	// "loopback", "none"; see [ARPHRDName]).
	Type   string `json:"type"`
	ARPHRD uint16 `json:"arphrd"`
	MTU    int    `json:"mtu"`
	// OperState is RFC 2863's operational state as netlink spells it:
	// "up", "down", "lower-layer-down", "dormant", "unknown" (lo and
	// drivers that don't track carrier), ….
	OperState string `json:"oper_state"`
	// Up is IFF_UP: the administrator brought the link up. It may still
	// have no carrier; OperState says whether it can carry traffic.
	Up    bool     `json:"up"`
	Flags []string `json:"flags"`
	// MAC is empty where the link has none or an all-zero one (lo).
	MAC string `json:"mac,omitempty"`
	// Master is the bridge (or bond) this link is a port of.
	Master string `json:"master,omitempty"`
	// Addrs are the IPv4 then IPv6 addresses, each with its prefix length.
	Addrs []netip.Prefix `json:"addrs"`
	// DefaultRoute says whether a default route leaves through this link.
	DefaultRoute bool `json:"default_route"`
	// SpeedMbps is /sys/class/net/NAME/speed, or -1 where the kernel
	// reports none (down links, loopback, bridges without running ports)
	// or where sysfs belongs to another network namespace.
	SpeedMbps int `json:"speed_mbps"`
}

// Loopback says whether the link is a loopback device, which never
// carries traffic between nodes.
func (l Link) Loopback() bool {
	return l.ARPHRD == unix.ARPHRD_LOOPBACK || slices.Contains(l.Flags, "loopback")
}

// Carries says whether the link can pass traffic: brought up, and with an
// operational state that is up, or unknown for drivers that don't report
// carrier (lo, tun).
func (l Link) Carries() bool {
	return l.Up && (l.OperState == "up" || l.OperState == "unknown")
}

// dumpTries bounds the retries of a netlink dump that the kernel marked
// interrupted (NLM_F_DUMP_INTR: the table changed while it was read).
const dumpTries = 5

// readLinks lists the links of the calling thread's network namespace,
// with their addresses, default routes and speeds, sorted by name.
func readLinks(sysRoot string) ([]Link, error) {
	raw, types, err := dumpLinks()
	if err != nil {
		return nil, err
	}
	addrs, err := dumpAddrs()
	if err != nil {
		return nil, err
	}
	defaults, err := defaultRouteLinks()
	if err != nil {
		return nil, err
	}
	names := map[int]string{}
	for _, l := range raw {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	links := make([]Link, 0, len(raw))
	for i, l := range raw {
		link := fromNetlink(l, types[i], names)
		link.Addrs = addrs[link.Index]
		if link.Addrs == nil {
			link.Addrs = []netip.Prefix{}
		}
		link.DefaultRoute = defaults[link.Index]
		link.SpeedMbps = linkSpeed(sysRoot, link.Name, link.Index)
		links = append(links, link)
	}
	slices.SortFunc(links, func(a, b Link) int { return cmp.Compare(a.Name, b.Name) })
	return links, nil
}

// dumpLinks runs RTM_GETLINK itself rather than through netlink.LinkList,
// because LinkList keeps only a name for the ARPHRD type and the report
// wants the number too. It returns each link with its ARPHRD number.
func dumpLinks() ([]netlink.Link, []uint16, error) {
	for try := 0; try < dumpTries; try++ {
		req := nl.NewNetlinkRequest(unix.RTM_GETLINK, unix.NLM_F_DUMP)
		req.AddData(nl.NewIfInfomsg(unix.AF_UNSPEC))
		msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWLINK)
		if errors.Is(err, nl.ErrDumpInterrupted) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("netinject: list links through netlink (RTM_GETLINK): %w", err)
		}
		links := make([]netlink.Link, 0, len(msgs))
		types := make([]uint16, 0, len(msgs))
		for _, m := range msgs {
			l, err := netlink.LinkDeserialize(nil, m)
			if err != nil {
				return nil, nil, fmt.Errorf("netinject: decode a link from netlink: %w", err)
			}
			links = append(links, l)
			types = append(types, nl.DeserializeIfInfomsg(m).Type)
		}
		return links, types, nil
	}
	return nil, nil, fmt.Errorf("netinject: the link list changed during each of %d netlink dumps; retry when links stop being added or removed", dumpTries)
}

// dumpAddrs lists every address of the namespace, by link index, IPv4
// before IPv6 and in address order within each.
func dumpAddrs() (map[int][]netip.Prefix, error) {
	var list []netlink.Addr
	var err error
	for try := 0; try < dumpTries; try++ {
		list, err = netlink.AddrList(nil, netlink.FAMILY_ALL)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("netinject: list addresses through netlink (RTM_GETADDR): %w", err)
	}
	byLink := map[int][]netip.Prefix{}
	for _, a := range list {
		if p, ok := toPrefix(a.IPNet); ok {
			byLink[a.LinkIndex] = append(byLink[a.LinkIndex], p)
		}
	}
	for _, ps := range byLink {
		slices.SortFunc(ps, comparePrefix)
	}
	return byLink, nil
}

// fromNetlink copies what the report needs out of netlink's link; names
// maps link indexes to names, to name the master.
func fromNetlink(l netlink.Link, arphrd uint16, names map[int]string) Link {
	a := l.Attrs()
	link := Link{
		Name:      a.Name,
		Index:     a.Index,
		Kind:      l.Type(),
		Type:      ARPHRDName(arphrd),
		ARPHRD:    arphrd,
		MTU:       a.MTU,
		OperState: a.OperState.String(),
		Up:        a.RawFlags&unix.IFF_UP != 0,
		Flags:     flagNames(a.RawFlags),
		Master:    names[a.MasterIndex],
	}
	if len(a.HardwareAddr) > 0 {
		link.MAC = a.HardwareAddr.String()
	}
	return link
}

// toPrefix turns netlink's address into a prefix; IPv4 addresses come as
// 16-byte IPv4-mapped slices from some paths, so they are unmapped.
func toPrefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	addr, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	addr = addr.Unmap()
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(addr, ones), true
}

// comparePrefix orders IPv4 before IPv6, then by address, then by length.
func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}
