package plan

import (
	"debug/elf"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
)

// MPIClient is what the container's MPI library can say to a launcher.
type MPIClient struct {
	Family  string `json:"family"`  // mpich, openmpi or unknown
	PMIx    bool   `json:"pmix"`    // links libpmix: a PMIx client
	Library string `json:"library"` // the MPI library found
	Why     string `json:"why"`
}

// HostOffer classifies what the launcher offers from its variables alone
// (the keeper decides for ranks whose descriptors it can't see).
func HostOffer(env []string) string {
	get := func(k string) string { v, _ := LookupEnv(env, k); return v }
	switch {
	case get("PMI_FD") != "" || (get("PMI_PORT") != "" && get("PMI_ID") != ""):
		return "pmi"
	case get("PMIX_NAMESPACE") != "" && hasPrefixVar(env, "PMIX_SERVER_URI"):
		return "pmix"
	}
	return "none"
}

func hasPrefixVar(env []string, prefix string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, prefix) {
			return true
		}
	}
	return false
}

// ClassifyClosure names the MPI in a closure of sonames.
func ClassifyClosure(names []string) MPIClient {
	c := MPIClient{Family: "unknown"}
	for _, n := range names {
		switch {
		case strings.HasPrefix(n, "libmpi.so.40") || strings.HasPrefix(n, "libopen-pal"):
			c.Family, c.Library = "openmpi", n
		case (strings.HasPrefix(n, "libmpich.so.12") || strings.HasPrefix(n, "libmpi.so.12")) && c.Family == "unknown":
			c.Family, c.Library = "mpich", n
		case strings.HasPrefix(n, "libpmix.so"):
			c.PMIx = true
		}
	}
	if c.Family == "openmpi" {
		c.PMIx = true // Open MPI >= 2 bootstraps through PMIx only
	}
	return c
}

// detectMPI finds the container's MPI for the command in a directory image:
// the closure of the command's DT_NEEDED resolved through the image's own
// ld.so.cache, or the host library a profile injects.
func (p *Plan) detectMPI() MPIClient {
	if p.Inject != nil {
		var names []string
		for _, f := range p.Inject.Resolution.Files {
			if f.Soname != "" {
				names = append(names, f.Soname)
			}
		}
		if c := ClassifyClosure(names); c.Family != "unknown" {
			c.Why = "the host MPI injected by profiles " + strings.Join(p.Inject.Profiles, ",")
			return c
		}
	}
	if p.Image.Kind != ImageDir {
		return MPIClient{Family: "unknown", Why: "SquashFS image: its MPI is read inside at start"}
	}
	needed, where, err := p.commandNeeded()
	if err != nil {
		return MPIClient{Family: "unknown", Why: err.Error()}
	}
	r, err := elfdeps.NewResolver(elfdeps.Root(p.Image.Path))
	if err != nil {
		return MPIClient{Family: "unknown", Why: err.Error()}
	}
	names := append([]string{}, needed...)
	for _, n := range needed {
		obj, err := r.Lookup(n, nil)
		if err != nil {
			continue
		}
		if g, err := r.Closure(obj.Path); err == nil {
			for _, node := range g.Nodes {
				names = append(names, node.Soname, path.Base(node.Path))
			}
		}
	}
	c := ClassifyClosure(names)
	c.Why = "libraries of " + where + " in the image"
	return c
}

// commandNeeded reads the command's DT_NEEDED: from the image, or from the
// host file a bind (the working directory) shows at that path.
func (p *Plan) commandNeeded() ([]string, string, error) {
	if bin := p.commandInImage(); bin != "" {
		obj, err := elfdeps.Root(p.Image.Path).Open(bin)
		if err != nil {
			return nil, "", err
		}
		defer obj.Close()
		f, err := elf.NewFile(obj)
		if err != nil {
			return nil, "", fmt.Errorf("%s is not an ELF program", bin)
		}
		libs, err := f.ImportedLibraries()
		return libs, bin, err
	}
	cmd := p.Argv[0]
	if !strings.HasPrefix(cmd, "/") && strings.Contains(cmd, "/") {
		cmd = path.Join(p.Cwd, cmd)
	}
	if strings.HasPrefix(cmd, "/") && NestedIn(p.Mounts, cmd) {
		f, err := elf.Open(cmd)
		if err != nil {
			return nil, "", fmt.Errorf("%s is not an ELF program", cmd)
		}
		defer f.Close()
		libs, err := f.ImportedLibraries()
		return libs, cmd, err
	}
	return nil, "", errors.New("the command was not found before start")
}

// DecidePMI decides how a rank reaches the launcher: passthrough, proxy or
// off, or an error when no mode can work (a pre-flight, before MPI_Init,
// instead of N ranks starting as singletons).
func DecidePMI(spec *Spec, env []string, c MPIClient) (mode PMIMode, why string, err error) {
	offer := HostOffer(env)
	switch spec.PMI {
	case PMIOff, PMIPassthrough:
		return spec.PMI, "--pmi=" + spec.PMI.String(), nil
	case PMIProxy:
		if offer == "none" {
			return "", "", errors.New("--pmi=proxy: the launcher offers no PMI to proxy (no PMI_FD, PMI_PORT or PMIx server variables)")
		}
		return PMIProxy, "--pmi=proxy", nil
	}
	switch {
	case offer == "none":
		return PMIPassthrough, "the launcher offers no PMI: nothing to translate", nil
	case offer == "pmi" && c.Family == "openmpi":
		return "", "", fmt.Errorf("the image's Open MPI (%s) speaks only PMIx, and this launcher offers PMI-1/2: run it under srun --mpi=pmix or Open MPI's mpirun, or use an MPICH-based image", c.Library)
	case offer == "pmix" && c.Family == "mpich" && !c.PMIx:
		return PMIProxy, fmt.Sprintf("the launcher offers PMIx and the container's MPICH (%s) has no PMIx client", c.Library), nil
	case offer == "pmix" && c.Family == "unknown":
		return PMIPassthrough, "the launcher offers PMIx; the container's MPI is unknown (" + c.Why + ")", nil
	}
	return PMIPassthrough, fmt.Sprintf("the launcher offers %s, which the container's %s speaks", offer, c.Family), nil
}
