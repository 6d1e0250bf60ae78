package netinject

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const (
	sysInfiniband = "/sys/class/infiniband"
	sysVerbs      = "/sys/class/infiniband_verbs"
	devInfiniband = "/dev/infiniband"
)

// readSysfsDevice reads /sys/class/infiniband/NAME; present is false for
// a device that netlink lists but sysfs lacks, which then has no ports.
func readSysfsDevice(sysRoot, name string, present bool) RDMADevice {
	dev := RDMADevice{Name: name, Ports: []RDMAPort{}}
	if !present {
		return dev
	}
	dir := rooted(sysRoot, filepath.Join(sysInfiniband, name))
	if t, ok := readAttr(filepath.Join(dir, "node_type")); ok {
		dev.NodeType = afterColon(t)
	}
	dev.NodeGUID, _ = readAttr(filepath.Join(dir, "node_guid"))
	dev.FirmwareVersion, _ = readAttr(filepath.Join(dir, "fw_ver"))
	for _, n := range numericNames(dirNames(filepath.Join(dir, "ports"))) {
		dev.Ports = append(dev.Ports, readPort(dir, n))
	}
	return dev
}

// readPort reads ports/N of the device directory dir.
func readPort(dir string, n int) RDMAPort {
	pdir := filepath.Join(dir, "ports", strconv.Itoa(n))
	p := RDMAPort{Port: n, RateMbps: -1}
	if s, ok := readAttr(filepath.Join(pdir, "state")); ok {
		p.State = afterColon(s)
	}
	if s, ok := readAttr(filepath.Join(pdir, "phys_state")); ok {
		p.PhysState = afterColon(s)
	}
	p.LinkLayer, _ = readAttr(filepath.Join(pdir, "link_layer"))
	if s, ok := readAttr(filepath.Join(pdir, "rate")); ok {
		p.Rate, p.RateMbps = s, parseRate(s)
	}
	p.Netdev = portNetdev(dir, pdir)
	return p
}

// portNetdev finds the netdev of a port. RoCE and rxe ports name it in
// their GID table (gid_attrs/ndevs/K, where unused entries fail to read
// or are empty); IPoIB ports don't, and then the device's only netdev
// (device/net/*) is taken. A multi-port device without GID netdevs is left
// unnamed rather than guessed.
func portNetdev(dir, pdir string) string {
	ndevs := filepath.Join(pdir, "gid_attrs", "ndevs")
	for _, k := range numericNames(dirNames(ndevs)) {
		if s, ok := readAttr(filepath.Join(ndevs, strconv.Itoa(k))); ok && s != "" {
			return s
		}
	}
	if nets := dirNames(filepath.Join(dir, "device", "net")); len(nets) == 1 {
		return nets[0]
	}
	return ""
}

// readUverbs maps each RDMA device name to its verbs device node, from
// /sys/class/infiniband_verbs/uverbsN/ibdev.
func readUverbs(sysRoot, devRoot string) map[string]*DevNode {
	out := map[string]*DevNode{}
	dir := rooted(sysRoot, sysVerbs)
	for _, name := range dirNames(dir) {
		if !strings.HasPrefix(name, "uverbs") {
			continue // abi_version sits beside the uverbsN directories
		}
		ibdev, ok := readAttr(filepath.Join(dir, name, "ibdev"))
		if !ok || ibdev == "" {
			continue
		}
		node := devNode(devRoot, filepath.Join(devInfiniband, name))
		out[ibdev] = &node
	}
	return out
}

// devNode names a host device node and says whether it exists under
// devRoot. A container needs the node itself, so a device that sysfs
// knows but /dev lacks is reported as not present.
func devNode(devRoot, path string) DevNode {
	_, err := os.Stat(rooted(devRoot, path))
	return DevNode{Path: path, Present: err == nil}
}

// afterColon drops the number sysfs writes before enumerated values:
// "4: ACTIVE" is "ACTIVE", "1: CA" is "CA".
func afterColon(s string) string {
	if _, v, ok := strings.Cut(s, ":"); ok {
		return strings.TrimSpace(v)
	}
	return s
}

// parseRate reads sysfs's port rate ("100 Gb/sec (4X EDR)", "2.5 Gb/sec
// (1X SDR)") in Mbit/s, or -1 for anything else.
func parseRate(s string) int {
	fields := strings.Fields(s)
	if len(fields) < 2 || fields[1] != "Gb/sec" {
		return -1
	}
	gbps, err := strconv.ParseFloat(fields[0], 64)
	if err != nil || gbps <= 0 {
		return -1
	}
	return int(gbps*1000 + 0.5)
}

// numericNames keeps the names that are decimal numbers, in numeric
// order: sysfs lists ports and GID indexes as 1, 10, 2, ….
func numericNames(names []string) []int {
	var out []int
	for _, n := range names {
		if v, err := strconv.Atoi(n); err == nil && v >= 0 {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}
