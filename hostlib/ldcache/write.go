package ldcache

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
)

// Marshal encodes c in the new format ("glibc-ld.so.cache1.1") with an
// extension directory, in the native byte order, keeping the entry order
// of c (call Sort first if the entries are not already sorted).
//
// The layout matches ldconfig 2.33+: header, entries, string table,
// padding to 4 bytes, extension directory, glibc-hwcaps name offsets,
// generator string. Identical strings are stored once; ldconfig also
// shares suffixes, which changes offsets but not meaning.
func (c *Cache) Marshal() ([]byte, error) {
	subdirs := hwcapsSubdirs(c.Entries)
	strs := newStringTable(newHeaderLen + len(c.Entries)*newEntryLen)
	type rec struct{ key, val uint32 }
	recs := make([]rec, len(c.Entries))
	for i, e := range c.Entries {
		if strings.IndexByte(e.Key+e.Value+e.HWCapsSubdir, 0) >= 0 {
			return nil, fmt.Errorf("marshal ld.so.cache: entry %q contains a NUL byte", e.Key)
		}
		recs[i] = rec{strs.add(e.Key), strs.add(e.Value)}
	}
	subdirOff := make([]uint32, len(subdirs))
	for i, s := range subdirs {
		subdirOff[i] = strs.add(s)
	}
	if strs.end() > 1<<31 {
		return nil, fmt.Errorf("marshal ld.so.cache: string table of %d bytes is too large", strs.end())
	}
	bo := binary.NativeEndian
	out := make([]byte, newHeaderLen, strs.end()+64)
	copy(out, magicNew+versionNew)
	bo.PutUint32(out[20:], uint32(len(c.Entries)))
	bo.PutUint32(out[24:], uint32(len(strs.buf)))
	out[28] = nativeEndianFlag()
	for i, e := range c.Entries {
		hw, err := entryHWCap(e, subdirs)
		if err != nil {
			return nil, fmt.Errorf("marshal ld.so.cache: entry %q: %w", e.Key, err)
		}
		out = bo.AppendUint32(out, uint32(e.Flags))
		out = bo.AppendUint32(out, recs[i].key)
		out = bo.AppendUint32(out, recs[i].val)
		out = bo.AppendUint32(out, e.OSVersion)
		out = bo.AppendUint64(out, hw)
	}
	out = append(out, strs.buf...)
	for len(out)%4 != 0 {
		out = append(out, 0)
	}
	bo.PutUint32(out[32:], uint32(len(out)))
	return appendExtensions(out, c.generator(), subdirOff), nil
}

func (c *Cache) generator() string {
	if c.Generator == "" {
		return DefaultGenerator
	}
	return c.Generator
}

// appendExtensions writes the directory, the hwcaps section (if any
// entry uses one) and the generator string, in that order.
func appendExtensions(out []byte, gen string, subdirOff []uint32) []byte {
	bo := binary.NativeEndian
	nsec := 1
	if len(subdirOff) > 0 {
		nsec = 2
	}
	dirEnd := uint32(len(out) + 8 + nsec*extSectionLen)
	hwcapsLen := uint32(4 * len(subdirOff))
	out = bo.AppendUint32(out, extensionMagic)
	out = bo.AppendUint32(out, uint32(nsec))
	out = appendSection(out, tagGenerator, dirEnd+hwcapsLen, uint32(len(gen)))
	if len(subdirOff) > 0 {
		out = appendSection(out, tagGlibcHwcaps, dirEnd, hwcapsLen)
	}
	for _, off := range subdirOff {
		out = bo.AppendUint32(out, off)
	}
	return append(out, gen...)
}

func appendSection(out []byte, tag, off, size uint32) []byte {
	bo := binary.NativeEndian
	out = bo.AppendUint32(out, tag)
	out = bo.AppendUint32(out, 0)
	out = bo.AppendUint32(out, off)
	return bo.AppendUint32(out, size)
}

// hwcapsSubdirs lists the glibc-hwcaps names in use, sorted: ld.so merges
// this list with its own sorted priority list.
func hwcapsSubdirs(entries []Entry) []string {
	var names []string
	for _, e := range entries {
		if e.IsHWCapsExtension() {
			names = append(names, e.HWCapsSubdir)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// entryHWCap recomputes the subdirectory index of extension entries.
func entryHWCap(e Entry, subdirs []string) (uint64, error) {
	if !e.IsHWCapsExtension() {
		return e.HWCap, nil
	}
	if e.HWCapsSubdir == "" {
		return 0, fmt.Errorf("glibc-hwcaps entry without a subdirectory name")
	}
	idx, _ := slices.BinarySearch(subdirs, e.HWCapsSubdir)
	return e.HWCap&^0xffffffff | uint64(idx), nil
}

func nativeEndianFlag() byte {
	var probe [2]byte
	binary.NativeEndian.PutUint16(probe[:], 1)
	if probe[0] == 1 {
		return endianLittle
	}
	return endianBig
}

// stringTable interns NUL-terminated strings; offsets count from the
// start of the new header, which precedes the table by base bytes.
type stringTable struct {
	base int
	buf  []byte
	seen map[string]uint32
}

func newStringTable(base int) *stringTable {
	return &stringTable{base: base, seen: map[string]uint32{}}
}

func (t *stringTable) add(s string) uint32 {
	if off, ok := t.seen[s]; ok {
		return off
	}
	off := uint32(t.base + len(t.buf))
	t.buf = append(append(t.buf, s...), 0)
	t.seen[s] = off
	return off
}

func (t *stringTable) end() int { return t.base + len(t.buf) }
