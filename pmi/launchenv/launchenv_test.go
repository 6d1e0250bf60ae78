package launchenv

import (
	"math/rand/v2"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fake is a process whose fd 5 is a socket to the hydra proxy, pid 77.
var fake = Probes{
	PeerPid:    func(fd int) (int, bool) { return 77, fd == 5 },
	FDIsSocket: func(fd int) bool { return fd == 5 },
	Ppid:       func() int { return 42 },
	NetNS:      func() string { return "net:[1]" },
	Hostname:   func() string { return "n1" },
}

// seen is what a case checks of an Env, with Source joined as mpiwrap
// prints it.
type seen struct {
	Launcher                         Launcher
	Rank, Size, LocalRank, LocalSize int
	Source, Step, Node               string
	Offer, Trusted                   Offer // probed, and with FDIsSocket nil
}

func look(env []string) seen {
	e := Detect(env, fake)
	return seen{e.Launcher, e.Rank, e.Size, e.LocalRank, e.LocalSize, strings.Join(e.Source, ","),
		e.Step, e.Node, e.Offer, Detect(env, fake.TrustPMIFD()).Offer}
}

const (
	hydraSrc = "PMI_RANK,PMI_SIZE,MPI_LOCALRANKID,MPI_LOCALNRANKS"
	slurmSrc = "SLURM_PROCID,SLURM_NTASKS,SLURM_LOCALID,SLURM_STEP_TASKS_PER_NODE,SLURM_NODEID"
	ompiSrc  = "OMPI_COMM_WORLD_RANK,OMPI_COMM_WORLD_SIZE,OMPI_COMM_WORLD_LOCAL_RANK,OMPI_COMM_WORLD_LOCAL_SIZE"
)

var (
	slurmVars = []string{"SLURM_PROCID=5", "SLURM_NTASKS=8", "SLURM_LOCALID=1", "SLURM_STEP_TASKS_PER_NODE=4(x2)",
		"SLURM_NODEID=1", "SLURM_JOB_ID=9", "SLURM_STEP_ID=0"}
	pmixVars = []string{"PMIX_NAMESPACE=ns", "PMIX_RANK=2", "PMIX_SERVER_URI41=ns.0;tcp4://127.0.0.1:1", "PMIX_SERVER_URI2=x"}
	ompiVars = []string{"OMPI_COMM_WORLD_RANK=2", "OMPI_COMM_WORLD_SIZE=4", "OMPI_COMM_WORLD_LOCAL_RANK=2",
		"OMPI_COMM_WORLD_LOCAL_SIZE=4", "PRTE_LAUNCHED=1"}
)

func with(lists ...[]string) []string { return slices.Concat(lists...) }

func TestDetect(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want seen
	}{
		{"hydra PMI_FD", []string{"PMI_FD=5", "PMI_RANK=3", "PMI_SIZE=8", "MPI_LOCALRANKID=1", "MPI_LOCALNRANKS=4"},
			seen{Hydra, 3, 8, 1, 4, hydraSrc, "hydra:77", "hydra:77|net:[1]|n1", OfferPMI, OfferPMI}},
		// No peer: the ranks' common parent names the step.
		{"hydra PMI_FD not a socket", []string{"PMI_FD=9", "PMI_RANK=3", "PMI_SIZE=8", "MPI_LOCALRANKID=1", "MPI_LOCALNRANKS=4"},
			seen{Hydra, 3, 8, 1, 4, hydraSrc, "hydra:ppid:42", "hydra:ppid:42|net:[1]|n1", OfferNone, OfferPMI}},
		{"hydra PMI_FD not a number", []string{"PMI_FD=x", "PMI_RANK=0", "MPI_LOCALNRANKS=1"},
			seen{Hydra, 0, -1, -1, 1, hydraSrc, "hydra:ppid:42", "hydra:ppid:42|net:[1]|n1", OfferNone, OfferPMI}},
		{"hydra -pmi-port", []string{"PMI_PORT=h:1", "PMI_ID=3", "PMI_RANK=3", "PMI_SIZE=8", "MPI_LOCALRANKID=1", "MPI_LOCALNRANKS=4"},
			seen{Hydra, 3, 8, 1, 4, hydraSrc, "hydra:h:1", "hydra:h:1|net:[1]|n1", OfferPMI, OfferPMI}},
		// srun (--mpi=pmix) started the hydra proxies: the inner launcher
		// wins for the rank, the step and the offer.
		{"hydra under srun", with(slurmVars, pmixVars, []string{"PMI_FD=5", "PMI_RANK=1", "PMI_SIZE=2", "MPI_LOCALRANKID=1", "MPI_LOCALNRANKS=2"}),
			seen{Hydra, 1, 2, 1, 2, hydraSrc, "hydra:77", "hydra:77|net:[1]|n1", OfferPMI, OfferPMI}},
		// Slurm's pmi2 plugin sets PMI_RANK and PMI_SIZE, which read as the
		// hydra row (kept from mpiwrap): no MPI_LOCALNRANKS, so no local
		// size, and the step is Slurm's.
		{"srun --mpi=pmi2", with(slurmVars, []string{"PMI_FD=5", "PMI_RANK=5", "PMI_SIZE=8", "PMI_JOBID=9.0", "SLURM_MPI_TYPE=pmi2"}),
			seen{Hydra, 5, 8, -1, -1, hydraSrc, "slurm:9.0", "slurm:9.0|net:[1]|n1", OfferPMI, OfferPMI}},
		{"srun --mpi=pmix", with(slurmVars, pmixVars, []string{"SLURM_MPI_TYPE=pmix"}),
			seen{Slurm, 5, 8, 1, 4, slurmSrc, "slurm:9.0", "slurm:9.0|net:[1]|n1", OfferPMIx, OfferPMIx}},
		{"srun --mpi=none", slurmVars,
			seen{Slurm, 5, 8, 1, 4, slurmSrc, "slurm:9.0", "slurm:9.0|net:[1]|n1", OfferNone, OfferNone}},
		{"mpirun", with(ompiVars, []string{"PMIX_NAMESPACE=prterun-x@1", "PMIX_RANK=2", "PMIX_SERVER_URI41=u"}),
			seen{OpenMPI, 2, 4, 2, 4, ompiSrc, "ompi:prterun-x@1", "ompi:prterun-x@1|net:[1]|n1", OfferPMIx, OfferPMIx}},
		{"mpirun without namespace", ompiVars,
			seen{OpenMPI, 2, 4, 2, 4, ompiSrc, "ompi:42", "ompi:42|net:[1]|n1", OfferNone, OfferNone}},
		// srun around mpirun: Slurm's PMI_FD is not this process's.
		{"left-over PMI_FD under mpirun", with(slurmVars, ompiVars, pmixVars, []string{"PMI_FD=9"}),
			seen{OpenMPI, 2, 4, 2, 4, ompiSrc, "ompi:ns", "ompi:ns|net:[1]|n1", OfferPMIx, OfferPMI}},
		{"left-over PMI_FD alone", []string{"PMI_FD=9"},
			seen{None, -1, -1, -1, -1, "", "", "", OfferNone, OfferPMI}},
		{"pmix only", pmixVars,
			seen{PMIx, 2, -1, -1, -1, "PMIX_RANK", "pmix:ns", "pmix:ns|net:[1]|n1", OfferPMIx, OfferPMIx}},
		{"pmix namespace without server", []string{"PMIX_NAMESPACE=ns"},
			seen{None, -1, -1, -1, -1, "", "pmix:ns", "pmix:ns|net:[1]|n1", OfferNone, OfferNone}},
		// Flux sets PMI_RANK and PMI_FD, but no MPI_LOCALNRANKS.
		{"flux", []string{"PMI_FD=5", "PMI_RANK=0", "PMI_SIZE=2", "FLUX_JOB_ID=f1", "FLUX_TASK_RANK=0"},
			seen{Hydra, 0, 2, -1, -1, hydraSrc, "", "", OfferPMI, OfferPMI}},
		// Set but empty is unset, in Go and in C.
		{"empty variables", []string{"PMI_RANK=", "MPI_LOCALNRANKS=", "PMI_PORT=h:1", "PMI_ID=1", "SLURM_JOB_ID=", "SLURM_STEP_ID=0"},
			seen{None, -1, -1, -1, -1, "", "", "", OfferPMI, OfferPMI}},
		// PMI_ID empty: there for the probed reading, not for the trusting one.
		{"empty PMI_ID", []string{"PMI_PORT=h:1", "PMI_ID="},
			seen{None, -1, -1, -1, -1, "", "", "", OfferPMI, OfferNone}},
		{"PMI_PORT without PMI_ID", []string{"PMI_PORT=h:1"},
			seen{None, -1, -1, -1, -1, "", "", "", OfferNone, OfferNone}},
		{"bad numbers", []string{"PMI_RANK=x", "PMI_SIZE=", "MPI_LOCALNRANKS=y", "PMI_PORT=h:1"},
			seen{Hydra, -1, -1, -1, -1, hydraSrc, "hydra:h:1", "hydra:h:1|net:[1]|n1", OfferNone, OfferNone}},
		{"last entry wins", []string{"PMI_RANK=1", "PMI_RANK=2", "MPI_LOCALNRANKS=2", "PMI_PORT=a", "PMI_PORT=b"},
			seen{Hydra, 2, -1, -1, 2, hydraSrc, "hydra:b", "hydra:b|net:[1]|n1", OfferNone, OfferNone}},
		{"none", []string{"PATH=/bin", "NOEQUALS"},
			seen{None, -1, -1, -1, -1, "", "", "", OfferNone, OfferNone}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := look(tt.env); got != tt.want {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestOfferWhy(t *testing.T) {
	tests := []struct {
		env  []string
		p    Probes
		want string
	}{
		{[]string{"PMI_FD=5"}, fake, "PMI_FD=5 is an open socket"},
		{[]string{"PMI_FD=5"}, Probes{}, "PMI_FD is set (trusted: not checked in this process)"},
		{[]string{"PMI_PORT=h:1", "PMI_ID=2"}, fake, "PMI_PORT=h:1 and PMI_ID=2 are set"},
		{pmixVars, fake, "PMIX_NAMESPACE=ns and PMIX_SERVER_URI2 are set"},
		{[]string{"PMI_FD=9"}, fake, "PMI_FD=9 is not an open socket here (left over from an outer launcher?)"},
		{nil, fake, "no PMI_FD, PMI_PORT+PMI_ID or PMIx server variables: a singleton"},
	}
	for _, tt := range tests {
		if got := Detect(tt.env, tt.p).OfferWhy; got != tt.want {
			t.Errorf("%v: OfferWhy = %q, want %q", tt.env, got, tt.want)
		}
	}
}

func TestPMIVars(t *testing.T) {
	e := Detect(with(pmixVars, []string{"PMI_FD=5", "PMI_PORT=h:1", "PMI_ID=3", "PMI_RANK=1", "PMI_SIZE=4"}), fake)
	want := PMIVars{FD: 5, FDLive: true, Port: "h:1", ID: "3", Rank: 1, Size: 4, PMIxNS: "ns",
		PMIxURIs: []string{"PMIX_SERVER_URI2", "PMIX_SERVER_URI41"}}
	if !reflect.DeepEqual(e.PMI, want) {
		t.Fatalf("PMI = %+v\nwant %+v", e.PMI, want)
	}
	if got := Detect(nil, fake).PMI; got.PMIxURIs != nil || got.FD != -1 || got.Rank != -1 {
		t.Fatalf("empty PMI = %+v", got)
	}
	if got := strings.Join(Detect([]string{"PMI_FD=5", "MPI_LOCALNRANKS=1"}, fake).StepVars, ","); got != "MPI_LOCALNRANKS,PMI_FD" {
		t.Fatalf("StepVars = %s", got)
	}
}

// The zero Probes is pure and safe: failed probes, a trusted PMI_FD.
func TestZeroProbes(t *testing.T) {
	e := Detect([]string{"PMI_FD=5", "MPI_LOCALNRANKS=2", "PMI_RANK=0"}, Probes{})
	if e.Step != "hydra:ppid:0" || e.Node != "hydra:ppid:0||" || e.Offer != OfferPMI {
		t.Fatalf("got %+v", e)
	}
}

func TestLocalSize(t *testing.T) {
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
		{"srun --mpi=pmi2", with(slurmVars, []string{"PMI_RANK=5"}), 4, "SLURM_STEP_TASKS_PER_NODE"},
		{"slurm node out of range", []string{"SLURM_STEP_TASKS_PER_NODE=2(x3),1", "SLURM_NODEID=4"}, 0, ""},
		{"slurm without node id", []string{"SLURM_STEP_TASKS_PER_NODE=4"}, 0, ""},
		{"slurm garbage", []string{"SLURM_STEP_TASKS_PER_NODE=2(x", "SLURM_NODEID=0"}, 0, ""},
		{"bad number falls through", []string{"MPI_LOCALNRANKS=x", "OMPI_COMM_WORLD_LOCAL_SIZE=3"}, 3, "OMPI_COMM_WORLD_LOCAL_SIZE"},
		{"zero falls through", []string{"MPI_LOCALNRANKS=0", "OMPI_COMM_WORLD_LOCAL_SIZE=3"}, 3, "OMPI_COMM_WORLD_LOCAL_SIZE"},
		{"none", nil, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, v := LocalSize(tt.env)
			if n != tt.want || v != tt.wantVar {
				t.Fatalf("LocalSize = %d, %q; want %d, %q", n, v, tt.want, tt.wantVar)
			}
		})
	}
}

func TestSlurmTasks(t *testing.T) {
	tests := []struct {
		list string
		node int
		want int
		ok   bool
	}{
		{"4", 0, 4, true}, {"4", 1, 0, false},
		{"2(x3),1", 0, 2, true}, {"2(x3),1", 1, 2, true}, {"2(x3),1", 2, 2, true},
		{"2(x3),1", 3, 1, true}, {"2(x3),1", 4, 0, false},
		{"", 0, 0, false}, {"x", 0, 0, false}, {"3", -1, 0, false},
		{"2(x", 0, 0, false}, {"1,x", 0, 1, true}, {"x,1", 1, 0, false},
		// Lists Slurm does not write.
		{"0,3", 1, 0, false}, {"2(x0),3", 0, 0, false}, {"-1", 0, 0, false},
	}
	for _, tt := range tests {
		if n, ok := SlurmTasks(tt.list, tt.node); n != tt.want || ok != tt.ok {
			t.Errorf("SlurmTasks(%q, %d) = %d, %v; want %d, %v", tt.list, tt.node, n, ok, tt.want, tt.ok)
		}
	}
}

func TestRealProbes(t *testing.T) {
	p := Real()
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sp[0])
	defer unix.Close(sp[1])
	if pid, ok := p.PeerPid(sp[0]); !ok || pid != os.Getpid() {
		t.Errorf("PeerPid = %d, %v; want %d", pid, ok, os.Getpid())
	}
	var pipe [2]int
	if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pipe[0])
	defer unix.Close(pipe[1])
	if !p.FDIsSocket(sp[0]) || p.FDIsSocket(pipe[0]) || p.FDIsSocket(1<<20) {
		t.Error("FDIsSocket: want true for a socket only")
	}
	if _, ok := p.PeerPid(pipe[0]); ok {
		t.Error("PeerPid of a pipe: want false")
	}
	host, _ := os.Hostname()
	if got := p.NodeKey("s"); got != "s|"+netNSCookie(t)+"|"+host {
		t.Errorf("NodeKey = %q", got)
	}
	if p.Ppid() != os.Getppid() || p.TrustPMIFD().FDIsSocket != nil {
		t.Error("Ppid or TrustPMIFD")
	}
}

// netNSCookie is this network namespace's cookie as NodeKey names it
// ("netns:N"), checked against a namespace of its own: the cookie of a
// new network namespace differs, and is the same from every socket in it.
func netNSCookie(t *testing.T) string {
	cookie := func() string {
		s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(s)
		c, err := unix.GetsockoptUint64(s, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
		if err != nil {
			t.Skipf("no SO_NETNS_COOKIE here (Linux < 5.14): %v", err)
		}
		return "netns:" + strconv.FormatUint(c, 10)
	}
	here := cookie()
	if a, b := netNS(), netNS(); a != here || b != here {
		t.Fatalf("netNS() = %q, then %q, want %q", a, b, here)
	}
	if os.Geteuid() == 0 { // a thread of its own in a new network namespace
		other := make(chan string)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends with it
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				other <- "unshare: " + err.Error()
				return
			}
			other <- netNS()
		}()
		if got := <-other; got == here || !strings.HasPrefix(got, "netns:") {
			t.Fatalf("netNS() in a new network namespace = %q, here %q", got, here)
		}
	}
	return here
}

// TestPerRankOnlyRankDiffers checks PerRank's claim on random launcher
// environments: two that differ only in PerRank values of the same Class
// read alike but for Rank and LocalRank (and the PMI variables' own
// values), as the keeper assumes when it plans ranks once per shape.
func TestPerRankOnlyRankDiffers(t *testing.T) {
	names := []string{"PMI_RANK", "PMI_SIZE", "PMI_FD", "PMI_ID", "PMI_PORT", "MPI_LOCALNRANKS", "MPI_LOCALRANKID",
		"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE",
		"SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_JOB_ID", "SLURM_STEP_ID", "SLURM_STEP_TASKS_PER_NODE",
		"SLURM_NODEID", "PMIX_RANK", "PMIX_NAMESPACE", "PMIX_SERVER_URI41"}
	values := [][]string{{""}, {"0", "3", "+7", "12"}, {"-1", "-4"}, {"x", "1x", " 2"}}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(class []string) string { return class[rng.IntN(len(class))] }
	for i := 0; i < 5000; i++ {
		var a, b []string
		for _, k := range names {
			if rng.IntN(3) == 0 {
				continue
			}
			class := values[rng.IntN(len(values))]
			va := pick(class)
			vb := va
			if PerRank[k] {
				vb = pick(class)
			}
			a, b = append(a, k+"="+va), append(b, k+"="+vb)
		}
		for _, trust := range []Probes{{}, {FDIsSocket: func(int) bool { return true }}} {
			da, db := Detect(a, trust), Detect(b, trust)
			same := func(e Env) Env {
				e.Rank, e.LocalRank, e.OfferWhy = 0, 0, ""
				e.PMI.FD, e.PMI.ID, e.PMI.Rank = 0, "", 0
				return e
			}
			if !reflect.DeepEqual(same(da), same(db)) {
				t.Fatalf("alike but for PerRank values, read differently:\n%q\n%+v\n%q\n%+v", a, da, b, db)
			}
		}
	}
	for v, want := range map[string]string{"": "e", "0": "n", "+3": "n", "-1": "-", "x": "x", "1 ": "x"} {
		if got := Class(v); got != want {
			t.Errorf("Class(%q) = %q, want %q", v, got, want)
		}
	}
}
