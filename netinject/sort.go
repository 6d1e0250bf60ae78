package netinject

import (
	"cmp"
	"slices"
)

// sortedFacts returns a copy of f in the one order every output uses:
// links by name with addresses IPv4 first, devices by name, ports by
// number. Facts built by hand (tests, other callers) then give the same
// choice and the same report as discovered ones.
func sortedFacts(f Facts) Facts {
	out := f
	out.Links = slices.Clone(f.Links)
	for i := range out.Links {
		out.Links[i].Addrs = slices.Clone(out.Links[i].Addrs)
		slices.SortFunc(out.Links[i].Addrs, comparePrefix)
	}
	slices.SortStableFunc(out.Links, func(a, b Link) int { return cmp.Compare(a.Name, b.Name) })
	out.RDMA.Devices = slices.Clone(f.RDMA.Devices)
	for i := range out.RDMA.Devices {
		ports := slices.Clone(out.RDMA.Devices[i].Ports)
		slices.SortStableFunc(ports, func(a, b RDMAPort) int { return cmp.Compare(a.Port, b.Port) })
		out.RDMA.Devices[i].Ports = ports
	}
	slices.SortStableFunc(out.RDMA.Devices, func(a, b RDMADevice) int { return cmp.Compare(a.Name, b.Name) })
	return out
}
