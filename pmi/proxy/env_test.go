package proxy

import (
	"reflect"
	"slices"
	"testing"

	"github.com/mpiwrap/mpiwrap/pmi"
)

func TestDetectHost(t *testing.T) {
	old := fdIsSocket
	defer func() { fdIsSocket = old }()
	fdIsSocket = func(fd int) bool { return fd == 5 }
	uris := []string{"PMIX_NAMESPACE=ns", "PMIX_SERVER_URI41=ns.0;tcp4://127.0.0.1:1", "PMIX_SERVER_URI2=x"}
	tests := []struct {
		name     string
		env      []string
		want     Kind
		wantURIs []string
	}{
		{"hydra fd", []string{"PMI_FD=5", "PMI_RANK=0", "PMI_SIZE=4", "MPI_LOCALNRANKS=4"}, KindPMI, nil},
		{"hydra port", []string{"PMI_PORT=h:1", "PMI_ID=2"}, KindPMI, nil},
		{"port without id", []string{"PMI_PORT=h:1"}, KindNone, nil},
		{"pmix", uris, KindPMIx, []string{"PMIX_SERVER_URI2", "PMIX_SERVER_URI41"}},
		{"hydra under srun --mpi=pmix", append([]string{"PMI_FD=5", "SLURM_MPI_TYPE=pmix"}, uris...), KindPMI, []string{"PMIX_SERVER_URI2", "PMIX_SERVER_URI41"}},
		{"stale fd under mpirun", append([]string{"PMI_FD=9", "OMPI_COMM_WORLD_SIZE=2"}, uris...), KindPMIx, []string{"PMIX_SERVER_URI2", "PMIX_SERVER_URI41"}},
		{"stale fd alone", []string{"PMI_FD=9"}, KindNone, nil},
		{"namespace without uri", []string{"PMIX_NAMESPACE=ns"}, KindNone, nil},
		{"nothing", nil, KindNone, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := DetectHost(tt.env)
			got, why := h.Suggest()
			if got != tt.want || why == "" {
				t.Fatalf("Suggest() = %v (%s), want %v; host %+v", got, why, tt.want, h)
			}
			if !slices.Equal(h.PMIxURIs, tt.wantURIs) {
				t.Fatalf("PMIxURIs = %v, want %v", h.PMIxURIs, tt.wantURIs)
			}
		})
	}
	h := DetectHost([]string{"PMI_FD=5", "PMI_RANK=1", "PMI_SIZE=4", "SLURM_MPI_TYPE=pmi2", "SLURM_JOB_ID=42", "FLUX_JOB_ID=f1", "OMPI_COMM_WORLD_RANK=1"})
	want := Host{PMIFD: 5, PMIFDSocket: true, PMIRank: 1, PMISize: 4, SlurmMPIType: "pmi2", SlurmJob: "42", OpenMPI: true, Flux: true}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("DetectHost = %+v, want %+v", h, want)
	}
}

func TestLocalSizeFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		want    int
		wantVar string
	}{
		{"hydra", []string{"MPI_LOCALNRANKS=4", "OMPI_COMM_WORLD_LOCAL_SIZE=2"}, 4, "MPI_LOCALNRANKS"},
		{"open mpi", []string{"OMPI_COMM_WORLD_LOCAL_SIZE=2"}, 2, "OMPI_COMM_WORLD_LOCAL_SIZE"},
		{"slurm node 0", []string{"SLURM_STEP_TASKS_PER_NODE=2(x3),1", "SLURM_NODEID=0"}, 2, "SLURM_STEP_TASKS_PER_NODE"},
		{"slurm node 3", []string{"SLURM_STEP_TASKS_PER_NODE=2(x3),1", "SLURM_NODEID=3"}, 1, "SLURM_STEP_TASKS_PER_NODE"},
		{"slurm node out of range", []string{"SLURM_STEP_TASKS_PER_NODE=2(x3),1", "SLURM_NODEID=4"}, 0, ""},
		{"slurm without node id", []string{"SLURM_STEP_TASKS_PER_NODE=4"}, 0, ""},
		{"slurm garbage", []string{"SLURM_STEP_TASKS_PER_NODE=2(x", "SLURM_NODEID=0"}, 0, ""},
		{"bad number falls through", []string{"MPI_LOCALNRANKS=x", "OMPI_COMM_WORLD_LOCAL_SIZE=3"}, 3, "OMPI_COMM_WORLD_LOCAL_SIZE"},
		{"none", nil, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, v := LocalSizeFromEnv(tt.env)
			if n != tt.want || v != tt.wantVar {
				t.Fatalf("LocalSizeFromEnv = %d, %q; want %d, %q", n, v, tt.want, tt.wantVar)
			}
		})
	}
}

func TestParseWire(t *testing.T) {
	tests := []struct {
		in   string
		want Wire
		ok   bool
	}{
		{"", WireAuto, true}, {"auto", WireAuto, true}, {"PMI1", WirePMI1, true}, {"2", WirePMI2, true},
		{"pmi2", WirePMI2, true}, {"pmix", "", false}, {"3", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseWire(tt.in)
			if got != tt.want || (err == nil) != tt.ok {
				t.Fatalf("ParseWire(%q) = %q, %v", tt.in, got, err)
			}
		})
	}
}

func TestRankEnv(t *testing.T) {
	env := []string{"HOME=/h", "PMI_FD=7", "PMI_PORT=h:1", "PMI_ID=3", "PMI_RANK=3", "PMI_SIZE=8",
		"PMIX_NAMESPACE=ns", "PMIX_SERVER_URI41=u", "MPI_LOCALNRANKS=8", "PMI_JOBID=42.0", "PMI_FDX=keep"}
	got := RankEnv(env, pmi.Info{Rank: 3, Size: 8, Spawned: true}, 3)
	want := []string{"HOME=/h", "MPI_LOCALNRANKS=8", "PMI_JOBID=42.0", "PMI_FDX=keep",
		"PMI_FD=3", "PMI_RANK=3", "PMI_SIZE=8", "PMI_SPAWNED=1"}
	if !slices.Equal(got, want) {
		t.Fatalf("RankEnv = %v\nwant %v", got, want)
	}
}

// Suggest says why in the words it always has (launchenv's offer table).
func TestSuggestWhy(t *testing.T) {
	old := fdIsSocket
	defer func() { fdIsSocket = old }()
	fdIsSocket = func(fd int) bool { return fd == 5 }
	tests := []struct {
		env  []string
		want string
	}{
		{[]string{"PMI_FD=5"}, "PMI_FD=5 is an open socket"},
		{[]string{"PMI_PORT=h:1", "PMI_ID=2"}, "PMI_PORT=h:1 and PMI_ID=2 are set"},
		{[]string{"PMIX_NAMESPACE=ns", "PMIX_SERVER_URI41=u"}, "PMIX_NAMESPACE=ns and PMIX_SERVER_URI41 are set"},
		{[]string{"PMI_FD=9"}, "PMI_FD=9 is not an open socket here (left over from an outer launcher?)"},
		{nil, "no PMI_FD, PMI_PORT+PMI_ID or PMIx server variables: a singleton"},
	}
	for _, tt := range tests {
		if _, why := DetectHost(tt.env).Suggest(); why != tt.want {
			t.Errorf("%v: Suggest says %q, want %q", tt.env, why, tt.want)
		}
	}
	// A Host built by hand is decided from its fields.
	if k, _ := (Host{PMIFD: -1, PMIPort: "h:1"}).Suggest(); k != KindPMI {
		t.Errorf("hand-built Host: %v, want %v", k, KindPMI)
	}
}
