package proxy

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/mpiwrap/mpiwrap/pmi/client"
)

// Kind is the kind of PMI a host offers.
type Kind string

// Kinds of host PMI.
const (
	KindNone Kind = "none" // no launcher: a singleton
	KindPMI  Kind = "pmi"  // PMI-1/PMI-2 over PMI_FD or PMI_PORT
	KindPMIx Kind = "pmix" // a PMIx server (PMIX_NAMESPACE, PMIX_SERVER_URI*)
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
var fdIsSocket = func(fd int) bool {
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFSOCK
}

// DetectHost reads env. It checks that PMI_FD is an open socket, because a
// PMI_FD left over from an outer launcher (srun around mpirun) names an fd
// this process does not have.
func DetectHost(env []string) Host {
	v := envMap(env)
	h := Host{PMIFD: -1, PMIRank: atoiOr(v["PMI_RANK"], -1), PMISize: atoiOr(v["PMI_SIZE"], -1),
		PMIxNS: v["PMIX_NAMESPACE"], SlurmMPIType: v["SLURM_MPI_TYPE"], SlurmJob: v["SLURM_JOB_ID"],
		PMIID: v["PMI_ID"], Flux: v["FLUX_JOB_ID"] != ""}
	if fd, err := strconv.Atoi(v["PMI_FD"]); err == nil && fd >= 0 {
		h.PMIFD, h.PMIFDSocket = fd, fdIsSocket(fd)
	}
	if _, ok := v["PMI_ID"]; ok {
		h.PMIPort = v["PMI_PORT"]
	}
	for k := range v {
		switch {
		case strings.HasPrefix(k, "PMIX_SERVER_URI"):
			h.PMIxURIs = append(h.PMIxURIs, k)
		case strings.HasPrefix(k, "OMPI_COMM_WORLD_"), k == "PRTE_LAUNCHED":
			h.OpenMPI = true
		}
	}
	slices.Sort(h.PMIxURIs)
	h.LocalSize, _ = LocalSizeFromEnv(env)
	return h
}

// Suggest picks the host PMI for --pmi=auto and says why. A live PMI fd
// or port wins over PMIx: PMI variables are set by the nearest launcher
// (hydra under srun --mpi=pmix still hands each rank PMI_FD).
func (h Host) Suggest() (Kind, string) {
	switch {
	case h.PMIFD >= 0 && h.PMIFDSocket:
		return KindPMI, fmt.Sprintf("PMI_FD=%d is an open socket", h.PMIFD)
	case h.PMIPort != "":
		return KindPMI, fmt.Sprintf("PMI_PORT=%s and PMI_ID=%s are set", h.PMIPort, h.PMIID)
	case h.PMIxNS != "" && len(h.PMIxURIs) > 0:
		return KindPMIx, fmt.Sprintf("PMIX_NAMESPACE=%s and %s are set", h.PMIxNS, h.PMIxURIs[0])
	case h.PMIFD >= 0:
		return KindNone, fmt.Sprintf("PMI_FD=%d is not an open socket here (left over from an outer launcher?)", h.PMIFD)
	}
	return KindNone, "no PMI_FD, PMI_PORT+PMI_ID or PMIx server variables: a singleton"
}

// localSizeTable lists where launchers put the number of ranks on this
// node, first match wins.
var localSizeTable = []struct {
	name  string
	parse func(v map[string]string, val string) int
}{
	{"MPI_LOCALNRANKS", plainCount},            // hydra
	{"OMPI_COMM_WORLD_LOCAL_SIZE", plainCount}, // Open MPI / PRRTE
	{"SLURM_STEP_TASKS_PER_NODE", slurmCount},  // srun: "2(x3),1" indexed by SLURM_NODEID
}

// LocalSizeFromEnv returns the number of ranks on this node, and the
// variable it came from.
func LocalSizeFromEnv(env []string) (int, string) {
	v := envMap(env)
	for _, src := range localSizeTable {
		if val, ok := v[src.name]; ok {
			if n := src.parse(v, val); n > 0 {
				return n, src.name
			}
		}
	}
	return 0, ""
}

func plainCount(_ map[string]string, val string) int { return atoiOr(val, 0) }

// slurmCount reads Slurm's compressed per-node task counts, e.g.
// "2(x3),1" for nodes 0-2 with 2 tasks and node 3 with 1.
func slurmCount(v map[string]string, val string) int {
	node := atoiOr(v["SLURM_NODEID"], -1)
	if node < 0 {
		return 0
	}
	for _, part := range strings.Split(val, ",") {
		count, rep := part, "1"
		if i := strings.Index(part, "(x"); i >= 0 && strings.HasSuffix(part, ")") {
			count, rep = part[:i], part[i+2:len(part)-1]
		}
		n, r := atoiOr(count, 0), atoiOr(rep, 0)
		if n <= 0 || r <= 0 {
			return 0
		}
		if node < r {
			return n
		}
		node -= r
	}
	return 0
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

func atoiOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}
