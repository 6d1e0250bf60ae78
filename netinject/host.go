package netinject

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"
)

// HostResolver finds the addresses of this host's name, the way other
// nodes (and the MPI's launcher) would: /etc/hosts, then the resolver. It
// only reads. The zero value uses os.Hostname, /etc/hosts and Go's resolver.
type HostResolver struct {
	// Hostname returns the host name; nil means os.Hostname.
	Hostname func() (string, error)
	// HostsFile is read first; "" means /etc/hosts.
	HostsFile string
	// Lookup asks the resolver (nsswitch, DNS); nil means
	// net.DefaultResolver.LookupNetIP. Tests replace it so that no query
	// leaves the machine.
	Lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	// Timeout bounds the resolver's answer; 0 means 2 seconds, so that a
	// dead DNS server can't stall every rank.
	Timeout time.Duration
}

// HostAddrs resolves os.Hostname through /etc/hosts and the resolver.
func HostAddrs(ctx context.Context) (string, []netip.Addr, error) {
	return HostResolver{}.Resolve(ctx)
}

// Resolve returns the host name and its addresses, sorted (IPv4 first)
// and without duplicates: those of the hosts file and those of the
// resolver together, since a hosts file often maps the name to 127.0.1.1
// while DNS knows the address the other nodes use. A resolver failure is
// an error only when the hosts file had no address either.
func (r HostResolver) Resolve(ctx context.Context) (string, []netip.Addr, error) {
	hostname := r.Hostname
	if hostname == nil {
		hostname = os.Hostname
	}
	name, err := hostname()
	if err != nil {
		return "", nil, fmt.Errorf("netinject: read the host name: %w", err)
	}
	file := r.HostsFile
	if file == "" {
		file = "/etc/hosts"
	}
	addrs := hostsFileAddrs(file, name)
	resolved, lookupErr := r.lookup(ctx, name)
	addrs = append(addrs, resolved...)
	slices.SortFunc(addrs, netip.Addr.Compare)
	addrs = slices.Compact(addrs)
	if len(addrs) == 0 {
		return name, nil, fmt.Errorf("netinject: the host name %q resolves to no address (looked in %s and asked the resolver: %v); add it to %s, or name the interface with --fabric IFACE", name, file, lookupErr, file)
	}
	return name, addrs, nil
}

// lookup asks the resolver with a deadline; addresses come back unmapped
// and without zones so that they compare equal to interface addresses.
func (r HostResolver) lookup(ctx context.Context, name string) ([]netip.Addr, error) {
	look := r.Lookup
	if look == nil {
		look = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	timeout := r.Timeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addrs, err := look(ctx, name)
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, a.Unmap().WithZone(""))
	}
	return out, err
}

// hostsFileAddrs returns the addresses a hosts file gives name (case does
// not matter, aliases count); a missing or unreadable file gives none,
// since the resolver is asked next anyway.
func hostsFileAddrs(file, name string) []netip.Addr {
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []netip.Addr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		addr, err := netip.ParseAddr(fields[0])
		if err != nil {
			continue
		}
		for _, n := range fields[1:] {
			if strings.EqualFold(n, name) {
				out = append(out, addr.Unmap().WithZone(""))
				break
			}
		}
	}
	return out
}
