package ldcache

import (
	"math/bits"
	"runtime"
	"slices"
	"strings"
)

// LibCmp compares two library names as glibc's _dl_cache_libcmp does:
// runs of decimal digits compare by value (so "libfoo.so.10" > "libfoo.so.9")
// and any digit sorts after any non-digit. The sign of the result is what
// counts. Arithmetic wraps at 32 bits exactly like the C int version, so
// even absurd digit runs order the same way ld.so orders them.
func LibCmp(a, b string) int {
	i, j := 0, 0
	for at(a, i) != 0 {
		c1, c2 := at(a, i), at(b, j)
		switch {
		case isDigit(c1) && isDigit(c2):
			var v1, v2 int32
			for ; isDigit(at(a, i)); i++ {
				v1 = v1*10 + int32(at(a, i)-'0')
			}
			for ; isDigit(at(b, j)); j++ {
				v2 = v2*10 + int32(at(b, j)-'0')
			}
			if v1 != v2 {
				return int(v1 - v2)
			}
		case isDigit(c1):
			return 1
		case isDigit(c2):
			return -1
		case c1 != c2:
			return charVal(c1) - charVal(c2)
		default:
			i++
			j++
		}
	}
	return -charVal(at(b, j))
}

// signedChar is true where C's plain char is signed, which decides how
// bytes >= 0x80 order in _dl_cache_libcmp on the machine that reads the
// cache (it is always the machine that wrote it).
var signedChar = runtime.GOARCH == "amd64" || runtime.GOARCH == "386" || runtime.GOARCH == "loong64"

func charVal(c byte) int {
	if signedChar {
		return int(int8(c))
	}
	return int(c)
}

// at returns s[i], or NUL past the end or at an embedded NUL, mirroring
// how C sees the string.
func at(s string, i int) byte {
	if i >= len(s) {
		return 0
	}
	return s[i]
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Compare orders two entries as ldconfig's compare() in glibc >= 2.33:
// key descending by LibCmp, flags descending, glibc-hwcaps entries first
// (by subdirectory name), then more legacy hwcap bits first. A negative
// result means a sorts before b.
func Compare(a, b Entry) int {
	if r := LibCmp(b.Key, a.Key); r != 0 {
		return r
	}
	if a.Flags != b.Flags {
		if a.Flags < b.Flags {
			return 1
		}
		return -1
	}
	ea, eb := a.IsHWCapsExtension(), b.IsHWCapsExtension()
	switch {
	case ea && !eb:
		return -1
	case !ea && eb:
		return 1
	case ea && eb:
		return strings.Compare(a.HWCapsSubdir, b.HWCapsSubdir)
	}
	// ldconfig keeps extension entries' hwcap at 0 in memory, so the
	// legacy bit comparison only applies to plain entries.
	ba, bb := bits.OnesCount64(a.HWCap), bits.OnesCount64(b.HWCap)
	switch {
	case ba != bb:
		return bb - ba
	case a.HWCap != b.HWCap:
		if a.HWCap < b.HWCap {
			return 1
		}
		return -1
	}
	return 0
}

// Sort puts entries into ld.so's search order. It is stable: entries
// that compare equal keep their relative order, as with ldconfig's
// insertion sort.
func Sort(entries []Entry) {
	slices.SortStableFunc(entries, Compare)
}

// Merge returns the entries of a cache whose search path is first the
// directories that produced injected, then those of image.
//
// Image entries with the same key and flags as an injected entry are
// dropped: ld.so would never return them (it stops at the first
// matching plain entry), except glibc-hwcaps copies, which it would
// prefer on a capable CPU and so must go for the injection to win.
// image may be nil.
func Merge(injected []Entry, image *Cache) []Entry {
	type id struct {
		key   string
		flags int32
	}
	shadow := make(map[id]bool, len(injected))
	out := make([]Entry, 0, len(injected))
	for _, e := range injected {
		shadow[id{e.Key, e.Flags}] = true
		out = append(out, e)
	}
	if image != nil {
		for _, e := range image.Entries {
			if !shadow[id{e.Key, e.Flags}] {
				out = append(out, e)
			}
		}
	}
	Sort(out)
	return out
}
