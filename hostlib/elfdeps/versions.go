package elfdeps

import (
	"bytes"
	"debug/elf"
)

// Reading .gnu.version_r and .gnu.version_d directly: debug/elf's
// DynamicVersionNeeds and DynamicVersions first decode the whole dynamic
// symbol table, which for libmpich is most of the time a closure takes.
// Both sections are small arrays of fixed-size records linked by byte
// offsets, with names in the section named by sh_link.

const (
	verneedLen = 16 // vn_version, vn_cnt, vn_file, vn_aux, vn_next
	vernauxLen = 16 // vna_hash, vna_flags, vna_other, vna_name, vna_next
	verdefLen  = 20 // vd_version, vd_flags, vd_ndx, vd_cnt, vd_hash, vd_aux, vd_next
	verdauxLen = 8  // vda_name, vda_next
	maxRecords = 1 << 16
)

// versionSection returns a version section's data and its string table.
func versionSection(f *elf.File, typ elf.SectionType) (data, strs []byte, count int, ok bool) {
	s := f.SectionByType(typ)
	if s == nil || int(s.Link) >= len(f.Sections) {
		return nil, nil, 0, false
	}
	data, err := s.Data()
	if err != nil {
		return nil, nil, 0, false
	}
	strs, err = f.Sections[s.Link].Data()
	if err != nil {
		return nil, nil, 0, false
	}
	return data, strs, min(int(s.Info), maxRecords), true
}

// versionNeeds decodes .gnu.version_r.
func versionNeeds(f *elf.File) []VersionNeed {
	data, strs, count, ok := versionSection(f, elf.SHT_GNU_VERNEED)
	if !ok {
		return nil
	}
	bo := f.ByteOrder
	var out []VersionNeed
	for i, off := 0, 0; i < count && off >= 0 && off+verneedLen <= len(data); i++ {
		vn := data[off:]
		need := VersionNeed{File: cstr(strs, bo.Uint32(vn[4:]))}
		aux := off + int(bo.Uint32(vn[8:]))
		for j := 0; j < int(bo.Uint16(vn[2:])) && aux >= off && aux+vernauxLen <= len(data); j++ {
			a := data[aux:]
			name := cstr(strs, bo.Uint32(a[8:]))
			if elf.DynamicVersionFlag(bo.Uint16(a[4:]))&elf.VER_FLG_WEAK != 0 {
				need.Weak = append(need.Weak, name)
			} else {
				need.Versions = append(need.Versions, name)
			}
			next := int(bo.Uint32(a[12:]))
			if next == 0 {
				break
			}
			aux += next
		}
		out = append(out, need)
		next := int(bo.Uint32(vn[12:]))
		if next == 0 {
			break
		}
		off += next
	}
	return out
}

// versionDefs decodes .gnu.version_d, leaving out the base entry.
func versionDefs(f *elf.File) []string {
	data, strs, count, ok := versionSection(f, elf.SHT_GNU_VERDEF)
	if !ok {
		return nil
	}
	bo := f.ByteOrder
	var out []string
	for i, off := 0, 0; i < count && off >= 0 && off+verdefLen <= len(data); i++ {
		vd := data[off:]
		aux := off + int(bo.Uint32(vd[12:]))
		base := elf.DynamicVersionFlag(bo.Uint16(vd[2:]))&elf.VER_FLG_BASE != 0
		if !base && aux >= off && aux+verdauxLen <= len(data) {
			out = append(out, cstr(strs, bo.Uint32(data[aux:])))
		}
		next := int(bo.Uint32(vd[16:]))
		if next == 0 {
			break
		}
		off += next
	}
	return out
}

// cstr returns the NUL-terminated string at off, or "" out of range.
func cstr(b []byte, off uint32) string {
	if uint64(off) >= uint64(len(b)) {
		return ""
	}
	s := b[off:]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return string(s)
}
