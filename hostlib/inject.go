package hostlib

import (
	"fmt"
	"path"
	"slices"

	"github.com/mpiwrap/mpiwrap/hostlib/abi"
	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
	"github.com/mpiwrap/mpiwrap/hostlib/ldcache"
	"github.com/mpiwrap/mpiwrap/hostlib/profile"
)

// Options are the inputs of Build besides the resolution.
type Options struct {
	// ImageRoot is the image's root directory on this machine; "/" when
	// running inside the container.
	ImageRoot string
	// HostRoot is where the resolution's host paths live; "" means "/".
	HostRoot string
	// Binaries are the programs about to run, for the symbol check, as
	// absolute paths inside the image: the caller resolves PATH lookups
	// and the working directory first. Scripts are skipped; none skips
	// the check.
	Binaries []string
	// Generator is written into the cache's generator string; "" means
	// ldcache.DefaultGenerator.
	Generator string
}

// Bind is one read-only bind mount to make.
type Bind struct {
	// Source is the real host file or directory (symlinks resolved).
	Source string `json:"source"`
	// Dest is the path inside the container.
	Dest string `json:"dest"`
	// Kind is library, file, dir or binary.
	Kind string `json:"kind"`
}

// Injection is everything the runtime needs to inject host stacks into
// one image. It is plain data: the caller mounts.
type Injection struct {
	InjectDir string `json:"inject_dir"`
	// Binds are read-only bind mounts, sorted by Dest.
	Binds []Bind `json:"binds"`
	// Links are symlinks to create (Path -> Target, same directory).
	Links []profile.Link `json:"links"`
	// Devices are device nodes to bind at the same path.
	Devices []profile.Device `json:"devices"`
	// Env are the environment edits, in application order.
	Env []profile.EnvEdit `json:"env"`
	// LdSoConf is the container's /etc/ld.so.conf.
	LdSoConf string `json:"ld_so_conf"`
	// ImageConfDirs are the image's own ld.so.conf directories.
	ImageConfDirs []ConfDir `json:"image_conf_dirs"`
	// LdSoCache is the container's /etc/ld.so.cache.
	LdSoCache []byte `json:"-"`
	// CacheEntries are the entries of LdSoCache, injected ones marked.
	CacheEntries []CacheEntry `json:"cache_entries"`
	// ABI holds every decision; ABI.Err() is non-nil when the launch
	// must be refused.
	ABI abi.Report `json:"abi"`
}

// CacheEntry is an ld.so.cache entry for reports.
type CacheEntry struct {
	ldcache.Entry
	Injected bool `json:"injected,omitempty"`
}

// Build computes the injection of res into the image at opts.ImageRoot:
// binds, links, devices, environment, the merged ld.so.conf and
// ld.so.cache, and the ABI report. It reads files but changes nothing.
// An error means something could not be read; an ABI refusal is
// reported in Injection.ABI instead, so that `check` can show it.
func Build(res *profile.Resolution, opts Options) (*Injection, error) {
	host := elfdeps.Root(opts.HostRoot)
	if opts.HostRoot == "" {
		host = "/"
	}
	image, err := elfdeps.NewResolver(elfdeps.Root(opts.ImageRoot))
	if err != nil {
		return nil, fmt.Errorf("inspect image: %w", err)
	}
	inj := &Injection{InjectDir: res.InjectDir, Binds: []Bind{}, Links: res.Links, Devices: res.Devices, Env: res.Env}
	for _, f := range res.Files {
		inj.Binds = append(inj.Binds, Bind{Source: f.Real, Dest: f.Dest, Kind: f.Kind})
	}
	if inj.ImageConfDirs, err = ReadLdSoConf(image.Root, "/etc/ld.so.conf"); err != nil {
		return nil, err
	}
	inj.LdSoConf = string(GenerateLdSoConf(res.InjectDir, inj.ImageConfDirs))
	injected, err := InjectedEntries(res, host)
	if err != nil {
		return nil, err
	}
	merged, data, err := MergedCache(injected, image.Cache, opts.Generator)
	if err != nil {
		return nil, err
	}
	inj.LdSoCache = data
	for _, e := range merged.Entries {
		inj.CacheEntries = append(inj.CacheEntries, CacheEntry{Entry: e, Injected: path.Dir(e.Value) == res.InjectDir})
	}
	if inj.ABI, err = CheckABI(res, host, image, opts.Binaries); err != nil {
		return nil, err
	}
	return inj, nil
}

// CheckABI runs the three ABI checks of package abi for a resolution
// against an image.
func CheckABI(res *profile.Resolution, host elfdeps.Root, image *elfdeps.Resolver, binaries []string) (abi.Report, error) {
	rep := abi.Report{MPI: []abi.MPIResult{}}
	for _, spec := range res.ABI {
		ms := abi.MPISpec{Profile: spec.Profile, Family: spec.Family, Policy: spec.Policy}
		for _, l := range spec.Libraries {
			ms.Host = append(ms.Host, abi.HostLib{Soname: l.Soname, Real: l.Real})
		}
		r, err := abi.CheckMPI(ms, image)
		if err != nil {
			return rep, err
		}
		rep.MPI = append(rep.MPI, r)
	}
	injected, replaced, err := injectedObjects(res, host)
	if err != nil {
		return rep, err
	}
	if rep.Base, err = abi.CheckBaseLibraries(injected, image); err != nil {
		return rep, err
	}
	rep.Symbols, err = abi.CheckSymbols(abi.SymbolCheck{Binaries: binaries, Image: image, Host: host, Replaced: replaced})
	return rep, err
}

// injectedObjects reads every injected library once and lists the
// names under which each replaces an image library.
func injectedObjects(res *profile.Resolution, host elfdeps.Root) ([]abi.Injected, []abi.Replacement, error) {
	var inj []abi.Injected
	var rep []abi.Replacement
	realOf := map[string]string{}
	for _, f := range res.Libraries() {
		o, err := elfdeps.ReadObject(host, f.Real)
		if err != nil {
			return nil, nil, fmt.Errorf("check ABI: %w", err)
		}
		o.Path = f.Source
		inj = append(inj, abi.Injected{Object: o, Path: f.Source, Profile: f.Profile, Explicit: f.NeededBy == ""})
		if path.Dir(f.Dest) == res.InjectDir {
			realOf[path.Base(f.Dest)] = f.Real
			rep = append(rep, abi.Replacement{Soname: path.Base(f.Dest), HostPath: f.Real})
		}
	}
	for _, l := range res.Links {
		if r, ok := realOf[l.Target]; ok && path.Dir(l.Path) == res.InjectDir {
			rep = append(rep, abi.Replacement{Soname: path.Base(l.Path), HostPath: r})
		}
	}
	slices.SortFunc(rep, func(a, b abi.Replacement) int { return ldcache.LibCmp(a.Soname, b.Soname) })
	return inj, rep, nil
}
