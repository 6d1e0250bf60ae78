package mpiwrap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// A single rank's plan is kept in a per-user cache, keyed by everything the
// planner read: argv, working directory, environment, identity, and the
// identity (device, inode, size, times) of every file it looked at. The C
// fast path (nsexec/plancache.c) replays a plan whose inputs all still
// match, so a repeated `mpiwrap IMAGE CMD` starts no Go runtime at all.
// The format here and there must agree; a test runs both.

const planCacheMagic = "MPWC1\n"

// cacheDir is node-local and private: anyone who could write a plan here
// could make the user run anything.
func cacheDir(create bool) (string, error) {
	dir := fmt.Sprintf("/var/tmp/mpiwrap-%d", os.Getuid())
	if create {
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return "", err
		}
	}
	if !privateDir(dir) {
		return "", fmt.Errorf("cache directory %s is not a directory of yours with mode 0700: remove it", dir)
	}
	return dir, nil
}

// fileIdentity matches file_identity in plancache.c.
func fileIdentity(path string) string {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return "missing"
	}
	return fmt.Sprintf("%d:%d:%d:%d.%09d:%d.%09d:%o", st.Dev, st.Ino, st.Size,
		st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec, st.Mode)
}

// fileType is the weaker identity of a bind source: the plan depends on
// its existence and kind, not on its contents (a /tmp whose mtime changes
// all the time must not defeat the cache). Matches file_type in C.
func fileType(path string) string {
	var st unix.Stat_t
	switch {
	case unix.Stat(path, &st) != nil:
		return "type:missing"
	case st.Mode&unix.S_IFMT == unix.S_IFDIR:
		return "type:dir"
	case st.Mode&unix.S_IFMT == unix.S_IFREG:
		return "type:file"
	}
	return "type:other"
}

// planInputs is what a cached plan must match, in the order plancache.c
// reads it.
func planInputs(argv, env []string, cwd string) []string {
	groups, _ := unix.Getgroups()
	gs := make([]string, len(groups))
	for i, g := range groups {
		gs[i] = strconv.Itoa(g)
	}
	in := []string{fileIdentity("/proc/self/exe"), strconv.Itoa(os.Getuid()),
		strconv.Itoa(os.Getgid()), strings.Join(gs, ","), cwd, strconv.Itoa(len(argv))}
	in = append(in, argv...)
	in = append(in, strconv.Itoa(len(env)))
	return append(in, env...)
}

// planCacheName hashes argv, cwd and env the way plancache.c does.
func planCacheName(argv, env []string, cwd string) string {
	h := fnv.New64a()
	for _, s := range append(append(append([]string{}, argv...), cwd), env...) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%016x.plan", h.Sum64())
}

// cacheDeps are the files a plan was made from, with the identity each
// must keep: the full one for files whose contents the planner read, the
// kind only for bind sources.
func (p *Plan) cacheDeps(spec *Spec) [][2]string {
	var deps [][2]string
	for _, f := range []string{p.Image.Path, filepath.Join(p.Image.Path, "etc"),
		filepath.Join(p.Image.Path, "etc/passwd"), filepath.Join(p.Image.Path, "etc/group"),
		"/etc/passwd", "/etc/group"} {
		deps = append(deps, [2]string{f, fileIdentity(f)})
	}
	for _, e := range spec.EnvEdits {
		if e.Op == "file" {
			deps = append(deps, [2]string{e.Name, fileIdentity(e.Name)})
		}
	}
	if p.Inject != nil { // profile files: their edits would change the plan
		for _, pr := range p.Inject.Resolution.Profiles {
			if !strings.HasPrefix(pr.Source, "builtin:") {
				deps = append(deps, [2]string{pr.Source, fileIdentity(pr.Source)})
			}
		}
		deps = append(deps, [2]string{"/etc/ld.so.cache", fileIdentity("/etc/ld.so.cache")})
	}
	for _, m := range defaultBinds {
		deps = append(deps, [2]string{m.Src, fileType(m.Src)})
	}
	for _, m := range p.Mounts {
		if m.Src != "" {
			deps = append(deps, [2]string{m.Src, fileType(m.Src)})
		}
	}
	return deps
}

// cacheable: the C replay handles directory images without -v (whose
// output only the Go half prints).
func (p *Plan) cacheable(spec *Spec) bool {
	return p.Image.Kind == ImageDir && !spec.Verbose
}

// savePlan writes the cache entry atomically. Failing to cache is not an
// error: the next run plans again.
func savePlan(plan []byte, deps [][2]string, inputs []string, name string) {
	dir, err := cacheDir(true)
	if err != nil {
		return
	}
	b := []byte(planCacheMagic)
	for _, s := range inputs {
		b = appendStr(b, s)
	}
	b = appendStr(b, strconv.Itoa(len(deps)))
	for _, d := range deps {
		b = appendStr(b, d[0])
		b = appendStr(b, d[1])
	}
	b = binary.NativeEndian.AppendUint32(b, uint32(len(plan)))
	b = append(b, plan...)
	tmp, err := os.CreateTemp(dir, ".plan-")
	if err != nil {
		return
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil || tmp.Close() != nil {
		return
	}
	os.Rename(tmp.Name(), filepath.Join(dir, name))
}
