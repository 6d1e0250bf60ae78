package nsexec_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mpiwrap/mpiwrap/mpiwrap/nsexec"
	"github.com/mpiwrap/mpiwrap/pmi/launchenv"
)

// launcherPrefixes covers every variable launchenv or nsx_join_key reads,
// so a case sees only its own, even when the tests run under a launcher.
var launcherPrefixes = []string{"PMI_", "PMIX_", "MPI_LOCAL", "OMPI_", "SLURM_", "PRTE_", "FLUX_"}

var (
	slurmVars = []string{"SLURM_PROCID=0", "SLURM_NTASKS=2", "SLURM_LOCALID=0", "SLURM_STEP_TASKS_PER_NODE=2",
		"SLURM_NODEID=0", "SLURM_JOB_ID=12", "SLURM_STEP_ID=3"}
	pmixVars = []string{"PMIX_NAMESPACE=slurm.pmix.12.3", "PMIX_RANK=0", "PMIX_SERVER_URI41=slurm.pmix.12.3.0;tcp4://127.0.0.1:1"}
	ompiVars = []string{"OMPI_COMM_WORLD_RANK=0", "OMPI_COMM_WORLD_SIZE=2", "OMPI_COMM_WORLD_LOCAL_RANK=0",
		"OMPI_COMM_WORLD_LOCAL_SIZE=2", "PRTE_LAUNCHED=1"}
	hydraVars = []string{"PMI_RANK=0", "PMI_SIZE=2", "MPI_LOCALRANKID=0", "MPI_LOCALNRANKS=2"}
)

func vars(lists ...[]string) []string {
	var all []string
	for _, l := range lists {
		all = append(all, l...)
	}
	return all
}

// The C fast path must find the node's socket under the same key as
// launchenv, for every launcher of its table. "@sock" and "@pipe" stand for
// a socketpair's and a pipe's descriptor numbers in this process.
func TestJoinKeyMatchesLaunchenv(t *testing.T) {
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sp[0])
	defer unix.Close(sp[1])
	var pipe [2]int
	if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pipe[0])
	defer unix.Close(pipe[1])
	sock, ppid := fmt.Sprint(sp[0]), fmt.Sprint(os.Getppid())
	tests := []struct {
		name string
		env  []string
		step string // the step key's expected start; "" for no key
	}{
		// The socketpair's peer is this process.
		{"hydra PMI_FD", vars(hydraVars, []string{"PMI_FD=@sock"}), fmt.Sprintf("hydra:%d|", os.Getpid())},
		{"hydra PMI_FD not a socket", vars(hydraVars, []string{"PMI_FD=@pipe"}), "hydra:ppid:" + ppid + "|"},
		{"hydra PMI_FD not a number", vars(hydraVars, []string{"PMI_FD=@sock "}), "hydra:ppid:" + ppid + "|"},
		{"hydra -pmi-port", vars(hydraVars, []string{"PMI_PORT=node1:4242", "PMI_ID=0"}), "hydra:node1:4242|"},
		{"hydra under srun", vars(slurmVars, pmixVars, hydraVars, []string{"PMI_FD=@sock"}), fmt.Sprintf("hydra:%d|", os.Getpid())},
		{"srun --mpi=pmi2", vars(slurmVars, []string{"PMI_FD=@sock", "PMI_RANK=0", "PMI_SIZE=2", "SLURM_MPI_TYPE=pmi2"}), "slurm:12.3|"},
		{"srun --mpi=pmix", vars(slurmVars, pmixVars, []string{"SLURM_MPI_TYPE=pmix"}), "slurm:12.3|"},
		{"mpirun", vars(ompiVars, []string{"PMIX_NAMESPACE=prterun-n-1@1", "PMIX_RANK=0", "PMIX_SERVER_URI41=u"}), "ompi:prterun-n-1@1|"},
		{"mpirun without namespace", ompiVars, "ompi:" + ppid + "|"},
		{"left-over PMI_FD under mpirun", vars(slurmVars, ompiVars, pmixVars, []string{"PMI_FD=@pipe"}), "ompi:slurm.pmix.12.3|"},
		{"pmix only", pmixVars, "pmix:slurm.pmix.12.3|"},
		{"flux", []string{"PMI_FD=@sock", "PMI_RANK=0", "PMI_SIZE=2", "FLUX_JOB_ID=f1"}, ""},
		// Set but empty is unset, in C as in Go.
		{"empty hydra and slurm", []string{"MPI_LOCALNRANKS=", "PMI_PORT=h:1", "SLURM_JOB_ID=", "SLURM_STEP_ID=3"}, ""},
		{"empty open mpi", []string{"OMPI_COMM_WORLD_LOCAL_SIZE=", "PMIX_NAMESPACE=ns"}, "pmix:ns|"},
		{"none", []string{"PATH=/bin"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearLauncher(t)
			for _, kv := range tt.env {
				k, v, _ := strings.Cut(kv, "=")
				v = strings.NewReplacer("@sock", sock, "@pipe", fmt.Sprint(pipe[0])).Replace(v)
				t.Setenv(k, v)
			}
			goKey := launchenv.Detect(os.Environ(), launchenv.Real()).Node
			cKey, ok := nsexec.JoinKeyC()
			if ok != (goKey != "") || cKey != goKey {
				t.Fatalf("C key %q (%v), launchenv's node key %q", cKey, ok, goKey)
			}
			if !strings.HasPrefix(goKey, tt.step) || (tt.step == "") != (goKey == "") {
				t.Fatalf("node key %q, want it to start with %q", goKey, tt.step)
			}
		})
	}
}

func clearLauncher(t *testing.T) {
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		for _, p := range launcherPrefixes {
			if strings.HasPrefix(k, p) {
				t.Setenv(k, "") // restored after the case
				os.Unsetenv(k)
			}
		}
	}
}
