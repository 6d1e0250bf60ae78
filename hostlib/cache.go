package hostlib

import (
	"fmt"
	"path"

	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
	"github.com/mpiwrap/mpiwrap/hostlib/ldcache"
	"github.com/mpiwrap/mpiwrap/hostlib/profile"
)

// InjectedEntries returns the ld.so.cache entries that ldconfig would
// write for the injected directory of res, reading the host files under
// host to learn their flags. Libraries there are named by soname and
// every other name is a link to one, so each file and each link is one
// entry keyed by its own name (see package profile). Libraries placed
// elsewhere (plugin directories) are not in any search path and get no
// entry. The result is in ld.so order.
func InjectedEntries(res *profile.Resolution, host elfdeps.Root) ([]ldcache.Entry, error) {
	flags := map[string]int32{} // file name in the injected dir -> flags
	var out []ldcache.Entry
	for _, f := range res.Files {
		if f.Kind != profile.KindLibrary || path.Dir(f.Dest) != res.InjectDir {
			continue
		}
		o, err := elfdeps.ReadObject(host, f.Real)
		if err != nil {
			return nil, fmt.Errorf("build ld.so.cache: %w", err)
		}
		name := path.Base(f.Dest)
		flags[name] = o.CacheFlags
		out = append(out, ldcache.Entry{Key: name, Value: f.Dest, Flags: o.CacheFlags})
	}
	for _, l := range res.Links {
		fl, ok := flags[l.Target]
		if path.Dir(l.Path) != res.InjectDir || !ok {
			continue
		}
		out = append(out, ldcache.Entry{Key: path.Base(l.Path), Value: l.Path, Flags: fl})
	}
	ldcache.Sort(out)
	return out, nil
}

// MergedCache builds the container's ld.so.cache: the injected entries
// first, overriding the image's entries of the same name and flags,
// then the rest of the image's cache (nil if the image has none).
func MergedCache(injected []ldcache.Entry, image *ldcache.Cache, generator string) (*ldcache.Cache, []byte, error) {
	c := &ldcache.Cache{Format: ldcache.FormatNew, Entries: ldcache.Merge(injected, image), Generator: generator}
	data, err := c.Marshal()
	if err != nil {
		return nil, nil, fmt.Errorf("build ld.so.cache: %w", err)
	}
	return c, data, nil
}
