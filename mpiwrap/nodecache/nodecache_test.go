package nodecache

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/hostlib/abi"
	"github.com/mpiwrap/mpiwrap/internal/fileid"
	"github.com/mpiwrap/mpiwrap/mpiwrap/nsexec"
	"golang.org/x/sys/unix"
)

// A plan that Go saves is the plan C replays, byte for byte, and C stops
// replaying it once a dependency changes: the two halves agree on the
// format, the key and the file identities.
func TestCReadsGoPlan(t *testing.T) {
	dep := filepath.Join(t.TempDir(), "dep")
	if err := os.WriteFile(dep, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cwd, err := unix.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	argv := []string{"mpiwrap", "/img", "true", "nodecache-test-" + t.Name() + time.Now().String()}
	plan := []byte("\x01\x00\x00\x00plan bytes\x00with a NUL")
	deps := [][2]string{{dep, fileid.Of(dep)}, {"/tmp", fileid.Kind("/tmp")}, {"/nonexistent-mpiwrap", fileid.Of("/nonexistent-mpiwrap")}}
	SavePlan(plan, deps, argv, os.Environ(), cwd)
	name := filepath.Join(Root(), planName(argv, planEnv(os.Environ()), cwd))
	t.Cleanup(func() { os.Remove(name) })
	if _, err := os.Stat(name); err != nil {
		t.Fatalf("SavePlan wrote no %s: %v", name, err)
	}
	got, ok := nsexec.CachedPlanC(argv)
	if !ok || !bytes.Equal(got, plan) {
		t.Fatalf("C read %q (%v), Go wrote %q", got, ok, plan)
	}
	// A variable planning doesn't read is no input: the plan still
	// applies (its environment program runs on the new environment).
	t.Setenv("MPIWRAP_NODECACHE_TEST", "another value")
	if got, ok := nsexec.CachedPlanC(argv); !ok || !bytes.Equal(got, plan) {
		t.Fatal("C no longer replays the plan after an unrelated variable changed")
	}
	// A planning input is.
	t.Setenv("PMIX_NAMESPACE", "a launcher appeared")
	if _, ok := nsexec.CachedPlanC(argv); ok {
		t.Fatal("C replayed a plan saved without a launcher under one")
	}
	os.Unsetenv("PMIX_NAMESPACE")
	if _, ok := nsexec.CachedPlanC(argv); !ok {
		t.Fatal("C no longer reads the plan in its own environment")
	}
	time.Sleep(10 * time.Millisecond)
	if err := os.WriteFile(dep, []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := nsexec.CachedPlanC(argv); ok {
		t.Fatal("C replayed a plan whose dependency changed")
	}
	if _, err := os.Stat(name); !os.IsNotExist(err) {
		t.Fatalf("the stale plan is still there: %v", err)
	}
}

// The plan cache keeps the most recently used entries, up to maxPlans.
func TestPlanCacheBounded(t *testing.T) {
	dir := fakeRoot(t)
	env := []string{"HOME=/h", "PATH=/bin"}
	first := []string{"mpiwrap", "/img", "true", "0"}
	SavePlan([]byte("plan"), nil, first, env, "/")
	old := time.Now().Add(-time.Hour)
	for i := 1; i < maxPlans+20; i++ {
		argv := []string{"mpiwrap", "/img", "true", strconv.Itoa(i)}
		SavePlan([]byte("plan"), nil, argv, env, "/")
		if i == 5 { // a run of the first one meanwhile: recently used
			os.Chtimes(filepath.Join(dir, planName(first, env, "/")), time.Now(), time.Now())
		} else {
			os.Chtimes(filepath.Join(dir, planName(argv, env, "/")), old.Add(time.Duration(i)*time.Second), old.Add(time.Duration(i)*time.Second))
		}
	}
	plans, _ := filepath.Glob(filepath.Join(dir, "*.plan"))
	if len(plans) > maxPlans {
		t.Fatalf("%d plans kept, want at most %d", len(plans), maxPlans)
	}
	if _, err := os.Stat(filepath.Join(dir, planName(first, env, "/"))); err != nil {
		t.Fatalf("the most recently used plan was evicted: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, planName([]string{"mpiwrap", "/img", "true", "1"}, env, "/"))); err == nil {
		t.Fatal("the least recently used plan was kept")
	}
}

// Only what planning reads goes into a cached plan: not the rest of the
// environment, secrets included.
func TestPlanStoresOnlyPlanningInputs(t *testing.T) {
	dir := fakeRoot(t)
	env := []string{"HOME=/h", "MY_SECRET_TOKEN=hunter2", "PATH=/bin", "PMIX_RANK=0", "OLDPWD=/x"}
	argv := []string{"mpiwrap", "/img", "true"}
	SavePlan([]byte("plan"), nil, argv, env, "/")
	data, err := os.ReadFile(filepath.Join(dir, planName(argv, planEnv(env), "/")))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"hunter2", "MY_SECRET_TOKEN", "OLDPWD"} {
		if strings.Contains(string(data), s) {
			t.Errorf("the plan file holds %q", s)
		}
	}
	for _, s := range []string{"HOME=/h", "PATH=/bin", "PMIX_RANK=0"} {
		if !strings.Contains(string(data), s) {
			t.Errorf("the plan file lacks the input %q", s)
		}
	}
}

func fakeRoot(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cache")
	old := root
	root = func() string { return dir }
	t.Cleanup(func() { root = old })
	return dir
}

// Looking an entry up changes nothing on disk.
func TestLdCacheEntryReadsOnly(t *testing.T) {
	dir := fakeRoot(t)
	e, err := LdCacheEntry("k1")
	if err != nil || e.Report != nil {
		t.Fatalf("entry %+v, %v", e, err)
	}
	if e.Dir != filepath.Join(dir, "ldcache", "k1") || e.Conf != filepath.Join(e.Dir, "ld.so.conf") {
		t.Fatalf("entry paths %+v", e)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Fatalf("LdCacheEntry made %s: %v", dir, err)
	}
}

// Concurrent ranks build an entry once; later lookups find it.
func TestEnsureLdCacheBuildsOnce(t *testing.T) {
	dir := fakeRoot(t)
	e, _ := LdCacheEntry("k2")
	var builds atomic.Int32
	build := func() (LdFiles, error) {
		builds.Add(1)
		time.Sleep(20 * time.Millisecond)
		return LdFiles{Conf: []byte("/.mpiwrap/lib\n"), Cache: []byte("cache"), Report: &abi.Report{}}, nil
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := EnsureLdCache(e, build, BuildLog{Image: "/img", Profiles: []string{"mpich"}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := builds.Load(); n != 1 {
		t.Fatalf("%d builds, want 1", n)
	}
	again, err := LdCacheEntry("k2")
	if err != nil || again.Report == nil {
		t.Fatalf("entry after build: %+v, %v", again, err)
	}
	if data, _ := os.ReadFile(again.Conf); string(data) != "/.mpiwrap/lib\n" {
		t.Fatalf("ld.so.conf holds %q", data)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "ldcache.log"))
	if strings.Count(string(log), "built ld.so cache") != 1 || !strings.Contains(string(log), "profiles mpich") {
		t.Fatalf("ldcache.log: %q", log)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("cache directory mode %v, %v", st.Mode(), err)
	}
}

// A cache directory someone else controls is refused, not used.
func TestLdCacheRefusesOpenDirectory(t *testing.T) {
	dir := fakeRoot(t)
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	// It is skipped: the cache is the next name of its series (squat_test.go).
	if e, err := LdCacheEntry("k3"); err != nil || e.Dir != filepath.Join(dir+".1", "ldcache", "k3") {
		t.Fatalf("got %+v, %v", e, err)
	}
}

// The C replay's file identities are fileid.Of's, for every kind of file
// and for times before 1970 and with nanoseconds that need padding.
func TestFileIdentityCMatchesGo(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old")
	if err := os.WriteFile(old, []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(old, time.Unix(1234567890, 5), time.Unix(-86400*3, 7)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{old, dir, "/dev/null", "/proc/self/exe", "/", filepath.Join(dir, "missing")} {
		if c, g := nsexec.FileIdentityC(p), fileid.Of(p); c != g {
			t.Errorf("%s: C %q, Go %q", p, c, g)
		}
	}
}
