package run

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Launcher kinds.
const (
	Hydra   = "hydra"
	Slurm   = "slurm"
	OpenMPI = "openmpi"
	Unknown = "unknown"
)

// LauncherKind tells hydra, srun and Open MPI's mpirun apart by the
// launcher's resolved name: on Debian /usr/bin/mpiexec is an alternatives
// link to Open MPI's orterun or to mpiexec.hydra.
func LauncherKind(argv0 string, env []string) string {
	names := []string{filepath.Base(argv0)}
	if p, err := lookPath(argv0, env); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			names = append([]string{filepath.Base(r)}, names...)
		}
	}
	for _, n := range names {
		switch {
		case strings.Contains(n, "hydra") || strings.HasSuffix(n, ".mpich"):
			return Hydra
		case n == "srun":
			return Slurm
		case strings.Contains(n, "openmpi") || n == "orterun" || n == "prterun" || n == "prun":
			return OpenMPI
		}
	}
	return Unknown
}

// WithCPUBind adds the launcher's own binding option right after its
// name: hydra's -bind-to, srun's --cpu-bind, mpirun's --bind-to.
func WithCPUBind(argv []string, kind, bind string) ([]string, error) {
	if bind == "" {
		return argv, nil
	}
	var opt []string
	switch kind {
	case Hydra:
		opt = []string{"-bind-to", bind}
	case Slurm:
		opt = []string{"--cpu-bind=" + bind}
	case OpenMPI:
		opt = []string{"--bind-to", bind}
	default:
		return nil, fmt.Errorf("--cpu-bind: don't know how %s binds ranks; put its binding option in --launcher", argv[0])
	}
	out := slices.Clone(argv[:1])
	out = append(out, opt...)
	return append(out, argv[1:]...), nil
}

// FamilyFor is the MPI that suits a launcher: Open MPI under mpirun and
// srun --mpi=pmix, MPICH otherwise (hydra, srun --mpi=pmi2).
func FamilyFor(kind string, argv []string) string {
	switch kind {
	case OpenMPI:
		return "openmpi"
	case Slurm:
		for i, a := range argv {
			v, ok := strings.CutPrefix(a, "--mpi=")
			if !ok && a == "--mpi" && i+1 < len(argv) {
				v, ok = argv[i+1], true
			}
			if ok && strings.HasPrefix(v, "pmix") {
				return "openmpi"
			}
		}
	}
	return "mpich"
}
