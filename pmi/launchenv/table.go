package launchenv

import (
	"fmt"
	"strconv"
)

// row is one launcher: where it puts the rank, how to read the number of
// its ranks on this node, and how to name its job step.
type row struct {
	name                  Launcher
	rank, size, localRank string   // variable names; "" where it sets none
	localVars             []string // what local size is read from, its own variable first
	localSize             func(vars) (int, bool)
	steps                 []stepRule
}

// stepRule makes a step key when all of needs are set. The key must be the
// same in every rank of the step on the node and differ between steps,
// because it names the node's rendezvous socket.
type stepRule struct {
	needs []string
	key   func(vars, Probes) string
}

// launchers is the table, innermost launcher first (see the package doc).
// nsx_join_key and rank_from_env in mpiwrap/nsexec/fastpath.c mirror it.
var launchers = []row{
	{name: Hydra, rank: "PMI_RANK", size: "PMI_SIZE", localRank: "MPI_LOCALRANKID",
		localVars: []string{"MPI_LOCALNRANKS"}, localSize: plainCount("MPI_LOCALNRANKS"),
		// MPI_LOCALNRANKS, which only hydra sets, tells it from Slurm's
		// pmi2 plugin and Flux, which also set PMI_FD.
		steps: []stepRule{
			{[]string{"MPI_LOCALNRANKS", "PMI_FD"}, hydraPeer},
			{[]string{"MPI_LOCALNRANKS", "PMI_PORT"}, prefixed("hydra:", "PMI_PORT")},
		}},
	{name: OpenMPI, rank: "OMPI_COMM_WORLD_RANK", size: "OMPI_COMM_WORLD_SIZE", localRank: "OMPI_COMM_WORLD_LOCAL_RANK",
		localVars: []string{"OMPI_COMM_WORLD_LOCAL_SIZE"}, localSize: plainCount("OMPI_COMM_WORLD_LOCAL_SIZE"),
		steps: []stepRule{
			{[]string{"OMPI_COMM_WORLD_LOCAL_SIZE", "PMIX_NAMESPACE"}, prefixed("ompi:", "PMIX_NAMESPACE")},
			// Without a namespace: the node's ranks of one job share the
			// daemon that started them as their parent.
			{[]string{"OMPI_COMM_WORLD_LOCAL_SIZE"}, func(_ vars, p Probes) string { return fmt.Sprintf("ompi:%d", p.ppid()) }},
		}},
	{name: Slurm, rank: "SLURM_PROCID", size: "SLURM_NTASKS", localRank: "SLURM_LOCALID",
		localVars: []string{"SLURM_STEP_TASKS_PER_NODE", "SLURM_NODEID"}, localSize: slurmLocalSize,
		steps: []stepRule{
			{[]string{"SLURM_JOB_ID", "SLURM_STEP_ID"}, func(v vars, _ Probes) string {
				return "slurm:" + v.get("SLURM_JOB_ID") + "." + v.get("SLURM_STEP_ID")
			}},
		}},
	{name: PMIx, rank: "PMIX_RANK",
		steps: []stepRule{{[]string{"PMIX_NAMESPACE"}, prefixed("pmix:", "PMIX_NAMESPACE")}}},
}

// PerRank names the variables whose values differ between the ranks of
// one step on a node: every row's rank and local rank, hydra's PMI_FD
// (each rank's own socket) and PMI_ID, and what Slurm and Open MPI set per
// task that Detect never reads (SLURM_TASK_PID; PMIX_ID and Open MPI's
// node rank and vpid). Detect's launcher, sizes, step and
// offer depend only on whether each is set, empty or a whole number
// (Class), so ranks whose environments differ only in these values are
// alike to it but for Rank and LocalRank. The keeper plans such ranks
// once (mpiwrap/keeper.go); TestPerRankOnlyRankDiffers checks the claim.
var PerRank = func() map[string]bool {
	m := map[string]bool{"PMI_FD": true, "PMI_ID": true, "SLURM_TASK_PID": true, "PMIX_ID": true,
		"OMPI_COMM_WORLD_NODE_RANK": true, "OMPI_MCA_ess_base_vpid": true, "OMPI_MCA_orte_ess_node_rank": true}
	for _, l := range launchers {
		for _, k := range []string{l.rank, l.localRank} {
			if k != "" {
				m[k] = true
			}
		}
	}
	return m
}()

// Class is what Detect makes of a PerRank value: "e" when empty, "n" for
// a whole number >= 0 (as strconv.Atoi reads it), "-" for one below 0,
// "x" for anything else.
func Class(value string) string {
	n, err := strconv.Atoi(value)
	switch {
	case value == "":
		return "e"
	case err != nil:
		return "x"
	case n < 0:
		return "-"
	}
	return "n"
}

// source lists the variables a row's rank, size, local rank and local
// size come from, leaving out those it does not set.
func (r row) source() []string {
	var s []string
	for _, k := range []string{r.rank, r.size, r.localRank} {
		if k != "" {
			s = append(s, k)
		}
	}
	return append(s, r.localVars...)
}

// local is the row's local size; false where it sets none.
func (r row) local(v vars) (int, bool) {
	if r.localSize == nil {
		return 0, false
	}
	return r.localSize(v)
}

// stepKey is the first step rule's key whose variables are all set.
func stepKey(v vars, p Probes) (string, []string) {
	for _, r := range launchers {
		for _, s := range r.steps {
			if v.all(s.needs) {
				return s.key(v, p), s.needs
			}
		}
	}
	return "", nil
}

// hydraPeer names a hydra step by the PMI socketpair's peer: the hydra
// proxy that started every rank on this node, found even through a
// wrapper shell. Without a peer (PMI_FD not a socket here), the parent.
func hydraPeer(v vars, p Probes) string {
	if fd, err := strconv.Atoi(v.get("PMI_FD")); err == nil {
		if pid, ok := p.peerPid(fd); ok {
			return fmt.Sprintf("hydra:%d", pid)
		}
	}
	return fmt.Sprintf("hydra:ppid:%d", p.ppid())
}

func prefixed(prefix, name string) func(vars, Probes) string {
	return func(v vars, _ Probes) string { return prefix + v.get(name) }
}

// plainCount reads a local size given as a number; false if it is not one.
func plainCount(name string) func(vars) (int, bool) {
	return func(v vars) (int, bool) {
		n, err := strconv.Atoi(v.get(name))
		return n, err == nil
	}
}

// slurmLocalSize picks this node's entry (SLURM_NODEID) from the step's
// task list.
func slurmLocalSize(v vars) (int, bool) {
	return SlurmTasks(v.get("SLURM_STEP_TASKS_PER_NODE"), v.num("SLURM_NODEID"))
}
