package run

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// completeMark is the last file written into a built directory.
const completeMark = ".complete"

// sourcesHash identifies the embedded benchmark sources.
func sourcesHash() (string, error) {
	h := sha256.New()
	names, err := fs.Glob(sources, "csrc/*")
	if err != nil {
		return "", err
	}
	slices.Sort(names)
	for _, n := range names {
		data, err := sources.ReadFile(n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", n, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// fileID is a path's identity for cache keys: its resolved path, size and
// modification time.
func fileID(path string) string {
	if r, err := filepath.EvalSymlinks(path); err == nil {
		path = r
	}
	st, err := os.Stat(path)
	if err != nil {
		return path + " ?"
	}
	return fmt.Sprintf("%s %d %d", path, st.Size(), st.ModTime().UnixNano())
}

// cacheKey hashes its parts into a short directory name.
func cacheKey(prefix string, parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return prefix + "-" + hex.EncodeToString(h[:8])
}

// writeSources puts the embedded sources into dir/src.
func writeSources(dir string) error {
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	names, _ := fs.Glob(sources, "csrc/*")
	for _, n := range names {
		data, _ := sources.ReadFile(n)
		if err := os.WriteFile(filepath.Join(src, path.Base(n)), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// buildCached makes cache/key with build(tmp), which fills a temporary
// directory; a complete earlier build is reused. Concurrent validations
// race harmlessly: the first rename wins and the others use it.
func buildCached(cache, key string, build func(tmp string) error) (string, bool, error) {
	dir := filepath.Join(cache, key)
	if _, err := os.Stat(filepath.Join(dir, completeMark)); err == nil {
		return dir, true, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", false, fmt.Errorf("cache directory: %w", err)
	}
	tmp, err := os.MkdirTemp(cache, "."+key+".tmp-")
	if err != nil {
		return "", false, fmt.Errorf("cache directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", false, err
	}
	if err := writeSources(tmp); err != nil {
		return "", false, err
	}
	if err := build(tmp); err != nil {
		return "", false, err
	}
	if err := os.WriteFile(filepath.Join(tmp, completeMark), []byte(time.Now().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return "", false, err
	}
	os.RemoveAll(dir) // an incomplete leftover
	if err := os.Rename(tmp, dir); err != nil {
		if _, err2 := os.Stat(filepath.Join(dir, completeMark)); err2 == nil {
			return dir, false, nil
		}
		return "", false, err
	}
	return dir, false, nil
}

// programsToBuild are the programs made from the sources, by source name.
var programsToBuild = []string{"osu_latency", "osu_bw", "osu_bibw", "osu_allreduce", "osu_init", "hello", "mpiversion"}

// buildHost compiles the benchmarks with the host's mpicc into the cache.
func buildHost(ctx context.Context, cache, mpicc string, env []string, timeout time.Duration) (dir string, reused bool, err error) {
	cc, err := lookPath(mpicc, env)
	if err != nil {
		return "", false, fmt.Errorf("host MPI compiler %s: %w (install the MPI's -dev package, or give --mpicc or --osu-dir)", mpicc, err)
	}
	hash, err := sourcesHash()
	if err != nil {
		return "", false, err
	}
	key := cacheKey("host", hash, fileID(cc), mpicc)
	return buildCached(cache, key, func(tmp string) error {
		for _, p := range programsToBuild {
			argv := []string{cc, "-O2", "-o", filepath.Join(tmp, p), filepath.Join(tmp, "src", p+".c")}
			if o := execute(ctx, argv, env, timeout); o.failure != "" {
				return fmt.Errorf("build %s with %s: %s\n%s", p, mpicc, o.failure, strings.TrimSpace(o.stderr+o.stdout))
			}
		}
		return nil
	})
}

// imageBuildScript compiles the programs inside the image with its own
// mpicc: sh -c SCRIPT sh OUTDIR FAMILY PROGRAM...
const imageBuildScript = `set -e
out=$1 family=$2
shift 2
cc=$(command -v "mpicc.$family" || command -v mpicc) || { echo "error: the image has no mpicc.$family or mpicc to build the benchmarks with" >&2; exit 3; }
for p in "$@"; do
	"$cc" -O2 -o "$out/$p" "$out/src/$p.c"
done
`

// missingScript lists the programs absent from a directory in the image:
// sh -c SCRIPT sh DIR PROGRAM...
const missingScript = `d=$1
shift
for p in "$@"; do
	[ -x "$d/$p" ] || echo "$p"
done
`
