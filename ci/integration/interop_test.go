package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

// interop is one cell of the launcher x image-MPI matrix: a real 4-rank
// program (Init, Allreduce, Finalize) in the Debian 12 image.
type interop struct {
	name     string
	needs    []string
	launcher []string // up to and including the rank count
	flags    []string // mpiwrap flags
	program  string
}

var passthroughCells = []interop{
	{"hydra/mpich", []string{"mpiexec.mpich"}, []string{"mpiexec.mpich", "-n", "4"}, nil, "/opt/mpiwrap-test/mpich/hello"},
	{"hydra-pmi-port/mpich", []string{"mpiexec.mpich"}, []string{"mpiexec.mpich", "-pmi-port", "-n", "4"}, nil, "/opt/mpiwrap-test/mpich/hello"},
	{"srun-pmi2/mpich", []string{"srun"}, []string{"srun", "--mpi=pmi2", "-n", "4"}, nil, "/opt/mpiwrap-test/mpich/hello"},
	{"srun-pmix/openmpi", []string{"srun"}, []string{"srun", "--mpi=pmix", "-n", "4"}, nil, "/opt/mpiwrap-test/openmpi/hello"},
	{"mpirun/openmpi", []string{"mpirun.openmpi"}, []string{"mpirun.openmpi", "--oversubscribe", "-n", "4"}, nil, "/opt/mpiwrap-test/openmpi/hello"},
}

func runCell(t *testing.T, c interop, a account, img string) result {
	t.Helper()
	return runCellCmd(t, c, a, img, c.program)
}

// runCellCmd is runCell with the command in the image given, with its
// arguments, instead of c.program.
func runCellCmd(t *testing.T, c interop, a account, img string, command ...string) result {
	t.Helper()
	for _, n := range c.needs {
		testreq.Require(t, have(n), n)
		if n == "srun" {
			testreq.Slurm(t, strings.TrimPrefix(c.launcher[1], "--mpi="))
		}
	}
	args := append([]string{}, c.launcher...)
	if a.uid == 0 && strings.HasPrefix(c.launcher[0], "mpirun") {
		args = append(args, "--allow-run-as-root")
	}
	args = append(append(append(args, bin), c.flags...), img)
	args = append(args, command...)
	return runAs(t, a, work, nil, 120*time.Second, args...)
}

func TestInteropPassthrough(t *testing.T) {
	img := debian(t, "bookworm")
	for _, c := range passthroughCells {
		t.Run(c.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, a account) {
				r := runCell(t, c, a, img)
				if r.code != 0 || strings.TrimSpace(r.stdout) != helloOut || strings.Contains(r.stderr, "ERROR") {
					t.Fatalf("want %q and no errors, got %s", helloOut, r)
				}
			})
		})
	}
}
