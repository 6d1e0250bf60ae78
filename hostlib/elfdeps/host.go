package elfdeps

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/mpiwrap/mpiwrap/hostlib/ldcache"
)

// NewResolver makes a Resolver for root: it parses root's
// /etc/ld.so.cache (a root without one gets none), works out the
// multiarch triplet and takes $PLATFORM from uname.
func NewResolver(root Root) (*Resolver, error) {
	objects := map[string]*Object{}
	r := &Resolver{Root: root, Platform: unameMachine(), objects: &objects, fs: newFSMemo()}
	hp, err := root.HostPath("/etc/ld.so.cache")
	if err != nil {
		return nil, fmt.Errorf("open ld.so.cache: %w", err)
	}
	c, err := ldcache.ParseFile(hp)
	switch {
	case err == nil:
		r.Cache = c
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	r.Multiarch = DetectMultiarch(root, r.Cache)
	return r, nil
}

// DetectMultiarch returns the multiarch triplet of root: the directory
// that holds the native libc.so.6 according to the cache, else the
// triplet for this machine if root has /usr/lib/<triplet>, else "".
func DetectMultiarch(root Root, c *ldcache.Cache) string {
	if c != nil {
		e, ok := c.Lookup("libc.so.6", ldcache.LookupOptions{Flags: NativeCacheFlags()})
		if ok {
			if dir := filepath.Base(filepath.Dir(e.Value)); strings.Contains(dir, "-linux-") {
				return dir
			}
		}
	}
	t := tripletFor(unameMachine())
	if t == "" {
		return ""
	}
	if fi, err := root.Stat("/usr/lib/" + t); err == nil && fi.IsDir() {
		return t
	}
	return ""
}

// tripletFor maps uname -m to Debian's multiarch triplet.
func tripletFor(machine string) string {
	switch machine {
	case "x86_64":
		return "x86_64-linux-gnu"
	case "aarch64":
		return "aarch64-linux-gnu"
	case "ppc64le":
		return "powerpc64le-linux-gnu"
	case "s390x":
		return "s390x-linux-gnu"
	case "riscv64":
		return "riscv64-linux-gnu"
	case "loongarch64":
		return "loongarch64-linux-gnu"
	case "i686", "i586", "i386":
		return "i386-linux-gnu"
	}
	return ""
}

func unameMachine() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Machine[:])
}
