package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// cacheRoot is the test user's node cache (plans and ld.so caches).
func (e *env) cacheRoot() string { return fmt.Sprintf("/var/tmp/mpiwrap-%d", e.user.Uid) }

func (e *env) ldcacheBuilds() int {
	data, _ := os.ReadFile(filepath.Join(e.cacheRoot(), "ldcache.log"))
	return strings.Count(string(data), "built ld.so cache")
}

// benchWarmProfiles: a warm start with --profile mpich,verbs against a plain
// run on the same image (issue: hostlib, ratio <= 1.5).
func benchWarmProfiles(e *env) {
	const name = "run --profile mpich,verbs vs plain (warm)"
	ta, tb, err := e.pair(e.reps*10, []string{e.bin, "--profile", "mpich,verbs", e.debian, "/bin/true"},
		[]string{e.bin, e.debian, "/bin/true"})
	if err != nil {
		e.fail(name, err)
		return
	}
	e.ratioResult(name, "<= 1.5", 1.5, ta, tb)
}

// benchColdProfiles: the first start on a node builds the ld.so cache;
// reported against a warm start (the aim is under 200 ms).
func benchColdProfiles(e *env) {
	const name = "run --profile mpich,verbs cold vs warm"
	args := []string{e.bin, "--profile", "mpich,verbs", e.debian, "/bin/true"}
	var cold, warm []float64
	for i := 0; i < e.reps; i++ {
		os.RemoveAll(e.cacheRoot()) // plans and ld.so caches: a node seeing the job first
		dc, err := e.run(args...)
		if err != nil {
			e.fail(name, err)
			return
		}
		dw, err := e.run(args...)
		if err != nil {
			e.fail(name, err)
			return
		}
		cold, warm = append(cold, dc.Seconds()), append(warm, dw.Seconds())
	}
	e.ratioResult(name, "", 0, cold, warm)
	r := &e.results[len(e.results)-1]
	r.note += fmt.Sprintf("; cold start %.1f ms (aim < 200 ms)", mean(cold)*1e3)
}

// benchOneBuild64: 64 ranks on one node with a cold cache log exactly one
// build.
func benchOneBuild64(e *env) {
	const name = "mpiexec -n 64 --profile mpich: cache builds"
	os.RemoveAll(e.cacheRoot())
	before := e.ldcacheBuilds()
	start := time.Now()
	if _, err := e.run("mpiexec.mpich", "-n", "64", e.bin, "--profile", "mpich", e.debian, "/bin/true"); err != nil {
		e.fail(name, err)
		return
	}
	n := e.ldcacheBuilds() - before
	e.results = append(e.results, result{name: name, unit: "builds", value: float64(n), baseline: 1,
		ratio: float64(n), target: "exactly 1", pass: n == 1,
		note: fmt.Sprintf("job took %.0f ms", time.Since(start).Seconds()*1e3)})
}
