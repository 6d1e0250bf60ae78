package hostlib

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
	"github.com/mpiwrap/mpiwrap/hostlib/profile"
)

func TestCacheKey(t *testing.T) {
	a := FileIdentity{Path: "/l/a.so", Size: 10, MtimeNs: 1, Inode: 7, Dev: 1}
	b := FileIdentity{Path: "/l/b.so", Size: 20, MtimeNs: 2, Inode: 8, Dev: 1}
	base := CacheKey("img1", "/.mpiwrap/lib", []string{"mpich", "verbs"}, []FileIdentity{a, b})
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(base) {
		t.Fatalf("key %q is not 64 hex digits", base)
	}
	same := CacheKey("img1", "/.mpiwrap/lib", []string{"mpich", "verbs"}, []FileIdentity{b, a})
	if same != base {
		t.Fatal("key depends on the order of file identities")
	}
	changed := func(f func(*FileIdentity)) []FileIdentity {
		c := a
		f(&c)
		return []FileIdentity{c, b}
	}
	others := map[string]string{
		"image":         CacheKey("img2", "/.mpiwrap/lib", []string{"mpich", "verbs"}, []FileIdentity{a, b}),
		"inject dir":    CacheKey("img1", "/.x/lib", []string{"mpich", "verbs"}, []FileIdentity{a, b}),
		"profile order": CacheKey("img1", "/.mpiwrap/lib", []string{"verbs", "mpich"}, []FileIdentity{a, b}),
		"profile split": CacheKey("img1", "/.mpiwrap/lib", []string{"mpichverbs"}, []FileIdentity{a, b}),
		"size":          CacheKey("img1", "/.mpiwrap/lib", []string{"mpich", "verbs"}, changed(func(f *FileIdentity) { f.Size++ })),
		"mtime":         CacheKey("img1", "/.mpiwrap/lib", []string{"mpich", "verbs"}, changed(func(f *FileIdentity) { f.MtimeNs++ })),
		"inode":         CacheKey("img1", "/.mpiwrap/lib", []string{"mpich", "verbs"}, changed(func(f *FileIdentity) { f.Inode++ })),
		"path":          CacheKey("img1", "/.mpiwrap/lib", []string{"mpich", "verbs"}, changed(func(f *FileIdentity) { f.Path = "/l/c.so" })),
		"fewer files":   CacheKey("img1", "/.mpiwrap/lib", []string{"mpich", "verbs"}, []FileIdentity{a}),
	}
	for name, k := range others {
		t.Run(name, func(t *testing.T) {
			if k == base {
				t.Fatalf("changing the %s does not change the key", name)
			}
		})
	}
}

func TestResolutionKeyFollowsFiles(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "libx.so.1")
	writeFile(t, f, "one")
	src := filepath.Join(dir, "p.toml")
	writeFile(t, src, "")
	res := &profile.Resolution{InjectDir: "/.mpiwrap/lib",
		Profiles: []profile.ProfileRef{{Name: "p", Source: src}},
		Files:    []profile.File{{Real: f, Dest: "/.mpiwrap/lib/libx.so.1"}}}
	k1, err := ResolutionKey("img", res, "/")
	if err != nil {
		t.Fatal(err)
	}
	if k2, _ := ResolutionKey("img", res, "/"); k2 != k1 {
		t.Fatal("key is not stable")
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(src, later, later); err != nil {
		t.Fatal(err)
	}
	if k3, _ := ResolutionKey("img", res, "/"); k3 == k1 {
		t.Fatal("editing the profile file does not change the key")
	}
	if err := os.Remove(f); err != nil {
		t.Fatal(err)
	}
	if _, err := ResolutionKey("img", res, "/"); err == nil {
		t.Fatal("a vanished host file gave a key")
	}
	ids, err := Identities(elfdeps.Root(dir), []string{"/p.toml", "/p.toml"})
	if err != nil || len(ids) != 1 || ids[0].Inode == 0 || ids[0].Path != "/p.toml" {
		t.Fatalf("Identities = %+v, %v", ids, err)
	}
}
