package netinject

// Discoverer reads the node's fabric. The zero value reads the real
// machine: netlink in the calling thread's network namespace, and /sys
// and /dev at "/".
type Discoverer struct {
	// SysRoot stands for "/" when reading /sys ("" means "/"): a test
	// points it at a fake tree holding sys/class/net, sys/class/infiniband
	// and sys/class/infiniband_verbs.
	SysRoot string
	// DevRoot stands for "/" when checking device nodes such as
	// /dev/infiniband/uverbs0 ("" means "/").
	DevRoot string

	// rdma answers the RDMA netlink questions; nil asks the kernel.
	rdma rdmaNetlink
}

// Facts is everything discovery found, sorted: links by name, addresses
// IPv4 first and in address order, RDMA devices by name, ports by number.
type Facts struct {
	Links []Link `json:"links"`
	RDMA  RDMA   `json:"rdma"`
}

// Discover reads the links and the RDMA devices. It only reads. Netlink
// answers for the calling OS thread's network namespace, so a caller that
// has entered another namespace must keep its thread locked meanwhile.
func (d Discoverer) Discover() (Facts, error) {
	links, err := d.Links()
	if err != nil {
		return Facts{}, err
	}
	rdma, err := d.RDMA()
	if err != nil {
		return Facts{}, err
	}
	return Facts{Links: links, RDMA: rdma}, nil
}

// Links reads the network links with their addresses and speeds.
func (d Discoverer) Links() ([]Link, error) {
	return readLinks(d.SysRoot)
}

// RDMA reads the RDMA devices, their ports and device nodes. A kernel
// without RDMA gives no devices and no error; RDMA.Note says so.
func (d Discoverer) RDMA() (RDMA, error) {
	k := d.rdma
	if k == nil {
		k = kernelRDMA{}
	}
	return readRDMA(k, d.SysRoot, d.DevRoot)
}
