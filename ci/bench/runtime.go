package main

import (
	"fmt"
	"os/exec"
	"strconv"
)

// benchStartup: `mpiwrap IMG /bin/true` against `ch-run IMG -- /bin/true`,
// unprivileged (issue: mpiwrap run, ratio <= 1.0).
func benchStartup(e *env) {
	const name = "run IMG /bin/true vs ch-run"
	if _, err := exec.LookPath("ch-run"); err != nil {
		e.results = append(e.results, result{name: name, note: "ch-run not installed (charliecloud-runtime)"})
		return
	}
	ta, tb, err := e.pair(e.reps*10, []string{e.bin, e.debian, "/bin/true"},
		[]string{"ch-run", e.debian, "--", "/bin/true"})
	if err != nil {
		e.fail(name, err)
		return
	}
	e.ratioResult(name, "<= 1.0", 1.0, ta, tb)
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

// benchTrue256: 256 ranks of /bin/true under hydra (ratio <= 1.5).
func benchTrue256(e *env) {
	const name = "mpiexec -n 256 /bin/true vs native"
	n := strconv.Itoa(256)
	ta, tb, err := e.pair(e.reps, []string{"sh", "-c", "ulimit -n 4096 2>/dev/null; exec mpiexec.mpich -n " + n + " " + e.bin + " " + e.debian + " /bin/true"},
		[]string{"sh", "-c", "ulimit -n 4096 2>/dev/null; exec mpiexec.mpich -n " + n + " /bin/true"})
	if err != nil {
		e.fail(name, err)
		return
	}
	e.ratioResult(name, "<= 1.5", 1.5, ta, tb)
}
