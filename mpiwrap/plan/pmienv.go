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

// mapPMIxModules sets the MCA names a PMIx client of another version reads.
func (e *Env) mapPMIxModules() {
	for _, m := range pmixModuleVars {
		v, ok := e.Get(m[0])
		if _, set := e.Get(m[1]); !ok || set {
			continue
		}
		why := "PMIx of another version reads the MCA name"
		if m[0] == "PMIX_GDS_MODULE" {
			v, why = withoutDs12(v), why+"; without ds12, whose locks fail in a user namespace"
		}
		e.Set(m[1], v)
		e.notef("set %s=%s from %s (%s)", m[1], v, m[0], why)
	}
}

// RankEnv is the command's environment for one rank: BuildEnv, then what
// the PMI mode asks for, then the fabric hints where nobody set them. The
// leader and every rank that joins it use it.
func RankEnv(host []string, spec *Spec, profileEdits []profile.EnvEdit, hints []netinject.Hint) (*Env, error) {
	e, err := BuildEnv(host, spec, profileEdits)
	if err != nil {
		return nil, err
	}
	switch spec.PMI {
	case PMIOff:
		e.stripPMI()
	case "", PMIAuto, PMIPassthrough:
		e.mapPMIxModules()
	}
	e.applyHints(hints)
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

// stripPMI makes the rank an MPI singleton (--pmi=off).
func (e *Env) stripPMI() {
	for _, glob := range []string{"PMI_*", "PMIX_*"} {
		for _, k := range e.Unset(glob) {
			e.notef("unset %s (--pmi=off)", k)
		}
	}
}
