package nodecache

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// keepPerImage bounds the ld.so cache: each image keeps its newest entries
// (built or used last; a run that reuses one marks it) and a build removes
// the rest. An image gets a new entry when its files, the profiles or the
// injected host files change, so only the last few are worth keeping.
const keepPerImage = 4

// A run holds its entry from lookup until the entry is bound in its
// container: a shared lock on ldcache/KEY.lock, the lock a builder holds
// exclusively. Eviction only takes an entry whose lock it gets at once,
// exclusively; it renames the entry aside and removes its lock file before
// it lets go, so whoever waited on that lock sees it is stale and starts
// again. A bind that was made keeps working after eviction: a mount holds
// the file.

// Hold is a run's hold on an ld.so cache entry.
type Hold struct{ fd int }

// Release lets the entry be evicted again. A nil Hold holds nothing.
func (h *Hold) Release() {
	if h != nil && h.fd >= 0 {
		unix.Close(h.fd)
		h.fd = -1
	}
}

// Fd is the descriptor that holds the lock, for a stage that binds the
// entry after an exec; -1 for none.
func (h *Hold) Fd() int {
	if h == nil {
		return -1
	}
	return h.fd
}

// shared turns a builder's exclusive hold into a shared one. Linux
// converts a flock in one step, under the inode's lock list, so no evictor
// gets the entry in between; were it not so, a new entry is the newest of
// its image, which eviction keeps.
func (h *Hold) shared() *Hold {
	unix.Flock(h.fd, unix.LOCK_SH)
	return h
}

// lockEntry locks the entry at dir (how: LOCK_SH or LOCK_EX, maybe with
// LOCK_NB) through dir.lock, and checks that the file it holds is still the
// one at that path: an evictor removes it before letting go.
func lockEntry(dir string, how int) (*Hold, error) {
	path := dir + ".lock"
	for attempt := 0; attempt < 16; attempt++ {
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		err = unix.Flock(fd, how)
		for errors.Is(err, unix.EINTR) {
			err = unix.Flock(fd, how)
		}
		if err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		var held, now unix.Stat_t
		if unix.Fstat(fd, &held) == nil && unix.Lstat(path, &now) == nil && held.Ino == now.Ino && held.Dev == now.Dev {
			return &Hold{fd}, nil
		}
		unix.Close(fd)
	}
	return nil, fmt.Errorf("lock %s: it keeps being removed", path)
}

// markUsed refreshes an entry's mtime (its image file's), which eviction
// orders by, and records the image of an entry built before entries named
// theirs.
func markUsed(dir, image string) {
	now := time.Now()
	path := filepath.Join(dir, imageName)
	if err := os.Chtimes(path, now, now); errors.Is(err, fs.ErrNotExist) && image != "" {
		if tmp, err := os.CreateTemp(dir, ".image-"); err == nil {
			_, werr := tmp.WriteString(image)
			if tmp.Close() == nil && werr == nil {
				os.Rename(tmp.Name(), path)
			}
			os.Remove(tmp.Name())
		}
	}
}

// evict removes, after a build of entry keep for image, all but the newest
// keepPerImage entries of that image, and every entry whose image is gone
// or unknown, skipping those in use. It also removes what an evictor or a
// builder that died left behind. Failing to evict is not an error.
func evict(ld, image, keep string) {
	ents, err := os.ReadDir(ld)
	if err != nil {
		return
	}
	type entry struct {
		key  string
		used int64
	}
	var same []entry
	for _, de := range ents {
		name, path := de.Name(), filepath.Join(ld, de.Name())
		switch {
		case strings.HasPrefix(name, ".evict-"):
			os.RemoveAll(path)
			continue
		case strings.HasPrefix(name, ".build-"):
			if info, err := de.Info(); err == nil && time.Since(info.ModTime()) > time.Hour {
				os.RemoveAll(path)
			}
			continue
		case strings.HasSuffix(name, ".lock"):
			if key := strings.TrimSuffix(name, ".lock"); key != keep {
				dropLock(filepath.Join(ld, key))
			}
			continue
		case !de.IsDir() || strings.HasPrefix(name, ".") || name == keep:
			continue
		}
		data, err := os.ReadFile(filepath.Join(path, imageName))
		info, serr := os.Stat(filepath.Join(path, imageName))
		if err != nil || serr != nil || imageGone(string(data)) {
			drop(path)
			continue
		}
		if string(data) == image {
			same = append(same, entry{name, info.ModTime().UnixNano()})
		}
	}
	slices.SortFunc(same, func(a, b entry) int { return cmp.Compare(b.used, a.used) })
	for _, e := range same[min(len(same), keepPerImage-1):] { // keep is the newest
		drop(filepath.Join(ld, e.key))
	}
}

func imageGone(path string) bool {
	_, err := os.Stat(path)
	return path == "" || errors.Is(err, fs.ErrNotExist)
}

// drop evicts the entry at dir unless someone holds or builds it: renamed
// aside under its lock, so no run finds half of it, then removed.
func drop(dir string) {
	h, err := lockEntry(dir, unix.LOCK_EX|unix.LOCK_NB)
	if err != nil {
		return
	}
	defer h.Release()
	aside := filepath.Join(filepath.Dir(dir), fmt.Sprintf(".evict-%d-%d", os.Getpid(), time.Now().UnixNano()))
	if os.Rename(dir, aside) != nil {
		return
	}
	os.Remove(dir + ".lock") // before the lock goes: see lockEntry
	os.RemoveAll(aside)
}

// dropLock removes the lock file of an entry that does not exist (a
// lookup of an evicted entry leaves one) unless someone holds it.
func dropLock(dir string) {
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		return
	}
	h, err := lockEntry(dir, unix.LOCK_EX|unix.LOCK_NB)
	if err != nil {
		return
	}
	defer h.Release()
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		os.Remove(dir + ".lock")
	}
}
