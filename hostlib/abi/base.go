package abi

import (
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
)

// Injected is one library about to be injected, for the base library
// check: its parsed object, the host path to name in messages, the
// profile that brought it, and whether the profile named it (rather
// than it being part of a closure). Named libraries are blamed first.
type Injected struct {
	Object   *elfdeps.Object
	Path     string
	Profile  string
	Explicit bool
	// Unloaded says that the command will not load it (see
	// hostlib.Build for how that is decided). What it needs and the
	// image lacks is then a note (BaseResult.Unloaded), not a refusal:
	// a program that does load it later gets the loader's own message.
	Unloaded bool
}

// BaseLib is what the image offers for one library the injected ones
// need but do not bring (libc.so.6, libm.so.6, libstdc++.so.6, …).
type BaseLib struct {
	Soname string `json:"soname"`
	// ImagePath is where the image has it; empty if it has none.
	ImagePath string `json:"image_path,omitempty"`
	// Needed is the highest numeric version the injected libraries need,
	// per prefix ("GLIBC_2.34"), with the library that needs it.
	Needed   []NeededVersion `json:"needed"`
	Provided []string        `json:"provided"` // highest per prefix in the image
	// Release is the glibc release of an image libc.so.6 ("2.31"), from
	// its file name or version string; empty if unknown. glibc 2.31
	// defines no GLIBC_2.31 node on x86-64, so messages use the release.
	Release string `json:"release,omitempty"`
	// Missing lists versions needed but not defined by the image's copy.
	Missing []NeededVersion `json:"missing,omitempty"`
}

// NeededVersion is a symbol version, the first library needing it and
// its profile, and every profile with a library that needs it.
type NeededVersion struct {
	Version  string   `json:"version"`
	By       string   `json:"by"`
	Profile  string   `json:"profile"`
	Profiles []string `json:"profiles,omitempty"`
}

// BaseResult is the outcome of CheckBaseLibraries.
type BaseResult struct {
	Verdict Verdict `json:"verdict"`
	// Libs covers what every injected library needs, loaded or not.
	Libs []BaseLib `json:"libraries"`
	// Messages explain the refusal: what the loaded libraries lack.
	Messages []string `json:"messages,omitempty"`
	// Unloaded lists the injected libraries that the command will not
	// load and that need what the image lacks: injected all the same,
	// and only noted.
	Unloaded []UnloadedLack `json:"unloaded,omitempty"`
}

// UnloadedLack is an injected library the command will not load, and
// what it needs that the image lacks.
type UnloadedLack struct {
	Path    string `json:"path"`
	Profile string `json:"profile"`
	// Lacks are base libraries the image has none of ("libstdc++.so.6")
	// and symbol versions its copies do not define ("GLIBC_2.34").
	Lacks []Lack `json:"lacks"`
	// Message is the note: "hostlib: P injected, needs X the image lacks".
	Message string `json:"message"`
}

// Lack is one thing an injected object needs from a base library of the
// image that the image does not provide.
type Lack struct {
	Soname string `json:"soname"`
	// Absent says the image has no Soname at all; Version is then the
	// highest version needed from it.
	Absent bool `json:"absent,omitempty"`
	// Version is the highest version missing (per prefix, the first).
	Version string `json:"version,omitempty"`
	// Text explains it: "P needs GLIBC_2.34 but the image's libc.so.6
	// provides up to GLIBC_2.31".
	Text string `json:"text"`
}

// What names what is lacking: the library when the image has none,
// else the version.
func (l Lack) What() string {
	if l.Absent || l.Version == "" {
		return l.Soname
	}
	return l.Version
}

// BaseImage answers what injected objects need from the image's base
// libraries (the libc family and compiler runtime, anything not
// injected) and whether the image has it. It looks each library up in
// the image once.
type BaseImage struct {
	image    *elfdeps.Resolver
	provided map[string]bool
	libs     map[string]*imageBase
}

// imageBase is the image's copy of one base library; obj is nil when
// the image has none.
type imageBase struct {
	obj      *elfdeps.Object
	release  string
	provided []string
}

// NewBaseImage prepares the checks for a set of injected objects: what
// one of them provides (by name) is not needed from the image.
func NewBaseImage(injected []Injected, image *elfdeps.Resolver) *BaseImage {
	b := &BaseImage{image: image, provided: map[string]bool{}, libs: map[string]*imageBase{}}
	for _, in := range injected {
		b.provided[in.Object.Name()] = true
	}
	return b
}

// lookup finds the image's copy of soname.
func (b *BaseImage) lookup(soname string) (*imageBase, error) {
	if ib, ok := b.libs[soname]; ok {
		return ib, nil
	}
	ib := &imageBase{}
	o, err := b.image.Lookup(soname, nil)
	switch {
	case errors.Is(err, elfdeps.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("check %s in image: %w", soname, err)
	default:
		ib.obj = o
		if soname == "libc.so.6" {
			ib.release = glibcRelease(b.image.Root, o.Real)
		}
		for _, n := range highestPerPrefix(versionsAsNeeds(o.Defines)) {
			ib.provided = append(ib.provided, n.Version)
		}
	}
	b.libs[soname] = ib
	return ib, nil
}

// needs collects, per base library, the versions the objects need from
// it (first needer kept), named libraries first.
func (b *BaseImage) needs(injected []Injected) map[string][]NeededVersion {
	needs := map[string][]NeededVersion{}
	for _, in := range sortedInjected(injected) {
		for _, vn := range in.Object.Needs {
			if b.provided[vn.File] {
				continue
			}
			for _, v := range vn.Versions {
				addNeed(needs, vn.File, v, in)
			}
		}
	}
	return needs
}

// Lacks lists what one injected object needs that the image lacks, one
// entry per base library, in soname order.
func (b *BaseImage) Lacks(in Injected) ([]Lack, error) {
	needs := b.needs([]Injected{in})
	var out []Lack
	for _, soname := range sortedKeys(needs) {
		lib, err := b.check(soname, needs[soname])
		if err != nil {
			return nil, err
		}
		if len(lib.Missing) == 0 {
			continue
		}
		m := highestPerPrefix(lib.Missing)[0]
		out = append(out, Lack{Soname: soname, Absent: lib.ImagePath == "", Version: m.Version, Text: lackText(lib)})
	}
	return out, nil
}

// CheckBaseLibraries checks every library the injected set needs from
// the image (every VERNEED file not injected itself, in practice the
// libc family and the compiler runtime) against the image's copy: the
// copy must exist and define every non-weak version needed, which is
// what ld.so checks at load time. Missing GLIBC_2.34 in libc.so.6 is
// the classic failure this catches before launch. Only what the loaded
// libraries lack refuses the launch; what an Unloaded one lacks is
// listed in BaseResult.Unloaded.
func CheckBaseLibraries(injected []Injected, image *elfdeps.Resolver) (BaseResult, error) {
	b := NewBaseImage(injected, image)
	res := BaseResult{Verdict: OK, Libs: []BaseLib{}}
	all := b.needs(injected)
	for _, soname := range sortedKeys(all) {
		lib, err := b.check(soname, all[soname])
		if err != nil {
			return res, err
		}
		res.Libs = append(res.Libs, lib)
	}
	var loaded, unloaded []Injected
	for _, in := range injected {
		if in.Unloaded {
			unloaded = append(unloaded, in)
		} else {
			loaded = append(loaded, in)
		}
	}
	needs := b.needs(loaded)
	for _, soname := range sortedKeys(needs) {
		lib, err := b.check(soname, needs[soname])
		if err != nil {
			return res, err
		}
		if msg := baseMessage(lib); msg != "" {
			res.Verdict = Refuse
			res.Messages = append(res.Messages, msg)
		}
	}
	for _, in := range sortedInjected(unloaded) {
		lacks, err := b.Lacks(in)
		if err != nil {
			return res, err
		}
		if len(lacks) > 0 {
			res.Unloaded = append(res.Unloaded, UnloadedLack{Path: in.Path, Profile: in.Profile, Lacks: lacks,
				Message: fmt.Sprintf("hostlib: %s injected, needs %s the image lacks", in.Path, lackList(lacks))})
		}
	}
	return res, nil
}

func lackList(lacks []Lack) string {
	what := make([]string, len(lacks))
	for i, l := range lacks {
		what[i] = l.What()
	}
	return strings.Join(what, ", ")
}

// addNeed records that in needs version v of file.
func addNeed(needs map[string][]NeededVersion, file, v string, in Injected) {
	list := needs[file]
	i := slices.IndexFunc(list, func(n NeededVersion) bool { return n.Version == v })
	if i < 0 {
		needs[file] = append(list, NeededVersion{Version: v, By: in.Path, Profile: in.Profile, Profiles: []string{in.Profile}})
		return
	}
	if !slices.Contains(list[i].Profiles, in.Profile) {
		list[i].Profiles = append(list[i].Profiles, in.Profile)
		slices.Sort(list[i].Profiles)
	}
}

func sortedInjected(in []Injected) []Injected {
	out := slices.Clone(in)
	slices.SortFunc(out, func(a, b Injected) int {
		if a.Explicit != b.Explicit {
			if a.Explicit {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Path, b.Path)
	})
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// check compares what is needed from soname with the image's copy.
func (b *BaseImage) check(soname string, needed []NeededVersion) (BaseLib, error) {
	lib := BaseLib{Soname: soname, Needed: highestPerPrefix(needed), Provided: []string{}}
	ib, err := b.lookup(soname)
	if err != nil {
		return lib, err
	}
	if ib.obj == nil {
		lib.Missing = needed
		return lib, nil
	}
	lib.ImagePath, lib.Release = ib.obj.Path, ib.release
	lib.Provided = append(lib.Provided, ib.provided...)
	for _, n := range needed {
		if !slices.Contains(ib.obj.Defines, n.Version) {
			lib.Missing = append(lib.Missing, n)
		}
	}
	return lib, nil
}

func versionsAsNeeds(vs []string) []NeededVersion {
	out := make([]NeededVersion, len(vs))
	for i, v := range vs {
		out[i] = NeededVersion{Version: v}
	}
	return out
}

// highestPerPrefix keeps, for each version prefix, the highest numeric
// version (and non-numeric ones such as GLIBC_PRIVATE as they are).
func highestPerPrefix(in []NeededVersion) []NeededVersion {
	best := map[string]NeededVersion{}
	var order []string
	for _, n := range in {
		v := ParseSymVersion(n.Version)
		key := v.Prefix
		if !v.Numeric() {
			key = v.Name
		}
		old, ok := best[key]
		if !ok {
			order = append(order, key)
		}
		if !ok || (v.Numeric() && v.Compare(ParseSymVersion(old.Version)) > 0) {
			best[key] = n
		}
	}
	slices.Sort(order)
	out := make([]NeededVersion, 0, len(order))
	for _, k := range order {
		out = append(out, best[k])
	}
	return out
}

// baseMessage explains the first problem with lib, with advice, or
// returns "".
func baseMessage(lib BaseLib) string {
	if len(lib.Missing) == 0 {
		return ""
	}
	m := highestPerPrefix(lib.Missing)[0]
	drop := profilesToDrop(lib.Missing)
	if lib.ImagePath == "" {
		return fmt.Sprintf("hostlib: %s; use an image that has it or add it to %s as a [[library]]", lackText(lib), drop)
	}
	if !ParseSymVersion(m.Version).Numeric() {
		return fmt.Sprintf("hostlib: %s; drop %s or exclude that library", lackText(lib), drop)
	}
	return fmt.Sprintf("hostlib: %s; use an image with %s or drop %s", lackText(lib), advice(lib.Soname, m.Version), drop)
}

// lackText says what the first library that needs a missing version of
// lib needs, and what the image has instead.
func lackText(lib BaseLib) string {
	m := highestPerPrefix(lib.Missing)[0]
	if lib.ImagePath == "" {
		return fmt.Sprintf("%s needs %s (%s) but the image has no %s", m.By, lib.Soname, m.Version, lib.Soname)
	}
	v := ParseSymVersion(m.Version)
	if !v.Numeric() {
		return fmt.Sprintf("%s needs %s, which only the host's own %s defines", m.By, m.Version, lib.Soname)
	}
	have := "no " + v.Prefix + " version"
	for _, p := range lib.Provided {
		if ParseSymVersion(p).Prefix == v.Prefix {
			have = "up to " + p
		}
	}
	if lib.Release != "" && v.Prefix == "GLIBC" {
		have = "up to GLIBC_" + lib.Release
	}
	return fmt.Sprintf("%s needs %s but the image's %s provides %s", m.By, m.Version, lib.Soname, have)
}

// profilesToDrop names every profile that needs a missing version.
func profilesToDrop(missing []NeededVersion) string {
	var ps []string
	for _, m := range missing {
		ps = append(ps, m.Profiles...)
	}
	slices.Sort(ps)
	ps = slices.Compact(ps)
	if len(ps) == 1 {
		return "profile " + ps[0]
	}
	return "profiles " + strings.Join(ps, ", ")
}

// advice names what a fitting image has.
func advice(soname, version string) string {
	switch ParseSymVersion(version).Prefix {
	case "GLIBC":
		return "glibc >= " + versionNumber(version)
	case "GLIBCXX", "CXXABI":
		return "a libstdc++ that provides " + version
	case "GCC":
		return "a libgcc_s that provides " + version
	}
	return "a " + soname + " that provides " + version
}

// Compiled when first used, not when every mpiwrap process starts.
var (
	libcFileRE    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^libc-(\d+\.\d+)\.so$`) })
	libcReleaseRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`GNU C Library [^\n\x00]*release version (\d+\.\d+)`)
	})
)

// glibcRelease finds the glibc release of a libc: "libc-2.31.so" names
// it before glibc 2.34; later ones only carry the banner that
// gnu_get_libc_version() reports. Empty if neither is there.
func glibcRelease(root elfdeps.Root, real string) string {
	if m := libcFileRE().FindStringSubmatch(path.Base(real)); m != nil {
		return m[1]
	}
	hp, err := root.HostPath(real)
	if err != nil {
		return ""
	}
	data, err := os.ReadFile(hp)
	if err != nil {
		return ""
	}
	if m := libcReleaseRE().FindSubmatch(data); m != nil {
		return string(m[1])
	}
	return ""
}
