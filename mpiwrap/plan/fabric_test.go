package plan

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/netinject"
)

// fakeNetwork is a node with eth0 (10 Gb/s, carrying the host's address),
// a slower eth1, and, with rdma, an active mlx5_0 whose device nodes are
// under /dev.
type fakeNetwork struct {
	rdma  bool
	site  netinject.Site
	calls int
}

func (n *fakeNetwork) Facts() (netinject.Facts, error) {
	n.calls++
	up := func(name string, speed int, addr string) netinject.Link {
		return netinject.Link{Name: name, Kind: "device", Type: "ether", OperState: "up", Up: true,
			MTU: 1500, SpeedMbps: speed, Addrs: []netip.Prefix{netip.MustParsePrefix(addr)}}
	}
	f := netinject.Facts{Links: []netinject.Link{
		{Name: "lo", Type: "loopback", Up: true, OperState: "unknown", Addrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}},
		up("eth0", 10000, "10.0.0.5/24"), up("eth1", 1000, "10.1.0.5/24")}}
	if n.rdma {
		f.RDMA.Devices = []netinject.RDMADevice{{Name: "mlx5_0",
			Ports:  []netinject.RDMAPort{{Port: 1, State: "ACTIVE", LinkLayer: "InfiniBand", RateMbps: 100000}},
			Uverbs: &netinject.DevNode{Path: "/dev/infiniband/uverbs0", Present: true}}}
		f.RDMA.CM = netinject.DevNode{Path: "/dev/infiniband/rdma_cm", Present: true}
	}
	return f, nil
}

func (n *fakeNetwork) HostAddrs() ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("10.0.0.5")}, nil
}

func (n *fakeNetwork) Site() (netinject.Site, error) { return n.site, nil }

// hydraHost is testHost as rank 1 of 4 under hydra, 2 on this node.
func hydraHost(net Network, extra ...string) *Host {
	h := testHost("/nonexistent", "/")
	h.Env = append(h.Env, "PMI_RANK=1", "PMI_SIZE=4", "MPI_LOCALRANKID=1", "MPI_LOCALNRANKS=2", "PMI_PORT=h:1", "PMI_ID=1")
	h.Env = append(h.Env, extra...)
	h.Network = net
	return h
}

func TestFabricHints(t *testing.T) {
	tests := []struct {
		name  string
		rdma  bool
		spec  Spec
		env   []string
		site  netinject.Site
		want  map[string]string // variable: value ("" unset)
		notes []string
	}{
		{name: "tcp", want: map[string]string{"UCX_NET_DEVICES": "eth0", "OMPI_MCA_btl_tcp_if_include": "eth0",
			"NCCL_SOCKET_IFNAME": "eth0", "NCCL_IB_HCA": ""}, notes: []string{"set UCX_NET_DEVICES=eth0 (fabric hint: UCX"}},
		{name: "rdma", rdma: true, want: map[string]string{"UCX_NET_DEVICES": "mlx5_0:1", "NCCL_IB_HCA": "mlx5_0:1",
			"FI_TCP_IFACE": "eth0"}},
		{name: "the user's variable stays", env: []string{"UCX_NET_DEVICES=all"},
			want:  map[string]string{"UCX_NET_DEVICES": "all", "FI_TCP_IFACE": "eth0"},
			notes: []string{"leave UCX_NET_DEVICES=all as it was set (the fabric hint was eth0)"}},
		{name: "--set-env wins", spec: Spec{EnvEdits: []EnvEdit{{Op: "set", Name: "FI_TCP_IFACE", Value: "eth9"}}},
			want: map[string]string{"FI_TCP_IFACE": "eth9", "UCX_NET_DEVICES": "eth0"}},
		{name: "--fabric", spec: Spec{Fabric: "eth1"}, want: map[string]string{"UCX_NET_DEVICES": "eth1"}},
		{name: "--fabric IFACE means no RDMA", rdma: true, spec: Spec{Fabric: "eth1"},
			want: map[string]string{"UCX_NET_DEVICES": "eth1", "NCCL_IB_HCA": ""}},
		{name: "site rule", site: netinject.Site{Rule: &netinject.Override{Interface: "eth1", NoRDMA: true, Origin: "the site rule"}},
			want: map[string]string{"UCX_NET_DEVICES": "eth1"}},
		{name: "--fabric-hints=off", spec: Spec{NoFabricHints: true}, want: map[string]string{"UCX_NET_DEVICES": ""}},
		{name: "site hints off", site: netinject.Site{HintsOff: true, DefinedIn: "/etc/mpiwrap/mpiwrap.toml"},
			want: map[string]string{"UCX_NET_DEVICES": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			spec.Image, spec.Command, spec.NoCwd = testImage(t), []string{"true"}, true
			p, err := New(&spec, hydraHost(&fakeNetwork{rdma: tt.rdma, site: tt.site}, tt.env...))
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.want {
				if got, _ := p.Env.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			for _, n := range tt.notes {
				if !slices.ContainsFunc(p.Env.Notes, func(s string) bool { return strings.Contains(s, n) }) {
					t.Errorf("no note %q in %q", n, p.Env.Notes)
				}
			}
			var b strings.Builder
			p.Describe(&b, "")
			if !strings.Contains(b.String(), "fabric: ") {
				t.Errorf("describe names no fabric:\n%s", b.String())
			}
			if (spec.NoFabricHints || tt.site.HintsOff) != strings.Contains(b.String(), "fabric hints: none (turned off by") {
				t.Errorf("describe and the hints switch disagree:\n%s", b.String())
			}
		})
	}
}

// The chosen RDMA device's nodes are visible through the /dev bind: noted,
// not bound again.
func TestFabricDevices(t *testing.T) {
	p, err := New(&Spec{Image: testImage(t), Command: []string{"true"}, NoCwd: true}, hydraHost(&fakeNetwork{rdma: true}))
	if err != nil {
		t.Fatal(err)
	}
	for _, dev := range []string{"/dev/infiniband/uverbs0", "/dev/infiniband/rdma_cm"} {
		if !slices.Contains(p.Notes, "fabric: "+dev+" is visible through the /dev bind") {
			t.Errorf("no note for %s: %q", dev, p.Notes)
		}
	}
}

// No launcher, no fabric: a rank of its own talks to nobody, and the
// network is not even looked at.
func TestFabricWithoutLauncher(t *testing.T) {
	n := &fakeNetwork{}
	h := testHost("/nonexistent", "/")
	h.Network = n
	p, err := New(&Spec{Image: testImage(t), Command: []string{"true"}, NoCwd: true}, h)
	if err != nil || p.Fabric != nil || n.calls != 0 {
		t.Fatalf("plan %+v, %v, %d discoveries", p.Fabric, err, n.calls)
	}
	if _, ok := p.Env.Get("UCX_NET_DEVICES"); ok {
		t.Error("a hint was set without a launcher")
	}
}

type brokenNetwork struct{ fakeNetwork }

func (brokenNetwork) Facts() (netinject.Facts, error) {
	return netinject.Facts{}, errors.New("netlink: boom")
}

func TestFabricErrors(t *testing.T) {
	img := testImage(t)
	for _, tt := range []struct {
		spec Spec
		net  Network
		want string
	}{
		{Spec{Fabric: "ib9"}, &fakeNetwork{}, "ib9"},
		{Spec{Fabric: ",mlx5_0"}, &fakeNetwork{}, "names no interface"},
		{Spec{}, &brokenNetwork{}, "find the node's fabric: netlink: boom (pass --fabric IFACE"},
		{Spec{Net: NetNone}, &fakeNetwork{}, "--net=none gives the ranks a network with only loopback, but this job has 4 ranks and only 2 on this node"},
	} {
		spec := tt.spec
		spec.Image, spec.Command, spec.NoCwd = img, []string{"true"}, true
		if _, err := New(&spec, hydraHost(tt.net)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want %q", tt.spec, err, tt.want)
		}
	}
}

// --net=none on one node: a private network per rank, no fabric, no hints.
func TestNetNone(t *testing.T) {
	n := &fakeNetwork{}
	h := hydraHost(n)
	h.Env = append(h.Env, "PMI_SIZE=2") // both ranks on this node
	p, err := New(&Spec{Image: testImage(t), Command: []string{"true"}, NoCwd: true, Net: NetNone}, h)
	if err != nil || !p.NoNet || p.Fabric != nil || n.calls != 0 {
		t.Fatalf("plan no-net %v fabric %+v, %v, %d discoveries", p.NoNet, p.Fabric, err, n.calls)
	}
	if !slices.Contains(p.Notes, "network: private, only loopback (--net=none)") {
		t.Errorf("notes %q", p.Notes)
	}
}

// A cached plan depends on where profiles come from even when it selected
// none: a site default or a user profile added later changes the plan.
func TestCacheDepsProfileSources(t *testing.T) {
	cfg := t.TempDir()
	h := testHost("/nonexistent", "/")
	h.Env = append(h.Env, "XDG_CONFIG_HOME="+cfg)
	spec := &Spec{Image: testImage(t), Command: []string{"true"}, NoCwd: true}
	p, err := New(spec, h)
	if err != nil {
		t.Fatal(err)
	}
	var srcs []string
	for _, d := range p.CacheDeps(spec) {
		srcs = append(srcs, d[0])
	}
	for _, want := range []string{"/etc/mpiwrap/mpiwrap.toml", "/etc/mpiwrap/profiles.d", cfg + "/mpiwrap/profiles.d"} {
		if !slices.Contains(srcs, want) {
			t.Errorf("cache deps %q lack %s", srcs, want)
		}
	}
}
