package netinject

import (
	"strings"
	"testing"
)

func TestParseFabric(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Override
		wantErr string
	}{
		{in: "eth0", want: Override{Interface: "eth0", NoRDMA: true, Origin: "--fabric"}},
		{in: "ib0,mlx5_0", want: Override{Interface: "ib0", RDMA: "mlx5_0", Origin: "--fabric"}},
		{in: "ib0,mlx5_0:2", want: Override{Interface: "ib0", RDMA: "mlx5_0", RDMAPort: 2, Origin: "--fabric"}},
		{in: " ib* , mlx5_* ", want: Override{Interface: "ib*", RDMA: "mlx5_*", Origin: "--fabric"}},
		{in: "", wantErr: `netinject: --fabric "" names no interface; write IFACE or IFACE,RDMADEV[:PORT]`},
		{in: ",mlx5_0", wantErr: `netinject: --fabric ",mlx5_0" names no interface`},
		{in: "eth0,", wantErr: `netinject: --fabric "eth0," has an empty RDMA device after the comma`},
		{in: "eth0,:1", wantErr: `netinject: --fabric "eth0,:1" has an empty RDMA device after the comma`},
		{in: "eth0,mlx5_0:x", wantErr: `netinject: --fabric "eth0,mlx5_0:x": RDMA port "x" is not a port number`},
		{in: "eth0,mlx5_0:0", wantErr: `netinject: --fabric "eth0,mlx5_0:0": RDMA port "0" is not a port number`},
		{in: "eth[0", wantErr: `netinject: --fabric "eth[0": "eth[0" is not a valid name or glob`},
		{in: "eth0,mlx[", wantErr: `netinject: --fabric "eth0,mlx[": "mlx[" is not a valid name or glob`},
	} {
		got, err := ParseFabric(tc.in, "--fabric")
		if tc.wantErr != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("ParseFabric(%q) error %v, want one starting %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseFabric(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestOverrideString(t *testing.T) {
	for _, tc := range []struct {
		o    Override
		want string
	}{
		{Override{Interface: "eth0", NoRDMA: true}, "eth0"},
		{Override{Interface: "ib0", RDMA: "mlx5_0", RDMAPort: 1}, "ib0,mlx5_0:1"},
		{Override{RDMA: "rxe*"}, "(any interface),rxe*"},
	} {
		if got := tc.o.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.o, got, tc.want)
		}
	}
}
