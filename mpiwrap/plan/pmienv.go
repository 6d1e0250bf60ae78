package plan

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mpiwrap/mpiwrap/hostlib/profile"
	"github.com/mpiwrap/mpiwrap/netinject"
)

// pmixModuleVars map what a PMIx server tells its clients to the MCA names a
// client of another PMIx version reads, as Sarus and Enroot do.
var pmixModuleVars = [][2]string{
	{"PMIX_PTL_MODULE", "PMIX_MCA_ptl"},
	{"PMIX_SECURITY_MODE", "PMIX_MCA_psec"},
	{"PMIX_GDS_MODULE", "PMIX_MCA_gds"},
}

// pmixDirVars name host directories a PMIx client must reach at the same
// path: the server's rendezvous and the shared-memory data store.
func pmixDirs(env []string) []string {
	var dirs []string
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case k == "PMIX_SERVER_TMPDIR", k == "PMIX_SYSTEM_TMPDIR", k == "PMIX_NSDIR",
			strings.HasPrefix(k, "PMIX_DSTORE_") && strings.HasSuffix(k, "_BASE_PATH"):
			if filepath.IsAbs(v) {
				dirs = append(dirs, filepath.Clean(v))
			}
		}
	}
	sort.Strings(dirs)
	return dirs
}

// planPassthrough keeps the launcher's PMI reachable inside: its descriptors
// and variables already pass; PMIx also needs its directories at the same
// paths (and its module variables under the MCA names: see pmiEnv).
func (p *Plan) planPassthrough(env []string) {
	seen := map[string]bool{}
	for _, d := range pmixDirs(env) {
		st, err := os.Stat(d)
		if seen[d] || err != nil || !st.IsDir() || p.covered(d) {
			continue
		}
		seen[d] = true
		p.Mounts = append(p.Mounts, Mount{Src: d, Dst: d, Dir: true, Recursive: true, NoSuidDev: true,
			Why: "PMIx directory of the launcher (--pmi=passthrough)"})
	}
}

// RankEnv is the command's environment for one rank, made from the
// launcher's by the rank's environment program (EnvProgram). The leader
// and every rank that joins it use it.
func RankEnv(host []string, spec *Spec, profileEdits []profile.EnvEdit, hints []netinject.Hint) (*Env, error) {
	prog, err := EnvProgram(spec, profileEdits, hints, host)
	if err != nil {
		return nil, err
	}
	e := runSteps(prog, host)
	e.Program = prog
	if spec.KeepLDEnv {
		e.Notes = append([]string{"keep host LD_LIBRARY_PATH and LD_PRELOAD (--keep-ld-env)"}, e.Notes...)
	}
	return e, nil
}

// withoutDs12 drops the ds12 data store: its pthread locks can't be set up
// from inside a user namespace (the client reports an error in
// gds_ds12_lock_pthread.c; LANL hit the same, charliecloud #866).
func withoutDs12(modules string) string {
	var keep []string
	for _, m := range strings.Split(modules, ",") {
		if m != "ds12" && m != "" {
			keep = append(keep, m)
		}
	}
	if len(keep) == 0 {
		return "hash"
	}
	return strings.Join(keep, ",")
}
