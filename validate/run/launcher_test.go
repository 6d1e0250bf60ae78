package run

import (
	"os"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/validate/report"
)

func TestWithCPUBind(t *testing.T) {
	for _, c := range []struct {
		kind, bind, want string
	}{
		{Hydra, "core", "L -bind-to core -n 2"},
		{Slurm, "cores", "L --cpu-bind=cores -n 2"},
		{OpenMPI, "core", "L --bind-to core -n 2"},
		{Unknown, "", "L -n 2"},
	} {
		got, err := WithCPUBind([]string{"L", "-n", "2"}, c.kind, c.bind)
		if err != nil || strings.Join(got, " ") != c.want {
			t.Errorf("WithCPUBind(%s, %s) = %q, %v; want %q", c.kind, c.bind, got, err, c.want)
		}
	}
	if _, err := WithCPUBind([]string{"flux", "run"}, Unknown, "core"); err == nil {
		t.Error("binding through an unknown launcher")
	}
}

func TestLauncherKindAndFamily(t *testing.T) {
	for _, c := range []struct {
		argv         []string
		kind, family string
	}{
		{[]string{"mpiexec.mpich", "-n", "2"}, Hydra, "mpich"},
		{[]string{"/usr/bin/mpiexec.hydra"}, Hydra, "mpich"},
		{[]string{"srun", "-N2", "--mpi=pmi2"}, Slurm, "mpich"},
		{[]string{"srun", "--mpi=pmix_v4"}, Slurm, "openmpi"},
		{[]string{"srun", "--mpi", "pmix"}, Slurm, "openmpi"},
		{[]string{"mpirun.openmpi", "-n", "2"}, OpenMPI, "openmpi"},
		{[]string{"no-such-launcher-here"}, Unknown, "mpich"},
	} {
		k := LauncherKind(c.argv[0], os.Environ())
		if k != c.kind || FamilyFor(k, c.argv) != c.family {
			t.Errorf("%q: kind %s family %s, want %s %s", c.argv, k, FamilyFor(k, c.argv), c.kind, c.family)
		}
	}
}

func TestQuoteLines(t *testing.T) {
	stderr := "noise\nAbort(1) on node 0: Fatal error in internal_Init\nmore noise\nAbort(1) on node 0: Fatal error in internal_Init\n"
	if got := quoteLines(5, stderr, "out"); len(got) != 1 || !strings.HasPrefix(got[0], "Abort(1)") {
		t.Errorf("interesting lines: %q", got)
	}
	mixed := "[mpiexec@vm] one of the processes terminated badly; aborting\nmpiwrap[rank 1 pid 9]: error: no image\n"
	if got := quoteLines(5, mixed); len(got) != 2 || !strings.HasPrefix(got[0], "mpiwrap[rank 1") {
		t.Errorf("mpiwrap's own error first: %q", got)
	}
	if got := tailLines(2, "a\nb\n\nc\n"); strings.Join(got, ",") != "b,c" {
		t.Errorf("tail: %q", got)
	}
	if got := quoteLines(2, "a\nb\nc\n", ""); strings.Join(got, ",") != "b,c" {
		t.Errorf("last lines: %q", got)
	}
	if got := quoteLines(2, "", ""); len(got) != 0 {
		t.Errorf("nothing: %q", got)
	}
	long := strings.Repeat("x", 400) + " error"
	if got := quoteLines(1, long); len(got[0]) != 303 {
		t.Errorf("long line kept at %d bytes", len(got[0]))
	}
}

func TestPlacement(t *testing.T) {
	out := "mpiwrap-validate-rank 1 n1 1\nnoise\nmpiwrap-validate-rank 0 n1 0\n"
	ranks := parsePlacement(out)
	if len(ranks) != 2 || ranks[0] != (report.Rank{Rank: 0, Host: "n1", CPUs: "0"}) {
		t.Fatalf("parsePlacement = %+v", ranks)
	}
	for _, c := range []struct {
		ranks []report.Rank
		local string
		cpus  int
		want  string
	}{
		{ranks, "n1", 2, "2 ranks on 1 node (n1), bound: rank 0 cpus 0; rank 1 cpus 1"},
		{[]report.Rank{rk(0, "n1", "0-1"), rk(1, "n1", "0-1")}, "n1", 2, "2 ranks on 1 node (n1), not bound: each may run on cpus 0-1"},
		{[]report.Rank{rk(0, "n1", "0-1"), rk(1, "n1", "0-1")}, "n1", 4, "2 ranks on 1 node (n1), bound: rank 0 cpus 0-1; rank 1 cpus 0-1"},
		{[]report.Rank{rk(0, "h1", "0-7"), rk(1, "h2", "0-7")}, "login", 2, "2 ranks on 2 nodes (h1, h2), not bound: each may run on cpus 0-7"},
		{[]report.Rank{rk(0, "h1", "0"), rk(1, "h2", "0")}, "login", 2, "2 ranks on 2 nodes (h1, h2), bound: rank 0 h1 cpus 0; rank 1 h2 cpus 0"},
		{nil, "n1", 2, "unknown"},
	} {
		if got := describePlacement(c.ranks, c.local, c.cpus); got != c.want {
			t.Errorf("describePlacement(%+v) = %q, want %q", c.ranks, got, c.want)
		}
	}
	if got := comparePlacement(ranks, ranks, "n1", 2); !strings.HasSuffix(got, "(the same in the container)") {
		t.Errorf("same: %q", got)
	}
	other := []report.Rank{rk(0, "n1", "0-1"), rk(1, "n1", "0-1")}
	if got := comparePlacement(ranks, other, "n1", 2); !strings.Contains(got, "container: 2 ranks on 1 node (n1), not bound") {
		t.Errorf("different: %q", got)
	}
	if cpuCount("0-3,8,10-11") != 7 || cpuCount("x") != 0 || cpuCount("3-1") != 0 {
		t.Error("cpuCount")
	}
}

func TestParseVersion(t *testing.T) {
	for _, c := range []struct{ in, summary, std string }{
		{"MPI 4.0\nMPICH Version:\t4.0.2\nMPICH Release date:\tThu Apr  7 2022\nMPICH Device:\tch4:ucx\n", "MPICH 4.0.2 (ch4:ucx)", "4.0"},
		{"MPI 3.1\nOpen MPI v4.1.4, package: Debian OpenMPI, ident: 4.1.4, repo rev: v4.1.4, May 26, 2022\n", "Open MPI v4.1.4", "3.1"},
		{"MPI 3.1\nIntel(R) MPI Library 2021.9 for Linux* OS\n", "Intel(R) MPI Library 2021.9 for Linux* OS", "3.1"},
	} {
		m := parseVersion(c.in)
		if m.Summary != c.summary || m.Standard != c.std || m.Library == "" {
			t.Errorf("parseVersion(%q) = %+v", c.in, m)
		}
	}
}

func rk(rank int, host, cpus string) report.Rank {
	return report.Rank{Rank: rank, Host: host, CPUs: cpus}
}

func TestEnvDiff(t *testing.T) {
	native := parseProbeEnv("mpiwrap-validate-env 0 MPIR_CVAR_X=1\nmpiwrap-validate-env 1 MPIR_CVAR_X=1\nmpiwrap-validate-env 0 UCX_TLS=tcp\nmpiwrap-validate-env 1 UCX_TLS=tcp\nnoise\n")
	container := parseProbeEnv("mpiwrap-validate-env 0 MPIR_CVAR_X=1\nmpiwrap-validate-env 1 MPIR_CVAR_X=1\n" +
		"mpiwrap-validate-env 0 UCX_NET_DEVICES=eth0\nmpiwrap-validate-env 1 UCX_NET_DEVICES=eth0\nmpiwrap-validate-env 1 UCX_TLS=shm\n")
	got := envDiff(native, container)
	want := []string{"UCX_NET_DEVICES=eth0 in the container (unset natively)", "UCX_TLS unset in the container (tcp natively) on rank 0", "UCX_TLS=shm in the container (tcp natively) on rank 1"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("envDiff = %q\nwant %q", got, want)
	}
	ompi := parseProbeEnv("mpiwrap-validate-env 0 OMPI_MCA_ess_base_jobid=1\nmpiwrap-validate-env 0 OMPI_MCA_orte_hnp_uri=a\n")
	ompi2 := parseProbeEnv("mpiwrap-validate-env 0 OMPI_MCA_ess_base_jobid=2\nmpiwrap-validate-env 0 OMPI_MCA_orte_hnp_uri=b\n")
	if d := envDiff(ompi, ompi2); len(d) != 0 {
		t.Errorf("per-job wiring reported: %q", d)
	}
	if d := envDiff(native, native); len(d) != 0 {
		t.Errorf("same: %q", d)
	}
}
