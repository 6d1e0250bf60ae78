// Command bench measures mpiwrap against its baselines side by side, in one
// run, and prints the ratios with the targets the issues set. Run it as root
// through `make bench` (after ci/setup.sh): commands that the targets say
// run unprivileged run as the test user.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// env is what every benchmark may use.
type env struct {
	bin     string // the mpiwrap under test
	debian  string // the Debian 12 image
	hello   string // MPICH hello built on the host, for native runs
	relay   string // ci/progs/pmirelay, the floor for a PMI proxy
	user    *syscall.Credential
	home    string
	name    string
	work    string
	reps    int
	results []result
}

// result is one line of the report.
type result struct {
	name, unit      string
	value, baseline float64 // means
	ratio           float64 // value/baseline; 0 when only reported
	target          string
	pass            bool
	note            string
}

func main() {
	reps := flag.Int("reps", 20, "repetitions of each timed pair")
	bin := flag.String("mpiwrap", "bin/mpiwrap", "mpiwrap binary to measure")
	only := flag.String("run", "", "run only the benchmarks whose names match this regexp ("+benchNames()+")")
	flag.Parse()
	pick, err := regexp.Compile(*only)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: -run %q: %v\n", *only, err)
		os.Exit(2)
	}
	e, err := setup(*bin, *reps)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(e.work)
	for _, b := range benches {
		if pick.MatchString(b.name) {
			b.run(e)
		}
	}
	report(e.results)
}

var benches = []struct {
	name string
	run  func(*env)
}{
	{"startup", benchStartup}, {"hello4", benchHello4}, {"true256", benchTrue256}, {"true1024", benchTrue1024},
	{"warm-profiles", benchWarmProfiles}, {"cold-profiles", benchColdProfiles},
	{"one-build64", benchOneBuild64}, {"proxy-init", benchProxyInit},
	{"fence", benchFence}, {"proxy-rss", benchProxyRSS}, {"cluster", benchCluster},
	{"pmix-server", benchPMIxServer},
}

func benchNames() string {
	var names []string
	for _, b := range benches {
		names = append(names, b.name)
	}
	return strings.Join(names, ", ")
}

func setup(bin string, reps int) (*env, error) {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("/var/tmp", "mpiwrap-bench-")
	if err != nil {
		return nil, err
	}
	os.Chmod(work, 0o755)
	e := &env{debian: "/var/cache/mpiwrap-ci/images/bookworm", work: work, reps: reps,
		bin: filepath.Join(work, "mpiwrap"), hello: filepath.Join(work, "hello"),
		relay: filepath.Join(work, "pmirelay")}
	if c := os.Getenv("MPIWRAP_CI_CACHE"); c != "" {
		e.debian = filepath.Join(c, "images/bookworm")
	}
	name := os.Getenv("MPIWRAP_TEST_USER")
	if name == "" {
		name = "testu"
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("test user %s: %w (run ci/setup.sh)", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	e.name = name
	e.user, e.home = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{uint32(gid)}}, u.HomeDir
	for _, step := range [][]string{
		{"cp", abs, e.bin},
		{"cp", filepath.Join(filepath.Dir(abs), "mpiwrap-pmix"), filepath.Join(work, "mpiwrap-pmix")},
		{"mpicc.mpich", "-O2", "-o", e.hello, "ci/progs/hello.c"},
		{"cc", "-O2", "-o", e.relay, "ci/progs/pmirelay.c"},
		{"chmod", "-R", "a+rX", work},
	} {
		if out, err := exec.Command(step[0], step[1:]...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%q: %v\n%s", step, err, out)
		}
	}
	return e, nil
}

// run times one command as the test user.
func (e *env) run(args ...string) (time.Duration, error) { return e.runEnv(nil, args...) }

// runEnv is run with more variables in the environment.
func (e *env) runEnv(extra []string, args ...string) (time.Duration, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = e.work
	cmd.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + e.home, "USER=" + e.name, "LANG=C"}, extra...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: e.user}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, fmt.Errorf("%q: %v\n%s", args, err, out.String())
	}
	return d, nil
}

// pair runs a and b alternately, reps times after one warm-up each, and
// returns the times in seconds.
func (e *env) pair(reps int, a, b []string) (ta, tb []float64, err error) {
	for i := -1; i < reps; i++ {
		da, err := e.run(a...)
		if err != nil {
			return nil, nil, err
		}
		db, err := e.run(b...)
		if err != nil {
			return nil, nil, err
		}
		if i >= 0 {
			ta, tb = append(ta, da.Seconds()), append(tb, db.Seconds())
		}
	}
	return ta, tb, nil
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

func median(x []float64) float64 {
	y := slices.Clone(x)
	slices.Sort(y)
	return y[len(y)/2]
}

func (e *env) fail(name string, err error) {
	e.results = append(e.results, result{name: name, note: "error: " + err.Error()})
}

// ratioResult records a timed pair against a ratio target: the ratio of
// the medians (the machine is shared and noisy; a mean follows its
// outliers), with the means in the note.
func (e *env) ratioResult(name, target string, limit float64, ta, tb []float64) {
	r := result{name: name, unit: "ms", value: median(ta) * 1e3, baseline: median(tb) * 1e3, target: target}
	r.ratio = r.value / r.baseline
	r.pass = r.ratio <= limit
	r.note = fmt.Sprintf("medians; means %.2f/%.2f ms", mean(ta)*1e3, mean(tb)*1e3)
	e.results = append(e.results, r)
}

func report(results []result) {
	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "benchmark\tmpiwrap\tbaseline\tratio\ttarget\tresult\tnote")
	failed := false
	for _, r := range results {
		status := "PASS"
		switch {
		case r.target == "":
			status = "report"
		case !r.pass:
			status, failed = "FAIL", true
		}
		ratio := "-"
		if r.ratio > 0 {
			ratio = fmt.Sprintf("%.2f", r.ratio)
		}
		if r.target != "" && strings.HasPrefix(r.target, "report") {
			status = "report"
		}
		fmt.Fprintf(w, "%s\t%.2f %s\t%.2f %s\t%s\t%s\t%s\t%s\n", r.name, r.value, r.unit, r.baseline, r.unit, ratio, r.target, status, r.note)
	}
	w.Flush()
	if failed {
		fmt.Println("some targets were missed")
	}
}
