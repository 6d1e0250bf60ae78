package netinject

import (
	"os"
	"path/filepath"
	"testing"
)

// writeTree writes files (path relative to root: content) under root,
// making their directories; a content of "<dir>" makes an empty directory.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(root, rel)
		if content == "<dir>" {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fakeRDMATree is a node with three RDMA devices, as sysfs and /dev show
// them:
//   - mlx5_0: an InfiniBand HCA, port 1 ACTIVE at 100 Gb/s, netdev ib0
//     named in its GID table;
//   - mlx5_1: port 1 DOWN, no GID netdev, its only netdev ib1 under
//     device/net; its uverbs2 node is missing from /dev;
//   - rxe0: soft RoCE (link layer Ethernet) on eth1, ACTIVE at 10 Gb/s,
//     whose GID table has an empty entry 0 and entries 2 and 10, so that
//     entry 2 must be read before 10.
func fakeRDMATree(t *testing.T) (sysRoot, devRoot string) {
	sysRoot, devRoot = t.TempDir(), t.TempDir()
	ib := "sys/class/infiniband/"
	writeTree(t, sysRoot, map[string]string{
		ib + "mlx5_0/node_type":                    "1: CA",
		ib + "mlx5_0/node_guid":                    "0002:c903:00a1:b2c3",
		ib + "mlx5_0/fw_ver":                       "16.35.2000",
		ib + "mlx5_0/ports/1/state":                "4: ACTIVE",
		ib + "mlx5_0/ports/1/phys_state":           "5: LinkUp",
		ib + "mlx5_0/ports/1/link_layer":           "InfiniBand",
		ib + "mlx5_0/ports/1/rate":                 "100 Gb/sec (4X EDR)",
		ib + "mlx5_0/ports/1/gid_attrs/ndevs/0":    "ib0",
		ib + "mlx5_1/node_type":                    "1: CA",
		ib + "mlx5_1/ports/1/state":                "1: DOWN",
		ib + "mlx5_1/ports/1/link_layer":           "InfiniBand",
		ib + "mlx5_1/ports/1/rate":                 "10 Gb/sec (4X SDR)",
		ib + "mlx5_1/ports/1/gid_attrs/ndevs":      "<dir>",
		ib + "mlx5_1/device/net/ib1":               "<dir>",
		ib + "rxe0/node_type":                      "1: CA",
		ib + "rxe0/ports/1/state":                  "4: ACTIVE",
		ib + "rxe0/ports/1/phys_state":             "5: LinkUp",
		ib + "rxe0/ports/1/link_layer":             "Ethernet",
		ib + "rxe0/ports/1/rate":                   "10 Gb/sec (1X QDR)",
		ib + "rxe0/ports/1/gid_attrs/ndevs/0":      "",
		ib + "rxe0/ports/1/gid_attrs/ndevs/10":     "wrong0",
		ib + "rxe0/ports/1/gid_attrs/ndevs/2":      "eth1",
		"sys/class/infiniband_verbs/abi_version":   "6",
		"sys/class/infiniband_verbs/uverbs0/ibdev": "mlx5_0",
		"sys/class/infiniband_verbs/uverbs1/ibdev": "rxe0",
		"sys/class/infiniband_verbs/uverbs2/ibdev": "mlx5_1",
	})
	writeTree(t, devRoot, map[string]string{
		"dev/infiniband/uverbs0": "",
		"dev/infiniband/uverbs1": "",
		"dev/infiniband/rdma_cm": "",
	})
	return sysRoot, devRoot
}

// wantFakeRDMADevices is what fakeRDMATree holds, read from sysfs alone.
func wantFakeRDMADevices() []RDMADevice {
	return []RDMADevice{
		{Name: "mlx5_0", NodeType: "CA", NodeGUID: "0002:c903:00a1:b2c3", FirmwareVersion: "16.35.2000",
			Ports: []RDMAPort{{Port: 1, State: "ACTIVE", PhysState: "LinkUp", LinkLayer: "InfiniBand",
				Rate: "100 Gb/sec (4X EDR)", RateMbps: 100000, Netdev: "ib0"}},
			Uverbs: &DevNode{Path: "/dev/infiniband/uverbs0", Present: true}},
		{Name: "mlx5_1", NodeType: "CA",
			Ports: []RDMAPort{{Port: 1, State: "DOWN", LinkLayer: "InfiniBand",
				Rate: "10 Gb/sec (4X SDR)", RateMbps: 10000, Netdev: "ib1"}},
			Uverbs: &DevNode{Path: "/dev/infiniband/uverbs2", Present: false}},
		{Name: "rxe0", NodeType: "CA",
			Ports: []RDMAPort{{Port: 1, State: "ACTIVE", PhysState: "LinkUp", LinkLayer: "Ethernet",
				Rate: "10 Gb/sec (1X QDR)", RateMbps: 10000, Netdev: "eth1"}},
			Uverbs: &DevNode{Path: "/dev/infiniband/uverbs1", Present: true}},
	}
}
