package ldcache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ErrNotCache is returned (wrapped) for data that is no ld.so.cache at all.
var ErrNotCache = errors.New("not an ld.so.cache file")

// ParseFile reads and parses the cache at path.
func ParseFile(path string) (*Cache, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read ld.so.cache: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes a cache in any of glibc's layouts. Offsets are checked
// against the data, so hostile input yields an error, never a panic.
func Parse(data []byte) (*Cache, error) {
	if len(data) > maxCacheFileSize {
		return nil, fmt.Errorf("%w: %d bytes is too large", ErrNotCache, len(data))
	}
	// The names are substrings of one copy of the file, not a string
	// each: a cache lists hundreds.
	text := string(data)
	if bytes.HasPrefix(data, []byte(magicOld)) {
		return parseOld(data, text)
	}
	if isNewHeader(data) {
		return parseNew(data, text, 0)
	}
	return nil, fmt.Errorf("%w: unknown magic", ErrNotCache)
}

func isNewHeader(b []byte) bool {
	return len(b) >= newHeaderLen && bytes.HasPrefix(b, []byte(magicNew+versionNew))
}

// parseOld handles "ld.so-1.7.0", preferring a new cache hidden after it.
func parseOld(data []byte, text string) (*Cache, error) {
	if len(data) < oldHeaderLen {
		return nil, fmt.Errorf("%w: truncated old header", ErrNotCache)
	}
	bo := binary.NativeEndian
	n := uint64(bo.Uint32(data[12:]))
	if uint64(len(data)-oldHeaderLen)/oldEntryLen < n {
		return nil, fmt.Errorf("%w: %d old entries do not fit in %d bytes", ErrNotCache, n, len(data))
	}
	end := oldHeaderLen + int(n)*oldEntryLen
	if off := align8(end); off+newHeaderLen < len(data) && isNewHeader(data[off:]) {
		c, err := parseNew(data, text, off)
		if err != nil {
			return nil, err
		}
		c.Format = FormatCompat
		return c, nil
	}
	strs := text[end:]
	c := &Cache{Format: FormatOld, Entries: make([]Entry, 0, n)}
	for i := range int(n) {
		e := data[oldHeaderLen+i*oldEntryLen:]
		key, err1 := cstring(strs, uint64(bo.Uint32(e[4:])))
		val, err2 := cstring(strs, uint64(bo.Uint32(e[8:])))
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("old entry %d: %w", i, err)
		}
		c.Entries = append(c.Entries, Entry{Key: key, Value: val, Flags: int32(bo.Uint32(e))})
	}
	return c, nil
}

// parseNew decodes the new layout whose header starts at base. String
// offsets count from base; extension offsets count from the file start.
func parseNew(data []byte, text string, base int) (*Cache, error) {
	hdr, hdrText := data[base:], text[base:]
	bo, err := byteOrder(hdr[28])
	if err != nil {
		return nil, err
	}
	n := uint64(bo.Uint32(hdr[20:]))
	if uint64(len(hdr)-newHeaderLen)/newEntryLen < n {
		return nil, fmt.Errorf("%w: %d entries do not fit in %d bytes", ErrNotCache, n, len(hdr))
	}
	c := &Cache{Format: FormatNew, Entries: make([]Entry, 0, n)}
	subdirs, gen, err := parseExtensions(data, hdrText, uint64(bo.Uint32(hdr[32:])), bo)
	if err != nil {
		return nil, err
	}
	c.Generator = gen
	for i := range int(n) {
		e, err := parseNewEntry(hdr, hdrText, newHeaderLen+i*newEntryLen, bo, subdirs)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		c.Entries = append(c.Entries, e)
	}
	return c, nil
}

func parseNewEntry(hdr []byte, hdrText string, at int, bo binary.ByteOrder, subdirs []string) (Entry, error) {
	raw := hdr[at : at+newEntryLen]
	key, err1 := cstring(hdrText, uint64(bo.Uint32(raw[4:])))
	val, err2 := cstring(hdrText, uint64(bo.Uint32(raw[8:])))
	if err := errors.Join(err1, err2); err != nil {
		return Entry{}, err
	}
	e := Entry{
		Key: key, Value: val,
		Flags:     int32(bo.Uint32(raw)),
		OSVersion: bo.Uint32(raw[12:]),
		HWCap:     bo.Uint64(raw[16:]),
	}
	if e.IsHWCapsExtension() {
		idx := uint64(uint32(e.HWCap))
		if idx >= uint64(len(subdirs)) {
			return Entry{}, fmt.Errorf("glibc-hwcaps index %d out of range (%d subdirectories)", idx, len(subdirs))
		}
		e.HWCapsSubdir = subdirs[idx]
	}
	return e, nil
}

func byteOrder(flags byte) (binary.ByteOrder, error) {
	switch flags & endianMask {
	case endianUnset:
		return binary.NativeEndian, nil
	case endianLittle:
		return binary.LittleEndian, nil
	case endianBig:
		return binary.BigEndian, nil
	}
	return nil, fmt.Errorf("%w: header marks the cache invalid (flags %#x)", ErrNotCache, flags)
}

// parseExtensions reads the generator string and the glibc-hwcaps names.
// strs is the text from the new header on.
func parseExtensions(data []byte, strs string, off uint64, bo binary.ByteOrder) ([]string, string, error) {
	if off == 0 {
		return nil, "", nil
	}
	if off%4 != 0 || off+8 > uint64(len(data)) {
		return nil, "", fmt.Errorf("extension offset %d is misaligned or past the end", off)
	}
	if bo.Uint32(data[off:]) != extensionMagic {
		return nil, "", fmt.Errorf("extension at %d: bad magic", off)
	}
	count := uint64(bo.Uint32(data[off+4:]))
	if (uint64(len(data))-off-8)/extSectionLen < count {
		return nil, "", fmt.Errorf("extension directory of %d sections runs past the end", count)
	}
	var subdirs []string
	var gen string
	for i := range count {
		s := data[off+8+i*extSectionLen:]
		tag, start, size := bo.Uint32(s), uint64(bo.Uint32(s[8:])), uint64(bo.Uint32(s[12:]))
		if start+size > uint64(len(data)) {
			return nil, "", fmt.Errorf("extension section %d runs past the end", i)
		}
		body := data[start : start+size]
		switch tag {
		case tagGenerator:
			gen = string(body)
		case tagGlibcHwcaps:
			names, err := hwcapsNames(strs, body, bo)
			if err != nil {
				return nil, "", err
			}
			subdirs = names
		}
	}
	return subdirs, gen, nil
}

// hwcapsNames resolves the uint32 string offsets (relative to the new
// header) of the glibc-hwcaps section.
func hwcapsNames(strs string, body []byte, bo binary.ByteOrder) ([]string, error) {
	if len(body)%4 != 0 {
		return nil, fmt.Errorf("glibc-hwcaps section size %d is not a multiple of 4", len(body))
	}
	names := make([]string, 0, len(body)/4)
	for i := 0; i < len(body); i += 4 {
		s, err := cstring(strs, uint64(bo.Uint32(body[i:])))
		if err != nil {
			return nil, fmt.Errorf("glibc-hwcaps name %d: %w", i/4, err)
		}
		names = append(names, s)
	}
	return names, nil
}

// cstring returns the NUL-terminated string at off in b.
func cstring(b string, off uint64) (string, error) {
	if off >= uint64(len(b)) {
		return "", fmt.Errorf("string offset %d out of range (%d bytes)", off, len(b))
	}
	s := b[off:]
	end := strings.IndexByte(s, 0)
	if end < 0 {
		return "", fmt.Errorf("string at %d is not NUL-terminated", off)
	}
	return s[:end], nil
}

func align8(n int) int { return (n + 7) &^ 7 }
