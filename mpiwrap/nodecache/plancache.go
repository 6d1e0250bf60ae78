package nodecache

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mpiwrap/mpiwrap/internal/fileid"
	"github.com/mpiwrap/mpiwrap/mpiwrap/nsexec"
	"golang.org/x/sys/unix"
)

// A single rank's plan is kept keyed by everything the planner read: argv,
// working directory, environment, identity, and the identity of every file
// it looked at (its dependencies). The C replay (nsexec/plancache.c)
// applies a plan whose inputs all still match, so a repeated
// `mpiwrap IMAGE CMD` starts no Go runtime at all. nsexec.h defines the
// format; a test checks that C reads what SavePlan writes.

// SavePlan stores plan for argv, cwd and the planning inputs of env,
// valid while deps keep their identities. Failing to cache is not an
// error: the next run plans again.
func SavePlan(plan []byte, deps [][2]string, argv, env []string, cwd string) {
	env = planEnv(env)
	dir, err := create("")
	if err != nil {
		return
	}
	b := []byte(nsexec.PlanMagic)
	for _, s := range planInputs(argv, env, cwd) {
		b = appendStr(b, s)
	}
	b = appendStr(b, strconv.Itoa(len(deps)))
	for _, d := range deps {
		b = appendStr(b, d[0])
		b = appendStr(b, d[1])
	}
	b = binary.NativeEndian.AppendUint32(b, uint32(len(plan)))
	b = append(b, plan...)
	if len(b) > nsexec.PlanMax {
		return
	}
	tmp, err := os.CreateTemp(dir, ".plan-")
	if err != nil {
		return
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil || tmp.Close() != nil {
		return
	}
	if os.Rename(tmp.Name(), filepath.Join(dir, planName(argv, env, cwd))) == nil {
		evictPlans(dir, maxPlans)
	}
}

// planEnv is the part of env that planning reads (nsexec.PlanEnvKey): a
// cached plan is keyed on it and stores only it.
func planEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if nsexec.PlanEnvKey(kv) {
			out = append(out, kv)
		}
	}
	return out
}

// planInputs is what a cached plan must match, in the order plancache.c
// reads it.
func planInputs(argv, env []string, cwd string) []string {
	groups, _ := unix.Getgroups()
	gs := make([]string, len(groups))
	for i, g := range groups {
		gs[i] = strconv.Itoa(g)
	}
	in := []string{fileid.Of("/proc/self/exe"), strconv.Itoa(os.Getuid()),
		strconv.Itoa(os.Getgid()), strings.Join(gs, ","), cwd, strconv.Itoa(len(argv))}
	in = append(in, argv...)
	in = append(in, strconv.Itoa(len(env)))
	return append(in, env...)
}

// planName hashes argv, cwd and env the way plancache.c does.
func planName(argv, env []string, cwd string) string {
	h := fnv.New64a()
	for _, s := range append(append(append([]string{}, argv...), cwd), env...) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%016x.plan", h.Sum64())
}

func appendStr(b []byte, s string) []byte {
	b = binary.NativeEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}
