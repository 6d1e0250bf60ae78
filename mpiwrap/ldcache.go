package mpiwrap

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mpiwrap/mpiwrap/hostlib"
	"github.com/mpiwrap/mpiwrap/hostlib/abi"
	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
	"github.com/mpiwrap/mpiwrap/hostlib/profile"
	"github.com/mpiwrap/mpiwrap/mpiwrap/nsexec"
	"golang.org/x/sys/unix"
)

// The container's ld.so.conf and ld.so.cache are built once per node and
// kept in the user's node-local cache directory, keyed by the image's
// identity, the profile set and the identity of every injected host file
// (hostlib.ResolutionKey). A warm start reads the ABI verdict and binds the
// two files: no ldconfig, no ELF parsing. Every build is logged to
// ldcache.log in the cache directory.

const (
	cacheView  = injectRoot + "/cache"
	confName   = "ld.so.conf"
	cacheName  = "ld.so.cache"
	reportName = "abi.json"
)

// imageIdentity tells images apart for the node cache.
func imageIdentity(img Image) string {
	if img.Kind == ImageSquashFS {
		return "squashfs " + img.Path + " " + fileIdentity(img.Path)
	}
	id := "dir " + img.Path
	for _, f := range []string{"", "etc/ld.so.cache", "etc/ld.so.conf", "etc/ld.so.conf.d"} {
		id += " " + fileIdentity(filepath.Join(img.Path, f))
	}
	return id
}

// planLdCache finds the node cache entry for the injection, building it now
// for a directory image on a miss; a SquashFS image's entry is built inside
// the container when the namespace exists ("pending").
func (p *Plan) planLdCache() error {
	in := p.Inject
	if bin := p.commandInImage(); bin != "" {
		in.Binaries = []string{bin}
	}
	ident := imageIdentity(p.Image)
	if p.Image.Kind == ImageSquashFS { // the command is looked up inside
		ident += " cmd " + p.Argv[0]
	}
	for _, b := range in.Binaries {
		ident += " bin " + b + " " + fileIdentity(filepath.Join(p.Image.Path, b))
	}
	key, err := hostlib.ResolutionKey(ident, in.Resolution, "/")
	if err != nil {
		return fmt.Errorf("key the ld.so cache: %w", err)
	}
	root, err := cacheDir(true)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(root, "ldcache"), 0o700); err != nil {
		return fmt.Errorf("make node cache: %w", err)
	}
	in.Key, in.CacheDir = key, filepath.Join(root, "ldcache", key)
	if rep, err := readReport(in.CacheDir); err == nil {
		in.LdCache, in.Report = "reused", rep
		p.bindLdCache()
		return nil
	}
	if p.Image.Kind != ImageDir {
		// Built inside at start, then bound from where the container
		// sees the node cache: a bind source must be in its namespace.
		in.LdCache = "pending"
		p.ExtraTargets = append(p.ExtraTargets, "/etc/"+confName, "/etc/"+cacheName)
		p.Mounts = append(p.Mounts, Mount{Src: filepath.Dir(in.CacheDir), Dst: cacheView, Dir: true,
			ReadOnly: true, NoSuidDev: true, Why: "node cache, for the ld.so cache built at start"})
		return nil
	}
	unlock, err := lockFile(in.CacheDir + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	if rep, err := readReport(in.CacheDir); err == nil { // built meanwhile
		in.LdCache, in.Report = "reused", rep
	} else if err := in.build(p.Image.Path, "/", p.Image.Path); err != nil {
		return err
	}
	p.bindLdCache()
	return nil
}

// build computes the injection with the image at imageRoot and the host's
// files at hostRoot, and stores the result in the node cache.
func (in *Injection) build(imageRoot, hostRoot, imageName string) error {
	start := time.Now()
	inj, err := hostlib.Build(in.Resolution, hostlib.Options{ImageRoot: imageRoot, HostRoot: hostRoot,
		Binaries: in.Binaries})
	if err != nil {
		return fmt.Errorf("inject profiles %s into %s: %w", strings.Join(in.Profiles, ","), imageName, err)
	}
	in.Built, in.Report, in.LdCache = inj, &inj.ABI, "built"
	return in.store([]byte(inj.LdSoConf), inj.LdSoCache, &inj.ABI, imageName, time.Since(start))
}

// store writes a cache entry atomically and logs the build.
func (in *Injection) store(conf, cache []byte, rep *abi.Report, imageName string, took time.Duration) error {
	tmp, err := os.MkdirTemp(filepath.Dir(in.CacheDir), ".build-")
	if err != nil {
		return fmt.Errorf("store ld.so cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	report, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{confName: conf, cacheName: cache, reportName: report} {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			return fmt.Errorf("store ld.so cache: %w", err)
		}
	}
	if err := os.Rename(tmp, in.CacheDir); err != nil && !errors.Is(err, os.ErrExist) && !errors.Is(err, unix.ENOTEMPTY) {
		return fmt.Errorf("store ld.so cache: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(filepath.Dir(filepath.Dir(in.CacheDir)), "ldcache.log"),
		os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err == nil {
		fmt.Fprintf(logf, "%s built ld.so cache %s for %s with profiles %s in %d ms (pid %d)\n",
			time.Now().UTC().Format(time.RFC3339), in.Key[:16], imageName, strings.Join(in.Profiles, ","),
			took.Milliseconds(), os.Getpid())
		logf.Close()
	}
	return nil
}

func readReport(dir string) (*abi.Report, error) {
	data, err := os.ReadFile(filepath.Join(dir, reportName))
	if err != nil {
		return nil, err
	}
	rep := &abi.Report{}
	if err := json.Unmarshal(data, rep); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, reportName), err)
	}
	return rep, nil
}

// bindLdCache binds the cache entry over the image's files.
func (p *Plan) bindLdCache() {
	for _, name := range []string{confName, cacheName} {
		p.Mounts = append(p.Mounts, Mount{Src: filepath.Join(p.Inject.CacheDir, name), Dst: "/etc/" + name,
			ReadOnly: true, NoSuidDev: true, Why: "injected stacks first (node cache " + p.Inject.LdCache + ")"})
	}
}

// lockFile serialises builds of one cache entry across jobs on a node.
func lockFile(path string) (func(), error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { unix.Close(fd) }, nil
}

// ldcacheInput is what the inside build needs.
type ldcacheInput struct {
	Resolution *profile.Resolution `json:"resolution"`
	Argv0      string              `json:"argv0"`
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
	insideTasks["ldcache"] = func(raw json.RawMessage) (any, error) {
		var in ldcacheInput
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, err
		}
		var bins []string
		if b := lookPathInside(in.Argv0, in.Path, in.Cwd); b != "" {
			bins = append(bins, b)
		}
		inj, err := hostlib.Build(in.Resolution, hostlib.Options{ImageRoot: "/", HostRoot: hostView, Binaries: bins})
		if err != nil {
			return nil, err
		}
		return ldcacheOutput{Conf: inj.LdSoConf, Cache: inj.LdSoCache, Report: inj.ABI, Binaries: bins}, nil
	}
}

// lookPathInside finds a command inside the container, as the exec will.
func lookPathInside(cmd, pathVar, cwd string) string {
	if strings.Contains(cmd, "/") {
		if !filepath.IsAbs(cmd) {
			cmd = filepath.Join(cwd, cmd)
		}
		if _, err := elfdeps.Root("/").Stat(cmd); err == nil {
			return cmd
		}
		return ""
	}
	for _, dir := range filepath.SplitList(pathVar) {
		if c := filepath.Join(dir, cmd); filepath.IsAbs(c) {
			if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() {
				return c
			}
		}
	}
	return ""
}

// buildLdCacheInside makes a pending cache entry (a SquashFS image) in the
// container that nsfds hold, where the image's files can be read, then
// binds it there.
func (p *Plan) buildLdCacheInside(nsfds []int, rank string) error {
	in := p.Inject
	unlock, err := lockFile(in.CacheDir + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	if rep, err := readReport(in.CacheDir); err == nil {
		in.Report, in.LdCache = rep, "reused"
	} else {
		start := time.Now()
		pathVar, _ := p.Env.Get("PATH")
		var out ldcacheOutput
		input := ldcacheInput{Resolution: in.Resolution, Argv0: p.Argv[0], Path: pathVar, Cwd: p.Cwd}
		if err := runInside(nsfds, rank, "ldcache", input, &out); err != nil {
			return fmt.Errorf("inject profiles %s into %s: %w", strings.Join(in.Profiles, ","), p.Image.Path, err)
		}
		in.Binaries, in.Report, in.LdCache = out.Binaries, &out.Report, "built"
		if err := in.store([]byte(out.Conf), out.Cache, &out.Report, p.Image.Path, time.Since(start)); err != nil {
			return err
		}
	}
	return p.finishLdCache(nsfds, rank)
}

// finishLdCache binds the cache entry into a built container, from the
// container's own view of the node cache.
func (p *Plan) finishLdCache(nsfds []int, rank string) error {
	var files []*os.File
	for _, fd := range nsfds {
		f, err := dupFd(fd, "ns")
		if err != nil {
			return err
		}
		defer f.Close()
		files = append(files, f)
	}
	ops := &nsexec.Plan{}
	ops.Log(rank, false, p.Image.Path)
	ops.Setns(3, 4)
	ops.RootHere()
	for i, name := range []string{confName, cacheName} {
		ops.Open(i, filepath.Join(cacheView, filepath.Base(p.Inject.CacheDir), name))
		ops.Bind(i, "/etc/"+name, false, false, rootFlags, false)
	}
	var stderr bytes.Buffer
	cmd, err := startApply(ops, rank, &stderr, nil, files...)
	if err != nil {
		return err
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("bind the ld.so cache: %v %s", err, stripPrefix(strings.TrimSpace(stderr.String())))
	}
	p.bindLdCache() // for the record: check and -v show it
	return nil
}
