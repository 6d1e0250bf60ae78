// Package netinject finds the node's fabric: the network links, their
// addresses and speeds, and the RDMA devices with their ports, the netdev
// each port belongs to and the device nodes a container needs
// (/dev/infiniband/uverbsN, /dev/infiniband/rdma_cm). From those facts it
// chooses the one fabric a job's ranks on this node use, and says why.
//
// # Discovery only reads
//
// [Discoverer.Discover] asks the kernel through netlink (links, addresses,
// default routes, RDMA devices) and reads sysfs for what netlink does not report: a link's
// speed, and an RDMA port's state, link layer, rate and netdev. It never
// changes a link, an address or a mount, and it uses no cgo, so the
// planner can call it for every rank and `mpiwrap net` can print it.
//
// Netlink answers for the network namespace of the calling OS thread: to
// read another namespace, lock the thread (runtime.LockOSThread) and enter
// that namespace before calling Discover. sysfs, on the other hand, shows
// the namespace of whoever mounted it, so a link's speed is trusted only
// when sysfs agrees with netlink on the link's index (see [Link.SpeedMbps]).
// Discoverer.SysRoot and Discoverer.DevRoot stand for "/" so that tests can
// point discovery at a fake /sys and /dev.
//
// A kernel without RDMA is an ordinary case, not an error: netlink then
// answers "protocol not supported" for NETLINK_RDMA and there is no
// /sys/class/infiniband, and discovery reports no RDMA devices. When
// netlink has no RDMA support but sysfs has /sys/class/infiniband, sysfs
// alone describes the devices.
//
// # The choice is a pure function
//
// [Choose] takes the discovered [Facts], the addresses the host name
// resolves to ([HostAddrs] resolves them) and the overrides (the site rule
// and --fabric, see [ParseFabric]), and returns a [Choice]: an RDMA device
// with an active port if there is one (the fastest, ties broken by device
// name and port number), and the fastest up, non-loopback interface that
// carries one of the host name's addresses (ties broken by name). Where no
// interface carries one (a host name mapped to 127.0.1.1), it falls back
// to an up interface with a reachable address, preferring the one the
// default route leaves through. Each decision comes with a sentence saying
// why, and every alternative passed over with its reason. The same inputs
// always give the same choice; nothing is read from the machine.
//
// [Report] gathers the facts and the choice for `mpiwrap net`: [Report.Render]
// prints them as sorted text, and the struct tags give the --json form.
package netinject
