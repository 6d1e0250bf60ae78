package plan

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// readImageFile reads a small file inside a directory image, resolving
// symlinks within the image so a link can never read a host file.
func readImageFile(root, name string) (string, error) {
	r, err := openInImage(root, name, unix.O_RDONLY)
	if err != nil {
		return "", err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, 4<<20))
	return string(b), err
}

// existsInImage reports whether a path resolves inside a directory image.
func existsInImage(root, name string) bool {
	f, err := openInImage(root, name, unix.O_PATH)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// openInImage opens name in the directory image root, the kernel
// resolving it with root as "/" (openat2 RESOLVE_IN_ROOT): what
// securejoin.OpenInRoot does where the kernel has openat2, less the
// readlink of /proc/self/fd that only names its result (and the procfs
// handle it sets up for that, once a process), and less the reopen
// through /proc for reading. Where openat2 can't be had, OpenInRoot.
// flags is O_RDONLY or O_PATH.
func openInImage(root, name string, flags int) (*os.File, error) {
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(dir)
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	for range 8 {
		fd, err := unix.Openat2(dir, name, &how)
		switch err {
		case nil:
			return os.NewFile(uintptr(fd), filepath.Join(root, name)), nil
		case unix.EINTR, unix.EAGAIN: // a rename raced the lookup
			continue
		case unix.ENOSYS, unix.EPERM, unix.EINVAL, unix.E2BIG: // no openat2 here (old kernel, seccomp)
		default:
			return nil, &os.PathError{Op: "openat2", Path: filepath.Join(root, name), Err: err}
		}
		break
	}
	f, err := securejoin.OpenInRoot(root, name)
	if err != nil || flags == unix.O_PATH {
		return f, err
	}
	defer f.Close()
	return securejoin.Reopen(f, flags)
}

// Accounts generates /etc/passwd and /etc/group for the container: the
// image's own entries (when the image can be read before mounting) minus any
// that clash with the caller, plus the caller and their groups, so that the
// user resolves inside.
func Accounts(img Image, h *Host) (passwd, group []byte, note string) {
	var basePW, baseGR string
	shell := "/bin/sh"
	if img.Kind == ImageDir {
		basePW, _ = readImageFile(img.Path, "/etc/passwd")
		baseGR, _ = readImageFile(img.Path, "/etc/group")
		if existsInImage(img.Path, h.Shell) {
			shell = h.Shell
		}
		note = "image's entries plus " + h.User
	} else {
		note = "root, nobody and " + h.User + " (the SquashFS image's own files are not read before mounting)"
	}
	if basePW == "" {
		basePW = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n"
	}
	if baseGR == "" {
		baseGR = "root:x:0:\nnogroup:x:65534:\n"
	}
	uid := strconv.Itoa(h.UID)
	pw := keepLines(basePW, func(f []string) bool { return len(f) >= 3 && f[0] != h.User && f[2] != uid })
	pw += fmt.Sprintf("%s:x:%d:%d:%s:%s:%s\n", h.User, h.UID, h.GID, h.Gecos, h.Home, shell)
	taken := map[string]bool{}
	for _, g := range h.Groups {
		taken[strconv.Itoa(g.GID)], taken[g.Name] = true, true
	}
	gr := keepLines(baseGR, func(f []string) bool { return len(f) >= 3 && !taken[f[0]] && !taken[f[2]] })
	for _, g := range h.Groups {
		gr += fmt.Sprintf("%s:x:%d:%s\n", g.Name, g.GID, h.User)
	}
	return []byte(pw), []byte(gr), note
}

func keepLines(text string, keep func([]string) bool) string {
	var b strings.Builder
	for _, line := range strings.Split(text, "\n") {
		if line == "" || !keep(strings.Split(line, ":")) {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}
