package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

// debian is the debootstrapped Debian 12 image that ci/setup.sh caches.
func debian(t *testing.T, suite string) string {
	t.Helper()
	cache := os.Getenv("MPIWRAP_CI_CACHE")
	if cache == "" {
		cache = "/var/cache/mpiwrap-ci"
	}
	img := filepath.Join(cache, "images", suite)
	_, err := os.Stat(filepath.Join(img, "opt/mpiwrap-test/mpich/hello"))
	testreq.Require(t, err == nil, "Debian "+suite+" image at "+img+" (ci/images/build-debian.sh "+suite+")")
	return img
}

const helloOut = "hello size=4 sum=6"

func TestHydraMPICHHello(t *testing.T) {
	testreq.Require(t, have("mpiexec.mpich"), "mpiexec.mpich")
	img := debian(t, "bookworm")
	for _, image := range []string{img, img + ".sqfs"} {
		t.Run(filepath.Base(image), func(t *testing.T) {
			forEach(t, func(t *testing.T, a account) {
				r := must(t, runAs(t, a, work, nil, 120*time.Second, "mpiexec.mpich", "-n", "4", bin, image,
					"/opt/mpiwrap-test/mpich/hello"))
				if strings.TrimSpace(r.stdout) != helloOut {
					t.Fatalf("want %q, got %s", helloOut, r)
				}
				noLeftovers(t, a)
			})
		})
	}
}

// Without a shared namespace MPICH's UCX shared memory fails in MPI_Init:
// the reason ranks share one.
func TestHydraMPICHFailsWithoutJoin(t *testing.T) {
	testreq.Require(t, have("mpiexec.mpich"), "mpiexec.mpich")
	img := debian(t, "bookworm")
	forEach(t, func(t *testing.T, a account) {
		r := runAs(t, a, work, nil, 120*time.Second, "mpiexec.mpich", "-n", "4", bin, "--no-join", img,
			"/opt/mpiwrap-test/mpich/hello")
		if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "Shared memory error") {
			t.Fatalf("want MPI_Init to fail with a shared memory error, got %s", r)
		}
	})
}
