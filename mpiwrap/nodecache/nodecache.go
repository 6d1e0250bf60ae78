// Package nodecache is the user's node-local cache in /var/tmp/mpiwrap-UID
// (mode 0700, files 0600 or read-only; the first of /var/tmp/mpiwrap-UID.1
// to .7 that is ours when another user took that name): the ld.so cache
// entries that injected host stacks need, built once per node, and the
// plans of single ranks that the C half replays without starting Go. Its inputs are plain
// (a key, files to store, a plan's bytes and dependencies); it knows
// nothing of plans. Reading never creates anything: only the runtime, when
// it builds an entry or saves a plan, makes the directory.
package nodecache

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/mpiwrap/mpiwrap/mpiwrap/nsexec"
	"github.com/mpiwrap/mpiwrap/mpiwrap/userdir"
)

// Root is the cache directory of the calling user: the first of its series
// (/var/tmp/mpiwrap-UID, then .1 to .7; package userdir) that is a private
// directory of ours, or when none is, the one a run would make. It only
// reads. The C replay (nsexec/plancache.c) reads plans from the same place.
func Root() string {
	if dir, _, err := userdir.Preview(dirs()); err == nil {
		return dir
	}
	return root()
}

// root is the first name of the series, a variable so that tests can point
// the cache elsewhere.
var root = func() string { return nsexec.CachePrefix + strconv.Itoa(os.Getuid()) }

func dirs() []string { return userdir.Series(root()) }

// Describe says, for -v, which directory is the node cache and why the
// names before it were skipped.
func Describe() (dir, why string) {
	dir, made, err := userdir.Preview(dirs())
	if err != nil {
		return root(), err.Error()
	}
	why = userdir.Skipped(dirs(), dir)
	if !made {
		why = strings.TrimPrefix(why+"; not made yet", "; ")
	}
	return dir, why
}

// existing returns the root if it exists, "" if it does not, and an error
// if every name of the series is taken.
func existing() (string, error) {
	dir, made, err := userdir.Preview(dirs())
	if err != nil {
		return "", cacheErr(err)
	}
	if !made {
		return "", nil
	}
	return dir, nil
}

func cacheErr(err error) error { return fmt.Errorf("no node cache: %w", err) }

// create makes the root (and sub, below it) when missing.
func create(sub string) (string, error) {
	dir, err := userdir.Ensure(dirs())
	if err != nil {
		return "", cacheErr(err)
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
