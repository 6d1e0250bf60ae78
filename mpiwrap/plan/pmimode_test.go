package plan

import (
	"strings"
	"testing"
)

func TestClassifyClosure(t *testing.T) {
	tests := []struct {
		names  []string
		family MPIFamily
		pmix   bool
	}{
		{[]string{"libmpich.so.12", "libucp.so.0", "libc.so.6"}, "mpich", false},
		{[]string{"libmpich.so.12", "libpmix.so.2"}, "mpich", true},
		{[]string{"libmpi.so.40", "libopen-pal.so.40"}, "openmpi", true},
		{[]string{"libmpi.so.12"}, "mpich", false},
		{[]string{"libc.so.6"}, "unknown", false},
	}
	for _, tt := range tests {
		c := ClassifyClosure(tt.names)
		if c.Family != tt.family || c.PMIx != tt.pmix {
			t.Errorf("%v: got %+v", tt.names, c)
		}
	}
}

func TestPMIMode(t *testing.T) {
	pmiEnv := []string{"PMI_FD=5", "PMI_RANK=0", "PMI_SIZE=4"} // no step: Flux-like
	hydraEnv := append([]string{"MPI_LOCALNRANKS=4", "MPI_LOCALRANKID=0"}, pmiEnv...)
	hydraAlone := append([]string{"MPI_LOCALNRANKS=1", "MPI_LOCALRANKID=0"}, pmiEnv...)
	hydraPort := []string{"PMI_PORT=127.0.0.1:3333", "PMI_ID=0", "MPI_LOCALNRANKS=2", "MPI_LOCALRANKID=0"}
	srunEnv := append([]string{"SLURM_JOB_ID=7", "SLURM_STEP_ID=0", "SLURM_PROCID=0", "SLURM_NTASKS=4",
		"SLURM_STEP_TASKS_PER_NODE=4", "SLURM_NODEID=0", "SLURM_LOCALID=0"}, pmiEnv...)
	pmixEnv := []string{"PMIX_NAMESPACE=ns", "PMIX_RANK=0", "PMIX_SERVER_URI41=x"}
	mpich := MPIClient{Family: "mpich", Library: "libmpich.so.12"}
	ompi := MPIClient{Family: "openmpi", PMIx: true, Library: "libmpi.so.40"}
	ambiguous := MPIClient{Family: "unknown", Ambiguous: true, Why: "app names no MPI library, and the image holds both"}
	unknown := MPIClient{Family: "unknown", Why: "app loads no MPI library"}
	tests := []struct {
		name, pmi string
		env       []string
		c         MPIClient
		want      string // mode, "mode: <why>", or "error: <text>"
	}{
		{"hydra mpich", "auto", pmiEnv, mpich, "passthrough"},
		{"pmix mpich", "auto", pmixEnv, mpich, "proxy"},
		{"pmix mpich+pmix", "auto", pmixEnv, MPIClient{Family: "mpich", PMIx: true}, "passthrough"},
		{"pmix openmpi", "auto", pmixEnv, ompi, "passthrough"},
		{"pmi openmpi, no launcher step", "auto", pmiEnv, ompi, "error: speaks only PMIx and this launcher offers PMI-1/2, so mpiwrap serves PMIx from the node's namespace keeper, which this rank goes without (no launcher found in the environment: a single rank): this launcher is not one"},
		{"hydra openmpi", "auto", hydraEnv, ompi, "pmix-server: PMIx server for the launcher's PMI-1/2, in the node's keeper: the container's Open MPI (libmpi.so.40) speaks only PMIx"},
		{"hydra port openmpi", "auto", hydraPort, ompi, "pmix-server"},
		{"srun pmi2 openmpi", "auto", srunEnv, ompi, "pmix-server"},
		{"hydra openmpi alone on its node", "auto", hydraAlone, ompi, "pmix-server"},
		{"pmix unknown", "auto", pmixEnv, MPIClient{Family: "unknown"}, "passthrough"},
		{"no launcher", "auto", nil, mpich, "passthrough"},
		{"forced proxy", "proxy", pmiEnv, mpich, "proxy"},
		{"forced proxy, nothing to proxy", "proxy", nil, mpich, "error: offers no PMI"},
		{"off", "off", pmixEnv, mpich, "off"},
		{"passthrough", "passthrough", pmixEnv, mpich, "passthrough"},
		{"pmix ambiguous", "auto", pmixEnv, ambiguous,
			"passthrough: the launcher offers PMIx; app names no MPI library, and the image holds both: passthrough, which Open MPI needs (pass --pmi=proxy if the command runs MPICH)"},
		{"pmi ambiguous", "auto", pmiEnv, ambiguous,
			"passthrough: the launcher offers pmi; the container's MPI is unknown (app names no MPI library, and the image holds both)"},
		{"no launcher, ambiguous", "auto", nil, ambiguous, "passthrough: the launcher offers no PMI: nothing to translate"},
		{"pmix unknown, why", "auto", pmixEnv, unknown,
			"passthrough: the launcher offers PMIx; the container's MPI is unknown (app loads no MPI library)"},
		{"pmi unknown", "auto", pmiEnv, unknown,
			"passthrough: the launcher offers pmi; the container's MPI is unknown (app loads no MPI library)"},
		{"pmi mpich, why", "", pmiEnv, mpich, "passthrough: the launcher offers pmi, which the container's mpich speaks"},
		{"pmix mpich, why", "auto", pmixEnv, mpich,
			"proxy: the launcher offers PMIx and the container's MPICH (libmpich.so.12) has no PMIx client"},
		{"pmi openmpi, why", "auto", pmiEnv, ompi, "error: the image's Open MPI (libmpi.so.40) speaks only PMIx"},
		{"forced off, why", "off", pmiEnv, ompi, "off: --pmi=off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mode, why, err := DecidePMI(&Spec{PMI: PMIMode(tt.pmi)}, tt.env, tt.c)
			checkMode(t, mode, why, err, tt.want)
		})
	}
}

// TestPMIServerJoin: the PMIx server lives in the node's keeper, so a rank
// that goes without one is refused with what to do; a rank alone on its
// node reaches the keeper (from C) unless -v sends it through Go.
func TestPMIServerJoin(t *testing.T) {
	ompi := MPIClient{Family: "openmpi", PMIx: true, Library: "libmpi.so.40"}
	hydra := []string{"PMI_FD=5", "PMI_RANK=0", "PMI_SIZE=4", "MPI_LOCALNRANKS=4", "MPI_LOCALRANKID=0"}
	alone := []string{"PMI_FD=5", "PMI_RANK=0", "PMI_SIZE=4", "MPI_LOCALNRANKS=1", "MPI_LOCALRANKID=0"}
	tests := []struct {
		name string
		spec Spec
		env  []string
		want string
	}{
		{"no-join", Spec{NoJoin: true}, hydra, "error: (every rank gets its own namespace (--no-join)): drop --no-join, or run under srun --mpi=pmix"},
		{"verbose", Spec{Verbose: true}, hydra, "pmix-server"},
		{"verbose alone", Spec{Verbose: true}, alone, "error: run it without -v (mpiwrap check prints the plan), or give --join-key"},
		{"verbose alone, join key", Spec{Verbose: true, JoinKey: "k"}, alone, "pmix-server"},
		{"forced passthrough", Spec{PMI: PMIPassthrough}, hydra, "passthrough: --pmi=passthrough"},
		{"net none", Spec{Net: NetNone}, hydra, "error: over the host's loopback, which --net=none's private network can't reach"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mode, why, err := DecidePMI(&tt.spec, tt.env, ompi)
			checkMode(t, mode, why, err, tt.want)
		})
	}
}

// checkMode compares DecidePMI's result with "mode", "mode: <why>" or
// "error: <text>" (a substring of either).
func checkMode(t *testing.T, mode PMIMode, why string, err error, want string) {
	t.Helper()
	wantMode, wantWhy, _ := strings.Cut(want, ": ")
	if wantMode == "error" {
		if err == nil || !strings.Contains(err.Error(), wantWhy) {
			t.Fatalf("got %q, %v; want an error with %q", mode, err, wantWhy)
		}
		return
	}
	if err != nil || mode.String() != wantMode || why == "" || !strings.Contains(why, wantWhy) {
		t.Fatalf("got %q (%s), %v; want %q", mode, why, err, want)
	}
}
