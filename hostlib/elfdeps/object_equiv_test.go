package elfdeps

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The dynamic information as debug/elf's DynString and DynValue give it
// and with the whole string tables read: what fillDynamic did before it
// read strings a block at a time. fillDynamic must agree with it on every
// file, whole or cut short.

func refFillDynamic(o *Object, f *elf.File, eflags uint32) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: malformed dynamic section (%v)", ErrNotELF, p)
		}
	}()
	if s, _ := f.DynString(elf.DT_SONAME); len(s) > 0 {
		o.Soname = s[0]
	}
	o.Needed, _ = f.DynString(elf.DT_NEEDED)
	o.RPath = refSplitPaths(f, elf.DT_RPATH)
	o.RunPath = refSplitPaths(f, elf.DT_RUNPATH)
	if v, _ := f.DynValue(elf.DT_FLAGS_1); len(v) > 0 {
		o.NoDefaultLib = v[0]&uint64(elf.DF_1_NODEFLIB) != 0
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err == nil {
				o.Interp = strings.TrimRight(string(b), "\x00")
			}
		}
	}
	o.CacheFlags = CacheFlags(f.Class, f.Machine, eflags, slices.Contains(o.Needed, "libc.so.6"))
	o.Needs = refVersionNeeds(f)
	o.Defines = refVersionDefs(f)
	return nil
}

func refSplitPaths(f *elf.File, tag elf.DynTag) []string {
	vals, _ := f.DynString(tag)
	var out []string
	for _, v := range vals {
		for _, d := range strings.Split(v, ":") {
			if d != "" {
				out = append(out, d)
			}
		}
	}
	return out
}

// refVersionSection returns a version section's data and its string table.
func refVersionSection(f *elf.File, typ elf.SectionType) (data, strs []byte, count int, ok bool) {
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

// refVersionNeeds decodes .gnu.version_r.
func refVersionNeeds(f *elf.File) []VersionNeed {
	data, strs, count, ok := refVersionSection(f, elf.SHT_GNU_VERNEED)
	if !ok {
		return nil
	}
	bo := f.ByteOrder
	var out []VersionNeed
	for i, off := 0, 0; i < count && off >= 0 && off+verneedLen <= len(data); i++ {
		vn := data[off:]
		need := VersionNeed{File: refCstr(strs, bo.Uint32(vn[4:]))}
		aux := off + int(bo.Uint32(vn[8:]))
		for j := 0; j < int(bo.Uint16(vn[2:])) && aux >= off && aux+vernauxLen <= len(data); j++ {
			a := data[aux:]
			name := refCstr(strs, bo.Uint32(a[8:]))
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

// refVersionDefs decodes .gnu.version_d, leaving out the base entry.
func refVersionDefs(f *elf.File) []string {
	data, strs, count, ok := refVersionSection(f, elf.SHT_GNU_VERDEF)
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
			out = append(out, refCstr(strs, bo.Uint32(data[aux:])))
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
func refCstr(b []byte, off uint32) string {
	if uint64(off) >= uint64(len(b)) {
		return ""
	}
	s := b[off:]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return string(s)
}

// refReadObject is ReadObject with refFillDynamic.
func refReadObject(root Root, path string) (*Object, error) {
	real, err := root.Real(path)
	if err != nil {
		return nil, fmt.Errorf("read ELF object: %w", err)
	}
	f, eflags, err := openELF(root, real)
	if err != nil {
		return nil, fmt.Errorf("read ELF object %s: %w", path, err)
	}
	defer f.Close()
	o := &Object{Path: path, Real: real, Class: f.Class, Machine: f.Machine}
	if err := refFillDynamic(o, f, eflags); err != nil {
		return nil, fmt.Errorf("read ELF object %s: %w", path, err)
	}
	return o, nil
}

// memoResolvers are Resolvers whose memos last for a whole test, one per
// root, so that later paths are resolved through what earlier ones left.
var memoResolvers = map[Root]*Resolver{}

func sameRead(t *testing.T, root Root, path string) {
	t.Helper()
	want, werr := refReadObject(root, path)
	r := memoResolvers[root]
	if r == nil {
		r = &Resolver{Root: root, objects: &map[string]*Object{}, fs: newFSMemo()}
		memoResolvers[root] = r
	}
	for _, read := range []struct {
		name string
		fn   func(Root, string) (*Object, error)
	}{
		{"ReadObject", ReadObject},
		{"Resolver.Read", func(_ Root, p string) (*Object, error) { return r.Read(p) }},
	} {
		got, gerr := read.fn(root, path)
		if fmt.Sprint(gerr) != fmt.Sprint(werr) {
			t.Fatalf("%s(%s, %s): error %v, want %v", read.name, root, path, gerr, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s(%s, %s)\n got %+v\nwant %+v", read.name, root, path, got, want)
		}
	}
}

// elfFiles lists the regular ELF files directly in dirs.
func elfFiles(t *testing.T, dirs ...string) []string {
	var out []string
	for _, dir := range dirs {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			if !e.Type().IsRegular() {
				continue
			}
			head := make([]byte, 4)
			if f, err := os.Open(p); err == nil {
				_, err = f.ReadAt(head, 0)
				f.Close()
				if err == nil && bytes.Equal(head, []byte(elf.ELFMAG)) {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

func TestReadObjectAsBefore(t *testing.T) {
	files := elfFiles(t, "/usr/lib/x86_64-linux-gnu", "/usr/bin", "/usr/lib/x86_64-linux-gnu/openmpi/lib")
	if len(files) == 0 {
		t.Skip("no ELF files on this host")
	}
	for _, p := range files {
		sameRead(t, "/", p)
	}
	t.Logf("%d host files", len(files))
	const image = "/var/cache/mpiwrap-ci/images/bookworm"
	for _, p := range elfFiles(t, image+"/usr/lib/x86_64-linux-gnu", image+"/usr/bin") {
		sameRead(t, image, strings.TrimPrefix(p, image))
	}
}

// Files whose section headers put the string tables, the dynamic section
// or the version sections out of the file, in the wrong place or nowhere,
// and files cut short: what fillDynamic gets must be what it got.
func TestReadObjectDamagedAsBefore(t *testing.T) {
	dir := t.TempDir()
	n := 0
	write := func(name string, data []byte) {
		p := filepath.Join(dir, fmt.Sprintf("%d.%s", n, name))
		n++
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		sameRead(t, "/", p)
	}
	// Small files that have every section in question (libmpich is 40
	// MB with its debug information).
	for _, lib := range []string{"/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/bin/true"} {
		data, err := os.ReadFile(lib)
		if err != nil {
			continue
		}
		f, err := elf.NewFile(bytes.NewReader(data))
		if err != nil || f.Class != elf.ELFCLASS64 || f.ByteOrder != binary.LittleEndian {
			continue
		}
		base := filepath.Base(lib)
		for _, cut := range []int{len(data) / 2, len(data) - 1} {
			write(base+".cut", data[:cut])
		}
		shoff := binary.LittleEndian.Uint64(data[0x28:])
		size := uint64(len(data))
		for i, sec := range f.Sections {
			if sec.Name != ".dynstr" && sec.Type != elf.SHT_DYNAMIC && sec.Type != elf.SHT_GNU_VERNEED && sec.Type != elf.SHT_GNU_VERDEF {
				continue
			}
			hdr := int(shoff) + i*64
			set := func(field int, v uint64, width int) {
				b := slices.Clone(data)
				if width == 4 {
					binary.LittleEndian.PutUint32(b[hdr+field:], uint32(v))
				} else {
					binary.LittleEndian.PutUint64(b[hdr+field:], v)
				}
				write(fmt.Sprintf("%s.%s.%d.%d", base, sec.Name, field, v), b)
			}
			set(32, size, 8)            // sh_size past the end
			set(32, sec.Size+1, 8)      // one byte more
			set(32, sec.Size-1, 8)      // one byte less: the last string unterminated
			set(32, 1<<62, 8)           // huge
			set(32, 0, 8)               // empty
			set(32, strBlock+3, 8)      // a block and a bit
			set(24, size-sec.Size/2, 8) // sh_offset: half out of the file
			set(24, sec.Offset+7, 8)    // shifted
			set(40, 0, 4)               // sh_link to the null section
			set(40, uint64(len(f.Sections)), 4)
			set(40, uint64(i), 4) // to itself
			set(4, uint64(elf.SHT_NOBITS), 4)
			set(8, uint64(sec.Flags|elf.SHF_COMPRESSED), 8)
			set(44, 1<<20, 4) // sh_info: many records
		}
	}
	t.Logf("%d damaged files", n)
}

// In a root other than "/", ReadObject resolves a path once; its errors
// must be those of Real and then Open.
func TestReadObjectInRootAsBefore(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "usr/lib"), 0o755))
	must(os.Symlink("usr/lib", filepath.Join(root, "lib")))
	must(os.WriteFile(filepath.Join(root, "usr/lib/text"), []byte("not ELF"), 0o644))
	must(os.Symlink("/nowhere", filepath.Join(root, "usr/lib/dangling")))
	must(os.Symlink("../../../../../../etc/passwd", filepath.Join(root, "usr/lib/escape")))
	must(os.Symlink("loop2", filepath.Join(root, "usr/lib/loop1")))
	must(os.Symlink("loop1", filepath.Join(root, "usr/lib/loop2")))
	must(os.WriteFile(filepath.Join(root, "usr/lib/unreadable"), []byte("x"), 0o000))
	if data, err := os.ReadFile("/usr/bin/true"); err == nil {
		must(os.WriteFile(filepath.Join(root, "usr/lib/true"), data, 0o755))
		must(os.Symlink("true", filepath.Join(root, "usr/lib/true.link")))
	}
	for _, p := range []string{"/lib/text", "/lib/dangling", "/lib/escape", "/lib/loop1", "/lib/missing",
		"/missing/x", "/lib/text/x", "/lib", "/", "/lib/unreadable", "/lib/true", "/lib/true.link", "/lib/../lib/true", "relative"} {
		sameRead(t, Root(root), p)
	}
}
