package netinject

import (
	"testing"

	"golang.org/x/sys/unix"
)

// A link's speed comes from sysfs only when sysfs describes the same link
// (same ifindex): a sysfs mounted for another network namespace may have a
// link of the same name.
func TestLinkSpeed(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"sys/class/net/eth0/ifindex":    "2",
		"sys/class/net/eth0/speed":      "25000",
		"sys/class/net/eth1/ifindex":    "3",
		"sys/class/net/eth1/speed":      "-1", // some drivers write -1 for unknown
		"sys/class/net/ib0/ifindex":     "4",
		"sys/class/net/ib0/speed":       "junk",
		"sys/class/net/nospeed/ifindex": "5",
	})
	for _, tc := range []struct {
		name  string
		index int
		want  int
	}{
		{"eth0", 2, 25000},
		{"eth0", 7, -1}, // sysfs of another namespace
		{"eth1", 3, -1},
		{"ib0", 4, -1},
		{"nospeed", 5, -1}, // a down link's speed fails to read, like a missing file
		{"absent", 9, -1},
	} {
		if got := linkSpeed(root, tc.name, tc.index); got != tc.want {
			t.Errorf("linkSpeed(%s, index %d) = %d, want %d", tc.name, tc.index, got, tc.want)
		}
	}
}

func TestARPHRDName(t *testing.T) {
	for _, tc := range []struct {
		t    uint16
		want string
	}{
		{unix.ARPHRD_ETHER, "ether"},
		{unix.ARPHRD_INFINIBAND, "infiniband"},
		{unix.ARPHRD_LOOPBACK, "loopback"},
		{unix.ARPHRD_NONE, "none"},
		{unix.ARPHRD_IPGRE, "gre"},
		{0x1234, "arphrd-4660"},
	} {
		if got := ARPHRDName(tc.t); got != tc.want {
			t.Errorf("ARPHRDName(%d) = %q, want %q", tc.t, got, tc.want)
		}
	}
}

func TestFlagNames(t *testing.T) {
	got := flagNames(unix.IFF_UP | unix.IFF_LOOPBACK | unix.IFF_RUNNING | unix.IFF_LOWER_UP)
	want := []string{"up", "loopback", "running", "lower_up"}
	if len(got) != len(want) {
		t.Fatalf("flagNames = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("flagNames = %v, want %v", got, want)
		}
	}
	if got := flagNames(0); got == nil || len(got) != 0 {
		t.Errorf("flagNames(0) = %#v, want an empty, non-nil list", got)
	}
}
