package elfdeps

import (
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/mpiwrap/mpiwrap/hostlib/ldcache"
)

// Resolver finds libraries the way ld.so does inside one root.
type Resolver struct {
	// Root holds the files; "/" for the host.
	Root Root
	// Cache is the root's parsed ld.so.cache, nil if it has none.
	Cache *ldcache.Cache
	// ExtraDirs are searched where LD_LIBRARY_PATH would be.
	ExtraDirs []string
	// DefaultDirs are the loader's built-in directories; nil means
	// DefaultDirs(Multiarch, class of the requesting object).
	DefaultDirs []string
	// Multiarch is the Debian triplet ("x86_64-linux-gnu"), empty on
	// distributions without multiarch directories.
	Multiarch string
	// Platform expands $PLATFORM ("x86_64").
	Platform string
	// Exclude, when set, names DT_NEEDED entries a closure must not follow.
	Exclude func(name string) bool
	// Overlay stands for files bound over the root, as a container will
	// have them: a path inside the root -> the file that will be there.
	// Read takes such a path from the overlay, never from the root.
	Overlay map[string]OverlayFile
	// objects memoizes ReadObject by path; copies of a Resolver share it.
	// NewResolver sets it; a zero Resolver reads every time. Not safe for
	// concurrent use.
	objects *map[string]*Object
	// fs memoizes what resolving paths in Root asks of the file system,
	// alongside objects.
	fs *fsMemo
}

// OverlayFile is a file of another root that a Resolver sees at some
// path of its own (see Resolver.Overlay).
type OverlayFile struct {
	// Root and Path locate the file.
	Root Root
	Path string
	// Real is the path inside the Resolver's root that the object is
	// known by once links are followed (a link and its target share it).
	Real string
}

// Read is ReadObject through the memo. The object may be shared with
// other callers: do not modify it.
func (r *Resolver) Read(path string) (*Object, error) {
	if f, ok := r.Overlay[path]; ok {
		return r.readOverlay(path, f)
	}
	if r.objects == nil {
		return ReadObject(r.Root, path)
	}
	if o, ok := (*r.objects)[path]; ok {
		return o, nil
	}
	o, err := readObject(r.Root, path, r.fs)
	if err != nil {
		return nil, err
	}
	(*r.objects)[path] = o
	return o, nil
}

// readOverlay reads an overlay file, memoized apart from the root's own
// files of the same path.
func (r *Resolver) readOverlay(path string, f OverlayFile) (*Object, error) {
	key := "\x00overlay\x00" + string(f.Root) + "\x00" + f.Path + "\x00" + path
	if r.objects != nil {
		if o, ok := (*r.objects)[key]; ok {
			return o, nil
		}
	}
	o, err := ReadObject(f.Root, f.Path)
	if err != nil {
		return nil, err
	}
	o.Path, o.Real = path, f.Real
	if o.Real == "" {
		o.Real = path
	}
	if r.objects != nil {
		(*r.objects)[key] = o
	}
	return o, nil
}

// ErrNotFound is wrapped by Lookup when no directory has the library.
var ErrNotFound = errors.New("library not found")

// DefaultDirs returns glibc's default search path for a class: the
// multiarch directories first where the distribution has them (Debian,
// Ubuntu), then /lib and /usr/lib, or /lib64 and /usr/lib64 for 64-bit
// objects on distributions without multiarch.
func DefaultDirs(multiarch string, class elf.Class) []string {
	if multiarch != "" {
		return []string{"/lib/" + multiarch, "/usr/lib/" + multiarch, "/lib", "/usr/lib"}
	}
	if class == elf.ELFCLASS64 {
		return []string{"/lib64", "/usr/lib64"}
	}
	return []string{"/lib", "/usr/lib"}
}

// Lookup finds name for the requesting object from (nil for a top-level
// request, which then uses the native flags and no RPATH).
func (r *Resolver) Lookup(name string, from *Object) (*Object, error) {
	return r.lookup(name, from, nil)
}

// lookup is Lookup with the chain of loaders (requester's loader first,
// root last) whose RPATH applies.
func (r *Resolver) lookup(name string, from *Object, chain []*Object) (*Object, error) {
	if strings.Contains(name, "/") {
		if !filepath.IsAbs(name) {
			return nil, fmt.Errorf("look up %s: relative path in DT_NEEDED is not supported", name)
		}
		return r.candidate(name, from)
	}
	for _, d := range r.searchPath(from, chain) {
		var o *Object
		var err error
		if d == cacheMarker {
			o, err = r.fromCache(name, from)
		} else {
			// No filepath.Join: ld.so keeps "dir/../x" as written, and
			// so does the path it reports.
			o, err = r.candidate(strings.TrimRight(d, "/")+"/"+name, from)
		}
		if err == nil {
			return o, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, ErrNotELF) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("look up %s: %w", name, ErrNotFound)
}

// searchPath lists directories in ld.so's order, with cacheMarker where
// the cache is consulted. As in glibc, a requester with RUNPATH uses no
// RPATH at all; otherwise its RPATH and that of every loader up the
// chain apply, except that a root with RUNPATH ignores its own RPATH.
func (r *Resolver) searchPath(from *Object, chain []*Object) []string {
	var dirs []string
	if from == nil || len(from.RunPath) == 0 {
		objs := append([]*Object{from}, chain...)
		for i, o := range objs {
			isRoot := i == len(objs)-1
			if o != nil && !(isRoot && len(o.RunPath) > 0) {
				dirs = append(dirs, r.expand(o.RPath, o)...)
			}
		}
	}
	dirs = append(dirs, r.ExtraDirs...)
	if from != nil {
		dirs = append(dirs, r.expand(from.RunPath, from)...)
	}
	if from != nil && from.NoDefaultLib {
		return dirs
	}
	dirs = append(dirs, cacheMarker)
	return append(dirs, r.defaultDirs(from)...)
}

// cacheMarker stands for "consult ld.so.cache" inside a search path.
const cacheMarker = "\x00cache"

func (r *Resolver) defaultDirs(from *Object) []string {
	if r.DefaultDirs != nil {
		return r.DefaultDirs
	}
	class := elf.ELFCLASS64
	if from != nil {
		class = from.Class
	}
	return DefaultDirs(r.Multiarch, class)
}

// fromCache loads what the ld.so.cache names for name.
func (r *Resolver) fromCache(name string, from *Object) (*Object, error) {
	e, ok := r.cacheLookup(name, from)
	if !ok {
		return nil, fs.ErrNotExist
	}
	return r.candidate(e.Value, from)
}

// candidate opens path and checks that it can be loaded next to from.
func (r *Resolver) candidate(path string, from *Object) (*Object, error) {
	o, err := r.Read(path)
	if err != nil {
		return nil, err
	}
	if from != nil && (o.Class != from.Class || o.Machine != from.Machine) {
		return nil, fmt.Errorf("%s: %w: wrong class or machine", path, ErrNotELF)
	}
	return o, nil
}

func (r *Resolver) cacheLookup(name string, from *Object) (ldcache.Entry, bool) {
	if r.Cache == nil {
		return ldcache.Entry{}, false
	}
	flags := NativeCacheFlags()
	if from != nil {
		flags = from.CacheFlags
	}
	return r.Cache.Lookup(name, ldcache.LookupOptions{Flags: flags})
}

// expand substitutes $ORIGIN, $LIB and $PLATFORM in search directories.
func (r *Resolver) expand(dirs []string, o *Object) []string {
	origin := filepath.Dir(o.Path)
	lib := "lib"
	if r.Multiarch != "" {
		lib = "lib/" + r.Multiarch
	} else if o.Class == elf.ELFCLASS64 {
		lib = "lib64"
	}
	rep := strings.NewReplacer("${ORIGIN}", origin, "$ORIGIN", origin,
		"${LIB}", lib, "$LIB", lib, "${PLATFORM}", r.Platform, "$PLATFORM", r.Platform)
	out := make([]string, 0, len(dirs))
	for _, d := range dirs {
		d = rep.Replace(d)
		if filepath.IsAbs(d) {
			out = append(out, d)
		}
	}
	return out
}
