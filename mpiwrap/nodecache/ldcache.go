package nodecache

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mpiwrap/mpiwrap/hostlib/abi"
	"golang.org/x/sys/unix"
)

// An ld.so cache entry is a directory ldcache/KEY holding the container's
// ld.so.conf and ld.so.cache, the ABI verdict (abi.json) they were built
// with and the path of the image they are for (image). Entries are written
// whole (a directory renamed into place) under a lock (ldcache/KEY.lock),
// so ranks of concurrent jobs build each at most once, and every build is
// logged to ldcache.log. A build also evicts the image's older entries
// (evict.go); a run holds its entry from lookup until its binds are made.
const (
	ldcacheDir = "ldcache"
	confName   = "ld.so.conf"
	cacheName  = "ld.so.cache"
	reportName = "abi.json"
	imageName  = "image"
	logName    = "ldcache.log"
)

// LdEntry is one ld.so cache entry.
type LdEntry struct {
	Key    string
	Dir    string      // the entry's directory
	Conf   string      // its ld.so.conf
	Cache  string      // its ld.so.cache
	Report *abi.Report // the stored ABI verdict; nil while not built
}

// LdFiles are what a build makes.
type LdFiles struct {
	Conf   []byte
	Cache  []byte
	Report *abi.Report
}

// BuildLog names a build in ldcache.log.
type BuildLog struct {
	Image    string
	Profiles []string
}

// LdCacheEntry looks the entry for key up. It only reads: a missing cache
// directory means a missing entry.
func LdCacheEntry(key string) (LdEntry, error) {
	dir := filepath.Join(Root(), ldcacheDir, key)
	e := LdEntry{Key: key, Dir: dir, Conf: filepath.Join(dir, confName), Cache: filepath.Join(dir, cacheName)}
	root, err := existing()
	if err != nil || root == "" {
		return e, err
	}
	if rep, err := readReport(dir); err == nil {
		e.Report = rep
	}
	return e, nil
}

// EnsureLdCache builds the entry with build unless it exists, and returns
// its ABI verdict and whether this call built it. It holds the entry only
// while it runs: a run that binds the entry uses UseLdCache.
func EnsureLdCache(e LdEntry, build func() (LdFiles, error), log BuildLog) (*abi.Report, bool, error) {
	if e.Report != nil {
		return e.Report, false, nil
	}
	rep, built, h, err := UseLdCache(e, build, log)
	h.Release()
	return rep, built, err
}

// UseLdCache is EnsureLdCache for a run that binds the entry: it returns
// holding it (a shared lock on ldcache/KEY.lock, which eviction respects)
// until Release, so an entry looked up can't be evicted before it is
// bound. An entry found gone (evicted since planning) is built again. A
// build evicts the image's older entries.
func UseLdCache(e LdEntry, build func() (LdFiles, error), log BuildLog) (*abi.Report, bool, *Hold, error) {
	if err := PrepareLdCache(e); err != nil {
		return nil, false, nil, err
	}
	ld := filepath.Dir(e.Dir)
	h, err := lockEntry(e.Dir, unix.LOCK_SH)
	if err != nil {
		return nil, false, nil, err
	}
	if rep, err := readReport(e.Dir); err == nil {
		markUsed(e.Dir, log.Image)
		return rep, false, h, nil
	}
	h.Release()
	if h, err = lockEntry(e.Dir, unix.LOCK_EX); err != nil {
		return nil, false, nil, err
	}
	if rep, err := readReport(e.Dir); err == nil { // built meanwhile
		markUsed(e.Dir, log.Image)
		return rep, false, h.shared(), nil
	}
	start := time.Now()
	files, err := build()
	if err == nil {
		err = store(e.Dir, files, log.Image)
	}
	if err != nil {
		h.Release()
		return nil, false, nil, err
	}
	appendLog(filepath.Dir(ld), e.Key, log, time.Since(start))
	evict(ld, log.Image, e.Key)
	return files.Report, true, h.shared(), nil
}

// store writes an entry atomically: a reader sees all of it or none.
func store(dir string, f LdFiles, image string) error {
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".build-")
	if err != nil {
		return fmt.Errorf("store ld.so cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	report, err := json.Marshal(f.Report)
	if err != nil {
		return fmt.Errorf("store ld.so cache: %w", err)
	}
	for name, data := range map[string][]byte{confName: f.Conf, cacheName: f.Cache, reportName: report, imageName: []byte(image)} {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			return fmt.Errorf("store ld.so cache: %w", err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, os.ErrExist) && !errors.Is(err, unix.ENOTEMPTY) {
		return fmt.Errorf("store ld.so cache: %w", err)
	}
	return nil
}

// appendLog records a build; failing to log is not an error.
func appendLog(root, key string, l BuildLog, took time.Duration) {
	f, err := os.OpenFile(filepath.Join(root, logName), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s built ld.so cache %s for %s with profiles %s in %d ms (pid %d)\n",
		time.Now().UTC().Format(time.RFC3339), key[:min(16, len(key))], l.Image, strings.Join(l.Profiles, ","),
		took.Milliseconds(), os.Getpid())
}

func readReport(dir string) (*abi.Report, error) {
	data, err := os.ReadFile(filepath.Join(dir, reportName))
	if err != nil {
		return nil, err
	}
	rep := &abi.Report{}
	if err := json.Unmarshal(data, rep); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, reportName), err)
	}
	return rep, nil
}

// ErrMoved says that the node cache was made elsewhere than a run planned:
// another user took the name the plan had for it (planning only reads, so
// it can name a cache that does not exist yet). The cache exists now, where
// planning again finds it.
var ErrMoved = errors.New("the node cache was made elsewhere than planned")

// PrepareLdCache makes the directory of e (a pending entry, built inside
// the container, which binds that directory at its start), and checks that
// it is where the run planned it.
func PrepareLdCache(e LdEntry) error {
	ld, err := create(ldcacheDir)
	if err == nil && filepath.Dir(e.Dir) != ld {
		err = fmt.Errorf("%w: it is %s, not %s as this run planned", ErrMoved, filepath.Dir(ld), filepath.Dir(filepath.Dir(e.Dir)))
	}
	return err
}
