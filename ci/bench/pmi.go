package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/procs"
)

// output runs a command as the test user and returns its stdout.
func (e *env) output(args ...string) (string, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = e.work
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + e.home, "USER=" + e.name, "LANG=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: e.user}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%q: %v\n%s", args, err, errb.String())
	}
	return out.String(), nil
}

var initFinalize = regexp.MustCompile(`init-finalize (\d+)`)

// benchProxyInit: MPI_Init-to-Finalize of the 4-rank program under hydra,
// through the proxy against passthrough (<= 1.1). Also at 2 ranks: with 4
// ranks and 4 proxies on a 2-core machine, MPICH's spinning shared-memory
// barrier in MPI_Init starves the proxies (see README, Performance).
func benchProxyInit(e *env) {
	benchProxyInitN(e, "4", "<= 1.1")
	benchProxyInitN(e, "2", "")
	benchRelayFloor(e)
}

// benchRelayFloor: the same 4-rank program natively, with and without
// pmirelay (a C process that only copies PMI bytes). What that costs is the
// floor for any per-rank proxy on this machine.
func benchRelayFloor(e *env) {
	const name = "Init-Finalize -n 4: native through a C byte relay vs native"
	var ta, tb []float64
	for i := -1; i < e.reps; i++ {
		a, err := e.initFinalize("mpiexec.mpich", "-n", "4", e.relay, e.hello, "time")
		if err != nil {
			e.fail(name, err)
			return
		}
		b, err := e.initFinalize("mpiexec.mpich", "-n", "4", e.hello, "time")
		if err != nil {
			e.fail(name, err)
			return
		}
		if i >= 0 {
			ta, tb = append(ta, a), append(tb, b)
		}
	}
	e.ratioResult(name, "", 0, ta, tb)
}

// initFinalize runs an MPI job of hello with "time" and returns rank 0's
// MPI_Init-to-Finalize time in seconds.
func (e *env) initFinalize(args ...string) (float64, error) {
	out, err := e.output(args...)
	if err != nil {
		return 0, err
	}
	m := initFinalize.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no init-finalize line in %q (rebuild the images: ci/setup.sh)", out)
	}
	us, _ := strconv.ParseFloat(m[1], 64)
	return us / 1e6, nil
}

func benchProxyInitN(e *env, n, target string) {
	name := "Init-Finalize -n " + n + ": proxy vs passthrough"
	run := func(flag string) (float64, error) {
		return e.initFinalize("mpiexec.mpich", "-n", n, e.bin, flag, e.debian, "/opt/mpiwrap-test/mpich/hello", "time")
	}
	var ta, tb []float64
	for i := -1; i < e.reps; i++ {
		a, err := run("--pmi=proxy")
		if err != nil {
			e.fail(name, err)
			return
		}
		b, err := run("--pmi=passthrough")
		if err != nil {
			e.fail(name, err)
			return
		}
		if i >= 0 {
			ta, tb = append(ta, a), append(tb, b)
		}
	}
	e.ratioResult(name, target, 1.1, ta, tb)
}

var (
	benchLine   = regexp.MustCompile(`^BenchmarkFenceGetAll/n=(\d+)-\d+\s+\d+\s+\d+ ns/op(.*)$`)
	benchMetric = regexp.MustCompile(`([0-9.e+]+) (\w+)-ns/op`)
)

// benchFence: a fence plus a get of every rank's key with the in-process
// launcher at 64, 256 and 1024 simulated ranks, through proxies (batched,
// as mpiwrap runs PMI-1/2 upstreams above 16 ranks) against direct, the
// modes taking turns in each iteration (<= 1.2 at 1024).
func benchFence(e *env) {
	const name = "fence+get-all via proxies vs direct"
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", "^BenchmarkFenceGetAll$", "-benchtime", "3x", "-timeout", "60m", "./pmi/proxy/")
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.fail(name, fmt.Errorf("go test -bench: %v\n%s", err, out))
		return
	}
	ns := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		for _, mm := range benchMetric.FindAllStringSubmatch(m[2], -1) {
			v, _ := strconv.ParseFloat(mm[1], 64)
			ns[m[1]+"/"+mm[2]] = v
		}
	}
	for _, n := range []string{"64", "256", "1024"} {
		d, b, p := ns[n+"/direct"], ns[n+"/batch"], ns[n+"/proxy"]
		if d == 0 {
			e.fail(name, fmt.Errorf("no result for n=%s in:\n%s", n, out))
			return
		}
		r := result{name: fmt.Sprintf("%s, n=%s", name, n), unit: "ms", value: b / 1e6, baseline: d / 1e6,
			ratio: b / d, note: fmt.Sprintf("unbatched proxy %.2fx", p/d)}
		if n == "1024" {
			r.target, r.pass = "<= 1.2", r.ratio <= 1.2
		}
		e.results = append(e.results, r)
	}
}

// benchProxyRSS reports the memory the proxies of a running 4-rank job
// take, per rank: under hydra (PMI_FD) the node's keeper proxies every
// rank; under Open MPI's mpirun (PMIx) each rank has a proxy process and a
// PMIx helper.
func benchProxyRSS(e *env) {
	for _, c := range []struct{ name, launcher string }{
		{"proxy RSS per rank, hydra (hosted by the keeper)", "mpiexec.mpich"},
		{"proxy RSS per rank, mpirun (a proxy per rank)", "mpirun.openmpi"},
	} {
		if _, err := exec.LookPath(c.launcher); err != nil {
			e.fail(c.name, err)
			continue
		}
		e.proxyRSS(c.name, c.launcher)
	}
}

func (e *env) proxyRSS(name, launcher string) {
	cmd := exec.Command(launcher, "-n", "4", e.bin, "--pmi=proxy", e.debian, "/opt/mpiwrap-test/mpich/hello", "sleep", "2")
	if launcher == "mpirun.openmpi" {
		cmd.Args = append([]string{launcher, "--oversubscribe"}, cmd.Args[1:]...)
	}
	cmd.Dir = e.work
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + e.home, "USER=" + e.name}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: e.user}
	if err := cmd.Start(); err != nil {
		e.fail(name, err)
		return
	}
	time.Sleep(1200 * time.Millisecond)
	total, found := 0.0, 0
	for _, exe := range []string{e.bin, filepath.Join(filepath.Dir(e.bin), "mpiwrap-pmix")} {
		for _, p := range procs.Running(exe) {
			if kb := vmRSS(p); kb > 0 {
				total, found = total+kb/1024, found+1
			}
		}
	}
	cmd.Wait()
	if found == 0 {
		e.fail(name, fmt.Errorf("no proxy found"))
		return
	}
	e.results = append(e.results, result{name: name, unit: "MiB", value: total / 4, baseline: 15,
		target: "report (aim < 15 MiB)", pass: true, note: fmt.Sprintf("%d mpiwrap processes, %.1f MiB in all", found, total)})
}

func vmRSS(pid int) float64 {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			v, _ := strconv.ParseFloat(f[1], 64)
			return v
		}
	}
	return 0
}
