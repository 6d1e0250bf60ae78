package hostlib

import (
	"fmt"
	"path"

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
// Optional items that fail the image's checks are left out of
// everything but Injection.ABI.Dropped (see decide.go).
func Build(res *profile.Resolution, opts Options) (*Injection, error) {
	host := elfdeps.Root(opts.HostRoot)
	if opts.HostRoot == "" {
		host = "/"
	}
	image, err := elfdeps.NewResolver(elfdeps.Root(opts.ImageRoot))
	if err != nil {
		return nil, fmt.Errorf("inspect image: %w", err)
	}
	d, err := decide(res, host, image)
	if err != nil {
		return nil, err
	}
	kept := d.kept
	inj := &Injection{InjectDir: res.InjectDir, Binds: []Bind{}, Links: kept.Links, Devices: res.Devices, Env: res.Env}
	for _, f := range kept.Files {
		inj.Binds = append(inj.Binds, Bind{Source: f.Real, Dest: f.Dest, Kind: f.Kind})
	}
	if inj.ImageConfDirs, err = ReadLdSoConf(image.Root, "/etc/ld.so.conf"); err != nil {
		return nil, err
	}
	inj.LdSoConf = string(GenerateLdSoConf(res.InjectDir, inj.ImageConfDirs))
	injected, err := InjectedEntries(kept, host)
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
	if inj.ABI, err = d.report(image, merged, opts.Binaries); err != nil {
		return nil, err
	}
	return inj, nil
}

// CheckABI runs the three ABI checks of package abi for a resolution
// against an image, after dropping the optional items that fail it, as
// Build does.
func CheckABI(res *profile.Resolution, host elfdeps.Root, image *elfdeps.Resolver, binaries []string) (abi.Report, error) {
	d, err := decide(res, host, image)
	if err != nil {
		return abi.Report{}, err
	}
	injected, err := InjectedEntries(d.kept, host)
	if err != nil {
		return abi.Report{}, err
	}
	merged, _, err := MergedCache(injected, image.Cache, "")
	if err != nil {
		return abi.Report{}, err
	}
	return d.report(image, merged, binaries)
}
