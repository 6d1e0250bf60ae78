package cluster_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/ci/cluster"
)

// osuBW is a short 1 MiB bandwidth run: (2 + 1) iterations of a window of
// 4 messages, 12 MiB from rank 0 to rank 1.
var osuBW = []string{"osu_bw", "-i", "2", "-x", "1", "-W", "4", "-m", "1048576:1048576"}

const mib = 1 << 20

func prog(family string, argv []string) []string {
	return append([]string{"./" + family + "/" + argv[0]}, argv[1:]...)
}

// epCfg matches UCX's report of the transports of one endpoint
// configuration (UCX_LOG_LEVEL=info), by host.
var epCfg = regexp.MustCompile(`\[(h[0-9]+):\s*[0-9]+\s*:[0-9]+\].* ep_cfg\[[0-9]+\]: (.*)`)

func testHydra(t *testing.T, c *cluster.Cluster, r runner) {
	hosts := []string{"h1:2", "h2:2"}
	placement(t, r, c.Hydra(4, hosts, "hostname"))
	rx1, tx1 := veth(t, c, "h1")
	rx2, tx2 := veth(t, c, "h2")
	hello(t, r, true, nil, c.Hydra(4, hosts, "./mpich/hello"))
	rx1b, tx1b := veth(t, c, "h1")
	rx2b, tx2b := veth(t, c, "h2")
	t.Logf("hello 2x2 over the veths: h1 rx %d tx %d, h2 rx %d tx %d bytes", rx1b-rx1, tx1b-tx1, rx2b-rx2, tx2b-tx2)
	if rx1b == rx1 || tx1b == tx1 || rx2b == rx2 || tx2b == tx2 {
		t.Fatal("the job sent nothing over a host's veth")
	}
	// Each rank has one endpoint to itself, one to the other rank of its
	// host and two to the other host. UCX must take the other host for
	// another machine (tcp) and its own host's ranks for one (shared
	// memory: sysv, posix or cma).
	// UCX logs to stdout, and its DIAG lines say "error".
	res := r.mpich(t, []string{"UCX_LOG_LEVEL=info"}, func(out string) bool { return hasLine(out, helloOut) },
		c.Hydra(4, hosts, "./mpich/hello")...)
	out, errs := res.out, res.errs
	if res.err != nil || !hasLine(out, helloOut) {
		t.Fatalf("hello with UCX_LOG_LEVEL=info: %v\n%s\n%s", res.err, out, errs)
	}
	tcp, shm := map[string]bool{}, map[string]bool{}
	for _, m := range epCfg.FindAllStringSubmatch(out+errs, -1) {
		tcp[m[1]] = tcp[m[1]] || strings.Contains(m[2], "tcp/")
		shm[m[1]] = shm[m[1]] || regexp.MustCompile(`(sysv|posix|cma)/memory`).MatchString(m[2])
	}
	for _, h := range c.Hosts() {
		if !tcp[h] || !shm[h] {
			t.Fatalf("UCX on %s: tcp endpoints %v, shared-memory endpoints %v; want both:\n%s%s", h, tcp[h], shm[h], out, errs)
		}
	}
}

func testSrun(t *testing.T, c *cluster.Cluster, r runner, mpi, family string) {
	placement(t, r, c.Srun(mpi, 2, 4, "hostname"))
	hello(t, r, family == "mpich", nil, c.Srun(mpi, 2, 4, "./"+family+"/hello"))
}

func testMpirun(t *testing.T, c *cluster.Cluster, r runner) {
	placement(t, r, c.Mpirun("h1:2,h2:2", "hostname"))
	hello(t, r, false, nil, c.Mpirun("h1:2,h2:2", "./openmpi/hello"))
}

// testExchange: 1 MiB messages from a rank on h1 to one on h2 cross the
// veths, under MPICH (UCX) and Open MPI.
func testExchange(t *testing.T, c *cluster.Cluster, r runner) {
	jobs := map[string][]string{
		"mpich":   c.Hydra(2, []string{"h1", "h2"}, prog("mpich", osuBW)...),
		"openmpi": c.Mpirun("h1:1,h2:1", prog("openmpi", osuBW)...),
	}
	for family, argv := range jobs {
		_, tx1 := veth(t, c, "h1")
		rx2, _ := veth(t, c, "h2")
		out := osu(t, r, family, nil, argv)
		_, tx1b := veth(t, c, "h1")
		rx2b, _ := veth(t, c, "h2")
		t.Logf("%s osu_bw h1 -> h2: h1 sent %d, h2 received %d bytes over the veths; %s",
			family, tx1b-tx1, rx2b-rx2, lastLine(out))
		if tx1b-tx1 < mib || rx2b-rx2 < mib {
			t.Fatalf("%s: want >= 1 MiB over the veths", family)
		}
	}
}

// testSameHost: two ranks on one host keep shared memory: 12 MiB between
// them move almost nothing over the host's veth or its loopback, while
// the same run forced onto TCP (UCX_TLS=tcp,self) moves it over loopback,
// so those counters would have shown it.
func testSameHost(t *testing.T, c *cluster.Cluster, r runner) {
	cases := []struct {
		family string
		env    []string
		argv   []string
		viaTCP bool
	}{
		{"mpich", nil, c.Hydra(2, []string{"h1:2"}, prog("mpich", osuBW)...), false},
		{"openmpi", nil, c.Mpirun("h1:2", prog("openmpi", osuBW)...), false},
		{"mpich", []string{"UCX_TLS=tcp,self"}, c.Hydra(2, []string{"h1:2"}, prog("mpich", osuBW)...), true},
	}
	for _, k := range cases {
		rx, tx := veth(t, c, "h1")
		lo := loBytes(t, c, r)
		out := osu(t, r, k.family, k.env, k.argv)
		rxb, txb := veth(t, c, "h1")
		lob := loBytes(t, c, r)
		name := strings.TrimSpace(k.family + " " + strings.Join(k.env, " "))
		t.Logf("%s osu_bw on h1 alone: veth %d bytes, loopback %d bytes; %s", name, rxb-rx+txb-tx, lob-lo, lastLine(out))
		if rxb-rx+txb-tx > 256<<10 {
			t.Errorf("%s: %d bytes over h1's veth for a job inside h1", name, rxb-rx+txb-tx)
		}
		if moved := lob - lo; k.viaTCP != (moved >= mib) || (!k.viaTCP && moved > 256<<10) {
			t.Errorf("%s: %d bytes over h1's loopback; over TCP: %v", name, moved, k.viaTCP)
		}
	}
}

// osu runs an osu_bw job of family (mpich or openmpi) and returns its
// output, which must have the 1 MiB row.
func osu(t *testing.T, r runner, family string, env, argv []string) string {
	t.Helper()
	row := regexp.MustCompile(`(?m)^1048576 +[0-9.]+$`)
	var res result
	if family == "mpich" {
		res = r.mpich(t, env, row.MatchString, argv...)
	} else {
		res = r.run(90*time.Second, nil, env, argv...)
	}
	if res.err != nil || !row.MatchString(res.out) {
		t.Fatalf("%q: %v\nstdout:\n%s\nstderr:\n%s", argv, res.err, res.out, res.errs)
	}
	return res.out
}

func veth(t *testing.T, c *cluster.Cluster, host string) (rx, tx uint64) {
	t.Helper()
	rx, tx, err := c.VethBytes(host)
	if err != nil {
		t.Fatal(err)
	}
	return rx, tx
}

// loBytes is what h1 has sent over its own loopback (its own sysfs).
func loBytes(t *testing.T, c *cluster.Cluster, r runner) uint64 {
	t.Helper()
	out := r.must(t, nil, c.Exec("h1", "cat", "/sys/class/net/lo/statistics/tx_bytes")...)
	n, err := strconv.ParseUint(strings.TrimSpace(out), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func lastLine(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return l[len(l)-1]
}

// assertNothingLeft: after Down, no namespace, link, mount or Slurm
// daemon of the cluster is left.
func assertNothingLeft(t *testing.T) {
	out, _ := exec.Command("ip", "netns", "list").Output()
	if regexp.MustCompile(`(?m)^mw-h`).Match(out) {
		t.Errorf("netns left: %s", out)
	}
	out, _ = exec.Command("ip", "-o", "link", "show").Output()
	if m := regexp.MustCompile(`(?m)^[0-9]+: (mwbr0|mw-h[0-9]+)[@:]`).FindAll(out, -1); len(m) > 0 {
		t.Errorf("links left: %s", m)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), "/run/mpiwrap-cluster") {
		t.Errorf("mounts left under /run/mpiwrap-cluster")
	}
	if _, err := os.Stat("/run/mpiwrap-cluster"); err == nil {
		t.Errorf("/run/mpiwrap-cluster is left")
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), "/var/lib/mpiwrap-cluster/slurm/slurm.conf") {
			t.Errorf("process left: %s: %q", p, b)
		}
	}
}
