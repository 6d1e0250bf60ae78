package netinject

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// stubRDMA answers the RDMA netlink questions from fixed values; fails
// counts the ErrDumpInterrupted answers to give before the list.
type stubRDMA struct {
	links   []*netlink.RdmaLink
	err     error
	mode    string
	modeErr error
	fails   int
	calls   int
}

func (s *stubRDMA) RdmaLinkList() ([]*netlink.RdmaLink, error) {
	s.calls++
	if s.calls <= s.fails {
		return nil, netlink.ErrDumpInterrupted
	}
	return s.links, s.err
}

func (s *stubRDMA) RdmaSystemGetNetnsMode() (string, error) { return s.mode, s.modeErr }

// The kernel error that netlink returns when the kernel has no RDMA, as
// the socket(2) call inside netlink gives it.
var errNoRDMAProto = fmt.Errorf("netlink socket: %w", unix.EPROTONOSUPPORT)

// Without RDMA netlink, the fake sysfs and /dev trees alone give every
// device, port, netdev and device node.
func TestRDMAFromSysfsAlone(t *testing.T) {
	sysRoot, devRoot := fakeRDMATree(t)
	d := Discoverer{SysRoot: sysRoot, DevRoot: devRoot, rdma: &stubRDMA{err: errNoRDMAProto}}
	got, err := d.RDMA()
	if err != nil {
		t.Fatal(err)
	}
	want := RDMA{
		Devices: wantFakeRDMADevices(),
		CM:      DevNode{Path: "/dev/infiniband/rdma_cm", Present: true},
		Source:  "sysfs",
		Note:    "the kernel has no RDMA netlink (protocol not supported); read from /sys/class/infiniband",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RDMA from sysfs:\n got %+v\nwant %+v", got, want)
	}
}

// With RDMA netlink, its list is the truth and sysfs adds the ports:
// sysfs's GUID wins, netlink fills what sysfs lacks, a device that sysfs
// doesn't show keeps no ports and says why, and a device that only sysfs
// shows (another namespace's, in exclusive mode) is left out with a note.
func TestRDMAMergesNetlinkAndSysfs(t *testing.T) {
	sysRoot, devRoot := fakeRDMATree(t)
	stub := &stubRDMA{
		links: []*netlink.RdmaLink{
			{Attrs: netlink.RdmaLinkAttrs{Name: "rxe0", NumPorts: 1}},
			{Attrs: netlink.RdmaLinkAttrs{Name: "mlx5_1", NodeGuid: "c3:b2:a1:00:03:c9:02:00", FirmwareVersion: "16.35.1012", NumPorts: 1}},
			{Attrs: netlink.RdmaLinkAttrs{Name: "mlx5_9", NodeGuid: "11:00:00:00:00:00:00:ff", NumPorts: 2}},
		},
		mode:  "exclusive",
		fails: 2, // two interrupted dumps, then the list
	}
	got, err := Discoverer{SysRoot: sysRoot, DevRoot: devRoot, rdma: stub}.RDMA()
	if err != nil {
		t.Fatal(err)
	}
	fromSysfs := wantFakeRDMADevices()
	mlx51, rxe0 := fromSysfs[1], fromSysfs[2]
	mlx51.NodeGUID, mlx51.FirmwareVersion = "0002:c903:00a1:b2c3", "16.35.1012"
	want := []RDMADevice{mlx51, {Name: "mlx5_9", NodeGUID: "ff00:0000:0000:0011", Ports: []RDMAPort{},
		Note: "netlink reports 2 port(s) but /sys/class/infiniband/mlx5_9 is missing, so their state and netdev are unknown; mount sysfs for this network namespace"},
		rxe0}
	if !reflect.DeepEqual(got.Devices, want) {
		t.Errorf("devices:\n got %+v\nwant %+v", got.Devices, want)
	}
	wantNote := "sysfs also shows mlx5_0, which netlink does not list in this network namespace; left out"
	if got.Source != "netlink" || got.Note != wantNote || got.NetnsMode != "exclusive" {
		t.Errorf("source %q, note %q, mode %q; want netlink, %q, exclusive", got.Source, got.Note, got.NetnsMode, wantNote)
	}
	if stub.calls != 3 {
		t.Errorf("RdmaLinkList called %d times, want 3 (two interrupted dumps retried)", stub.calls)
	}
}

// What netlink's answer means, for each kind of answer.
func TestRDMANetlinkAnswers(t *testing.T) {
	empty := t.TempDir()
	for _, tc := range []struct {
		name       string
		stub       *stubRDMA
		wantErr    string
		wantSource string
		wantNote   string
		wantMode   string
	}{
		{name: "no RDMA netlink, no sysfs", stub: &stubRDMA{err: errNoRDMAProto},
			wantSource: "none", wantNote: "the kernel has no RDMA netlink (protocol not supported) and there is no /sys/class/infiniband: no RDMA devices"},
		{name: "address family unsupported", stub: &stubRDMA{err: unix.EAFNOSUPPORT}, wantSource: "none",
			wantNote: "the kernel has no RDMA netlink (protocol not supported) and there is no /sys/class/infiniband: no RDMA devices"},
		{name: "netlink with no devices", stub: &stubRDMA{mode: "shared"}, wantSource: "none",
			wantNote: "netlink lists no RDMA devices", wantMode: "shared"},
		{name: "netns mode unknown to an old kernel", stub: &stubRDMA{modeErr: unix.EOPNOTSUPP}, wantSource: "none",
			wantNote: "netlink lists no RDMA devices"},
		{name: "other netlink error", stub: &stubRDMA{err: unix.EPERM},
			wantErr: "netinject: list RDMA devices through netlink (rdma dev show): operation not permitted"},
		{name: "dump interrupted every time", stub: &stubRDMA{fails: 100},
			wantErr: "netinject: the RDMA device list changed during each of 5 netlink dumps"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Discoverer{SysRoot: empty, DevRoot: empty, rdma: tc.stub}.RDMA()
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one starting %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Devices) != 0 || got.Source != tc.wantSource || got.Note != tc.wantNote || got.NetnsMode != tc.wantMode {
				t.Errorf("got %+v; want no devices, source %q, note %q, mode %q", got, tc.wantSource, tc.wantNote, tc.wantMode)
			}
			if got.CM != (DevNode{Path: "/dev/infiniband/rdma_cm"}) {
				t.Errorf("rdma_cm %+v, want the path, not present", got.CM)
			}
		})
	}
}

// This machine's kernel: RdmaLinkList answers "protocol not supported"
// where the kernel lacks RDMA (as here), and discovery turns that into no
// devices and no error. On a machine with RDMA it must list what sysfs has.
func TestRDMAOnThisKernel(t *testing.T) {
	_, nlErr := netlink.RdmaLinkList()
	got, err := Discoverer{}.RDMA()
	if err != nil {
		t.Fatalf("RDMA discovery on this kernel: %v", err)
	}
	inSysfs := dirNames("/sys/class/infiniband")
	if len(inSysfs) == 0 && nlErr != nil {
		if !rdmaUnsupported(nlErr) {
			t.Errorf("RdmaLinkList said %v, which rdmaUnsupported does not take for a kernel without RDMA", nlErr)
		}
		if len(got.Devices) != 0 || got.Source != "none" || !strings.Contains(got.Note, "protocol not supported") {
			t.Errorf("got %+v, want no devices, source none and a note naming the kernel's answer", got)
		}
		return
	}
	var names []string
	for _, d := range got.Devices {
		names = append(names, d.Name)
	}
	for _, n := range inSysfs {
		if !strings.Contains(strings.Join(names, " "), n) {
			t.Errorf("sysfs has RDMA device %s but discovery found only %v", n, names)
		}
	}
}

func TestGUIDFromNetlink(t *testing.T) {
	for in, want := range map[string]string{
		"c3:b2:a1:00:03:c9:02:00": "0002:c903:00a1:b2c3",
		"00:00:00:00:00:00:00:00": "0000:0000:0000:0000",
		"":                        "",
		"not-a-guid":              "not-a-guid",
	} {
		if got := guidFromNetlink(in); got != want {
			t.Errorf("guidFromNetlink(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]int{
		"100 Gb/sec (4X EDR)": 100000,
		"2.5 Gb/sec (1X SDR)": 2500,
		"200 Gb/sec (2X HDR)": 200000,
		"0 Gb/sec":            -1,
		"fast":                -1,
		"100 Mb/sec":          -1,
	} {
		if got := parseRate(in); got != want {
			t.Errorf("parseRate(%q) = %d, want %d", in, got, want)
		}
	}
}

// rdmaUnsupported must see through wrapping, since netlink wraps socket
// errors on some paths.
func TestRDMAUnsupported(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{unix.EPROTONOSUPPORT, true},
		{errNoRDMAProto, true},
		{os.NewSyscallError("socket", unix.EAFNOSUPPORT), true},
		{unix.EPERM, false},
		{errors.New("protocol not supported"), false}, // only the errno counts, not its text
		{nil, false},
	} {
		if got := rdmaUnsupported(tc.err); got != tc.want {
			t.Errorf("rdmaUnsupported(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// Netlink has RDMA but lists nothing in this namespace, while sysfs (of
// another namespace) shows devices: none are taken, and the note says so.
func TestRDMANetlinkEmptySysfsFull(t *testing.T) {
	sysRoot, devRoot := fakeRDMATree(t)
	got, err := Discoverer{SysRoot: sysRoot, DevRoot: devRoot, rdma: &stubRDMA{mode: "exclusive"}}.RDMA()
	if err != nil {
		t.Fatal(err)
	}
	wantNote := "netlink lists no RDMA devices; sysfs also shows mlx5_0, mlx5_1, rxe0, which netlink does not list in this network namespace; left out"
	if len(got.Devices) != 0 || got.Source != "none" || got.Note != wantNote {
		t.Errorf("got %+v; want no devices, source none, note %q", got, wantNote)
	}
}
