// Package launchenv reads what an MPI launcher told a rank through its
// environment: who started it (MPICH's hydra, Slurm's srun, Open MPI's
// mpirun, a bare PMIx server), its rank, size, local rank and local size,
// the key that names its job step on this node, and which PMI the launcher
// offers.
//
// Detect is pure. The environment is a []string of K=V, where a repeated
// name's last entry wins, as in os/exec. The few facts that need system
// calls come through Probes: tests pass fakes, and a process can classify
// another process's environment (Probes.FDIsSocket nil). Real returns the
// probes of the current process.
//
// The tables are ordered and the first match wins. The innermost launcher
// comes first, because an outer launcher's variables leak into the ranks of
// an inner one: a hydra started by srun leaves SLURM_PROCID=0 in every rank.
// A variable that is set but empty counts as unset.
//
// mpiwrap's C fast path (mpiwrap/nsexec/fastpath.c: nsx_join_key and
// rank_from_env) computes the step key, the node key and the rank before
// the Go runtime starts, by hand; mpiwrap/nsexec's joinkey_test.go checks
// that it agrees with Detect for every launcher of the table.
package launchenv

import (
	"strconv"
	"strings"
)

// Launcher names who launched the rank.
type Launcher string

// Launchers. Flux is not told apart: it sets PMI_RANK and PMI_FD, so its
// ranks read as Hydra's (rank and offer right, no step key).
const (
	None    Launcher = "none"
	Hydra   Launcher = "hydra"   // MPICH's mpiexec
	OpenMPI Launcher = "openmpi" // Open MPI's mpirun (PRRTE)
	Slurm   Launcher = "slurm"   // srun, any --mpi
	PMIx    Launcher = "pmix"    // a PMIx server and nothing else
)

func (l Launcher) String() string { return string(l) }

// Env is what a rank's environment says about its launcher.
type Env struct {
	Launcher  Launcher
	Rank      int      // -1 when unknown
	Size      int      // -1 when unknown
	LocalRank int      // -1 when unknown
	LocalSize int      // ranks of this step on this node; -1 when unknown
	Source    []string // the variables Launcher to LocalSize were read from
	RankVar   string   // the variable Rank was read from; "" when none
	Step      string   // names the job step on this node; "" when none does
	StepVars  []string // the variables Step was made from
	Node      string   // Step qualified by network namespace and host name; "" with Step
	Offer     Offer    // which PMI the launcher offers
	OfferWhy  string   // the variables that decided Offer, as a sentence
	PMI       PMIVars  // the variables Offer was decided from
}

// Detect reads env. The launcher, rank and sizes come from the first row
// of the table whose rank variable is set; the step key from the first
// step rule whose variables are all set, scanning the same rows but on
// its own, since a launcher may name ranks without naming its step (Flux
// sets PMI_RANK but no MPI_LOCALNRANKS).
func Detect(env []string, p Probes) Env {
	v := readVars(env)
	e := Env{Launcher: None, Rank: -1, Size: -1, LocalRank: -1, LocalSize: -1}
	for _, l := range launchers {
		if v.get(l.rank) == "" {
			continue
		}
		e.Launcher, e.Rank, e.Size, e.LocalRank = l.name, v.num(l.rank), v.num(l.size), v.num(l.localRank)
		e.RankVar = l.rank
		if n, ok := l.local(v); ok {
			e.LocalSize = n
		}
		e.Source = l.source()
		break
	}
	e.Step, e.StepVars = stepKey(v, p)
	if e.Step != "" {
		e.Node = p.NodeKey(e.Step)
	}
	e.PMI = readPMI(v, p)
	e.Offer, e.OfferWhy = e.PMI.Offer()
	return e
}

// LocalSize is the number of ranks on this node from the first row whose
// local size reads above 0, and the variable it came from; 0 and "" when
// none does. Unlike Env.LocalSize it looks past the row that named the
// rank: a PMI proxy takes any count it can get, and 0 means "unknown".
func LocalSize(env []string) (int, string) {
	v := readVars(env)
	for _, l := range launchers {
		if n, ok := l.local(v); ok && n > 0 {
			return n, l.localVars[0]
		}
	}
	return 0, ""
}

// vars is an environment by name.
type vars map[string]string

func readVars(env []string) vars {
	v := make(vars, len(env))
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok {
			v[k] = val // later entries win
		}
	}
	return v
}

func (v vars) get(k string) string { return v[k] }

// num is k as an integer, -1 when k is unset, empty or not a number.
func (v vars) num(k string) int {
	n, err := strconv.Atoi(v[k])
	if err != nil {
		return -1
	}
	return n
}

// all reports whether every one of names is set and not empty.
func (v vars) all(names []string) bool {
	for _, k := range names {
		if v[k] == "" {
			return false
		}
	}
	return true
}
