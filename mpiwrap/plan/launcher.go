package plan

import (
	"strings"

	"github.com/mpiwrap/mpiwrap/pmi/launchenv"
)

// Launcher is what the rank learned from its launcher's environment
// (pmi/launchenv reads it).
type Launcher struct {
	Name      launchenv.Launcher `json:"name"` // hydra, slurm, openmpi, pmix or none
	Rank      int                `json:"rank"` // -1 when unknown
	Size      int                `json:"size"`
	LocalRank int                `json:"local_rank"`
	LocalSize int                `json:"local_size"` // ranks of this step on this node
	Step      string             `json:"step"`       // names the job step on this node
	Source    string             `json:"source"`     // the variables that said so
}

// DetectLauncher reads rank, size, local rank and local size and the job
// step of this process from the environment of hydra, Slurm or Open MPI.
func DetectLauncher(env []string) Launcher {
	e := launchenv.Detect(env, launchenv.Real())
	return Launcher{Name: e.Launcher, Rank: e.Rank, Size: e.Size, LocalRank: e.LocalRank,
		LocalSize: e.LocalSize, Step: e.Step, Source: strings.Join(e.Source, ",")}
}

// RankOf is the rank and size another process's environment names (-1
// when unknown), without looking at this process.
func RankOf(env []string) (rank, size int) {
	e := launchenv.Detect(env, launchenv.Probes{})
	return e.Rank, e.Size
}

// HostOffer classifies what the launcher offers from its variables alone,
// trusting PMI_FD: the keeper decides for ranks whose descriptors it can't
// see.
func HostOffer(env []string) launchenv.Offer {
	return launchenv.Detect(env, launchenv.Probes{}).Offer
}

// NodeKey qualifies a step key with the network namespace and host name, so
// test "hosts" in separate network namespaces never share a container. The
// C fast path computes the same (nsx_join_key).
func NodeKey(step string) string { return launchenv.Real().NodeKey(step) }
