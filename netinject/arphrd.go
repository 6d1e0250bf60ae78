package netinject

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// arphrdNames names the link-layer types (include/uapi/linux/if_arp.h) an
// HPC node is likely to show. The names follow iproute2's "link/NAME" so
// that `mpiwrap net` and `ip link` agree.
var arphrdNames = map[uint16]string{
	unix.ARPHRD_NETROM:     "netrom",
	unix.ARPHRD_ETHER:      "ether",
	unix.ARPHRD_IEEE802:    "ieee802",
	unix.ARPHRD_INFINIBAND: "infiniband",
	unix.ARPHRD_SLIP:       "slip",
	unix.ARPHRD_PPP:        "ppp",
	unix.ARPHRD_TUNNEL:     "ipip",
	unix.ARPHRD_TUNNEL6:    "tunnel6",
	unix.ARPHRD_LOOPBACK:   "loopback",
	unix.ARPHRD_SIT:        "sit",
	unix.ARPHRD_IPGRE:      "gre",
	unix.ARPHRD_IP6GRE:     "gre6",
	unix.ARPHRD_IEEE80211:  "ieee802.11",
	unix.ARPHRD_CAN:        "can",
	unix.ARPHRD_RAWIP:      "rawip",
	unix.ARPHRD_NONE:       "none",
	unix.ARPHRD_VOID:       "void",
}

// ARPHRDName names a link-layer type number, as iproute2 does for the
// common ones; an unknown number is written "arphrd-N" so that it still
// shows, rather than being mistaken for a known type.
func ARPHRDName(t uint16) string {
	if name, ok := arphrdNames[t]; ok {
		return name
	}
	return "arphrd-" + strconv.Itoa(int(t))
}

// linkFlags names the interface flags (IFF_*) in a fixed order, the order
// `ip link` prints them in, so that the report is stable.
var linkFlags = []struct {
	bit  uint32
	name string
}{
	{unix.IFF_UP, "up"},
	{unix.IFF_BROADCAST, "broadcast"},
	{unix.IFF_LOOPBACK, "loopback"},
	{unix.IFF_POINTOPOINT, "pointopoint"},
	{unix.IFF_RUNNING, "running"},
	{unix.IFF_NOARP, "noarp"},
	{unix.IFF_PROMISC, "promisc"},
	{unix.IFF_ALLMULTI, "allmulti"},
	{unix.IFF_MULTICAST, "multicast"},
	{unix.IFF_LOWER_UP, "lower_up"},
	{unix.IFF_DORMANT, "dormant"},
}

// flagNames lists the names of the flags set in raw.
func flagNames(raw uint32) []string {
	names := []string{}
	for _, f := range linkFlags {
		if raw&f.bit != 0 {
			names = append(names, f.name)
		}
	}
	return names
}
