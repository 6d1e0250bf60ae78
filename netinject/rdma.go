package netinject

import (
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RDMA is what the node has for RDMA: its devices, the RDMA subsystem's
// network-namespace mode and the connection-manager device node.
type RDMA struct {
	Devices []RDMADevice `json:"devices"`
	// NetnsMode is "shared" (every namespace sees every device) or
	// "exclusive"; empty where the kernel doesn't say.
	NetnsMode string `json:"netns_mode,omitempty"`
	// CM is /dev/infiniband/rdma_cm, which librdmacm needs.
	CM DevNode `json:"rdma_cm"`
	// Source says where the device list came from: "netlink", "sysfs"
	// (the kernel has no RDMA netlink) or "none".
	Source string `json:"source"`
	// Note explains an empty or partial answer, such as a kernel without RDMA.
	Note string `json:"note,omitempty"`
}

// RDMADevice is one RDMA device (an HCA, a RoCE NIC, a soft-RoCE rxe).
type RDMADevice struct {
	Name string `json:"name"`
	// NodeType is the verbs node type: "CA", "RNIC", "switch", ….
	NodeType string `json:"node_type,omitempty"`
	// NodeGUID is written as sysfs writes it: "0002:c903:00a1:b2c3".
	NodeGUID        string     `json:"node_guid,omitempty"`
	FirmwareVersion string     `json:"fw_ver,omitempty"`
	Ports           []RDMAPort `json:"ports"`
	// Uverbs is the verbs device node (/dev/infiniband/uverbsN) that
	// libibverbs opens for this device; nil where sysfs names none.
	Uverbs *DevNode `json:"uverbs,omitempty"`
	// Note says what could not be read, such as ports missing from sysfs.
	Note string `json:"note,omitempty"`
}

// RDMAPort is one port of an RDMA device.
type RDMAPort struct {
	Port int `json:"port"`
	// State is the port state without its number: "ACTIVE", "DOWN",
	// "INIT", "ARMED"; only an ACTIVE port carries traffic.
	State     string `json:"state"`
	PhysState string `json:"phys_state,omitempty"`
	// LinkLayer is "InfiniBand" or "Ethernet" (RoCE, iWARP, rxe).
	LinkLayer string `json:"link_layer"`
	// Rate is sysfs's text ("100 Gb/sec (4X EDR)"), RateMbps its value
	// in Mbit/s or -1 where it can't be read.
	Rate     string `json:"rate,omitempty"`
	RateMbps int    `json:"rate_mbps"`
	// Netdev is the network interface the port belongs to (ib0 for
	// IPoIB, the Ethernet NIC for RoCE); empty where sysfs names none.
	Netdev string `json:"netdev,omitempty"`
}

// Active says whether the port can carry traffic.
func (p RDMAPort) Active() bool { return p.State == "ACTIVE" }

// DevNode is a device node on the host and whether it exists there.
type DevNode struct {
	Path    string `json:"path"`
	Present bool   `json:"present"`
}

// rdmaNetlink is the part of netlink that RDMA discovery uses; tests
// replace it so that a fake sysfs tree is read alone, whatever the kernel
// running the tests supports.
type rdmaNetlink interface {
	RdmaLinkList() ([]*netlink.RdmaLink, error)
	RdmaSystemGetNetnsMode() (string, error)
}

// kernelRDMA asks the kernel of the calling thread's namespace.
type kernelRDMA struct{}

func (kernelRDMA) RdmaLinkList() ([]*netlink.RdmaLink, error) { return netlink.RdmaLinkList() }
func (kernelRDMA) RdmaSystemGetNetnsMode() (string, error)    { return netlink.RdmaSystemGetNetnsMode() }

// rdmaUnsupported says whether err means the kernel has no RDMA netlink
// at all (no ib_core): socket(NETLINK_RDMA) fails with EPROTONOSUPPORT,
// or EAFNOSUPPORT in some sandboxes. That is a node without RDMA.
func rdmaUnsupported(err error) bool {
	return errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.EAFNOSUPPORT)
}

// listRDMANetlink returns netlink's devices, whether netlink has RDMA at
// all, and the namespace mode where the kernel reports it.
func listRDMANetlink(k rdmaNetlink) (devs []*netlink.RdmaLink, supported bool, mode string, err error) {
	for try := 0; try < dumpTries; try++ {
		devs, err = k.RdmaLinkList()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if rdmaUnsupported(err) {
		return nil, false, "", nil
	}
	if errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, false, "", fmt.Errorf("netinject: the RDMA device list changed during each of %d netlink dumps; retry when devices stop being added or removed", dumpTries)
	}
	if err != nil {
		return nil, false, "", fmt.Errorf("netinject: list RDMA devices through netlink (rdma dev show): %w; check that ib_core is loaded, or report this kernel's answer", err)
	}
	// Kernels before 5.2 have no RDMA_NLDEV_CMD_SYS_GET; the mode only
	// informs the report, so its absence is not an error.
	if m, err := k.RdmaSystemGetNetnsMode(); err == nil {
		mode = m
	}
	return devs, true, mode, nil
}

// readRDMA merges netlink's device list with sysfs, which alone knows the
// ports and their netdevs. Where netlink has RDMA its list is the truth:
// sysfs shows the devices of the network namespace that mounted it, which
// in the "exclusive" netns mode need not be the caller's. Without RDMA
// netlink, sysfs alone describes the devices.
func readRDMA(k rdmaNetlink, sysRoot, devRoot string) (RDMA, error) {
	nlDevs, supported, mode, err := listRDMANetlink(k)
	if err != nil {
		return RDMA{}, err
	}
	r := RDMA{NetnsMode: mode, CM: devNode(devRoot, filepath.Join(devInfiniband, "rdma_cm")), Devices: []RDMADevice{}}
	inSysfs := dirNames(rooted(sysRoot, sysInfiniband))
	names, byName := inSysfs, map[string]*netlink.RdmaLink{}
	if supported {
		names = nil
		for _, l := range nlDevs {
			byName[l.Attrs.Name] = l
			names = append(names, l.Attrs.Name)
		}
		slices.Sort(names)
		names = slices.Compact(names)
	}
	uverbs := readUverbs(sysRoot, devRoot)
	for _, name := range names {
		dev := readSysfsDevice(sysRoot, name, slices.Contains(inSysfs, name))
		if l := byName[name]; l != nil {
			mergeNetlink(&dev, l)
		}
		dev.Uverbs = uverbs[name]
		r.Devices = append(r.Devices, dev)
	}
	r.Source, r.Note = rdmaSource(supported, len(names), len(inSysfs))
	if left := leftOut(inSysfs, names); supported && len(left) > 0 {
		r.Note = joinNote(r.Note, "sysfs also shows "+strings.Join(left, ", ")+", which netlink does not list in this network namespace; left out")
	}
	return r, nil
}

// rdmaSource says where the device list came from, and explains an empty
// or sysfs-only answer.
func rdmaSource(supported bool, devices, fromSysfs int) (source, note string) {
	switch {
	case supported && devices > 0:
		return "netlink", ""
	case supported:
		return "none", "netlink lists no RDMA devices"
	case fromSysfs > 0:
		return "sysfs", "the kernel has no RDMA netlink (protocol not supported); read from " + sysInfiniband
	}
	return "none", "the kernel has no RDMA netlink (protocol not supported) and there is no " + sysInfiniband + ": no RDMA devices"
}

// leftOut lists the names in all that are not in kept.
func leftOut(all, kept []string) []string {
	var out []string
	for _, n := range all {
		if !slices.Contains(kept, n) {
			out = append(out, n)
		}
	}
	return out
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// mergeNetlink fills what sysfs didn't give from netlink's record.
func mergeNetlink(dev *RDMADevice, l *netlink.RdmaLink) {
	if dev.NodeGUID == "" {
		dev.NodeGUID = guidFromNetlink(l.Attrs.NodeGuid)
	}
	if dev.FirmwareVersion == "" {
		dev.FirmwareVersion = l.Attrs.FirmwareVersion
	}
	if len(dev.Ports) == 0 && l.Attrs.NumPorts > 0 {
		dev.Note = fmt.Sprintf("netlink reports %d port(s) but %s/%s is missing, so their state and netdev are unknown; mount sysfs for this network namespace", l.Attrs.NumPorts, sysInfiniband, dev.Name)
	}
}

// guidFromNetlink rewrites netlink v1.3.1's GUID, which it prints as the
// little-endian bytes of the number ("c3:b2:a1:00:03:c9:02:00"), the way
// sysfs and ibstat print it ("0002:c903:00a1:b2c3"), so that both sources
// agree in the report.
func guidFromNetlink(s string) string {
	b, err := hex.DecodeString(strings.ReplaceAll(s, ":", ""))
	if err != nil || len(b) != 8 {
		return s
	}
	slices.Reverse(b)
	h := hex.EncodeToString(b)
	return h[0:4] + ":" + h[4:8] + ":" + h[8:12] + ":" + h[12:16]
}
