package hostlib

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
	"github.com/mpiwrap/mpiwrap/hostlib/profile"
)

// cacheKeyVersion changes whenever the injection format or the meaning of
// the stored ABI report changes, so old per-node caches are not reused by
// a newer mpiwrap. v2: optional items that fail the image are dropped, and
// only what the command loads refuses a launch (decide.go).
const cacheKeyVersion = "mpiwrap-hostlib-v2"

// FileIdentity identifies one version of a host file cheaply.
type FileIdentity struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	MtimeNs int64  `json:"mtime_ns"`
	Inode   uint64 `json:"inode"`
	Dev     uint64 `json:"dev"`
}

func (f FileIdentity) String() string {
	return strings.Join([]string{f.Path, strconv.FormatInt(f.Size, 10), strconv.FormatInt(f.MtimeNs, 10),
		strconv.FormatUint(f.Inode, 10), strconv.FormatUint(f.Dev, 10)}, "\x1f")
}

// Identities stats paths inside root (following symlinks) and returns
// their identities sorted by path, without repeats.
func Identities(root elfdeps.Root, paths []string) ([]FileIdentity, error) {
	paths = slices.Clone(paths)
	slices.Sort(paths)
	paths = slices.Compact(paths)
	out := make([]FileIdentity, 0, len(paths))
	for _, p := range paths {
		fi, err := root.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("identify host file: %w", err)
		}
		id := FileIdentity{Path: p, Size: fi.Size(), MtimeNs: fi.ModTime().UnixNano()}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			id.Inode, id.Dev = st.Ino, uint64(st.Dev)
		}
		out = append(out, id)
	}
	return out, nil
}

// CacheKey derives the per-node cache key of an injection: a hex SHA-256
// over the key format version, the image identity (whatever the caller
// uses to tell images apart: a digest, or path+size+mtime of a SquashFS
// file), the inject dir, the profile names in order (edits depend on the
// order), and the identities of the host files. Identities are sorted
// here, so their order does not matter.
func CacheKey(image, injectDir string, profiles []string, files []FileIdentity) string {
	h := sha256.New()
	field := func(s string) {
		fmt.Fprintf(h, "%d:%s\n", len(s), s)
	}
	field(cacheKeyVersion)
	field(image)
	field(injectDir)
	field(strings.Join(profiles, "\x1f"))
	ids := make([]string, len(files))
	for i, f := range files {
		ids[i] = f.String()
	}
	slices.Sort(ids)
	for _, id := range ids {
		field(id)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ResolutionKey is CacheKey for a resolution: profile names and every
// bound host file (real paths) plus every profile source file that is
// not built in, so that editing a profile also changes the key.
func ResolutionKey(image string, res *profile.Resolution, host elfdeps.Root) (string, error) {
	var names, paths []string
	for _, p := range res.Profiles {
		names = append(names, p.Name+"="+p.Source)
		if !strings.HasPrefix(p.Source, "builtin:") {
			paths = append(paths, p.Source)
		}
	}
	for _, f := range res.Files {
		paths = append(paths, f.Real)
	}
	ids, err := Identities(host, paths)
	if err != nil {
		return "", err
	}
	return CacheKey(image, res.InjectDir, names, ids), nil
}
