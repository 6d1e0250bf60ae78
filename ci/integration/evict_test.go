package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

// ldcacheEntries lists a's ld.so cache entries for image: key to path.
func ldcacheEntries(t *testing.T, a account, image string) map[string]string {
	t.Helper()
	dir := filepath.Join(fmt.Sprintf("/var/tmp/mpiwrap-%d", a.uid), "ldcache")
	ents, _ := os.ReadDir(dir)
	got := map[string]string{}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".evict-") {
			t.Errorf("left in %s: %s", dir, e.Name())
		}
		if data, err := os.ReadFile(filepath.Join(dir, e.Name(), "image")); err == nil && string(data) == image {
			got[e.Name()] = filepath.Join(dir, e.Name())
		}
	}
	return got
}

// The ld.so cache keeps the newest few entries of an image: runs that each
// need a new entry of one image (a different command in it, so a different
// key), some at once, leave at most 4; and a job whose entry they evict
// meanwhile keeps working with the injected stack it bound.
func TestLdCacheEviction(t *testing.T) {
	testreq.Require(t, have("mpiexec.mpich"), "mpiexec.mpich")
	img := debian(t, "bookworm")
	real := hostLibmpich(t)
	forEach(t, func(t *testing.T, a account) {
		freshCache(t, a)
		dir := userDir(t, a)
		// A job that waits, with its container built, until the others
		// have evicted its entry, then starts MPI.
		ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
		defer cancel()
		cmd := cmdAs(ctx, a, dir, nil, "mpiexec.mpich", "-n", "2", bin, "--profile", "mpich", img, "sh", "-c",
			"echo r >> ready; while [ ! -e go ]; do sleep 0.05; done; exec /opt/mpiwrap-test/mpich/hello maps")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		defer os.WriteFile(filepath.Join(dir, "go"), nil, 0o644) // lets the job end, should the test fail
		var first map[string]string
		eventually(t, 60*time.Second, "the waiting job's ld.so cache entry", func() bool {
			first = ldcacheEntries(t, a, img)
			return len(first) == 1
		})
		eventually(t, 30*time.Second, "the waiting job's ranks in their container", func() bool {
			b, _ := os.ReadFile(filepath.Join(dir, "ready"))
			return strings.Count(string(b), "r\n") == 2
		})
		builds := ldcacheLog(a)
		// One by one, then three at once (each evicts what the others do
		// not hold at that moment), then one more, which evicts the rest.
		cmds := []string{"true", "echo", "env", "id", "uname", "date", "hostname", "nproc"}
		var wg sync.WaitGroup
		for i, c := range cmds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := mpiwrap(t, a, nil, "--profile", "mpich", img, "/usr/bin/"+c)
				if r.code != 0 {
					t.Errorf("%s: %s", c, r)
				}
			}()
			if i < 4 || i >= 6 {
				wg.Wait()
			}
		}
		if got := ldcacheLog(a) - builds; got != len(cmds) {
			t.Errorf("%d ld.so cache builds for %d new entries", got, len(cmds))
		}
		now := ldcacheEntries(t, a, img)
		if len(now) > 4 {
			t.Fatalf("%d entries of one image, want at most 4: %v", len(now), now)
		}
		for k := range first {
			if _, ok := now[k]; ok {
				t.Fatalf("the waiting job's entry %s was not evicted: %v", k, now)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("the job whose entry was evicted: %v\n%s", err, out.String())
		}
		if !strings.Contains(out.String(), "hello size=2 sum=1") || strings.Count(out.String(), "lib=/.mpiwrap/host"+real+"\n") != 2 {
			t.Fatalf("the job whose entry was evicted should run on the injected %s:\n%s", real, out.String())
		}
	})
}
