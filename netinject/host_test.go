package netinject

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// hostCase is one resolver set-up and what it must answer.
type hostCase struct {
	name    string
	r       HostResolver
	want    []string
	wantErr string
}

// hostCases builds the resolver cases around a hosts file in a temporary
// directory; every case resolves the name node1 unless it fails.
func hostCases(t *testing.T) []hostCase {
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte(`127.0.0.1 localhost
127.0.1.1 node1.cluster node1  # as Debian's installer writes it
10.0.0.5 NODE1
# 10.0.0.99 node1
::1 localhost ip6-localhost
fe80::1%eth0 node1
not-an-address node1
10.0.0.77 node10
`), 0o644); err != nil {
		t.Fatal(err)
	}
	name := func() (string, error) { return "node1", nil }
	lookup := func(addrs []string, err error) func(context.Context, string) ([]netip.Addr, error) {
		return func(ctx context.Context, host string) ([]netip.Addr, error) {
			if _, ok := ctx.Deadline(); !ok || host != "node1" {
				return nil, errors.New("lookup without a deadline, or of the wrong name")
			}
			var out []netip.Addr
			for _, a := range addrs {
				out = append(out, netip.MustParseAddr(a))
			}
			return out, err
		}
	}
	return []hostCase{
		{name: "hosts file and resolver together, sorted, without duplicates",
			r:    HostResolver{Hostname: name, HostsFile: hosts, Lookup: lookup([]string{"10.0.0.5", "::ffff:10.0.0.9", "fd00::5"}, nil)},
			want: []string{"10.0.0.5", "10.0.0.9", "127.0.1.1", "fd00::5", "fe80::1"}},
		{name: "a resolver failure is no error when the hosts file answers",
			r:    HostResolver{Hostname: name, HostsFile: hosts, Lookup: lookup(nil, errors.New("no DNS"))},
			want: []string{"10.0.0.5", "127.0.1.1", "fe80::1"}},
		{name: "no hosts file: the resolver alone",
			r:    HostResolver{Hostname: name, HostsFile: filepath.Join(t.TempDir(), "none"), Lookup: lookup([]string{"10.0.0.5"}, nil)},
			want: []string{"10.0.0.5"}},
		{name: "no address anywhere",
			r:       HostResolver{Hostname: func() (string, error) { return "lonely", nil }, HostsFile: hosts, Lookup: func(context.Context, string) ([]netip.Addr, error) { return nil, errors.New("no such host") }},
			wantErr: `netinject: the host name "lonely" resolves to no address (looked in ` + hosts + ` and asked the resolver: no such host); add it to ` + hosts + `, or name the interface with --fabric IFACE`},
		{name: "no host name",
			r:       HostResolver{Hostname: func() (string, error) { return "", errors.New("uname failed") }},
			wantErr: "netinject: read the host name: uname failed"},
	}
}

func TestHostResolver(t *testing.T) {
	for _, tc := range hostCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			got, addrs, err := tc.r.Resolve(context.Background())
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var strs []string
			for _, a := range addrs {
				strs = append(strs, a.String())
			}
			if got != "node1" || !reflect.DeepEqual(strs, tc.want) {
				t.Errorf("Resolve = %q %v, want node1 %v", got, strs, tc.want)
			}
		})
	}
}

// The real helper on this machine: its answer, whatever it is, must be
// the host name and addresses that interfaces can be compared with (no
// zones, no IPv4-mapped forms). It runs only where /etc/hosts names the
// host, which the resolver reads before DNS ("files dns").
func TestHostAddrsOnThisMachine(t *testing.T) {
	want, err := os.Hostname()
	if err != nil {
		t.Skip("no host name:", err)
	}
	if len(hostsFileAddrs("/etc/hosts", want)) == 0 {
		t.Skipf("host name %q is not in /etc/hosts, so the resolver would ask DNS; unit tests send nothing off the machine", want)
	}
	name, addrs, err := HostAddrs(context.Background())
	if err != nil {
		if !strings.Contains(err.Error(), "resolves to no address") {
			t.Fatal(err)
		}
		return
	}
	if name != want || len(addrs) == 0 {
		t.Errorf("HostAddrs = %q %v, want %q with addresses", name, addrs, want)
	}
	for _, a := range addrs {
		if a.Zone() != "" || a.Is4In6() {
			t.Errorf("address %v has a zone or is IPv4-mapped", a)
		}
	}
}
