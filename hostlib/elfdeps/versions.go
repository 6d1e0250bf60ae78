package elfdeps

import "debug/elf"

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
func (d *dynFile) versionSection(typ elf.SectionType) (data []byte, strs *strTab, count int, ok bool) {
	s := d.f.SectionByType(typ)
	if s == nil {
		return nil, nil, 0, false
	}
	if strs = d.strTab(s.Link); strs == nil || !strs.ok {
		return nil, nil, 0, false
	}
	data, err := s.Data()
	if err != nil {
		return nil, nil, 0, false
	}
	return data, strs, min(int(s.Info), maxRecords), true
}

// versionNeeds decodes .gnu.version_r.
func versionNeeds(f *elf.File) []VersionNeed { return newDynFile(f).versionNeeds() }

func (d *dynFile) versionNeeds() []VersionNeed {
	data, strs, count, ok := d.versionSection(elf.SHT_GNU_VERNEED)
	if !ok {
		return nil
	}
	bo := d.f.ByteOrder
	var out []VersionNeed
	for i, off := 0, 0; i < count && off >= 0 && off+verneedLen <= len(data); i++ {
		vn := data[off:]
		need := VersionNeed{File: strs.cstr(bo.Uint32(vn[4:]))}
		aux := off + int(bo.Uint32(vn[8:]))
		for j := 0; j < int(bo.Uint16(vn[2:])) && aux >= off && aux+vernauxLen <= len(data); j++ {
			a := data[aux:]
			name := strs.cstr(bo.Uint32(a[8:]))
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
func versionDefs(f *elf.File) []string { return newDynFile(f).versionDefs() }

func (d *dynFile) versionDefs() []string {
	data, strs, count, ok := d.versionSection(elf.SHT_GNU_VERDEF)
	if !ok {
		return nil
	}
	bo := d.f.ByteOrder
	var out []string
	for i, off := 0, 0; i < count && off >= 0 && off+verdefLen <= len(data); i++ {
		vd := data[off:]
		aux := off + int(bo.Uint32(vd[12:]))
		base := elf.DynamicVersionFlag(bo.Uint16(vd[2:]))&elf.VER_FLG_BASE != 0
		if !base && aux >= off && aux+verdauxLen <= len(data) {
			out = append(out, strs.cstr(bo.Uint32(data[aux:])))
		}
		next := int(bo.Uint32(vd[16:]))
		if next == 0 {
			break
		}
		off += next
	}
	return out
}
