package netinject

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// sampleReport is a node with IPoIB and Ethernet links and two RDMA
// devices, its facts given in scrambled order.
func sampleReport(t *testing.T) Report {
	t.Helper()
	links := []Link{
		withMaster(link("veth0", 10000, "up"), "br0"),
		link("ib0", 100000, "up", "fd00:2::5/64", "10.2.0.5/16"),
		link("lo", -1, "loopback", "::1/128", "127.0.0.1/8"),
		routed(link("eth0", 25000, "up", "10.0.0.5/24")),
		link("eth1", -1, "admin-down"),
	}
	links[0].Kind, links[1].Type, links[1].ARPHRD, links[1].MTU = "veth", "infiniband", 32, 2044
	rdma := RDMA{Devices: []RDMADevice{
		{Name: "rxe0", NodeType: "CA", Ports: []RDMAPort{{Port: 1, State: "ACTIVE", LinkLayer: "Ethernet", Rate: "10 Gb/sec (1X QDR)", RateMbps: 10000, Netdev: "eth0"}}},
		{Name: "mlx5_0", NodeType: "CA", NodeGUID: "0002:c903:00a1:b2c3", FirmwareVersion: "16.35.2000",
			Ports:  []RDMAPort{{Port: 1, State: "ACTIVE", LinkLayer: "InfiniBand", Rate: "100 Gb/sec (4X EDR)", RateMbps: 100000, Netdev: "ib0"}},
			Uverbs: &DevNode{Path: "/dev/infiniband/uverbs0", Present: true}},
	}, CM: DevNode{Path: "/dev/infiniband/rdma_cm"}, Source: "netlink", NetnsMode: "shared"}
	f := Facts{Links: links, RDMA: rdma}
	host := addrs("10.0.0.5", "127.0.1.1")
	c, err := Choose(f, Inputs{HostAddrs: host})
	if err != nil {
		t.Fatal(err)
	}
	return NewReport("node1", host, f, c)
}

func withMaster(l Link, master string) Link {
	l.Master = master
	return l
}

const sampleText = `host: node1 (10.0.0.5, 127.0.1.1)

links:
  NAME   INDEX  KIND    TYPE        MTU   STATE    FLAGS        SPEED        MAC  MASTER  DEFAULT  ADDRESSES
  eth0   0      device  ether       1500  up       -            25000 Mb/s   -    -       yes      10.0.0.5/24
  eth1   0      device  ether       1500  down     -            -            -    -       -        -
  ib0    0      device  infiniband  2044  up       -            100000 Mb/s  -    -       -        10.2.0.5/16 fd00:2::5/64
  lo     0      device  loopback    1500  unknown  up,loopback  -            -    -       -        127.0.0.1/8 ::1/128
  veth0  0      veth    ether       1500  up       -            10000 Mb/s   -    br0     -        -

rdma: 2 device(s), from netlink; rdma_cm /dev/infiniband/rdma_cm (missing); netns mode shared
  DEVICE  TYPE  GUID                 FW          UVERBS                   PORT  STATE   LINK LAYER  RATE                 NETDEV
  mlx5_0  CA    0002:c903:00a1:b2c3  16.35.2000  /dev/infiniband/uverbs0  1     ACTIVE  InfiniBand  100 Gb/sec (4X EDR)  ib0
  rxe0    CA    -                    -           -                        1     ACTIVE  Ethernet    10 Gb/sec (1X QDR)   eth0

choice: rdma over mlx5_0 port 1 (InfiniBand); interface eth0
  rdma: mlx5_0 port 1 is ACTIVE (InfiniBand, 100 Gb/sec (4X EDR)); it is the fastest of 2 active RDMA ports, and RDMA is preferred over TCP
  interface: eth0 is up and carries 10.0.0.5, which the host name resolves to; it is the only such interface
alternatives:
  KIND       NAME      CHOSEN  WHY
  rdma       mlx5_0:1  yes     chosen
  rdma       rxe0:1    no      slower (10000 Mbit/s) than mlx5_0:1 (100000 Mbit/s)
  interface  eth0      yes     chosen
  interface  ib0       no      carries none of the host name's addresses (10.0.0.5, 127.0.1.1)
  interface  eth1      no      down (not brought up)
  interface  lo        no      loopback: reaches only this node
  interface  veth0     no      has no address other nodes can reach (none, or only link-local)

hints (set in each rank where neither you nor the site set them):
  NAME                                 VALUE     WHY
  UCX_NET_DEVICES                      mlx5_0:1  UCX (MPICH ch4:ucx, Open MPI's pml ucx): the node's fabric is rdma, RDMA port mlx5_0:1
  OMPI_MCA_btl_tcp_if_include          eth0      Open MPI's TCP transport: the node's fabric is rdma, interface eth0
  OMPI_MCA_oob_tcp_if_include          eth0      Open MPI's and PRRTE's out-of-band channel: the node's fabric is rdma, interface eth0
  FI_TCP_IFACE                         eth0      libfabric's tcp provider (MPICH ch4:ofi): the node's fabric is rdma, interface eth0
  MPIR_CVAR_NEMESIS_TCP_NETWORK_IFACE  eth0      MPICH ch3:nemesis TCP: the node's fabric is rdma, interface eth0
  NCCL_SOCKET_IFNAME                   eth0      NCCL's bootstrap and socket transport: the node's fabric is rdma, interface eth0
  NCCL_IB_HCA                          mlx5_0:1  NCCL's InfiniBand/RoCE transport: the node's fabric is rdma, RDMA port mlx5_0:1
`

func TestRenderText(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport(t).Render(&b); err != nil {
		t.Fatal(err)
	}
	if b.String() != sampleText {
		t.Errorf("Render:\n%s\nwant:\n%s", b.String(), sampleText)
	}
}

// The report is sorted whatever order the facts came in, so rendering
// twice, or from reversed facts, prints the same bytes.
func TestReportIsSorted(t *testing.T) {
	r := sampleReport(t)
	rev := r
	rev.Links = slices.Clone(r.Links)
	slices.Reverse(rev.Links)
	rev.RDMA.Devices = slices.Clone(r.RDMA.Devices)
	slices.Reverse(rev.RDMA.Devices)
	again := NewReport(rev.Hostname, []netip.Addr{r.HostAddrs[1], r.HostAddrs[0]}, Facts{Links: rev.Links, RDMA: rev.RDMA}, r.Choice)
	if !reflect.DeepEqual(r, again) {
		t.Errorf("NewReport depends on input order:\n%+v\n%+v", r, again)
	}
}

func TestReportJSON(t *testing.T) {
	r := sampleReport(t)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r, back) {
		t.Errorf("JSON round trip changed the report:\n%+v\n%+v", r, back)
	}
	for _, want := range []string{`"hostname":"node1"`, `"host_addrs":["10.0.0.5","127.0.1.1"]`,
		`"addrs":["10.2.0.5/16","fd00:2::5/64"]`, `"speed_mbps":100000`, `"default_route":true`,
		`"rdma":{"devices":[{"name":"mlx5_0"`, `"rdma_cm":{"path":"/dev/infiniband/rdma_cm","present":false}`,
		`"choice":{"fabric":"rdma","rdma_device":"mlx5_0","rdma_port":1,"rdma_link_layer":"InfiniBand","interface":"eth0"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b)
		}
	}
	// An empty node still has lists, not nulls, so that consumers of
	// --json need no special case.
	empty, err := json.Marshal(NewReport("n", nil, Facts{}, Choice{Fabric: FabricNone}))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"host_addrs":[]`, `"links":[]`, `"devices":[]`, `"alternatives":[]`} {
		if !strings.Contains(string(empty), want) {
			t.Errorf("empty report's JSON lacks %s: %s", want, empty)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRenderWriteError(t *testing.T) {
	err := sampleReport(t).Render(failWriter{})
	if err == nil || err.Error() != "netinject: write the report: disk full" {
		t.Errorf("Render to a failing writer: %v", err)
	}
}
