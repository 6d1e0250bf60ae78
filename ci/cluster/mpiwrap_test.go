package cluster_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/ci/cluster"
	"github.com/mpiwrap/mpiwrap/internal/procs"
	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

// images are the Debian test images (directory and SquashFS), which every
// test host sees at the same path.
func images(t *testing.T) []string {
	t.Helper()
	dir := os.Getenv("MPIWRAP_CI_IMAGES")
	if dir == "" {
		dir = "/var/cache/mpiwrap-ci/images"
	}
	var out []string
	for _, img := range []string{"bookworm", "bookworm.sqfs"} {
		p := filepath.Join(dir, img)
		_, err := os.Stat(p)
		testreq.Require(t, err == nil, "the Debian test image "+p+" (ci/setup.sh builds it)")
		out = append(out, p)
	}
	return out
}

// wrapped is a runner whose directory, under the shared directory, holds
// an mpiwrap built for the test (and its PMIx helper) and native builds of
// the OSU programs.
type wrapped struct {
	runner
	bin string
}

func newWrapped(t *testing.T, c *cluster.Cluster) wrapped {
	t.Helper()
	r := newRunner(t, c, requirements(t))
	bin := filepath.Join(r.dir, "mpiwrap")
	if out, err := exec.Command("make", "-s", "-C", "../..", "build", "BIN="+bin).CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	if err := exec.Command("chmod", "-R", "a+rX", r.dir).Run(); err != nil {
		t.Fatal(err)
	}
	return wrapped{r, bin}
}

// cell is one launcher and MPI across the two hosts, 2 ranks on each.
type cell struct {
	name  string
	mpich bool // the image's MPICH (else its Open MPI)
	argv  func(c *cluster.Cluster, cmd ...string) []string
}

var cells = []cell{
	{"hydra/mpich", true, func(c *cluster.Cluster, cmd ...string) []string { return c.Hydra(4, []string{"h1:2", "h2:2"}, cmd...) }},
	{"srun-pmi2/mpich", true, func(c *cluster.Cluster, cmd ...string) []string { return c.Srun("pmi2", 2, 4, cmd...) }},
	{"srun-pmix/mpich-proxy", true, func(c *cluster.Cluster, cmd ...string) []string { return c.Srun("pmix", 2, 4, cmd...) }},
	{"mpirun/mpich-proxy", true, func(c *cluster.Cluster, cmd ...string) []string { return c.Mpirun("h1:2,h2:2", cmd...) }},
	{"srun-pmix/openmpi", false, func(c *cluster.Cluster, cmd ...string) []string { return c.Srun("pmix", 2, 4, cmd...) }},
	{"mpirun/openmpi", false, func(c *cluster.Cluster, cmd ...string) []string { return c.Mpirun("h1:2,h2:2", cmd...) }},
}

func (k cell) program() string {
	if k.mpich {
		return "/opt/mpiwrap-test/mpich/hello"
	}
	return "/opt/mpiwrap-test/openmpi/hello"
}

// TestClusterMpiwrap runs MPI jobs through mpiwrap across two test hosts,
// two ranks on each, as the test user: every launcher and MPI, with the
// directory and the SquashFS image; one namespace per host; traffic over
// the veths; the ld.so cache built once per host; a rank killed on one
// host ends the job on both, leaving nothing behind.
func TestClusterMpiwrap(t *testing.T) {
	imgs := images(t)
	c, err := cluster.Up(2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Down() })
	w := newWrapped(t, c)
	t.Cleanup(func() { cluster.KillStray(w.dir) })
	for _, img := range imgs {
		for _, k := range cells {
			t.Run(filepath.Base(img)+"/"+k.name, func(t *testing.T) {
				hello(t, w.runner, k.mpich, nil, k.argv(c, w.bin, img, k.program()))
			})
		}
	}
	t.Run("namespace-per-host", func(t *testing.T) { testNamespacePerHost(t, c, w, imgs) })
	t.Run("profiles-one-build-per-host", func(t *testing.T) { testProfilesPerHost(t, c, w, imgs[0]) })
	t.Run("exchange-crosses-veth", func(t *testing.T) { testWrappedExchange(t, c, w, imgs[0]) })
	t.Run("rank-killed-ends-job", func(t *testing.T) { testKilledRank(t, c, w, imgs[0]) })
	for _, h := range c.Hosts() {
		if left, err := c.Leftovers(h); err != nil || len(unexplained(t, h, left)) != 0 {
			t.Errorf("left on %s: %q (%v)", h, left, err)
		}
	}
}

// testNamespacePerHost: the two ranks of a host share one mount namespace,
// and the hosts' differ, for either image.
func testNamespacePerHost(t *testing.T, c *cluster.Cluster, w wrapped, imgs []string) {
	for _, img := range imgs {
		out := w.must(t, nil, c.Hydra(4, []string{"h1:2", "h2:2"}, w.bin, img, "sh", "-c",
			`echo "$(hostname) $(readlink /proc/self/ns/mnt)"`)...)
		ns := map[string]map[string]bool{}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(l)
			if len(f) != 2 {
				t.Fatalf("%s: %q", img, out)
			}
			if ns[f[0]] == nil {
				ns[f[0]] = map[string]bool{}
			}
			ns[f[0]][f[1]] = true
		}
		if len(ns) != 2 || len(ns["h1"]) != 1 || len(ns["h2"]) != 1 {
			t.Fatalf("%s: want one namespace on each of h1 and h2, got %v", img, ns)
		}
		for n := range ns["h1"] {
			if ns["h2"][n] {
				t.Fatalf("%s: h1 and h2 share the namespace %s", img, n)
			}
		}
	}
}

// testProfilesPerHost: with --profile mpich,verbs the host MPICH is in
// every rank, and each host builds its ld.so cache once, in its own node
// cache, logged there.
func testProfilesPerHost(t *testing.T, c *cluster.Cluster, w wrapped, img string) {
	hello(t, w.runner, true, nil, c.Hydra(4, []string{"h1:2", "h2:2"}, w.bin, "--profile", "mpich,verbs", img,
		"/opt/mpiwrap-test/mpich/hello"))
	hello(t, w.runner, true, nil, c.Hydra(4, []string{"h1:2", "h2:2"}, w.bin, "--profile", "mpich,verbs", img,
		"/opt/mpiwrap-test/mpich/hello")) // warm: no second build
	for _, h := range c.Hosts() {
		log := w.must(t, nil, c.Exec(h, "sh", "-c", fmt.Sprintf("cat /var/tmp/mpiwrap-%d*/ldcache.log", w.uid))...)
		if n := strings.Count(log, "built ld.so cache"); n != 1 {
			t.Errorf("%s: %d ld.so cache builds logged, want 1:\n%s", h, n, log)
		}
		w.must(t, nil, c.Exec(h, "sh", "-c", fmt.Sprintf("rm -rf /var/tmp/mpiwrap-%d*", w.uid))...)
	}
}

// testWrappedExchange: 1 MiB messages between ranks on h1 and h2, in the
// container, cross the veths.
func testWrappedExchange(t *testing.T, c *cluster.Cluster, w wrapped, img string) {
	_, tx1 := veth(t, c, "h1")
	rx2, _ := veth(t, c, "h2")
	row := regexp.MustCompile(`(?m)^1048576 +[0-9.]+$`)
	res := w.mpich(t, nil, row.MatchString, c.Hydra(2, []string{"h1", "h2"}, w.bin, img,
		"/opt/mpiwrap-test/mpich/osu_bw", "-i", "2", "-x", "1", "-W", "4", "-m", "1048576:1048576")...)
	if res.err != nil || !row.MatchString(res.out) {
		t.Fatalf("osu_bw: %v\n%s\n%s", res.err, res.out, res.errs)
	}
	_, tx1b := veth(t, c, "h1")
	rx2b, _ := veth(t, c, "h2")
	t.Logf("osu_bw h1 -> h2 through mpiwrap: h1 sent %d, h2 received %d bytes over the veths", tx1b-tx1, rx2b-rx2)
	if tx1b-tx1 < mib || rx2b-rx2 < mib {
		t.Fatal("want >= 1 MiB over the veths")
	}
}

// testKilledRank: SIGKILL to a rank on h2 while all ranks wait ends the
// job on both hosts within bounds, and no rank is left on either.
func testKilledRank(t *testing.T, c *cluster.Cluster, w wrapped, img string) {
	done := make(chan result, 1)
	go func() {
		done <- w.run(90*time.Second, nil, nil, c.Hydra(4, []string{"h1:2", "h2:2"}, w.bin, img,
			"/opt/mpiwrap-test/mpich/hello", "sleep", "60")...)
	}()
	var victim int
	deadline := time.Now().Add(30 * time.Second)
	for victim == 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		victim = rankOn(c, "h2")
	}
	if victim == 0 {
		t.Fatal("no rank of the job on h2 within 30 s")
	}
	syscall.Kill(victim, syscall.SIGKILL)
	select {
	case res := <-done:
		if res.err == nil || res.killed {
			t.Fatalf("the job ended with %v (stopped: %v) after a rank was killed", res.err, res.killed)
		}
	case <-time.After(45 * time.Second):
		t.Fatal("the job did not end within 45 s of a rank's death")
	}
	for _, h := range c.Hosts() {
		if p := rankOn(c, h); p != 0 {
			t.Errorf("rank %d still runs on %s", p, h)
		}
	}
}

// rankOn finds a hello rank running in host's network namespace.
func rankOn(c *cluster.Cluster, host string) int {
	want, err := os.Readlink("/run/netns/mw-" + host)
	if err != nil {
		var st syscall.Stat_t
		if syscall.Stat("/run/netns/mw-"+host, &st) != nil {
			return 0
		}
		want = "net:[" + strconv.FormatUint(st.Ino, 10) + "]"
	}
	pids := procs.All()
	sort.Ints(pids)
	for _, p := range pids {
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		if !strings.HasPrefix(string(cmd), "/opt/mpiwrap-test/mpich/hello\x00") {
			continue
		}
		if ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", p)); ns == want {
			return p
		}
	}
	return 0
}
