package integration

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// `mpiwrap check` plans and changes nothing: with no node cache yet it
// makes none (no directory, no lock, no ld.so cache entry), says that a run
// would build the ld.so cache, and still shows the ABI verdict; the run
// then builds it, and a later check reports it reused.
func TestCheckWritesNothing(t *testing.T) {
	img := debian(t, "bookworm")
	hostLibmpich(t)
	forEach(t, func(t *testing.T, a account) {
		cache := fmt.Sprintf("/var/tmp/mpiwrap-%d", a.uid)
		saved := cache + ".saved-by-test"
		os.RemoveAll(saved)
		if err := os.Rename(cache, saved); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			os.RemoveAll(cache)
			os.Rename(saved, cache)
		})
		r := must(t, mpiwrap(t, a, nil, "check", "--profile", "mpich,verbs", img, "/opt/mpiwrap-test/mpich/hello"))
		if _, err := os.Lstat(cache); !os.IsNotExist(err) {
			t.Fatalf("check made %s (%v)", cache, err)
		}
		for _, want := range []string{"not built yet: a run builds them in " + cache + "/ldcache/", "ABI check: allowed"} {
			if !strings.Contains(r.stdout, want) {
				t.Fatalf("check output lacks %q:\n%s", want, r.stdout)
			}
		}
		must(t, mpiwrap(t, a, nil, "--profile", "mpich,verbs", img, "true"))
		if n := ldcacheLog(a); n != 1 {
			t.Fatalf("%d ld.so cache builds logged after one run, want 1", n)
		}
		r = must(t, mpiwrap(t, a, nil, "check", "--profile", "mpich,verbs", img, "true"))
		if !strings.Contains(r.stdout, "ld.so.conf and ld.so.cache reused") {
			t.Fatalf("check after a run does not report the cache reused:\n%s", r.stdout)
		}
	})
}
