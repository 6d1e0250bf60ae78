package elfdeps

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// Root is a directory that absolute paths are resolved in: "/" for the
// host, the unpacked image directory for a container image.
type Root string

// HostPath turns p, absolute inside the root, into a path on this
// machine, resolving symlinks so that they cannot leave the root.
func (r Root) HostPath(p string) (string, error) {
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("resolve %q: path is not absolute", p)
	}
	if r.isSlash() {
		return filepath.Clean(p), nil
	}
	hp, err := securejoin.SecureJoin(string(r), p)
	if err != nil {
		return "", fmt.Errorf("resolve %s in %s: %w", p, r, err)
	}
	return hp, nil
}

// Real returns p with every symlink resolved, as a path inside the root.
func (r Root) Real(p string) (string, error) {
	if r.isSlash() {
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return "", fmt.Errorf("resolve %s: %w", p, err)
		}
		return real, nil
	}
	hp, rel, err := r.join(p)
	if err != nil {
		return "", err
	}
	if _, err := os.Lstat(hp); err != nil {
		return "", fmt.Errorf("resolve %s in %s: %w", p, r, err)
	}
	return rel, nil
}

// join resolves p inside a root other than "/": its path on this machine
// and inside the root, every symlink followed; neither need exist.
func (r Root) join(p string) (host, real string, err error) { return r.joinVFS(p, nil) }

// joinVFS is join with what SecureJoin asks of the file system answered
// by vfs (nil: the os package).
func (r Root) joinVFS(p string, vfs securejoin.VFS) (host, real string, err error) {
	hp, err := securejoin.SecureJoinVFS(string(r), p, vfs)
	if err != nil {
		return "", "", fmt.Errorf("resolve %s in %s: %w", p, r, err)
	}
	rel := strings.TrimPrefix(hp, filepath.Clean(string(r)))
	if rel == "" {
		rel = "/"
	}
	return hp, rel, nil
}

// Open opens p inside the root for reading.
func (r Root) Open(p string) (*os.File, error) {
	hp, err := r.HostPath(p)
	if err != nil {
		return nil, err
	}
	return os.Open(hp)
}

// Stat stats p inside the root, following symlinks inside the root.
func (r Root) Stat(p string) (os.FileInfo, error) {
	hp, err := r.HostPath(p)
	if err != nil {
		return nil, err
	}
	return os.Stat(hp)
}

// Glob expands pattern inside the root and returns sorted paths inside
// the root. Symlinks in the directory part are followed on this machine,
// so globs are meant for the host root and trusted trees.
func (r Root) Glob(pattern string) ([]string, error) {
	if r.isSlash() {
		return filepath.Glob(pattern)
	}
	base := filepath.Clean(string(r))
	matches, err := filepath.Glob(base + pattern)
	if err != nil {
		return nil, err
	}
	for i, m := range matches {
		matches[i] = strings.TrimPrefix(m, base)
	}
	return matches, nil
}

func (r Root) isSlash() bool { return r == "" || filepath.Clean(string(r)) == "/" }

// fsMemo is a securejoin.VFS that asks the os package once per path: a
// Resolver resolves dozens of paths through the same few directories
// (/lib -> usr/lib, /lib/x86_64-linux-gnu, ...), an lstat per component
// each. Like the Resolver's memo of objects, it takes the tree to stay
// as it is while one plan is made.
type fsMemo struct {
	lstat map[string]lstatResult
	link  map[string]linkResult
}

type lstatResult struct {
	fi  os.FileInfo
	err error
}

type linkResult struct {
	dest string
	err  error
}

func newFSMemo() *fsMemo {
	return &fsMemo{lstat: map[string]lstatResult{}, link: map[string]linkResult{}}
}

func (m *fsMemo) Lstat(name string) (os.FileInfo, error) {
	r, ok := m.lstat[name]
	if !ok {
		r.fi, r.err = os.Lstat(name)
		m.lstat[name] = r
	}
	return r.fi, r.err
}

func (m *fsMemo) Readlink(name string) (string, error) {
	r, ok := m.link[name]
	if !ok {
		r.dest, r.err = os.Readlink(name)
		m.link[name] = r
	}
	return r.dest, r.err
}
