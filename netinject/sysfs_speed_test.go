package netinject

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// refLinkSpeed is linkSpeed as it read the attributes by path.
func refLinkSpeed(sysRoot, name string, index int) int {
	dir := rooted(sysRoot, filepath.Join("/sys/class/net", name))
	if idx, ok := readIntAttr(filepath.Join(dir, "ifindex")); !ok || idx != index {
		return -1
	}
	speed, ok := readIntAttr(filepath.Join(dir, "speed"))
	if !ok || speed <= 0 {
		return -1
	}
	return speed
}

func TestLinkSpeedAsByPath(t *testing.T) {
	root := t.TempDir()
	net := filepath.Join(root, "sys/class/net")
	devs := filepath.Join(root, "sys/devices")
	links := map[string][2]string{ // ifindex, speed ("" none)
		"eth0": {"2\n", "10000\n"}, "eth1": {"3\n", "-1\n"}, "eth2": {"4\n", ""}, "eth3": {"9\n", "1000\n"},
		"eth4": {"5\n", "  25000  \n"}, "eth5": {"6\n", strings.Repeat(" ", 100) + "40000\n"}, "eth6": {"7\n", "fast\n"},
		"eth7": {"x\n", "100\n"}, "eth8": {"8", "0"},
	}
	for name, a := range links {
		d := filepath.Join(devs, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(net, 0o755)
		if err := os.Symlink(d, filepath.Join(net, name)); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(d, "ifindex"), []byte(a[0]), 0o644)
		if a[1] != "" {
			os.WriteFile(filepath.Join(d, "speed"), []byte(a[1]), 0o644)
		}
	}
	os.WriteFile(filepath.Join(net, "file"), []byte("x"), 0o644)
	for _, name := range []string{"eth0", "eth1", "eth2", "eth3", "eth4", "eth5", "eth6", "eth7", "eth8", "file", "nope"} {
		for index := 0; index < 10; index++ {
			if got, want := linkSpeed(root, name, index), refLinkSpeed(root, name, index); got != want {
				t.Errorf("linkSpeed(%s, %d) = %d, want %d", name, index, got, want)
			}
		}
	}
	// The machine's own links.
	entries, _ := os.ReadDir("/sys/class/net")
	for _, e := range entries {
		idx, _ := readIntAttr(filepath.Join("/sys/class/net", e.Name(), "ifindex"))
		if got, want := linkSpeed("", e.Name(), idx), refLinkSpeed("", e.Name(), idx); got != want {
			t.Errorf("linkSpeed(%s) = %d, want %d", e.Name(), got, want)
		}
	}
}
