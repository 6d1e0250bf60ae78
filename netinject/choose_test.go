package netinject

import (
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// link builds an interface for the choice tests: up with carrier unless
// state says otherwise ("admin-down" for not brought up).
func link(name string, speed int, state string, addrs ...string) Link {
	l := Link{Name: name, Kind: "device", Type: "ether", ARPHRD: 1, MTU: 1500, OperState: state, Up: true, SpeedMbps: speed}
	switch state {
	case "admin-down":
		l.OperState, l.Up = "down", false
	case "loopback":
		l.OperState, l.Type, l.ARPHRD, l.Flags = "unknown", "loopback", 772, []string{"up", "loopback"}
	}
	for _, a := range addrs {
		l.Addrs = append(l.Addrs, netip.MustParsePrefix(a))
	}
	return l
}

func routed(l Link) Link {
	l.DefaultRoute = true
	return l
}

func port(dev string, n int, state, layer string, mbps int) RDMADevice {
	return RDMADevice{Name: dev, Ports: []RDMAPort{{Port: n, State: state, LinkLayer: layer, RateMbps: mbps, Rate: "some Gb/sec"}}}
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

// nodeLinks: lo; eth0 (1 Gb/s) and eth1 (25 Gb/s) on the host network;
// eth2 down and eth3 without carrier, each with an address; ib0 (IPoIB,
// 100 Gb/s) on its own network.
var nodeLinks = []Link{
	link("lo", -1, "loopback", "127.0.0.1/8", "::1/128"),
	link("eth0", 1000, "up", "10.0.0.5/24"),
	link("eth1", 25000, "up", "10.0.0.6/24"),
	link("eth2", -1, "admin-down", "10.1.0.5/24"),
	link("eth3", 10000, "lower-layer-down", "10.3.0.5/24"),
	link("ib0", 100000, "up", "10.2.0.5/16"),
}

var (
	rdmaTwoActive = RDMA{Devices: []RDMADevice{
		port("rxe0", 1, "ACTIVE", "Ethernet", 10000),
		port("mlx5_0", 1, "ACTIVE", "InfiniBand", 100000),
		port("mlx5_1", 1, "DOWN", "InfiniBand", 100000),
	}, Source: "sysfs"}
	rdmaDownOnly = RDMA{Devices: []RDMADevice{port("mlx5_1", 1, "DOWN", "InfiniBand", 100000)}, Source: "netlink"}
	rdmaNone     = RDMA{Devices: []RDMADevice{}, Source: "none", Note: "the kernel has no RDMA netlink (protocol not supported) and there is no /sys/class/infiniband: no RDMA devices"}
)

func mustFabric(v, origin string) *Override {
	o, err := ParseFabric(v, origin)
	if err != nil {
		panic(err)
	}
	return &o
}

// chooseCase is one node and its inputs, with the expected choice.
type chooseCase struct {
	name              string
	links             []Link
	rdma              RDMA
	host              []netip.Addr
	site, user        *Override
	fabric            Fabric
	dev               string
	port              int
	iface             string
	rdmaWhy, ifaceWhy string // substrings
	wantErr           string // prefix
	alt, altWhy       string // one alternative and a substring of its reason
}

var (
	siteIB  = &Override{Interface: "ib*", Origin: "the site rule"}
	siteRXE = &Override{RDMA: "rxe*", Origin: "the site rule"}
)

var chooseCases = []chooseCase{
	{name: "RDMA present wins, fastest active port", links: nodeLinks, rdma: rdmaTwoActive, host: addrs("10.0.0.5"),
		fabric: FabricRDMA, dev: "mlx5_0", port: 1, iface: "eth0",
		rdmaWhy:  "mlx5_0 port 1 is ACTIVE (InfiniBand, some Gb/sec); it is the fastest of 2 active RDMA ports, and RDMA is preferred over TCP",
		ifaceWhy: "eth0 is up and carries 10.0.0.5, which the host name resolves to; it is the only such interface",
		alt:      "rxe0:1", altWhy: "slower (10000 Mbit/s) than mlx5_0:1 (100000 Mbit/s)"},
	{name: "RDMA port that is DOWN is never taken", links: nodeLinks, rdma: rdmaTwoActive, host: addrs("10.0.0.5"),
		fabric: FabricRDMA, dev: "mlx5_0", port: 1, iface: "eth0", alt: "mlx5_1:1", altWhy: "port is DOWN, not ACTIVE"},
	{name: "no active RDMA port gives TCP", links: nodeLinks, rdma: rdmaDownOnly, host: addrs("10.0.0.5"),
		fabric: FabricTCP, iface: "eth0", rdmaWhy: "no RDMA port is ACTIVE (mlx5_1:1 is DOWN), so no RDMA is used"},
	{name: "no RDMA: fastest up interface with the host address", links: nodeLinks, rdma: rdmaNone, host: addrs("10.0.0.5", "10.0.0.6"),
		fabric: FabricTCP, iface: "eth1", rdmaWhy: "protocol not supported",
		ifaceWhy: "eth1 is up and carries 10.0.0.6, which the host name resolves to; it is the fastest of 2 such interfaces",
		alt:      "eth0", altWhy: "slower (1000 Mbit/s) than eth1 (25000 Mbit/s)"},
	{name: "a faster interface without the host address loses", links: nodeLinks, rdma: rdmaNone, host: addrs("10.0.0.5"),
		fabric: FabricTCP, iface: "eth0", alt: "ib0", altWhy: "carries none of the host name's addresses (10.0.0.5)"},
	{name: "loopback never, even carrying the host address", links: nodeLinks, rdma: rdmaNone, host: addrs("127.0.0.1"),
		fabric: FabricTCP, iface: "ib0", ifaceWhy: "no up, non-loopback interface carries the host name's addresses (127.0.0.1); ib0 is the fallback",
		alt: "lo", altWhy: "loopback: reaches only this node"},
	{name: "the fallback prefers the default route to speed", rdma: rdmaNone, host: addrs("127.0.1.1"),
		links:  []Link{link("lo", -1, "loopback", "127.0.0.1/8"), routed(link("eth0", 1000, "up", "192.0.2.2/24")), link("ib0", 100000, "up", "10.2.0.5/16")},
		fabric: FabricTCP, iface: "eth0", ifaceWhy: "eth0 is the fallback: up, with an address, and a default route leaves through it",
		alt: "ib0", altWhy: "no default route leaves through it; one leaves through eth0"},
	{name: "a link-local address is no fallback", rdma: rdmaNone, host: addrs("127.0.1.1"),
		links:  []Link{link("lo", -1, "loopback", "127.0.0.1/8"), link("eth0", 1000, "up", "fe80::1/64", "169.254.0.3/16")},
		fabric: FabricNone, alt: "eth0", altWhy: "has no address other nodes can reach (none, or only link-local)"},
	{name: "only loopback gives none", links: nodeLinks[:1], rdma: rdmaNone, host: addrs("127.0.0.1"),
		fabric: FabricNone, ifaceWhy: "no interface is up, non-loopback and addressed", alt: "lo", altWhy: "loopback"},
	{name: "down interfaces never, even carrying the host address", links: nodeLinks, rdma: rdmaNone, host: addrs("10.1.0.5", "10.3.0.5"),
		fabric: FabricTCP, iface: "ib0", ifaceWhy: "(10.1.0.5, 10.3.0.5); ib0 is the fallback", alt: "eth2", altWhy: "down (not brought up)"},
	{name: "no carrier is down too", links: nodeLinks, rdma: rdmaNone, host: addrs("10.3.0.5"),
		fabric: FabricTCP, iface: "ib0", alt: "eth3", altWhy: "no carrier (oper state lower-layer-down)"},
	{name: "tie on speed goes to the first name", rdma: rdmaNone, host: addrs("10.0.0.5", "10.0.0.7", "10.0.0.8"),
		links:  []Link{link("eth9", 1000, "up", "10.0.0.8/24"), link("eth5", 1000, "up", "10.0.0.7/24"), link("eth0", -1, "up", "10.0.0.5/24")},
		fabric: FabricTCP, iface: "eth5", alt: "eth9", altWhy: "as fast as eth5 (1000 Mbit/s); eth5 sorts first by name"},
	{name: "known speed beats unknown", rdma: rdmaNone, host: addrs("10.0.0.5", "10.0.0.7"),
		links:  []Link{link("eth0", -1, "up", "10.0.0.5/24"), link("eth5", 10, "up", "10.0.0.7/24")},
		fabric: FabricTCP, iface: "eth5", alt: "eth0", altWhy: "slower (unknown speed) than eth5 (10 Mbit/s)"},
	{name: "RDMA tie goes to the first device, then the first port", links: nodeLinks, host: addrs("10.0.0.5"),
		rdma: RDMA{Devices: []RDMADevice{port("mlx5_2", 1, "ACTIVE", "InfiniBand", 100000),
			{Name: "mlx5_0", Ports: []RDMAPort{{Port: 2, State: "ACTIVE", RateMbps: 100000}, {Port: 1, State: "ACTIVE", RateMbps: 100000}}}}},
		fabric: FabricRDMA, dev: "mlx5_0", port: 1, iface: "eth0", alt: "mlx5_0:2", altWhy: "as fast as mlx5_0:1"},
	{name: "--fabric IFACE: TCP only, on that interface", links: nodeLinks, rdma: rdmaTwoActive, host: addrs("10.0.0.5"),
		user: mustFabric("ib0", "--fabric"), fabric: FabricTCP, iface: "ib0",
		rdmaWhy: "--fabric names no RDMA device, so none is used", ifaceWhy: "--fabric names ib0",
		alt: "mlx5_0:1", altWhy: "--fabric names no RDMA device"},
	{name: "--fabric IFACE,DEV takes a slower device", links: nodeLinks, rdma: rdmaTwoActive, host: addrs("10.0.0.5"),
		user: mustFabric("eth1,rxe0", "--fabric"), fabric: FabricRDMA, dev: "rxe0", port: 1, iface: "eth1",
		rdmaWhy: "--fabric names RDMA device rxe0; rxe0 port 1 is ACTIVE (Ethernet", alt: "mlx5_0:1", altWhy: "does not match --fabric rxe0"},
	{name: "--fabric a down device is used as asked", links: nodeLinks, rdma: rdmaTwoActive, host: addrs("10.0.0.5"),
		user: mustFabric("eth0,mlx5_1:1", "--fabric"), fabric: FabricRDMA, dev: "mlx5_1", port: 1, iface: "eth0",
		rdmaWhy: "used as asked, although the MPI cannot use a port that is not ACTIVE"},
	{name: "--fabric a down interface is used as asked", links: nodeLinks, rdma: rdmaNone, host: addrs("10.0.0.5"),
		user: mustFabric("eth2", "--fabric"), fabric: FabricTCP, iface: "eth2",
		ifaceWhy: "--fabric names eth2; used as asked, although it is down (not brought up)"},
	{name: "--fabric unknown interface", links: nodeLinks, rdma: rdmaTwoActive, user: mustFabric("eth9", "--fabric"),
		wantErr: `netinject: --fabric names interface "eth9", which this node does not have; its interfaces are: eth0, eth1, eth2, eth3, ib0, lo`},
	{name: "--fabric unknown RDMA device", links: nodeLinks, rdma: rdmaTwoActive, user: mustFabric("eth0,mlx5_7", "--fabric"),
		wantErr: `netinject: --fabric names RDMA device "mlx5_7", which this node does not have; its RDMA ports are: mlx5_0:1 (ACTIVE), mlx5_1:1 (DOWN), rxe0:1 (ACTIVE)`},
	{name: "--fabric unknown RDMA port", links: nodeLinks, rdma: rdmaTwoActive, user: mustFabric("eth0,mlx5_0:3", "--fabric"),
		wantErr: `netinject: --fabric names port 3 of RDMA device "mlx5_0", which it does not have; its RDMA ports are:`},
	{name: "--fabric RDMA device on a node without RDMA", links: nodeLinks, rdma: rdmaNone, user: mustFabric("eth0,mlx5_0", "--fabric"),
		wantErr: `netinject: --fabric names RDMA device "mlx5_0", which this node does not have; it has no RDMA ports (the kernel has no RDMA netlink`},
	{name: "site rule picks the interface, RDMA as usual", links: nodeLinks, rdma: rdmaTwoActive, host: addrs("10.0.0.5"),
		site: siteIB, fabric: FabricRDMA, dev: "mlx5_0", port: 1, iface: "ib0", ifaceWhy: "the site rule names ib*",
		alt: "eth0", altWhy: "does not match the site rule ib*"},
	{name: "site rule picks the RDMA device", links: nodeLinks, rdma: rdmaTwoActive, host: addrs("10.0.0.5"),
		site: siteRXE, fabric: FabricRDMA, dev: "rxe0", port: 1, iface: "eth0", rdmaWhy: "the site rule names RDMA device rxe*; rxe0 port 1 is ACTIVE", alt: "mlx5_0:1", altWhy: "does not match the site rule rxe*"},
	{name: "--fabric replaces the site rule", links: nodeLinks, rdma: rdmaTwoActive, host: addrs("10.0.0.5"),
		site: siteIB, user: mustFabric("eth1", "--fabric"), fabric: FabricTCP, iface: "eth1",
		ifaceWhy: "--fabric names eth1 (--fabric replaces the site rule)"},
	{name: "site rule naming what the node lacks", links: nodeLinks, rdma: rdmaTwoActive, site: &Override{Interface: "hsn*", Origin: "the site rule"},
		wantErr: `netinject: the site rule names interface "hsn*", which this node does not have`},
}

func TestChoose(t *testing.T) {
	for _, tc := range chooseCases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Choose(Facts{Links: tc.links, RDMA: tc.rdma}, Inputs{HostAddrs: tc.host, Site: tc.site, User: tc.user})
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one starting %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Fabric != tc.fabric || c.RDMADevice != tc.dev || c.RDMAPort != tc.port || c.Interface != tc.iface {
				t.Errorf("chose %s %s:%d interface %q; want %s %s:%d interface %q\nrdma: %s\ninterface: %s",
					c.Fabric, c.RDMADevice, c.RDMAPort, c.Interface, tc.fabric, tc.dev, tc.port, tc.iface, c.RDMAWhy, c.InterfaceWhy)
			}
			if !strings.Contains(c.RDMAWhy, tc.rdmaWhy) {
				t.Errorf("rdma why %q, want it to contain %q", c.RDMAWhy, tc.rdmaWhy)
			}
			if !strings.Contains(c.InterfaceWhy, tc.ifaceWhy) {
				t.Errorf("interface why %q, want it to contain %q", c.InterfaceWhy, tc.ifaceWhy)
			}
			checkAlternatives(t, c, tc.links, tc.rdma, tc.alt, tc.altWhy)
		})
	}
}

// checkAlternatives: every interface and every RDMA port is listed once,
// exactly the chosen ones are marked, and alt has a reason containing why.
func checkAlternatives(t *testing.T, c Choice, links []Link, rdma RDMA, alt, why string) {
	t.Helper()
	var names, want []string
	for _, a := range c.Alternatives {
		names = append(names, a.Kind+" "+a.Name)
		chosen := (a.Kind == "interface" && a.Name == c.Interface) ||
			(a.Kind == "rdma" && c.RDMADevice != "" && a.Name == portCand{c.RDMADevice, RDMAPort{Port: c.RDMAPort}}.name())
		if a.Chosen != chosen || (a.Chosen && a.Why != "chosen") || a.Why == "" {
			t.Errorf("alternative %+v: chosen should be %v, with a reason", a, chosen)
		}
		if a.Name == alt && !strings.Contains(a.Why, why) {
			t.Errorf("alternative %s: why %q, want it to contain %q", alt, a.Why, why)
		}
	}
	for _, c := range portCandidates(rdma.Devices) {
		want = append(want, "rdma "+c.name())
	}
	for _, l := range links {
		want = append(want, "interface "+l.Name)
	}
	slices.Sort(names)
	slices.Sort(want)
	if !reflect.DeepEqual(names, want) {
		t.Errorf("alternatives %v, want each of %v once", names, want)
	}
	if alt != "" && !slices.ContainsFunc(c.Alternatives, func(a Alternative) bool { return a.Name == alt }) {
		t.Errorf("no alternative %s in %+v", alt, c.Alternatives)
	}
}

// The alternatives in full for one node: RDMA first, the chosen one first
// in each kind, then the rest in rank order, then those passed over.
func TestChooseAlternativesInOrder(t *testing.T) {
	c, err := Choose(Facts{Links: nodeLinks, RDMA: rdmaTwoActive}, Inputs{HostAddrs: addrs("10.0.0.6", "10.0.0.5")})
	if err != nil {
		t.Fatal(err)
	}
	want := []Alternative{
		{Kind: "rdma", Name: "mlx5_0:1", Chosen: true, Why: "chosen"},
		{Kind: "rdma", Name: "rxe0:1", Why: "slower (10000 Mbit/s) than mlx5_0:1 (100000 Mbit/s)"},
		{Kind: "rdma", Name: "mlx5_1:1", Why: "port is DOWN, not ACTIVE"},
		{Kind: "interface", Name: "eth1", Chosen: true, Why: "chosen"},
		{Kind: "interface", Name: "eth0", Why: "slower (1000 Mbit/s) than eth1 (25000 Mbit/s)"},
		{Kind: "interface", Name: "ib0", Why: "carries none of the host name's addresses (10.0.0.5, 10.0.0.6)"},
		{Kind: "interface", Name: "eth2", Why: "down (not brought up)"},
		{Kind: "interface", Name: "eth3", Why: "no carrier (oper state lower-layer-down)"},
		{Kind: "interface", Name: "lo", Why: "loopback: reaches only this node"},
	}
	if !reflect.DeepEqual(c.Alternatives, want) {
		t.Errorf("alternatives:\n got %+v\nwant %+v", c.Alternatives, want)
	}
	if c.RDMALinkLayer != "InfiniBand" {
		t.Errorf("link layer %q, want InfiniBand", c.RDMALinkLayer)
	}
}

// Choose is pure: facts in any order, and host addresses in any order,
// give the same choice, and the inputs are left as they were.
func TestChooseIsDeterministic(t *testing.T) {
	links := slices.Clone(nodeLinks)
	rdma := RDMA{Devices: slices.Clone(rdmaTwoActive.Devices)}
	host := addrs("10.0.0.6", "10.0.0.5")
	first, err := Choose(Facts{Links: links, RDMA: rdma}, Inputs{HostAddrs: host})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(links)
	slices.Reverse(rdma.Devices)
	slices.Reverse(host)
	reversedLinks := slices.Clone(links)
	for i := 0; i < 3; i++ {
		again, err := Choose(Facts{Links: links, RDMA: rdma}, Inputs{HostAddrs: host})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(first, again) {
			t.Fatalf("choice changed with input order:\n%+v\n%+v", first, again)
		}
	}
	if !reflect.DeepEqual(links, reversedLinks) {
		t.Error("Choose reordered its caller's links")
	}
}
