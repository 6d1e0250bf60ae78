package main

import (
	"fmt"
	"os/exec"
	"strconv"
)

// benchStartup: `mpiwrap IMG /bin/true` against `ch-run IMG -- /bin/true`,
// unprivileged, three ways: warm (the same run again: a plan cache hit),
// cold (one unrelated variable differs each run, as hyperfine's runs do,
// and job arrays' SLURM_* do: still a hit, since the cache is keyed on
// what planning reads and the rest of the environment is applied at exec
// time), and a true miss (a new argument each run: planned in Go).
func benchStartup(e *env) {
	if _, err := exec.LookPath("ch-run"); err != nil {
		e.results = append(e.results, result{name: "run IMG /bin/true vs ch-run", note: "ch-run not installed (charliecloud-runtime)"})
		return
	}
	for _, c := range []struct {
		name, target string
		limit        float64
		vary         func(i int) (env, args []string)
	}{
		{"run IMG /bin/true vs ch-run, warm", "<= 0.7", 0.7, func(int) ([]string, []string) { return nil, nil }},
		{"run IMG /bin/true vs ch-run, cold (a variable varies)", "<= 1.0", 1.0,
			func(i int) ([]string, []string) { return []string{"BENCH_VARY=" + strconv.Itoa(i)}, nil }},
		{"run IMG /bin/true vs ch-run, plan cache miss (argv varies)", "report", 0,
			func(i int) ([]string, []string) { return nil, []string{"miss" + strconv.Itoa(i)} }},
	} {
		var ta, tb []float64
		for i := -1; i < e.reps*10; i++ {
			env, extra := c.vary(i + 1000*len(ta))
			da, err := e.runEnv(env, append([]string{e.bin, e.debian, "/bin/true"}, extra...)...)
			if err != nil {
				e.fail(c.name, err)
				return
			}
			db, err := e.runEnv(env, append([]string{"ch-run", e.debian, "--", "/bin/true"}, extra...)...)
			if err != nil {
				e.fail(c.name, err)
				return
			}
			if i >= 0 {
				ta, tb = append(ta, da.Seconds()), append(tb, db.Seconds())
			}
		}
		e.ratioResult(c.name, c.target, c.limit, ta, tb)
		if c.limit == 0 {
			e.results[len(e.results)-1].pass = true // reported, no target
		}
	}
}

// benchHello4: a 4-rank MPICH hello under hydra, in the image against
// native (ratio <= 1.3, and no run slower than 2x native).
func benchHello4(e *env) {
	const name = "mpiexec -n 4 hello vs native"
	ta, tb, err := e.pair(e.reps, []string{"mpiexec.mpich", "-n", "4", e.bin, e.debian, "/opt/mpiwrap-test/mpich/hello"},
		[]string{"mpiexec.mpich", "-n", "4", e.hello})
	if err != nil {
		e.fail(name, err)
		return
	}
	e.ratioResult(name, "<= 1.3, max <= 2x", 1.3, ta, tb)
	r := &e.results[len(e.results)-1]
	worst := 0.0
	for _, v := range ta {
		worst = max(worst, v)
	}
	r.note += fmt.Sprintf("; slowest %.2f ms = %.2fx native median", worst*1e3, worst/median(tb))
	r.pass = r.pass && worst <= 2*median(tb)
}

// benchTrue256 and benchTrue1024: that many ranks of /bin/true under
// hydra, through mpiwrap against native (targets 1.2 and 1.15).
func benchTrue256(e *env)  { benchTrueN(e, 256, 1.2) }
func benchTrue1024(e *env) { benchTrueN(e, 1024, 1.15) }

func benchTrueN(e *env, n int, limit float64) {
	name := fmt.Sprintf("mpiexec -n %d /bin/true vs native", n)
	ranks := strconv.Itoa(n)
	ta, tb, err := e.pair(e.reps, []string{"sh", "-c", "ulimit -n 20000 2>/dev/null; exec mpiexec.mpich -n " + ranks + " " + e.bin + " " + e.debian + " /bin/true"},
		[]string{"sh", "-c", "ulimit -n 20000 2>/dev/null; exec mpiexec.mpich -n " + ranks + " /bin/true"})
	if err != nil {
		e.fail(name, err)
		return
	}
	e.ratioResult(name, fmt.Sprintf("<= %.2f", limit), limit, ta, tb)
}
