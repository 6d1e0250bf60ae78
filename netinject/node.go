package netinject

import (
	"context"
	"net/netip"
	"time"
)

// Node is this machine's network, read for a plan: discovery from "/", the
// host name's addresses, and the site file. It only reads.
type Node struct{}

// Facts discovers the links and RDMA devices of this process's network
// namespace.
func (Node) Facts() (Facts, error) { return Discoverer{}.Discover() }

// HostAddrs are the addresses of this host's name.
func (Node) HostAddrs() ([]netip.Addr, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, addrs, err := HostAddrs(ctx)
	return addrs, err
}

// Site is the site's fabric settings in SiteFile.
func (Node) Site() (Site, error) { return ReadSite(SiteFile) }
