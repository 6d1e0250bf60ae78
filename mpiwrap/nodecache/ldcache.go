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
// ld.so.conf and ld.so.cache and the ABI verdict (abi.json) they were
// built with. Entries are written whole (a directory renamed into place)
// under a lock, so ranks of concurrent jobs build each at most once, and
// every build is logged to ldcache.log.
const (
	ldcacheDir = "ldcache"
	confName   = "ld.so.conf"
	cacheName  = "ld.so.cache"
	reportName = "abi.json"
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
// its ABI verdict and whether this call built it.
func EnsureLdCache(e LdEntry, build func() (LdFiles, error), log BuildLog) (*abi.Report, bool, error) {
	if e.Report != nil {
		return e.Report, false, nil
	}
	if _, err := create(ldcacheDir); err != nil {
		return nil, false, err
	}
	unlock, err := lockFile(e.Dir + ".lock")
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	if rep, err := readReport(e.Dir); err == nil { // built meanwhile
		return rep, false, nil
	}
	start := time.Now()
	files, err := build()
	if err != nil {
		return nil, false, err
	}
	if err := store(e.Dir, files); err != nil {
		return nil, false, err
	}
	appendLog(e.Key, log, time.Since(start))
	return files.Report, true, nil
}

// store writes an entry atomically: a reader sees all of it or none.
func store(dir string, f LdFiles) error {
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".build-")
	if err != nil {
		return fmt.Errorf("store ld.so cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	report, err := json.Marshal(f.Report)
	if err != nil {
		return fmt.Errorf("store ld.so cache: %w", err)
	}
	for name, data := range map[string][]byte{confName: f.Conf, cacheName: f.Cache, reportName: report} {
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
func appendLog(key string, l BuildLog, took time.Duration) {
	f, err := os.OpenFile(filepath.Join(Root(), logName), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
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

// lockFile serialises builds of one entry across jobs on a node.
func lockFile(path string) (func(), error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { unix.Close(fd) }, nil
}
