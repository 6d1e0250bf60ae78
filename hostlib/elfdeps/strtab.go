package elfdeps

import (
	"bytes"
	"debug/elf"
	"strings"
)

// strTab is one string table of an ELF file, read a block at a time as
// strings are asked for: an object's names (DT_NEEDED, DT_SONAME, the
// version names) are a few dozen strings, usually in the last block of a
// .dynstr that for an MPI library is tens of KiB of symbol names. It
// answers as the whole table read at once would: not at all when any of
// it is out of the file.
type strTab struct {
	sec    *elf.Section
	size   uint64
	ok     bool
	whole  []byte            // the table, where it has to be read at once
	blocks map[uint64][]byte // by block number
}

const strBlock = 4096

// newStrTab opens the string table in section index link, which must be
// in range.
func newStrTab(f *elf.File, link uint32) *strTab {
	s := f.Sections[link]
	t := &strTab{sec: s, size: s.Size, blocks: map[uint64][]byte{}}
	if s.Type == elf.SHT_NOBITS || s.Flags&elf.SHF_COMPRESSED != 0 || strings.HasPrefix(s.Name, ".zdebug") {
		// Only Data knows what these hold (nothing, or inflated bytes).
		data, err := s.Data()
		t.whole, t.ok, t.size = data, err == nil, uint64(len(data))
		return t
	}
	// Reading the last block tells that the whole table is in the file,
	// and it is where a linker puts the names that are asked for.
	t.ok = t.size == 0 || t.block((t.size-1)/strBlock) != nil
	return t
}

// block returns block n of the table, nil (and the table unreadable
// from then on) when it can't be read.
func (t *strTab) block(n uint64) []byte {
	if b, ok := t.blocks[n]; ok {
		return b
	}
	start := n * strBlock
	b := make([]byte, min(strBlock, t.size-start))
	if _, err := t.sec.ReadAt(b, int64(start)); err != nil {
		t.ok = false
		return nil
	}
	t.blocks[n] = b
	return b
}

// str returns the bytes at off up to a NUL or the end of the table;
// terminated says a NUL ended them. ok is false for an offset out of
// the table or a table that can't be read (or a nil one: none).
func (t *strTab) str(off uint64) (s string, terminated, ok bool) {
	if t == nil || !t.ok || off >= t.size {
		return "", false, false
	}
	if t.whole != nil {
		b := t.whole[off:]
		if i := bytes.IndexByte(b, 0); i >= 0 {
			return string(b[:i]), true, true
		}
		return string(b), false, true
	}
	var acc []byte // a string that runs on into the next block
	for pos := off; pos < t.size; {
		b := t.block(pos / strBlock)
		if b == nil {
			return "", false, false
		}
		b = b[pos%strBlock:]
		if i := bytes.IndexByte(b, 0); i >= 0 {
			if acc == nil {
				return string(b[:i]), true, true
			}
			return string(append(acc, b[:i]...)), true, true
		}
		acc = append(acc, b...)
		pos += uint64(len(b))
	}
	return string(acc), false, true
}

// getString is debug/elf's getString: a NUL-terminated string at off.
func (t *strTab) getString(off uint64) (string, bool) {
	s, terminated, ok := t.str(off)
	return s, ok && terminated
}

// cstr is the string at off up to a NUL or the table's end, "" out of
// range (the version sections' reading).
func (t *strTab) cstr(off uint32) string {
	s, _, _ := t.str(uint64(off))
	return s
}

// dynFile reads an ELF file's dynamic information, each string table
// opened once however many parts use it.
type dynFile struct {
	f    *elf.File
	tabs map[uint32]*strTab
}

func newDynFile(f *elf.File) *dynFile { return &dynFile{f: f, tabs: map[uint32]*strTab{}} }

// strTab returns the string table in section link, nil if there is none.
func (d *dynFile) strTab(link uint32) *strTab {
	if link >= uint32(len(d.f.Sections)) {
		return nil
	}
	t, ok := d.tabs[link]
	if !ok {
		t = newStrTab(d.f, link)
		d.tabs[link] = t
	}
	return t
}

// dynEntry is one entry of the dynamic section.
type dynEntry struct {
	tag elf.DynTag
	val uint64
}

// dynamic returns the dynamic section's entries and its string table
// (nil for a link that debug/elf's DynString refuses); ok is false, as
// for DynString and DynValue, when the file has no readable dynamic
// section of whole entries.
func (d *dynFile) dynamic() (entries []dynEntry, strs *strTab, ok bool) {
	f := d.f
	ds := f.SectionByType(elf.SHT_DYNAMIC)
	if ds == nil {
		return nil, nil, false
	}
	data, err := ds.Data()
	if err != nil {
		return nil, nil, false
	}
	size := 8
	if f.Class == elf.ELFCLASS64 {
		size = 16
	}
	if len(data)%size != 0 {
		return nil, nil, false
	}
	entries = make([]dynEntry, 0, len(data)/size)
	for ; len(data) > 0; data = data[size:] {
		var e dynEntry
		switch f.Class {
		case elf.ELFCLASS32:
			e = dynEntry{elf.DynTag(f.ByteOrder.Uint32(data[0:4])), uint64(f.ByteOrder.Uint32(data[4:8]))}
		case elf.ELFCLASS64:
			e = dynEntry{elf.DynTag(f.ByteOrder.Uint64(data[0:8])), f.ByteOrder.Uint64(data[8:16])}
		}
		entries = append(entries, e)
	}
	if ds.Link == 0 {
		return entries, nil, true
	}
	return entries, d.strTab(ds.Link), true
}
