package elfdeps

import (
	"debug/elf"
	"fmt"
	"slices"
	"strings"
)

// Symbol is a dynamic symbol name with its version ("" if unversioned).
type Symbol struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

func (s Symbol) String() string {
	if s.Version == "" {
		return s.Name
	}
	return s.Name + "@" + s.Version
}

// Exports returns the dynamic symbols path defines for other objects:
// global or weak, not hidden or internal, not undefined. Sorted.
func Exports(root Root, path string) ([]Symbol, error) {
	return dynSymbols(root, path, true)
}

// Imports returns the undefined global or weak dynamic symbols of path,
// with the version it asks for. Sorted.
func Imports(root Root, path string) ([]Symbol, error) {
	return dynSymbols(root, path, false)
}

func dynSymbols(root Root, path string, defined bool) (out []Symbol, err error) {
	f, _, err := openELF(root, path)
	if err != nil {
		return nil, fmt.Errorf("read symbols of %s: %w", path, err)
	}
	defer f.Close()
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("read symbols of %s: %w: malformed symbol table (%v)", path, ErrNotELF, p)
		}
	}()
	syms, err := f.DynamicSymbols()
	if err != nil {
		return nil, nil // no .dynsym: a static object exports and imports nothing
	}
	for _, s := range syms {
		bind, vis := elf.ST_BIND(s.Info), elf.ST_VISIBILITY(s.Other)
		if s.Name == "" || (bind != elf.STB_GLOBAL && bind != elf.STB_WEAK) {
			continue
		}
		isDef := s.Section != elf.SHN_UNDEF
		if isDef != defined {
			continue
		}
		if defined && (vis == elf.STV_HIDDEN || vis == elf.STV_INTERNAL) {
			continue
		}
		out = append(out, Symbol{Name: s.Name, Version: s.Version})
	}
	slices.SortFunc(out, func(a, b Symbol) int {
		if a.Name != b.Name {
			return strings.Compare(a.Name, b.Name)
		}
		return strings.Compare(a.Version, b.Version)
	})
	return slices.Compact(out), nil
}
