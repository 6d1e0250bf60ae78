package mpiwrap

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/mpiwrap/mpiwrap/hostlib"
	"github.com/mpiwrap/mpiwrap/hostlib/abi"
	"github.com/mpiwrap/mpiwrap/hostlib/profile"
	"github.com/mpiwrap/mpiwrap/mpiwrap/nodecache"
	"github.com/mpiwrap/mpiwrap/mpiwrap/nsexec"
	"github.com/mpiwrap/mpiwrap/mpiwrap/plan"
	"github.com/mpiwrap/mpiwrap/netinject"
)

// The node cache as planning reads it.
type nodeCache struct{}

func (nodeCache) LdCacheEntry(key string) (plan.LdCacheEntry, error) {
	e, err := nodecache.LdCacheEntry(key)
	return plan.LdCacheEntry{Dir: e.Dir, Conf: e.Conf, Cache: e.Cache, Report: e.Report}, err
}

// CurrentHost is this process's host facts, with the node cache and the
// network to read.
func CurrentHost() (*plan.Host, error) {
	h, err := plan.CurrentHost()
	if err == nil {
		h.NodeCache, h.Network = nodeCache{}, netinject.Node{}
	}
	return h, err
}

func entryOf(in *plan.Injection) nodecache.LdEntry {
	conf, cache := in.HostFiles()
	return nodecache.LdEntry{Key: in.Key, Dir: in.CacheDir, Conf: conf, Cache: cache}
}

func buildLog(p *plan.Plan) nodecache.BuildLog {
	return nodecache.BuildLog{Image: p.Image.Path, Profiles: p.Inject.Profiles}
}

// holdLdCache is useLdCache for p, planned from spec and h: should another
// user have taken the node cache's name since, the cache is made under the
// next name and the rank plans again, once, to bind from there.
func holdLdCache(p *plan.Plan, spec *plan.Spec, h *plan.Host) (*plan.Plan, *nodecache.Hold, error) {
	held, err := useLdCache(p)
	if errors.Is(err, nodecache.ErrMoved) {
		if p, err = plan.New(spec, h); err == nil {
			held, err = useLdCache(p)
		}
	}
	return p, held, err
}

// useLdCache makes sure the plan's ld.so cache entry exists: the first
// rank, or the node's keeper, builds a directory image's missing entry
// before the container is set up, and records the ABI verdict in the plan.
// It returns holding the entry, so that no build of another run evicts it
// before the caller has bound it (nil when there is nothing to hold).
func useLdCache(p *plan.Plan) (*nodecache.Hold, error) {
	in := p.Inject
	if in == nil {
		return nil, nil
	}
	switch in.LdCache {
	case plan.LdCachePending: // built and held inside; the container binds the cache at its start
		return nil, nodecache.PrepareLdCache(entryOf(in))
	case plan.LdCacheMissing, plan.LdCacheReused:
	default:
		return nil, nil
	}
	var inj *hostlib.Injection
	rep, built, h, err := nodecache.UseLdCache(entryOf(in), func() (nodecache.LdFiles, error) {
		if p.Image.Kind != plan.ImageDir { // a reused entry, evicted since planning
			return nodecache.LdFiles{}, fmt.Errorf("the ld.so cache entry %s was removed after this run found it: run again", in.CacheDir)
		}
		var err error
		if inj, err = p.BuildInjection(); err != nil {
			return nodecache.LdFiles{}, err
		}
		return nodecache.LdFiles{Conf: []byte(inj.LdSoConf), Cache: inj.LdSoCache, Report: &inj.ABI}, nil
	}, buildLog(p))
	if err != nil {
		return nil, err
	}
	if in.LdCache == plan.LdCacheMissing { // a reused entry built again is the same entry
		p.RecordLdCache(stateOf(built), rep, inj)
	}
	return h, nil
}

func stateOf(built bool) plan.LdCacheState {
	if built {
		return plan.LdCacheBuilt
	}
	return plan.LdCacheReused
}

// ldcacheInput is what the inside build needs.
type ldcacheInput struct {
	Resolution *profile.Resolution `json:"resolution"`
	Argv0      string              `json:"argv0"`
	Argv       []string            `json:"argv,omitempty"`
	Path       string              `json:"path"`
	Cwd        string              `json:"cwd"`
}

// ldcacheOutput is what the inside build makes.
type ldcacheOutput struct {
	Conf     string     `json:"conf"`
	Cache    []byte     `json:"cache"`
	Report   abi.Report `json:"report"`
	Binaries []string   `json:"binaries"`
}

func init() {
	insideTasks["ldcache"] = buildInside
	insideTasks["mpi"] = detectMPIInside
}

// buildInside is the inside task that makes a SquashFS image's entry,
// where the image's files can be read and the host's are under HostView.
func buildInside(raw json.RawMessage) (any, error) {
	var in ldcacheInput
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, err
	}
	var bins []string
	if b := plan.LookPathInside(in.Argv0, in.Path, in.Cwd); b != "" {
		bins = append(bins, b)
	}
	inj, err := hostlib.Build(in.Resolution, hostlib.Options{ImageRoot: "/", HostRoot: plan.HostView, Binaries: bins})
	if err != nil {
		return nil, err
	}
	return ldcacheOutput{Conf: inj.LdSoConf, Cache: inj.LdSoCache, Report: inj.ABI, Binaries: bins}, nil
}

// detectMPIIn reads a SquashFS image's MPI in the built container.
func detectMPIIn(p *plan.Plan, nsfds []int) error {
	pathVar, _ := p.Env.Get("PATH")
	in := ldcacheInput{Argv0: p.Argv[0], Argv: p.Argv, Path: pathVar, Cwd: p.Cwd}
	return runInside(nsfds, p.RankLabel(), "mpi", in, &p.MPI)
}

// detectMPIInside is the inside task that reads a SquashFS image's MPI.
func detectMPIInside(raw json.RawMessage) (any, error) {
	var in ldcacheInput
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, err
	}
	return plan.FindMPI("/", in.Argv, in.Path, in.Cwd), nil
}

// buildLdCacheInside makes a pending entry (a SquashFS image) in the
// container that nsfds hold, then binds it there.
func buildLdCacheInside(p *plan.Plan, nsfds []int, rank string) error {
	in := p.Inject
	var out ldcacheOutput
	rep, built, hold, err := nodecache.UseLdCache(entryOf(in), func() (nodecache.LdFiles, error) {
		pathVar, _ := p.Env.Get("PATH")
		input := ldcacheInput{Resolution: in.Resolution, Argv0: p.Argv[0], Path: pathVar, Cwd: p.Cwd}
		if err := runInside(nsfds, rank, "ldcache", input, &out); err != nil {
			return nodecache.LdFiles{}, fmt.Errorf("inject profiles %s into %s: %w", strings.Join(in.Profiles, ","), p.Image.Path, err)
		}
		return nodecache.LdFiles{Conf: []byte(out.Conf), Cache: out.Cache, Report: &out.Report}, nil
	}, buildLog(p))
	if err != nil {
		return err
	}
	defer hold.Release() // once bound
	if built {
		in.Binaries = out.Binaries
	}
	if err := bindLdCacheInside(p, nsfds, rank); err != nil {
		return err
	}
	p.RecordLdCache(stateOf(built), rep, nil)
	return nil
}

// bindLdCacheInside binds the entry into a built container, from the
// container's own view of the node cache.
func bindLdCacheInside(p *plan.Plan, nsfds []int, rank string) error {
	var files []*os.File
	for _, fd := range nsfds {
		f, err := dupFd(fd, "ns")
		if err != nil {
			return err
		}
		defer f.Close()
		files = append(files, f)
	}
	conf, cache := p.Inject.InsideFiles()
	ops := &nsexec.Plan{}
	ops.Log(rank, false, p.Image.Path)
	ops.Setns(3, 4)
	ops.RootHere()
	for i, f := range [][2]string{{conf, "/etc/ld.so.conf"}, {cache, "/etc/ld.so.cache"}} {
		ops.Open(i, f[0])
		ops.Bind(i, f[1], false, false, rootFlags, false)
	}
	var stderr bytes.Buffer
	cmd, err := startApply(ops, rank, &stderr, nil, files...)
	if err != nil {
		return err
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("bind the ld.so cache: %v %s", err, stripPrefix(strings.TrimSpace(stderr.String())))
	}
	return nil
}
