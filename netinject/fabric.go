package netinject

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Override forces part of the fabric choice: the site rule does it for
// every job on the node, --fabric for one job (and then replaces the site
// rule entirely). Names are exact or shell globs ("ib*", "mlx5_*"), so one
// site rule can fit nodes whose devices are numbered differently; among
// several matches the usual ranking picks.
type Override struct {
	// Interface is the interface's name or glob; "" chooses it as usual.
	Interface string `json:"interface,omitempty"`
	// RDMA is the RDMA device's name or glob; "" chooses it as usual,
	// unless NoRDMA is set.
	RDMA string `json:"rdma,omitempty"`
	// RDMAPort is the port of that device; 0 takes its best active port.
	RDMAPort int `json:"rdma_port,omitempty"`
	// NoRDMA uses no RDMA device: TCP over the interface only.
	NoRDMA bool `json:"no_rdma,omitempty"`
	// Origin names where the override comes from, for errors and the
	// "why" text: "--fabric", "the site rule in /etc/mpiwrap/mpiwrap.toml".
	Origin string `json:"origin"`
}

// ParseFabric parses a --fabric value, IFACE[,RDMADEV[:PORT]]. Naming only
// the interface means "TCP over IFACE, no RDMA": that is what one asks for
// when RDMA misbehaves. origin names the value's source in errors.
func ParseFabric(value, origin string) (Override, error) {
	ov := Override{Origin: origin}
	iface, rdma, hasRDMA := strings.Cut(strings.TrimSpace(value), ",")
	ov.Interface = strings.TrimSpace(iface)
	if ov.Interface == "" {
		return Override{}, fmt.Errorf("netinject: %s %q names no interface; write IFACE or IFACE,RDMADEV[:PORT], for example eth0 or ib0,mlx5_0:1", origin, value)
	}
	if !hasRDMA {
		ov.NoRDMA = true
		return ov, checkPatterns(ov, value)
	}
	dev, port, hasPort := strings.Cut(strings.TrimSpace(rdma), ":")
	ov.RDMA = dev
	if ov.RDMA == "" {
		return Override{}, fmt.Errorf("netinject: %s %q has an empty RDMA device after the comma; write IFACE,RDMADEV[:PORT] or leave out the comma for TCP only", origin, value)
	}
	if hasPort {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 {
			return Override{}, fmt.Errorf("netinject: %s %q: RDMA port %q is not a port number (1, 2, …)", origin, value, port)
		}
		ov.RDMAPort = n
	}
	return ov, checkPatterns(ov, value)
}

// checkPatterns rejects malformed globs now, with the value that holds
// them, rather than as a failed match later.
func checkPatterns(ov Override, value string) error {
	for _, p := range []string{ov.Interface, ov.RDMA} {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("netinject: %s %q: %q is not a valid name or glob: %v", ov.Origin, value, p, err)
		}
	}
	return nil
}

// matches says whether name fits the override's pattern; checkPatterns
// has already rejected bad patterns, so a Match error cannot happen for
// a parsed override and counts as no match for a hand-built one.
func matches(pattern, name string) bool {
	ok, err := path.Match(pattern, name)
	return err == nil && ok
}

// String writes the override back in --fabric syntax.
func (o Override) String() string {
	s := o.Interface
	if s == "" {
		s = "(any interface)"
	}
	if o.RDMA != "" {
		s += "," + o.RDMA
		if o.RDMAPort > 0 {
			s += ":" + strconv.Itoa(o.RDMAPort)
		}
	}
	return s
}
