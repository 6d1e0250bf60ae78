// Package nodecache is the user's node-local cache in /var/tmp/mpiwrap-UID
// (mode 0700, files 0600 or read-only): the ld.so cache entries that
// injected host stacks need, built once per node, and the plans of single
// ranks that the C half replays without starting Go. Its inputs are plain
// (a key, files to store, a plan's bytes and dependencies); it knows
// nothing of plans. Reading never creates anything: only the runtime, when
// it builds an entry or saves a plan, makes the directory.
package nodecache

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/mpiwrap/mpiwrap/mpiwrap/nsexec"
	"golang.org/x/sys/unix"
)

// Root is the cache directory of the calling user; the C replay
// (nsexec/plancache.c) reads plans from the same place.
func Root() string { return root() }

// root is a variable so that tests can point the ld.so cache elsewhere.
var root = func() string { return nsexec.CachePrefix + strconv.Itoa(os.Getuid()) }

// private reports whether path is a directory of ours that nobody else
// can enter: anyone who could write a plan here could make the user run
// anything.
func private(path string) bool {
	var st unix.Stat_t
	return unix.Lstat(path, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR &&
		int(st.Uid) == os.Getuid() && st.Mode&0o077 == 0
}

// errNotOurs is the one message for a cache directory someone else made.
func errNotOurs(dir string) error {
	return fmt.Errorf("cache directory %s is not a directory of yours with mode 0700: remove it", dir)
}

// existing returns the root if it exists, "" if it does not, and an error
// if it is not private.
func existing() (string, error) {
	dir := Root()
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if !private(dir) {
		return "", errNotOurs(dir)
	}
	return dir, nil
}

// create makes the root (and sub, below it) when missing.
func create(sub string) (string, error) {
	dir := Root()
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("make node cache %s: %w", dir, err)
	}
	if !private(dir) {
		return "", errNotOurs(dir)
	}
	if sub == "" {
		return dir, nil
	}
	path := dir + "/" + sub
	if err := os.Mkdir(path, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("make node cache %s: %w", path, err)
	}
	return path, nil
}
