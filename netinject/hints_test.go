package netinject

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func hintNames(h []Hint) []string {
	var out []string
	for _, x := range h {
		out = append(out, x.Name+"="+x.Value)
	}
	return out
}

func TestHints(t *testing.T) {
	tests := []struct {
		name string
		c    Choice
		want []string
	}{
		{"rdma", Choice{Fabric: FabricRDMA, RDMADevice: "mlx5_0", RDMAPort: 1, Interface: "ib0"}, []string{
			"UCX_NET_DEVICES=mlx5_0:1", "OMPI_MCA_btl_tcp_if_include=ib0", "OMPI_MCA_oob_tcp_if_include=ib0",
			"FI_TCP_IFACE=ib0", "MPIR_CVAR_NEMESIS_TCP_NETWORK_IFACE=ib0", "NCCL_SOCKET_IFNAME=ib0", "NCCL_IB_HCA=mlx5_0:1"}},
		{"tcp", Choice{Fabric: FabricTCP, Interface: "eth0"}, []string{
			"UCX_NET_DEVICES=eth0", "OMPI_MCA_btl_tcp_if_include=eth0", "OMPI_MCA_oob_tcp_if_include=eth0",
			"FI_TCP_IFACE=eth0", "MPIR_CVAR_NEMESIS_TCP_NETWORK_IFACE=eth0", "NCCL_SOCKET_IFNAME=eth0"}},
		{"rdma without an interface", Choice{Fabric: FabricRDMA, RDMADevice: "mlx5_1", RDMAPort: 2}, []string{
			"UCX_NET_DEVICES=mlx5_1:2", "NCCL_IB_HCA=mlx5_1:2"}},
		{"none", Choice{Fabric: FabricNone}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Hints(tt.c)
			if got := hintNames(h); !slices.Equal(got, tt.want) {
				t.Fatalf("got %q\nwant %q", got, tt.want)
			}
			for _, x := range h {
				if !strings.Contains(x.Why, string(tt.c.Fabric)) || !strings.Contains(x.Why, x.Value) {
					t.Errorf("%s: reason %q names neither the fabric nor the value", x.Name, x.Why)
				}
			}
		})
	}
}

func TestReadSite(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o644)
		return p
	}
	s, err := ReadSite(filepath.Join(dir, "missing.toml"))
	if err != nil || s.Rule != nil || s.HintsOff {
		t.Fatalf("missing file: %+v, %v", s, err)
	}
	s, err = ReadSite(write("profiles.toml", "[profiles]\ndefault = [\"mpich\"]\n"))
	if err != nil || s.Rule != nil || s.HintsOff {
		t.Fatalf("no [fabric]: %+v, %v", s, err)
	}
	p := write("site.toml", "[profiles]\ndefault = []\n[fabric]\nuse = \"ib*,mlx5_*:1\"\nhints = false\n")
	s, err = ReadSite(p)
	if err != nil || s.Rule == nil || s.Rule.Interface != "ib*" || s.Rule.RDMA != "mlx5_*" || s.Rule.RDMAPort != 1 || !s.HintsOff ||
		!strings.Contains(s.Rule.Origin, p) {
		t.Fatalf("site rule: %+v (%+v), %v", s, s.Rule, err)
	}
	for text, want := range map[string]string{
		"[fabric]\nuse = \",mlx5_0\"\n": "names no interface",
		"[fabric\n":                     "read " + filepath.Join(dir, "bad.toml"),
	} {
		if _, err := ReadSite(write("bad.toml", text)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadSite(%q) = %v, want %q", text, err, want)
		}
	}
}
