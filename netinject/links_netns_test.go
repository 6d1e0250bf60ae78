package netinject

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/testreq"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// addrGenModeNone is IN6_ADDR_GEN_MODE_NONE: no automatic fe80:: address,
// so that each link has exactly the addresses the test gives it.
const addrGenModeNone = 1

// Discovery in a fresh network namespace with known links, field by field.
// The namespace lives on one locked OS thread that is never unlocked: when
// its goroutine returns the runtime ends the thread, and the namespace, the
// links in it and the private sysfs mount go with it, so nothing is left
// behind even if the test fails half-way. Every address is inside the
// namespace; nothing is sent anywhere else.
func TestDiscoverLinksInFreshNetns(t *testing.T) {
	testreq.Require(t, os.Geteuid() == 0, "root, to create a network namespace and links")
	sysRoot := t.TempDir()
	type result struct {
		links   []Link
		indexes map[string]int
		err     error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see above
		links, indexes, err := discoverInFreshNetns(sysRoot)
		done <- result{links, indexes, err}
	}()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	want := wantNetnsLinks(r.indexes)
	if len(r.links) != len(want) {
		t.Fatalf("got %d links %v, want %d", len(r.links), linkNames(r.links), len(want))
	}
	for i, w := range want {
		g := r.links[i]
		if !reflect.DeepEqual(g, w) {
			t.Errorf("link %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

// wantNetnsLinks is what setupNetns built, sorted by name as Links returns
// them; indexes come from netlink after creation, since the kernel numbers
// veth peers in its own order.
func wantNetnsLinks(idx map[string]int) []Link {
	pfx := netip.MustParsePrefix
	up := []string{"up", "broadcast", "running", "multicast", "lower_up"}
	return []Link{
		{Name: "br0", Index: idx["br0"], Kind: "bridge", Type: "ether", ARPHRD: 1, MTU: 1500, OperState: "up", Up: true,
			Flags: up, MAC: "02:99:00:00:00:0b", Addrs: []netip.Prefix{pfx("10.99.2.1/24")},
			SpeedMbps: 10000}, // a bridge reports the speed of its fastest running port
		{Name: "lo", Index: 1, Kind: "device", Type: "loopback", ARPHRD: 772, MTU: 65536, OperState: "unknown", Up: true,
			Flags: []string{"up", "loopback", "running", "lower_up"}, // netlink gives lo no MAC
			Addrs: []netip.Prefix{pfx("127.0.0.1/8"), pfx("::1/128")}, SpeedMbps: -1},
		{Name: "va0", Index: idx["va0"], Kind: "veth", Type: "ether", ARPHRD: 1, MTU: 9000, OperState: "up", Up: true,
			Flags: up, MAC: "02:99:00:00:00:a0", Addrs: []netip.Prefix{pfx("10.99.1.1/24"), pfx("fd00:99::1/64")},
			DefaultRoute: true, SpeedMbps: 10000},
		{Name: "va1", Index: idx["va1"], Kind: "veth", Type: "ether", ARPHRD: 1, MTU: 1500, OperState: "up", Up: true,
			Flags: up, MAC: "02:99:00:00:00:a1", Master: "br0", Addrs: []netip.Prefix{}, SpeedMbps: 10000},
		{Name: "vb0", Index: idx["vb0"], Kind: "veth", Type: "ether", ARPHRD: 1, MTU: 1500, OperState: "down",
			Flags: []string{"broadcast", "multicast"}, MAC: "02:99:00:00:00:b0",
			Addrs: []netip.Prefix{pfx("10.99.3.1/24")}, SpeedMbps: -1}, // a down link has no speed
		{Name: "vb1", Index: idx["vb1"], Kind: "veth", Type: "ether", ARPHRD: 1, MTU: 1500, OperState: "down",
			Flags: []string{"broadcast", "multicast"}, MAC: "02:99:00:00:00:b1", Addrs: []netip.Prefix{}, SpeedMbps: -1},
	}
}

// discoverInFreshNetns runs on a locked thread: it gives the thread new
// network and mount namespaces, mounts a sysfs of the new network
// namespace under sysRoot (the host's /sys shows the host's links), builds
// the links and discovers them.
func discoverInFreshNetns(sysRoot string) ([]Link, map[string]int, error) {
	if err := unix.Unshare(unix.CLONE_NEWNET | unix.CLONE_NEWNS); err != nil {
		return nil, nil, fmt.Errorf("unshare(CLONE_NEWNET|CLONE_NEWNS): %w", err)
	}
	// Private first, so that the sysfs mount can't propagate to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return nil, nil, fmt.Errorf("make / private: %w", err)
	}
	sys := filepath.Join(sysRoot, "sys")
	if err := os.Mkdir(sys, 0o755); err != nil {
		return nil, nil, err
	}
	if err := unix.Mount("sysfs", sys, "sysfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return nil, nil, fmt.Errorf("mount sysfs on %s: %w", sys, err)
	}
	defer unix.Unmount(sys, unix.MNT_DETACH)
	indexes, err := setupNetns(sys)
	if err != nil {
		return nil, nil, err
	}
	links, err := Discoverer{SysRoot: sysRoot}.Links()
	return links, indexes, err
}

// setupNetns builds, in the thread's namespace: lo up; veth va0 (MTU 9000,
// IPv4 and IPv6, the default route) up to va1, which is a port of bridge
// br0 (up, IPv4); and veth vb0 (IPv4) to vb1, both down. It returns each
// link's index.
func setupNetns(sys string) (map[string]int, error) {
	mac := func(s string) net.HardwareAddr { m, _ := net.ParseMAC(s); return m }
	va := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "va0", MTU: 9000, HardwareAddr: mac("02:99:00:00:00:a0")},
		PeerName: "va1", PeerHardwareAddr: mac("02:99:00:00:00:a1"), PeerMTU: 1500}
	vb := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "vb0", HardwareAddr: mac("02:99:00:00:00:b0")},
		PeerName: "vb1", PeerHardwareAddr: mac("02:99:00:00:00:b1")}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0", HardwareAddr: mac("02:99:00:00:00:0b")}}
	for _, l := range []netlink.Link{va, vb, br} {
		if err := netlink.LinkAdd(l); err != nil {
			return nil, fmt.Errorf("add link %s: %w", l.Attrs().Name, err)
		}
	}
	// STP is off, but the port still waits forward_delay (15 s) before
	// the bridge gets carrier.
	if err := os.WriteFile(filepath.Join(sys, "class/net/br0/bridge/forward_delay"), []byte("0"), 0); err != nil {
		return nil, err
	}
	links := map[string]netlink.Link{}
	for _, name := range []string{"lo", "va0", "va1", "vb0", "vb1", "br0"} {
		l, err := netlink.LinkByName(name)
		if err != nil {
			return nil, fmt.Errorf("find link %s: %w", name, err)
		}
		links[name] = l
		if name != "lo" {
			if err := netlink.LinkSetIP6AddrGenMode(l, addrGenModeNone); err != nil {
				return nil, fmt.Errorf("addrgenmode none on %s: %w", name, err)
			}
		}
	}
	if err := netlink.LinkSetMaster(links["va1"], br); err != nil {
		return nil, fmt.Errorf("make va1 a port of br0: %w", err)
	}
	if err := addAddrs(links); err != nil {
		return nil, err
	}
	for _, name := range []string{"lo", "va0", "va1", "br0"} {
		if err := netlink.LinkSetUp(links[name]); err != nil {
			return nil, fmt.Errorf("bring %s up: %w", name, err)
		}
	}
	// A device route, without a gateway: no address outside the namespace
	// is named, and no packet is sent.
	if err := netlink.RouteAdd(&netlink.Route{LinkIndex: links["va0"].Attrs().Index, Scope: netlink.SCOPE_LINK,
		Dst: &net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)}}); err != nil {
		return nil, fmt.Errorf("add a default route through va0: %w", err)
	}
	indexes := map[string]int{}
	for name, l := range links {
		indexes[name] = l.Attrs().Index
	}
	return indexes, waitOperUp("va0", "va1", "br0")
}

// addAddrs gives va0, br0 and vb0 their addresses; NODAD keeps the IPv6
// address from being "tentative" while duplicate detection runs.
func addAddrs(links map[string]netlink.Link) error {
	for name, addrs := range map[string][]string{
		"va0": {"10.99.1.1/24", "fd00:99::1/64"},
		"br0": {"10.99.2.1/24"},
		"vb0": {"10.99.3.1/24"},
	} {
		for _, a := range addrs {
			addr, err := netlink.ParseAddr(a)
			if err != nil {
				return err
			}
			addr.Flags = unix.IFA_F_NODAD
			if err := netlink.AddrAdd(links[name], addr); err != nil {
				return fmt.Errorf("add %s to %s: %w", a, name, err)
			}
		}
	}
	return nil
}

// waitOperUp waits for the links' operational state to become up: the
// kernel's linkwatch sets it a moment after carrier, and the bridge only
// once its port forwards.
func waitOperUp(names ...string) error {
	deadline := time.Now().Add(10 * time.Second)
	for _, name := range names {
		for {
			l, err := netlink.LinkByName(name)
			if err != nil {
				return fmt.Errorf("find link %s: %w", name, err)
			}
			if l.Attrs().OperState == netlink.OperUp {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s still %s after 10 s", name, l.Attrs().OperState)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}
