package ldcache

import "slices"

// LookupOptions describe the loader doing the lookup.
type LookupOptions struct {
	// Flags the loader accepts, e.g. FlagsX8664Libc6; entries with other
	// flags are skipped as ld.so's _dl_cache_check_flags does.
	Flags int32
	// HWCaps lists the glibc-hwcaps subdirectories this CPU supports, best
	// first ("x86-64-v3", "x86-64-v2"). Empty means none: only plain
	// entries are used, which is the same answer on every node.
	HWCaps []string
	// LegacyHWCap is the hwcap mask of legacy subdirectories (tls,
	// x86_64, …) to accept; entries with other legacy bits are skipped.
	LegacyHWCap uint64
}

// Lookup returns the path ld.so would load for name from this cache,
// following glibc's search_cache: binary search on the descending
// LibCmp order, back up to the first entry with this key, then take the
// best glibc-hwcaps match, or else the first acceptable plain entry.
func (c *Cache) Lookup(name string, opt LookupOptions) (Entry, bool) {
	libs := c.Entries
	left, right := 0, len(libs)-1
	for left <= right {
		middle := (left + right) / 2
		cmp := LibCmp(name, libs[middle].Key)
		if cmp == 0 {
			for middle > 0 && LibCmp(name, libs[middle-1].Key) == 0 {
				middle--
			}
			return pickEntry(libs[middle:], name, opt)
		}
		if cmp < 0 {
			left = middle + 1
		} else {
			right = middle - 1
		}
	}
	return Entry{}, false
}

// pickEntry scans the run of entries whose key equals name.
func pickEntry(run []Entry, name string, opt LookupOptions) (Entry, bool) {
	var best Entry
	found, bestPrio := false, 0
	const tlsBit = uint64(1) << 63
	for _, e := range run {
		if LibCmp(name, e.Key) != 0 {
			break
		}
		if e.Flags != opt.Flags {
			continue
		}
		named := e.IsHWCapsExtension()
		if !named && found {
			break
		}
		if named {
			prio := slices.Index(opt.HWCaps, e.HWCapsSubdir)
			if prio < 0 || (found && prio >= bestPrio) {
				continue
			}
			best, found, bestPrio = e, true, prio
			continue
		}
		if e.HWCap&^(opt.LegacyHWCap|tlsBit) != 0 {
			continue
		}
		return e, true
	}
	return best, found
}
