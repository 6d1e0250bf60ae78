package netinject

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// rooted joins a path of the real machine (such as "/sys/class/net") under
// root, which stands for "/": tests point root at a fake tree.
func rooted(root, path string) string {
	if root == "" {
		root = "/"
	}
	return filepath.Join(root, path)
}

// readAttr reads one sysfs attribute, trimmed. Many attributes fail to
// read when the kernel has no value (a down link's speed answers EINVAL),
// so callers treat an error as "not reported", not as a failure.
func readAttr(path string) (string, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

// readIntAttr reads a sysfs attribute that holds one decimal integer.
func readIntAttr(path string) (int, bool) {
	s, ok := readAttr(path)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, false
	}
	return n, true
}

// dirNames lists a directory's entries, sorted (os.ReadDir sorts); a
// missing directory is an empty list, because sysfs classes that the
// kernel lacks (infiniband) are simply absent.
func dirNames(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// linkSpeed reads /sys/class/net/NAME/speed in Mbit/s, or -1 where the
// kernel reports none (a down link answers EINVAL, loopback has none, some
// drivers write -1). sysfs shows the network namespace of whoever mounted
// it, which need not be the caller's: the speed counts only when sysfs
// names the same link, that is when its ifindex matches netlink's. The
// link's directory is looked up once for both attributes: every mpiwrap
// job plans its fabric, and these lookups through the class symlink were
// most of the CPU the node's links cost.
func linkSpeed(sysRoot, name string, index int) int {
	dir, err := unix.Open(rooted(sysRoot, filepath.Join("/sys/class/net", name)), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	defer unix.Close(dir)
	if idx, ok := intAttrAt(dir, "ifindex"); !ok || idx != index {
		return -1
	}
	speed, ok := intAttrAt(dir, "speed")
	if !ok || speed <= 0 {
		return -1
	}
	return speed
}

// intAttrAt is readIntAttr for the attribute name in the directory dir.
func intAttrAt(dir int, name string) (int, bool) {
	b, ok := readAt(dir, name)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return n, err == nil
}

// readAt reads the file name in the directory dir to its end, as
// os.ReadFile does, without a stat: a sysfs attribute is a few bytes.
func readAt(dir int, name string) ([]byte, bool) {
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	for err == unix.EINTR {
		fd, err = unix.Openat(dir, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, false
	}
	defer unix.Close(fd)
	var buf [64]byte
	b := buf[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := unix.Read(fd, b[len(b):cap(b)])
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return nil, false
		case n == 0:
			return b, true
		}
		b = b[:len(b)+n]
	}
}
