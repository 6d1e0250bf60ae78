package netinject

import "fmt"

// Hint is one environment variable that points the container's MPI (or a
// library under it) at the node's fabric. A run sets it only where neither
// the user nor the site did.
type Hint struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Why   string `json:"why"`
}

// hintRule is one row of the hint table: the variable, what it takes from
// the choice, and who reads it.
type hintRule struct {
	name   string
	value  func(Choice) string // "" when the choice gives it nothing
	reader string
}

func rdmaPort(c Choice) string {
	if c.RDMADevice == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d", c.RDMADevice, max(c.RDMAPort, 1))
}

func iface(c Choice) string { return c.Interface }

// ucxDevices is the RDMA port with RDMA, else the interface: UCX takes both
// kinds of name in one list.
func ucxDevices(c Choice) string {
	if p := rdmaPort(c); p != "" {
		return p
	}
	return c.Interface
}

// hintTable lists every variable a run may set, in the order it sets
// them. New MPIs and libraries get a row, not code.
var hintTable = []hintRule{
	{"UCX_NET_DEVICES", ucxDevices, "UCX (MPICH ch4:ucx, Open MPI's pml ucx)"},
	{"OMPI_MCA_btl_tcp_if_include", iface, "Open MPI's TCP transport"},
	{"OMPI_MCA_oob_tcp_if_include", iface, "Open MPI's and PRRTE's out-of-band channel"},
	{"FI_TCP_IFACE", iface, "libfabric's tcp provider (MPICH ch4:ofi)"},
	{"MPIR_CVAR_NEMESIS_TCP_NETWORK_IFACE", iface, "MPICH ch3:nemesis TCP"},
	{"NCCL_SOCKET_IFNAME", iface, "NCCL's bootstrap and socket transport"},
	{"NCCL_IB_HCA", rdmaPort, "NCCL's InfiniBand/RoCE transport"},
}

// Hints are the variables that point the MPI at the chosen fabric, each
// with the reason; none when the node has no usable fabric.
func Hints(c Choice) []Hint {
	var out []Hint
	for _, r := range hintTable {
		v := r.value(c)
		if v == "" || c.Fabric == FabricNone {
			continue
		}
		what := "interface " + v
		if v == rdmaPort(c) {
			what = "RDMA port " + v
		}
		out = append(out, Hint{Name: r.name, Value: v,
			Why: fmt.Sprintf("%s: the node's fabric is %s, %s", r.reader, c.Fabric, what)})
	}
	return out
}
