package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/procs"
)

// benchPMIxServer: MPI_Init-to-Finalize of the image's Open MPI hello
// under hydra, served by the node's PMIx server in the keeper, against the
// same under Open MPI's mpirun through mpiwrap in passthrough (its own
// PMIx server): 4 ranks (<= 1.2) and 64 (report; aim <= 1.5); then the
// memory the node's server takes (the keeper and its helper).
func benchPMIxServer(e *env) {
	if _, err := exec.LookPath("mpirun.openmpi"); err != nil {
		e.fail("Init-Finalize of Open MPI: PMIx server under hydra vs mpirun passthrough", err)
		return
	}
	e.pmixServerInit("4", e.reps, "<= 1.2", 1.2)
	e.pmixServerInit("64", max(3, e.reps/4), "report (aim <= 1.5)", 1.5)
	e.pmixServerRSS()
}

func (e *env) pmixServerInit(n string, reps int, target string, limit float64) {
	name := "Init-Finalize -n " + n + ", Open MPI: PMIx server under hydra vs mpirun passthrough"
	prog := []string{e.bin, e.debian, "/opt/mpiwrap-test/openmpi/hello", "time"}
	hydra := append([]string{"mpiexec.mpich", "-n", n}, prog...)
	mpirun := append([]string{"mpirun.openmpi", "--oversubscribe", "-n", n}, prog...)
	var ta, tb []float64
	for i := -1; i < reps; i++ {
		a, err := e.initFinalize(hydra...)
		if err != nil {
			e.fail(name, err)
			return
		}
		b, err := e.initFinalize(mpirun...)
		if err != nil {
			e.fail(name, err)
			return
		}
		if i >= 0 {
			ta, tb = append(ta, a), append(tb, b)
		}
	}
	e.ratioResult(name, target, limit, ta, tb)
}

// pmixServerRSS reports the resident memory of a node's PMIx server while
// a 4-rank hydra job of Open MPI's hello runs: the keeper (Go, holding the
// ranks' PMI connections) and its mpiwrap-pmix helper (libpmix's server).
func (e *env) pmixServerRSS() {
	const name = "PMIx server RSS per node (keeper + helper), hydra -n 4"
	cmd := exec.Command("mpiexec.mpich", "-n", "4", e.bin, e.debian, "/opt/mpiwrap-test/openmpi/hello", "sleep", "3")
	cmd.Dir = e.work
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + e.home, "USER=" + e.name}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: e.user}
	if err := cmd.Start(); err != nil {
		e.fail(name, err)
		return
	}
	time.Sleep(2 * time.Second) // the ranks are past MPI_Init
	keeper, helper := 0.0, 0.0
	nk, nh := 0, 0
	for _, p := range procs.Running(e.bin) {
		keeper, nk = keeper+vmRSS(p)/1024, nk+1
	}
	for _, p := range procs.Running(filepath.Join(filepath.Dir(e.bin), "mpiwrap-pmix")) {
		helper, nh = helper+vmRSS(p)/1024, nh+1
	}
	cmd.Wait()
	if nk != 1 || nh != 1 {
		e.fail(name, fmt.Errorf("want one keeper and one helper, found %d and %d", nk, nh))
		return
	}
	e.results = append(e.results, result{name: name, unit: "MiB", value: keeper + helper, baseline: 24,
		target: "report (aim < 24 MiB)", pass: true,
		note: "keeper " + strconv.FormatFloat(keeper, 'f', 1, 64) + " MiB, helper " + strconv.FormatFloat(helper, 'f', 1, 64) + " MiB"})
}
