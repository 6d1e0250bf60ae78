package elfdeps

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// ErrNotELF marks files that are no ELF object of a usable kind.
var ErrNotELF = errors.New("not an ELF shared object or executable")

// VersionNeed is one library's entry in .gnu.version_r: the symbol
// versions this object requires from File (e.g. "libc.so.6").
type VersionNeed struct {
	File     string   `json:"file"`
	Versions []string `json:"versions"`
	// Weak versions only produce a warning in ld.so when absent.
	Weak []string `json:"weak,omitempty"`
}

// Object describes one ELF file as the loader sees it.
type Object struct {
	// Path is where the object was found, inside the root (for a
	// library found through the cache, the cache's path: a symlink).
	Path string `json:"path"`
	// Real is Path with all symlinks resolved, inside the root.
	Real string `json:"real"`
	// Soname is DT_SONAME, empty if the object has none.
	Soname string `json:"soname,omitempty"`
	// Needed lists DT_NEEDED in file order.
	Needed []string `json:"needed,omitempty"`
	// RPath and RunPath are the raw DT_RPATH/DT_RUNPATH lists.
	RPath   []string `json:"rpath,omitempty"`
	RunPath []string `json:"runpath,omitempty"`
	// NoDefaultLib is DF_1_NODEFLIB: skip cache and default dirs.
	NoDefaultLib bool `json:"nodeflib,omitempty"`
	// Interp is PT_INTERP of an executable.
	Interp string `json:"interp,omitempty"`
	// CacheFlags are the ld.so.cache flags ldconfig gives this object.
	CacheFlags int32 `json:"cache_flags"`
	// Class and Machine identify the ABI; objects must agree on both.
	Class   elf.Class   `json:"-"`
	Machine elf.Machine `json:"-"`
	// Needs lists the symbol versions required from each library.
	Needs []VersionNeed `json:"version_needs,omitempty"`
	// Defines lists the version names this object defines (VERDEF),
	// without the base entry that repeats the soname.
	Defines []string `json:"version_defs,omitempty"`
}

// Name is the name the object is known by: its soname, else the base
// name of its path.
func (o *Object) Name() string {
	if o.Soname != "" {
		return o.Soname
	}
	return o.Path[strings.LastIndexByte(o.Path, '/')+1:]
}

// ReadObject reads the dynamic information of path inside root.
func ReadObject(root Root, path string) (*Object, error) { return readObject(root, path, nil) }

// readObject is ReadObject with paths in root resolved through vfs (nil:
// the os package).
func readObject(root Root, path string, vfs *fsMemo) (*Object, error) {
	real, r, err := root.openReal(path, vfs)
	if err != nil {
		return nil, err
	}
	f, eflags, err := newELF(r)
	if err != nil {
		return nil, fmt.Errorf("read ELF object %s: %w", path, err)
	}
	defer f.Close()
	o := &Object{Path: path, Real: real, Class: f.Class, Machine: f.Machine}
	if err := fillDynamic(o, f, eflags); err != nil {
		return nil, fmt.Errorf("read ELF object %s: %w", path, err)
	}
	return o, nil
}

// openReal opens path inside root and returns it with its Real path, the
// path resolved once for both (root.Real, then root.Open of the result,
// would resolve it twice, each one an lstat per component). Errors are
// ReadObject's.
func (r Root) openReal(path string, vfs *fsMemo) (real string, f *os.File, err error) {
	if r.isSlash() {
		if real, err = r.Real(path); err != nil {
			return "", nil, fmt.Errorf("read ELF object: %w", err)
		}
		if f, err = r.Open(real); err != nil {
			return "", nil, fmt.Errorf("read ELF object %s: %w", path, err)
		}
		return real, f, nil
	}
	var hp string
	if vfs != nil {
		hp, real, err = r.joinVFS(path, vfs)
	} else {
		hp, real, err = r.join(path)
	}
	if err != nil {
		return "", nil, fmt.Errorf("read ELF object: %w", err)
	}
	// hp has no symlinks left, so it is what Open(real) would open.
	if f, err = os.Open(hp); err != nil {
		if _, lerr := os.Lstat(hp); lerr != nil { // Real's error
			return "", nil, fmt.Errorf("read ELF object: resolve %s in %s: %w", path, r, lerr)
		}
		return "", nil, fmt.Errorf("read ELF object %s: %w", path, err)
	}
	return real, f, nil
}

// openELF opens an ELF file and returns it with its e_flags, which
// debug/elf does not expose.
func openELF(root Root, path string) (f *elf.File, eflags uint32, err error) {
	r, err := root.Open(path)
	if err != nil {
		return nil, 0, err
	}
	return newELF(r)
}

// newELF reads the ELF file r, which it closes on error. A debug/elf
// panic on a malformed file becomes an error: the input is untrusted.
func newELF(r *os.File) (f *elf.File, eflags uint32, err error) {
	defer func() {
		if p := recover(); p != nil {
			r.Close()
			f, err = nil, fmt.Errorf("%w: malformed file (%v)", ErrNotELF, p)
		}
	}()
	f, err = elf.NewFile(r)
	if err != nil {
		r.Close()
		return nil, 0, fmt.Errorf("%w: %v", ErrNotELF, err)
	}
	if f.Type != elf.ET_DYN && f.Type != elf.ET_EXEC {
		f.Close()
		return nil, 0, fmt.Errorf("%w: type %v", ErrNotELF, f.Type)
	}
	off := int64(0x24) // e_flags in Elf32_Ehdr
	if f.Class == elf.ELFCLASS64 {
		off = 0x30
	}
	var b [4]byte
	if _, err := r.ReadAt(b[:], off); err == nil {
		eflags = f.ByteOrder.Uint32(b[:])
	}
	return f, eflags, nil
}

func fillDynamic(o *Object, f *elf.File, eflags uint32) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: malformed dynamic section (%v)", ErrNotELF, p)
		}
	}()
	// The dynamic section and its strings are read once, and only the
	// strings its entries name: debug/elf's DynString reads the whole
	// string table at every call.
	d := newDynFile(f)
	entries, strs, _ := d.dynamic()
	soname, flags1 := false, false
	for _, e := range entries {
		switch e.tag {
		case elf.DT_SONAME, elf.DT_NEEDED, elf.DT_RPATH, elf.DT_RUNPATH:
			v, ok := strs.getString(e.val)
			if !ok {
				break
			}
			switch e.tag {
			case elf.DT_SONAME:
				if !soname { // the first, as DynString(DT_SONAME)[0]
					soname, o.Soname = true, v
				}
			case elf.DT_NEEDED:
				o.Needed = append(o.Needed, v)
			case elf.DT_RPATH:
				o.RPath = appendPaths(o.RPath, v)
			case elf.DT_RUNPATH:
				o.RunPath = appendPaths(o.RunPath, v)
			}
		case elf.DT_FLAGS_1:
			if !flags1 {
				flags1 = true
				o.NoDefaultLib = e.val&uint64(elf.DF_1_NODEFLIB) != 0
			}
		}
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
	o.Needs = d.versionNeeds()
	o.Defines = d.versionDefs()
	return nil
}

// appendPaths appends the directories of a DT_RPATH or DT_RUNPATH value.
func appendPaths(out []string, v string) []string {
	for _, d := range strings.Split(v, ":") {
		if d != "" {
			out = append(out, d)
		}
	}
	return out
}
