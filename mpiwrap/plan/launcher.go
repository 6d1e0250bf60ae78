package plan

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Launcher is what the rank learned from its launcher's environment.
type Launcher struct {
	Name      string `json:"name"` // hydra, slurm, openmpi or none
	Rank      int    `json:"rank"` // -1 when unknown
	Size      int    `json:"size"`
	LocalRank int    `json:"local_rank"`
	LocalSize int    `json:"local_size"` // ranks of this step on this node
	Step      string `json:"step"`       // names the job step on this node
	Source    string `json:"source"`     // the variables that said so
}

// rankVars are checked in order; the first set variable wins.
// The innermost launcher comes first: a hydra started by srun leaves
// SLURM_PROCID=0 in every rank's environment.
var rankVars = []struct{ launcher, rank, size, localRank, localSize string }{
	{"hydra", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS"},
	{"openmpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE"},
	{"slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", ""},
	{"pmix", "PMIX_RANK", "", "", ""},
}

// DetectLauncher reads rank, size, local rank and local size and the job step
// from the environment of hydra, Slurm or Open MPI.
func DetectLauncher(env []string) Launcher {
	get := func(k string) string { v, _ := LookupEnv(env, k); return v }
	num := func(k string) int {
		if k == "" {
			return -1
		}
		n, err := strconv.Atoi(get(k))
		if err != nil {
			return -1
		}
		return n
	}
	l := Launcher{Name: "none", Rank: -1, Size: -1, LocalRank: -1, LocalSize: -1}
	for _, v := range rankVars {
		if get(v.rank) == "" {
			continue
		}
		l.Name, l.Rank, l.Size = v.launcher, num(v.rank), num(v.size)
		l.LocalRank, l.LocalSize = num(v.localRank), num(v.localSize)
		l.Source = strings.Trim(strings.Join([]string{v.rank, v.size, v.localRank, v.localSize}, ","), ",")
		break
	}
	if l.Name == "slurm" {
		l.LocalSize = slurmLocalSize(get("SLURM_STEP_TASKS_PER_NODE"), num("SLURM_NODEID"))
		l.Source += ",SLURM_STEP_TASKS_PER_NODE,SLURM_NODEID"
	}
	l.Step = stepKey(get)
	return l
}

// slurmLocalSize picks this node's entry from a list like "2(x3),1".
func slurmLocalSize(list string, node int) int {
	if list == "" || node < 0 {
		return -1
	}
	for _, part := range strings.Split(list, ",") {
		count, reps := part, "1"
		if i := strings.Index(part, "(x"); i >= 0 && strings.HasSuffix(part, ")") {
			count, reps = part[:i], part[i+2:len(part)-1]
		}
		c, err1 := strconv.Atoi(count)
		r, err2 := strconv.Atoi(reps)
		if err1 != nil || err2 != nil {
			return -1
		}
		if node < r {
			return c
		}
		node -= r
	}
	return -1
}

// stepKey names the job step, identically to nsx_join_key in C (the C fast
// path must find the same socket). Empty when there is no launcher.
func stepKey(get func(string) string) string {
	switch {
	case get("MPI_LOCALNRANKS") != "" && get("PMI_FD") != "":
		// The PMI socketpair's peer is the hydra proxy that started every
		// rank on this node, even through a wrapper shell.
		if fd, err := strconv.Atoi(get("PMI_FD")); err == nil {
			if cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
				return fmt.Sprintf("hydra:%d", cred.Pid)
			}
		}
		return fmt.Sprintf("hydra:ppid:%d", os.Getppid())
	case get("MPI_LOCALNRANKS") != "" && get("PMI_PORT") != "":
		return "hydra:" + get("PMI_PORT")
	case get("OMPI_COMM_WORLD_LOCAL_SIZE") != "" && get("PMIX_NAMESPACE") != "":
		return "ompi:" + get("PMIX_NAMESPACE")
	case get("OMPI_COMM_WORLD_LOCAL_SIZE") != "":
		return fmt.Sprintf("ompi:%d", os.Getppid())
	case get("SLURM_JOB_ID") != "" && get("SLURM_STEP_ID") != "":
		return "slurm:" + get("SLURM_JOB_ID") + "." + get("SLURM_STEP_ID")
	case get("PMIX_NAMESPACE") != "":
		return "pmix:" + get("PMIX_NAMESPACE")
	}
	return ""
}

// NodeKey qualifies a step key with the network namespace and host name, so
// test "hosts" in separate network namespaces never share a container.
func NodeKey(step string) string {
	net, _ := os.Readlink("/proc/self/ns/net")
	host, _ := os.Hostname()
	return step + "|" + net + "|" + host
}
