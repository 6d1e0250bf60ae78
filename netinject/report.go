package netinject

import (
	"net/netip"
	"slices"
)

// Report is what `mpiwrap net` prints: the host name and its addresses,
// every link and RDMA device found, and the fabric choice. Its JSON form
// (--json) uses the struct tags; lists are never null, and everything is
// in the sorted order of [Facts].
type Report struct {
	Hostname  string       `json:"hostname"`
	HostAddrs []netip.Addr `json:"host_addrs"`
	Links     []Link       `json:"links"`
	RDMA      RDMA         `json:"rdma"`
	Choice    Choice       `json:"choice"`
	// Hints are the variables a run would set where they are unset;
	// HintsOff says who turned them off instead.
	Hints    []Hint `json:"hints"`
	HintsOff string `json:"hints_off,omitempty"`
}

// NewReport gathers the facts, the host's addresses and the choice made
// from them into a report, sorted, with empty lists rather than nil ones
// so that the JSON form has the same shape on every node.
func NewReport(hostname string, hostAddrs []netip.Addr, f Facts, c Choice) Report {
	f = sortedFacts(f)
	host := slices.Clone(hostAddrs)
	slices.SortFunc(host, netip.Addr.Compare)
	r := Report{
		Hostname:  hostname,
		HostAddrs: nonNil(host),
		Links:     nonNil(f.Links),
		RDMA:      f.RDMA,
		Choice:    c,
	}
	for i := range r.Links {
		r.Links[i].Flags = nonNil(r.Links[i].Flags)
		r.Links[i].Addrs = nonNil(r.Links[i].Addrs)
	}
	r.RDMA.Devices = nonNil(r.RDMA.Devices)
	for i := range r.RDMA.Devices {
		r.RDMA.Devices[i].Ports = nonNil(r.RDMA.Devices[i].Ports)
	}
	r.Choice.Alternatives = nonNil(slices.Clone(c.Alternatives))
	r.Hints = nonNil(Hints(c))
	return r
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
