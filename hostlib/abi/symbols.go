package abi

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
)

// Replacement is an injected library that takes the place of the
// image's library of the same name.
type Replacement struct {
	// Soname is the name the image's objects load it by.
	Soname string `json:"soname"`
	// HostPath is the injected file on the host.
	HostPath string `json:"host_path"`
}

// SymbolResult is the symbol check for one replaced library.
type SymbolResult struct {
	Soname    string  `json:"soname"`
	HostPath  string  `json:"host_path"`
	ImagePath string  `json:"image_path"`
	Verdict   Verdict `json:"verdict"`
	// Missing lists symbols the image's programs import, the image's
	// copy defines and the host's copy lacks, sorted.
	Missing []string `json:"missing,omitempty"`
	// MissingVersions lists symbol versions the programs need from the
	// library that the host's copy does not define.
	MissingVersions []string `json:"missing_versions,omitempty"`
	Message         string   `json:"message"`
}

// SymbolCheck says what to compare.
type SymbolCheck struct {
	// Binaries are the programs to run, as paths inside the image. Their
	// dependency closure inside the image is checked too.
	Binaries []string
	// Image resolves libraries inside the image.
	Image *elfdeps.Resolver
	// Host is the root the replacement files are read from ("/").
	Host elfdeps.Root
	// Replaced lists the injected libraries.
	Replaced []Replacement
}

// CheckSymbols compares, for every replaced library that the binaries'
// closure in the image loads, the dynamic symbols those objects import
// and the image's copy provides with what the host's copy exports. A
// function the host lacks would fail at the first call (lazy binding)
// or at load (BIND_NOW); either way the launch is refused up front.
func CheckSymbols(c SymbolCheck) ([]SymbolResult, error) {
	if len(c.Binaries) == 0 {
		return []SymbolResult{}, nil
	}
	img := *c.Image
	img.Exclude = elfdeps.DefaultExclude
	var bins []string
	for _, b := range c.Binaries {
		_, err := elfdeps.ReadObject(img.Root, b)
		if errors.Is(err, elfdeps.ErrNotELF) {
			continue // a script: its interpreter is not ours to check
		}
		if err != nil {
			return nil, fmt.Errorf("check symbols: %w", err)
		}
		bins = append(bins, b)
	}
	if len(bins) == 0 {
		return []SymbolResult{}, nil
	}
	g, err := img.Closure(bins...)
	if err != nil {
		return nil, fmt.Errorf("check symbols: %w", err)
	}
	byName := map[string]*elfdeps.Node{}
	for _, n := range g.Nodes {
		for _, name := range append(slices.Clone(n.Names), n.Soname) {
			byName[name] = n
		}
	}
	replaced := map[*elfdeps.Node]bool{}
	for _, r := range c.Replaced {
		if n := byName[r.Soname]; n != nil && !n.Root {
			replaced[n] = true
		}
	}
	out := []SymbolResult{}
	for _, r := range c.Replaced {
		n := byName[r.Soname]
		if n == nil || n.Root {
			continue // the programs do not load the image's copy
		}
		res, err := compareLibrary(c, g, n, r, replaced)
		if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, nil
}

// compareLibrary checks one replaced library against the importers:
// the objects of the closure that stay the image's own.
func compareLibrary(c SymbolCheck, g *elfdeps.Graph, imgLib *elfdeps.Node, r Replacement, replaced map[*elfdeps.Node]bool) (SymbolResult, error) {
	res := SymbolResult{Soname: r.Soname, HostPath: r.HostPath, ImagePath: imgLib.Path, Verdict: OK}
	imgExp, err := elfdeps.Exports(c.Image.Root, imgLib.Path)
	if err != nil {
		return res, fmt.Errorf("check symbols: %w", err)
	}
	hostExp, err := elfdeps.Exports(c.Host, r.HostPath)
	if err != nil {
		return res, fmt.Errorf("check symbols: %w", err)
	}
	hostObj, err := elfdeps.ReadObject(c.Host, r.HostPath)
	if err != nil {
		return res, fmt.Errorf("check symbols: %w", err)
	}
	imports, versions, err := importsOf(c.Image.Root, g, replaced, r.Soname)
	if err != nil {
		return res, err
	}
	for _, s := range imports {
		if provides(imgExp, s) && !provides(hostExp, s) {
			res.Missing = append(res.Missing, s.String())
		}
	}
	for _, v := range versions {
		if !slices.Contains(hostObj.Defines, v) {
			res.MissingVersions = append(res.MissingVersions, v)
		}
	}
	res.Missing, res.MissingVersions = uniqueSorted(res.Missing), uniqueSorted(res.MissingVersions)
	res.Message = symbolMessage(&res)
	return res, nil
}

// importsOf collects the undefined symbols of every object in the
// closure that is not replaced (replaced ones will not be loaded), and
// the versions those objects need from soname.
func importsOf(root elfdeps.Root, g *elfdeps.Graph, replaced map[*elfdeps.Node]bool, soname string) ([]elfdeps.Symbol, []string, error) {
	var syms []elfdeps.Symbol
	var versions []string
	for _, n := range g.Nodes {
		if replaced[n] {
			continue
		}
		imp, err := elfdeps.Imports(root, n.Path)
		if err != nil {
			return nil, nil, fmt.Errorf("check symbols: %w", err)
		}
		syms = append(syms, imp...)
		for _, vn := range n.Needs {
			if vn.File == soname {
				versions = append(versions, vn.Versions...)
			}
		}
	}
	return syms, versions, nil
}

// provides reports whether exports define s: by name and version for a
// versioned import, by name otherwise.
func provides(exports []elfdeps.Symbol, s elfdeps.Symbol) bool {
	i, _ := slices.BinarySearchFunc(exports, s.Name, func(e elfdeps.Symbol, name string) int { return strings.Compare(e.Name, name) })
	for ; i < len(exports) && exports[i].Name == s.Name; i++ {
		if s.Version == "" || exports[i].Version == s.Version {
			return true
		}
	}
	return false
}

func uniqueSorted(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

func symbolMessage(r *SymbolResult) string {
	if len(r.Missing) == 0 && len(r.MissingVersions) == 0 {
		return fmt.Sprintf("hostlib: host %s provides every symbol the image's programs use from %s", r.HostPath, r.Soname)
	}
	r.Verdict = Refuse
	var what []string
	if len(r.Missing) > 0 {
		what = append(what, fmt.Sprintf("%d symbol(s): %s", len(r.Missing), strings.Join(r.Missing, ", ")))
	}
	if len(r.MissingVersions) > 0 {
		what = append(what, "version(s) "+strings.Join(r.MissingVersions, ", "))
	}
	return fmt.Sprintf("hostlib: host %s lacks what the image's programs use from %s (%s): %s; use a newer host library or drop the profile",
		r.HostPath, r.Soname, r.ImagePath, strings.Join(what, "; "))
}
