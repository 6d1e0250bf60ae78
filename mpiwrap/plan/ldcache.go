package plan

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mpiwrap/mpiwrap/hostlib"
	"github.com/mpiwrap/mpiwrap/hostlib/abi"
	"github.com/mpiwrap/mpiwrap/internal/fileid"
)

// The container's ld.so.conf and ld.so.cache are built once per node and
// kept in the user's node-local cache, keyed by the image's identity, the
// profile set and the identity of every injected host file
// (hostlib.ResolutionKey). Planning only looks the entry up: the runtime
// builds a missing one (the first rank, or the node's keeper), so that
// `mpiwrap check` writes nothing.

// LdCacheState says where the container's ld.so.conf and ld.so.cache come
// from.
type LdCacheState string

// The states of a plan's ld.so cache entry.
const (
	LdCacheReused  LdCacheState = "reused"   // built by an earlier run
	LdCacheMissing LdCacheState = "to build" // not built yet: the run builds it before it starts
	LdCacheBuilt   LdCacheState = "built"    // built by this process
	LdCachePending LdCacheState = "pending"  // a SquashFS image: built inside the container at start
)

func (s LdCacheState) String() string { return string(s) }

// LdCacheEntry is one ld.so cache entry of the node cache.
type LdCacheEntry struct {
	Dir    string      // the entry's directory
	Conf   string      // its ld.so.conf
	Cache  string      // its ld.so.cache
	Report *abi.Report // the ABI verdict stored with it; nil while it is not built
}

// NodeCache is what planning may read of the node's cache. It only reads:
// it makes no directory and takes no lock.
type NodeCache interface {
	LdCacheEntry(key string) (LdCacheEntry, error)
}

// CacheView is where a container sees the node cache while its SquashFS
// image's ld.so cache is built inside it.
const CacheView = InjectRoot + "/cache"

// imageIdentity tells images apart for the node cache.
func imageIdentity(img Image) string {
	if img.Kind == ImageSquashFS {
		return "squashfs " + img.Path + " " + fileid.Of(img.Path)
	}
	id := "dir " + img.Path
	for _, f := range []string{"", "etc/ld.so.cache", "etc/ld.so.conf", "etc/ld.so.conf.d"} {
		id += " " + fileid.Of(filepath.Join(img.Path, f))
	}
	return id
}

// planLdCache finds the node cache entry for the injection. A directory
// image's missing entry is bound where the runtime will build it; a
// SquashFS image's entry is built inside the container once it exists
// (pending), so the node cache is bound into it for that.
func (p *Plan) planLdCache(cache NodeCache) error {
	in := p.Inject
	if bin := p.commandInImage(); bin != "" {
		in.Binaries = []string{bin}
	}
	ident := imageIdentity(p.Image)
	if p.Image.Kind == ImageSquashFS { // the command is looked up inside
		ident += " cmd " + p.Argv[0]
	}
	for _, b := range in.Binaries {
		ident += " bin " + b + " " + fileid.Of(filepath.Join(p.Image.Path, b))
	}
	key, err := hostlib.ResolutionKey(ident, in.Resolution, "/")
	if err != nil {
		return fmt.Errorf("key the ld.so cache: %w", err)
	}
	if cache == nil {
		return fmt.Errorf("plan: no node cache to find the ld.so cache for profiles %v in", in.Profiles)
	}
	e, err := cache.LdCacheEntry(key)
	if err != nil {
		return err
	}
	in.Key, in.CacheDir, in.confFile, in.cacheFile = key, e.Dir, e.Conf, e.Cache
	switch {
	case e.Report != nil:
		in.LdCache, in.Report = LdCacheReused, e.Report
		p.Warnings = append(p.Warnings, e.Report.Warnings()...)
		if err := p.applyDropped(); err != nil {
			return err
		}
		p.bindLdCache()
	case p.Image.Kind != ImageDir:
		// A bind source must be in the container's namespace: the files
		// are bound from where the container sees the node cache.
		in.LdCache = LdCachePending
		p.ExtraTargets = append(p.ExtraTargets, "/etc/"+ldConfName, "/etc/"+ldCacheName)
		p.Mounts = append(p.Mounts, Mount{Src: filepath.Dir(in.CacheDir), Dst: CacheView, Dir: true,
			ReadOnly: true, NoSuidDev: true, Why: "node cache, for the ld.so cache built at start"})
	default:
		in.LdCache = LdCacheMissing
		p.bindLdCache()
	}
	return nil
}

const (
	ldConfName  = "ld.so.conf"
	ldCacheName = "ld.so.cache"
)

// bindLdCache binds the cache entry over the image's files.
func (p *Plan) bindLdCache() {
	for _, f := range [][2]string{{p.Inject.confFile, ldConfName}, {p.Inject.cacheFile, ldCacheName}} {
		p.Mounts = append(p.Mounts, Mount{Src: f[0], Dst: "/etc/" + f[1], ReadOnly: true, NoSuidDev: true,
			Why: "injected stacks first, from the node cache"})
	}
}

// HostFiles are the entry's ld.so.conf and ld.so.cache on the host.
func (in *Injection) HostFiles() (conf, cache string) { return in.confFile, in.cacheFile }

// InsideFiles are the entry's ld.so.conf and ld.so.cache as a container
// whose node cache is bound at CacheView sees them (a pending entry).
func (in *Injection) InsideFiles() (conf, cache string) {
	base := filepath.Join(CacheView, filepath.Base(in.CacheDir))
	return filepath.Join(base, filepath.Base(in.confFile)), filepath.Join(base, filepath.Base(in.cacheFile))
}

// RecordLdCache records what the runtime did about a missing or pending
// entry: it was built (state LdCacheBuilt) or found built meanwhile
// (LdCacheReused), with this ABI verdict. A pending entry is bound inside
// the container by the runtime; the plan lists the binds for the record.
// A missing entry's optional items that the verdict dropped are taken out
// of the mounts, which the runtime has not made yet; a pending entry's
// container exists already, so there they stay bound but are not in the
// ld.so cache.
func (p *Plan) RecordLdCache(state LdCacheState, rep *abi.Report, built *hostlib.Injection) {
	in := p.Inject
	wasPending := in.LdCache == LdCachePending
	in.LdCache, in.Report, in.Built = state, rep, built
	p.Warnings = append(p.Warnings, rep.Warnings()...)
	if wasPending {
		p.bindLdCache()
		return
	}
	if err := p.applyDropped(); err != nil {
		p.Warnings = append(p.Warnings, err.Error())
	}
}

// PreviewLdCache computes, in memory, the ld.so configuration and ABI
// verdict that a run would build for a missing entry, for `mpiwrap check`.
// It stores nothing; the entry stays missing.
func (p *Plan) PreviewLdCache() error {
	in := p.Inject
	if in == nil || in.LdCache != LdCacheMissing {
		return nil
	}
	inj, err := p.BuildInjection()
	if err != nil {
		return err
	}
	in.Built, in.Report = inj, &inj.ABI
	return p.applyDropped()
}

// BuildInjection computes a directory image's injection: the container's
// ld.so.conf and ld.so.cache and the ABI verdict.
func (p *Plan) BuildInjection() (*hostlib.Injection, error) {
	in := p.Inject
	inj, err := hostlib.Build(in.Resolution, hostlib.Options{ImageRoot: p.Image.Path, HostRoot: "/",
		Binaries: in.Binaries})
	if err != nil {
		return nil, fmt.Errorf("inject profiles %s into %s: %w", strings.Join(in.Profiles, ","), p.Image.Path, err)
	}
	return inj, nil
}
