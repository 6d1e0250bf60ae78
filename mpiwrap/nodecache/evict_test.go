package nodecache

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/hostlib/abi"
)

func files() (LdFiles, error) {
	return LdFiles{Conf: []byte("/.mpiwrap/lib\n"), Cache: []byte("cache"), Report: &abi.Report{}}, nil
}

// use looks key up as a run does and returns holding it.
func use(t *testing.T, key, image string) *Hold {
	t.Helper()
	e, err := LdCacheEntry(key)
	if err != nil {
		t.Fatal(err)
	}
	_, _, h, err := UseLdCache(e, files, BuildLog{Image: image})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func build(t *testing.T, key, image string) {
	t.Helper()
	use(t, key, image).Release()
	time.Sleep(15 * time.Millisecond) // a newer mtime for the next
}

// entries lists the keys of the ld.so cache, and fails on debris.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(dir, "ldcache"))
	var keys []string
	for _, e := range ents {
		switch name := e.Name(); {
		case strings.HasPrefix(name, ".evict-"):
			t.Errorf("left behind: %s", name)
		case e.IsDir():
			keys = append(keys, name)
		}
	}
	sort.Strings(keys)
	return keys
}

func imageDir(t *testing.T) string {
	t.Helper()
	return t.TempDir()
}

// Each image keeps its newest keepPerImage entries; other images' entries
// stay; every entry records its image.
func TestEvictKeepsNewestPerImage(t *testing.T) {
	dir := fakeRoot(t)
	a, b := imageDir(t), imageDir(t)
	build(t, "b0", b)
	build(t, "b1", b)
	for i := range 7 {
		build(t, fmt.Sprintf("a%d", i), a)
		var ofA int
		for _, k := range entries(t, dir) {
			if k[0] == 'a' {
				ofA++
			}
		}
		if ofA > keepPerImage {
			t.Fatalf("after %d builds %d entries of one image: %q", i+1, ofA, entries(t, dir))
		}
	}
	if got, want := strings.Join(entries(t, dir), " "), "a3 a4 a5 a6 b0 b1"; got != want {
		t.Fatalf("entries %q, want %q", got, want)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "ldcache", "a6", "image")); string(data) != a {
		t.Fatalf("image file holds %q, want %q", data, a)
	}
	for _, k := range []string{"a0", "a1", "a2"} {
		if _, err := os.Lstat(filepath.Join(dir, "ldcache", k+".lock")); !os.IsNotExist(err) {
			t.Errorf("the lock of evicted %s is left: %v", k, err)
		}
	}
}

// A run that uses an entry marks it newest, so eviction keeps it.
func TestEvictKeepsRecentlyUsed(t *testing.T) {
	dir := fakeRoot(t)
	a := imageDir(t)
	build(t, "a0", a)
	for i := 1; i < 8; i++ {
		build(t, fmt.Sprintf("a%d", i), a)
		build(t, "a0", a) // reused
	}
	if got := entries(t, dir); len(got) != keepPerImage || got[0] != "a0" {
		t.Fatalf("entries %q", got)
	}
}

// An entry held by a run (looked up, not bound yet) is not evicted; once
// released, the next build evicts it. A bind made keeps its file.
func TestEvictSkipsHeldEntry(t *testing.T) {
	dir := fakeRoot(t)
	a := imageDir(t)
	held := use(t, "a0", a)
	cache := filepath.Join(dir, "ldcache", "a0", "ld.so.cache")
	bound, err := os.Open(cache) // stands for a bind: it holds the inode
	if err != nil {
		t.Fatal(err)
	}
	defer bound.Close()
	time.Sleep(15 * time.Millisecond)
	for i := 1; i <= 5; i++ {
		build(t, fmt.Sprintf("a%d", i), a)
	}
	if _, err := os.Stat(cache); err != nil {
		t.Fatalf("a held entry was evicted: %v (entries %q)", err, entries(t, dir))
	}
	held.Release()
	build(t, "a6", a)
	if _, err := os.Stat(cache); !os.IsNotExist(err) {
		t.Fatalf("a released old entry was kept: %q", entries(t, dir))
	}
	if data, err := os.ReadFile("/proc/self/fd/" + fmt.Sprint(bound.Fd())); err != nil || string(data) != "cache" {
		t.Fatalf("the bound file after eviction: %q %v", data, err)
	}
}

// Entries of images that are gone, and entries that name no image (made
// before entries recorded one), go at the next build; a legacy entry that
// a run reuses gets its image recorded instead.
func TestEvictGoneAndUnknownImages(t *testing.T) {
	dir := fakeRoot(t)
	a, gone := imageDir(t), imageDir(t)
	build(t, "g0", gone)
	build(t, "legacy", a)
	build(t, "adopted", a)
	for _, k := range []string{"legacy", "adopted"} {
		os.Remove(filepath.Join(dir, "ldcache", k, "image"))
	}
	use(t, "adopted", a).Release()
	os.RemoveAll(gone)
	build(t, "a0", a)
	if got := strings.Join(entries(t, dir), " "); got != "a0 adopted" {
		t.Fatalf("entries %q", got)
	}
}

// An entry evicted between a run's lookup and its hold is built again.
func TestUseRebuildsEvicted(t *testing.T) {
	fakeRoot(t)
	a := imageDir(t)
	build(t, "a0", a)
	e, _ := LdCacheEntry("a0")
	if e.Report == nil {
		t.Fatal("a0 not built")
	}
	drop(e.Dir) // another run's eviction
	_, built, h, err := UseLdCache(e, files, BuildLog{Image: a})
	defer h.Release()
	if err != nil || !built {
		t.Fatalf("built %v, %v", built, err)
	}
	if _, err := os.Stat(e.Cache); err != nil {
		t.Fatal(err)
	}
}

// Runs that use one entry while others build and evict around it: every
// run finds its files while it holds them, and the bound holds at the end.
func TestUseWhileEvicting(t *testing.T) {
	dir := fakeRoot(t)
	a := imageDir(t)
	var wg sync.WaitGroup
	var next atomic.Int32
	stop := make(chan struct{})
	for range 3 { // runs of one entry
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				e, err := LdCacheEntry("shared")
				if err != nil {
					t.Error(err)
					return
				}
				_, _, h, err := UseLdCache(e, files, BuildLog{Image: a})
				if err != nil {
					t.Error(err)
					return
				}
				if data, err := os.ReadFile(e.Cache); err != nil || string(data) != "cache" {
					t.Errorf("a held entry: %q %v", data, err)
				}
				h.Release()
			}
		}()
	}
	var builders sync.WaitGroup
	for range 4 { // runs that build new entries of the image
		builders.Add(1)
		go func() {
			defer builders.Done()
			for range 10 {
				e, err := LdCacheEntry(fmt.Sprintf("k%d", next.Add(1)))
				if err == nil {
					var h *Hold
					_, _, h, err = UseLdCache(e, files, BuildLog{Image: a})
					h.Release()
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	builders.Wait()
	close(stop)
	wg.Wait()
	build(t, "last", a)
	if got := entries(t, dir); len(got) > keepPerImage {
		t.Fatalf("%d entries of one image after the builds: %q", len(got), got)
	}
}
