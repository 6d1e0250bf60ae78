package plan

import (
	"debug/elf"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
	"github.com/mpiwrap/mpiwrap/pmi/launchenv"
)

// MPIFamily is an MPI's ABI family, which decides what it can say to a
// launcher.
type MPIFamily string

// The MPI families.
const (
	FamilyMPICH   MPIFamily = "mpich"   // libmpi.so.12 (libmpich.so.12): PMI-1/2, or PMIx if built so
	FamilyOpenMPI MPIFamily = "openmpi" // libmpi.so.40: PMIx only
	FamilyUnknown MPIFamily = "unknown"
)

func (f MPIFamily) String() string { return string(f) }

// MPIClient is what the container's MPI library can say to a launcher.
type MPIClient struct {
	Family  MPIFamily `json:"family"`
	PMIx    bool      `json:"pmix"`    // links libpmix: a PMIx client
	Library string    `json:"library"` // the MPI library found
	Why     string    `json:"why"`
	// Ambiguous: the command names no MPI and the image holds more than one.
	Ambiguous bool `json:"ambiguous,omitempty"`
}

// ClassifyClosure names the MPI in a closure of sonames.
func ClassifyClosure(names []string) MPIClient {
	c := MPIClient{Family: FamilyUnknown}
	for _, n := range names {
		switch {
		case strings.HasPrefix(n, "libmpi.so.40"):
			c.Family, c.Library = FamilyOpenMPI, n
		case strings.HasPrefix(n, "libopen-pal"):
			if c.Family != FamilyOpenMPI { // name libmpi.so.40 when it is there
				c.Family, c.Library = FamilyOpenMPI, n
			}
		case (strings.HasPrefix(n, "libmpich.so.12") || strings.HasPrefix(n, "libmpi.so.12")) && c.Family == FamilyUnknown:
			c.Family, c.Library = FamilyMPICH, n
		case strings.HasPrefix(n, "libpmix.so"):
			c.PMIx = true
		}
	}
	if c.Family == FamilyOpenMPI {
		c.PMIx = true // Open MPI >= 2 bootstraps through PMIx only
	}
	return c
}

// detectMPI finds the container's MPI for a directory image: the host MPI
// a profile injects, else what the command loads (FindMPI).
func (p *Plan) detectMPI() MPIClient {
	if p.Inject != nil {
		var names []string
		for _, f := range p.Inject.Resolution.Files {
			if f.Soname != "" {
				names = append(names, f.Soname)
			}
		}
		if c := ClassifyClosure(names); c.Family != FamilyUnknown {
			c.Why = "the host MPI injected by profiles " + strings.Join(p.Inject.Profiles, ",")
			return c
		}
	}
	if p.Image.Kind != ImageDir {
		return MPIClient{Family: FamilyUnknown, Why: "SquashFS image: its MPI is read inside at start"}
	}
	if c, ok := p.boundCommandMPI(); ok {
		return c
	}
	pathVar, _ := p.Env.Get("PATH")
	return FindMPI(elfdeps.Root(p.Image.Path), p.Argv, pathVar, p.Cwd)
}

// boundCommandMPI classifies a command that a bind (the working
// directory) shows over the image: its DT_NEEDED, read from the host file,
// resolved in the image.
func (p *Plan) boundCommandMPI() (MPIClient, bool) {
	cmd := p.Argv[0]
	if !strings.HasPrefix(cmd, "/") && strings.Contains(cmd, "/") {
		cmd = path.Join(p.Cwd, cmd)
	}
	if !strings.HasPrefix(cmd, "/") || !NestedIn(p.Mounts, cmd) {
		return MPIClient{}, false
	}
	f, err := elf.Open(cmd)
	if err != nil {
		return MPIClient{}, false
	}
	defer f.Close()
	needed, err := f.ImportedLibraries()
	r, rerr := elfdeps.NewResolver(elfdeps.Root(p.Image.Path))
	if err != nil || rerr != nil {
		return MPIClient{Family: FamilyUnknown, Why: fmt.Sprintf("read %s: %v", cmd, errors.Join(err, rerr))}, true
	}
	names := append([]string{}, needed...)
	for _, n := range needed {
		if obj, err := r.Lookup(n, nil); err == nil {
			if g, err := r.Closure(obj.Path); err == nil {
				for _, node := range g.Nodes {
					names = append(names, node.Soname, path.Base(node.Path))
				}
			}
		}
	}
	c := ClassifyClosure(names)
	c.Why = "libraries of " + cmd + ", resolved in the image"
	return c, true
}

// DecidePMI decides how a rank reaches the launcher: passthrough, proxy,
// the PMIx server or off, or an error when no mode can work (a
// pre-flight, before MPI_Init, instead of N ranks starting as
// singletons).
func DecidePMI(spec *Spec, env []string, c MPIClient) (mode PMIMode, why string, err error) {
	return DecidePMIOffer(spec, env, HostOffer(env), c)
}

// DecidePMIOffer is DecidePMI given HostOffer(env), for a caller that has
// it already (the keeper reads each rank's launcher variables once).
func DecidePMIOffer(spec *Spec, env []string, offer launchenv.Offer, c MPIClient) (mode PMIMode, why string, err error) {
	switch spec.PMI {
	case PMIOff, PMIPassthrough:
		return spec.PMI, "--pmi=" + spec.PMI.String(), nil
	case PMIProxy:
		if offer == launchenv.OfferNone {
			return "", "", errors.New("--pmi=proxy: the launcher offers no PMI to proxy (no PMI_FD, PMI_PORT or PMIx server variables)")
		}
		return PMIProxy, "--pmi=proxy", nil
	}
	switch {
	case offer == launchenv.OfferNone:
		return PMIPassthrough, "the launcher offers no PMI: nothing to translate", nil
	case offer == launchenv.OfferPMI && c.Family == FamilyOpenMPI:
		return serverMode(spec, env, c)
	case offer == launchenv.OfferPMIx && c.Family == FamilyMPICH && !c.PMIx:
		return PMIProxy, fmt.Sprintf("the launcher offers PMIx and the container's MPICH (%s) has no PMIx client", c.Library), nil
	case offer == launchenv.OfferPMIx && c.Ambiguous:
		// Passthrough is what works for the image's Open MPI; an MPICH
		// program would start as singletons, so say how to get the proxy.
		return PMIPassthrough, "the launcher offers PMIx; " + c.Why + ": passthrough, which Open MPI needs (pass --pmi=proxy if the command runs MPICH)", nil
	case offer == launchenv.OfferPMIx && c.Family == FamilyUnknown:
		return PMIPassthrough, "the launcher offers PMIx; the container's MPI is unknown (" + c.Why + ")", nil
	case c.Family == FamilyUnknown:
		return PMIPassthrough, fmt.Sprintf("the launcher offers %s; the container's MPI is unknown (%s)", offer, c.Why), nil
	}
	return PMIPassthrough, fmt.Sprintf("the launcher offers %s, which the container's %s speaks", offer, c.Family), nil
}

// serverMode is the PMIx server's decision. The server lives in the
// node's keeper, which a rank without a launcher step or with --no-join
// goes without. A rank alone on its node reaches the keeper from the C
// half, except under -v, which the Go half handles without a keeper.
func serverMode(spec *Spec, env []string, c MPIClient) (PMIMode, string, error) {
	l := DetectLauncher(env)
	if j := planJoin(spec, l); !j.Shared && (spec.NoJoin || l.Step == "" || spec.Verbose) {
		hint := "drop --no-join"
		switch {
		case l.Step == "":
			hint = "this launcher is not one mpiwrap can group ranks by node under (hydra, Slurm)"
		case !spec.NoJoin:
			hint = "run it without -v (mpiwrap check prints the plan), or give --join-key"
		}
		return "", "", fmt.Errorf("the image's Open MPI (%s) speaks only PMIx and this launcher offers PMI-1/2, so mpiwrap serves PMIx from the node's namespace keeper, which this rank goes without (%s): %s, or run under srun --mpi=pmix or Open MPI's mpirun", c.Library, j.Why, hint)
	}
	if spec.Net == NetNone {
		return "", "", fmt.Errorf("the image's Open MPI (%s) speaks only PMIx and this launcher offers PMI-1/2, so mpiwrap serves PMIx from the node's keeper, over the host's loopback, which --net=none's private network can't reach: use --net=host, or run under srun --mpi=pmix or Open MPI's mpirun", c.Library)
	}
	return PMIServer, fmt.Sprintf("PMIx server for the launcher's PMI-1/2, in the node's keeper: the container's Open MPI (%s) speaks only PMIx", c.Library), nil
}

// ServeDir binds dir, the node's PMIx server's directory (its rendezvous
// and the job's PMIX_TMPDIR), into the container at the same path, unless
// a directory bind already shows it there.
func (p *Plan) ServeDir(dir string) {
	if p.covered(dir) {
		return
	}
	if p.Image.Kind == ImageDir && !NestedIn(p.Mounts, dir) && !existsInImage(p.Image.Path, dir) && !p.Overlay {
		p.Overlay, p.OverlayWhy = true, "to make mount points missing in the image: "+dir
	}
	p.Mounts = append(p.Mounts, Mount{Src: dir, Dst: dir, Dir: true, NoSuidDev: true,
		Why: "the directory of the node's PMIx server (PMIX_TMPDIR), at its path"})
}
