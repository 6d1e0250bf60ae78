package proxy

import (
	"context"
	"fmt"
	"strings"

	"github.com/mpiwrap/mpiwrap/pmi/client"
	"github.com/mpiwrap/mpiwrap/pmi/launchenv"
)

// Kind is the kind of PMI a host offers.
type Kind = launchenv.Offer

// Kinds of host PMI.
const (
	KindNone = launchenv.OfferNone // no launcher: a singleton
	KindPMI  = launchenv.OfferPMI  // PMI-1/PMI-2 over PMI_FD or PMI_PORT
	KindPMIx = launchenv.OfferPMIx // a PMIx server (PMIX_NAMESPACE, PMIX_SERVER_URI*)
)

// Host describes what the launcher offers, from the environment.
type Host struct {
	PMIFD        int      // PMI_FD, -1 if unset
	PMIFDSocket  bool     // PMI_FD is an open socket in this process
	PMIPort      string   // PMI_PORT (with PMIID set), "" if unset
	PMIID        string   // PMI_ID
	PMIRank      int      // PMI_RANK, -1 if unset
	PMISize      int      // PMI_SIZE, -1 if unset
	PMIxNS       string   // PMIX_NAMESPACE
	PMIxURIs     []string // names of the PMIX_SERVER_URI* variables, sorted
	SlurmMPIType string   // SLURM_MPI_TYPE (srun --mpi=...)
	SlurmJob     string   // SLURM_JOB_ID
	OpenMPI      bool     // OMPI_COMM_WORLD_* or PRTE_LAUNCHED: Open MPI/PRRTE launched us
	Flux         bool     // FLUX_JOB_ID
	LocalSize    int      // ranks on this node (LocalSizeFromEnv), 0 if unknown
}

// fdIsSocket reports whether fd is an open socket; a variable for tests.
var fdIsSocket = launchenv.Real().FDIsSocket

// DetectHost reads env. It checks that PMI_FD is an open socket, because a
// PMI_FD left over from an outer launcher (srun around mpirun) names an fd
// this process does not have. FDIsSocket is its only probe: the step key
// launchenv also makes is not wanted here.
func DetectHost(env []string) Host {
	e := launchenv.Detect(env, launchenv.Probes{FDIsSocket: fdIsSocket})
	v := envMap(env)
	h := Host{PMIFD: e.PMI.FD, PMIFDSocket: e.PMI.FDLive, PMIPort: e.PMI.Port, PMIID: e.PMI.ID,
		PMIRank: e.PMI.Rank, PMISize: e.PMI.Size, PMIxNS: e.PMI.PMIxNS, PMIxURIs: e.PMI.PMIxURIs,
		SlurmMPIType: v["SLURM_MPI_TYPE"], SlurmJob: v["SLURM_JOB_ID"], Flux: v["FLUX_JOB_ID"] != ""}
	for k := range v {
		if strings.HasPrefix(k, "OMPI_COMM_WORLD_") || k == "PRTE_LAUNCHED" {
			h.OpenMPI = true
		}
	}
	h.LocalSize, _ = LocalSizeFromEnv(env)
	return h
}

// Suggest picks the host PMI for --pmi=auto and says why, by launchenv's
// offer table: a live PMI fd or port wins over PMIx.
func (h Host) Suggest() (Kind, string) {
	return launchenv.PMIVars{FD: h.PMIFD, FDLive: h.PMIFDSocket, Port: h.PMIPort, ID: h.PMIID,
		Rank: h.PMIRank, Size: h.PMISize, PMIxNS: h.PMIxNS, PMIxURIs: h.PMIxURIs}.Offer()
}

// LocalSizeFromEnv returns the number of ranks on this node, and the
// variable it came from; 0 and "" if unknown (launchenv.LocalSize).
func LocalSizeFromEnv(env []string) (int, string) {
	return launchenv.LocalSize(env)
}

// Wire chooses the PMI version spoken upstream.
type Wire string

// Wire versions. WireAuto is PMI-1, which hydra, Slurm's pmi2 plugin and
// Flux all serve.
const (
	WireAuto Wire = "auto"
	WirePMI1 Wire = "pmi1"
	WirePMI2 Wire = "pmi2"
)

// ParseWire reads a --pmi-wire style value.
func ParseWire(s string) (Wire, error) {
	switch w := Wire(strings.ToLower(s)); w {
	case WireAuto, WirePMI1, WirePMI2:
		return w, nil
	case "", "1", "2":
		return map[string]Wire{"": WireAuto, "1": WirePMI1, "2": WirePMI2}[s], nil
	}
	return "", fmt.Errorf("parse PMI wire %q: want auto, pmi1 or pmi2", s)
}

// UpstreamFromEnv connects to the launcher's PMI_FD (or PMI_PORT+PMI_ID)
// and initialises a PMI-1 or PMI-2 client on it.
func UpstreamFromEnv(ctx context.Context, env []string, w Wire) (Upstream, error) {
	cfg, err := client.ConfigFromEnv(env)
	if err != nil {
		return nil, err
	}
	if w == WirePMI2 {
		return client.NewPMI2(ctx, cfg)
	}
	return client.NewPMI1(ctx, cfg)
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}
