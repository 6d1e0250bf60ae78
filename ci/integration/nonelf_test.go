package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

// nonELF is a job whose command is not the MPI program itself: a shell
// script, `sh -c`, or python3 running an mpi4py script. --pmi=auto must
// still pick the mode the program's MPI needs (for MPICH under a PMIx
// launcher, the proxy), or an MPICH image starts N singletons of size 1.
type nonELF struct {
	name    string
	cell    interop  // launcher and flags; cell.program is unused
	command []string // the command in the image
}

const (
	helloScript = "/opt/mpiwrap-test/mpich/hello.sh" // exec's the MPICH hello
	helloPy     = "/opt/mpiwrap-test/py/hello.py"    // mpi4py, on Open MPI
)

var (
	srunPMIx = interop{"srun-pmix", []string{"srun"}, []string{"srun", "--mpi=pmix", "-n", "4"}, nil, ""}
	mpirun   = interop{"mpirun", []string{"mpirun.openmpi"}, []string{"mpirun.openmpi", "--oversubscribe", "-n", "4"}, nil, ""}
	hydra    = interop{"hydra", []string{"mpiexec.mpich"}, []string{"mpiexec.mpich", "-n", "4"}, nil, ""}
)

var nonELFCells = []nonELF{
	{"srun-pmix/mpich-script", srunPMIx, []string{helloScript}},
	{"mpirun/mpich-script", mpirun, []string{helloScript}},
	{"hydra/mpich-script", hydra, []string{helloScript}},
	{"srun-pmix/mpich-sh-c", srunPMIx, []string{"/bin/sh", "-c", "/opt/mpiwrap-test/mpich/hello"}},
	{"srun-pmix/openmpi-python", srunPMIx, []string{"python3", helloPy}},
	{"mpirun/openmpi-python", mpirun, []string{"python3", helloPy}},
}

// bookwormScripts is the Debian 12 image, required to hold the scripts
// (images built before they were added lack them).
func bookwormScripts(t *testing.T) string {
	t.Helper()
	img := debian(t, "bookworm")
	for _, p := range []string{helloScript, helloPy} {
		_, err := os.Stat(filepath.Join(img, p))
		testreq.Require(t, err == nil, "Debian bookworm image with "+p+" (ci/images/build-debian.sh bookworm rebuilds it)")
	}
	return img
}

// Every rank of a 4-rank job whose command is a script around the MPI
// program joins one job of size 4: rank 0 prints the hello line once.
func TestInteropNonELFCommand(t *testing.T) {
	img := bookwormScripts(t)
	for _, c := range nonELFCells {
		t.Run(c.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, a account) {
				for _, image := range []string{img, img + ".sqfs"} {
					r := runCellCmd(t, c.cell, a, image, c.command...)
					switch {
					case r.code == 0 && strings.TrimSpace(r.stdout) == helloOut:
					case strings.Contains(r.stdout, "hello size=1 "):
						t.Errorf("%s: want one job of 4 ranks (%q), got singletons of size 1: --pmi=auto did not see the MPI behind %q; %s",
							image, helloOut, c.command, r)
					default:
						t.Errorf("%s: want %q, got %s", image, helloOut, r)
					}
				}
			})
		})
	}
}
