package abi

import (
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"

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
	Verdict  Verdict   `json:"verdict"`
	Libs     []BaseLib `json:"libraries"`
	Messages []string  `json:"messages,omitempty"`
}

// CheckBaseLibraries checks every library the injected set needs from
// the image (every VERNEED file not injected itself, in practice the
// libc family and the compiler runtime) against the image's copy: the
// copy must exist and define every non-weak version needed, which is
// what ld.so checks at load time. Missing GLIBC_2.34 in libc.so.6 is
// the classic failure this catches before launch.
func CheckBaseLibraries(injected []Injected, image *elfdeps.Resolver) (BaseResult, error) {
	provided := map[string]bool{}
	for _, in := range injected {
		provided[in.Object.Name()] = true
	}
	needs := map[string][]NeededVersion{} // soname -> versions, first needer kept
	for _, in := range sortedInjected(injected) {
		for _, vn := range in.Object.Needs {
			if provided[vn.File] {
				continue
			}
			for _, v := range vn.Versions {
				addNeed(needs, vn.File, v, in)
			}
		}
	}
	res := BaseResult{Verdict: OK, Libs: []BaseLib{}}
	for _, soname := range sortedKeys(needs) {
		lib, err := checkBase(soname, needs[soname], image)
		if err != nil {
			return res, err
		}
		res.Libs = append(res.Libs, lib)
		if msg := baseMessage(lib); msg != "" {
			res.Verdict = Refuse
			res.Messages = append(res.Messages, msg)
		}
	}
	return res, nil
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

// checkBase compares what is needed from soname with the image's copy.
func checkBase(soname string, needed []NeededVersion, image *elfdeps.Resolver) (BaseLib, error) {
	lib := BaseLib{Soname: soname, Needed: highestPerPrefix(needed), Provided: []string{}}
	o, err := image.Lookup(soname, nil)
	if errors.Is(err, elfdeps.ErrNotFound) {
		lib.Missing = needed
		return lib, nil
	}
	if err != nil {
		return lib, fmt.Errorf("check %s in image: %w", soname, err)
	}
	lib.ImagePath = o.Path
	if soname == "libc.so.6" {
		lib.Release = glibcRelease(image.Root, o.Real)
	}
	for _, n := range highestPerPrefix(versionsAsNeeds(o.Defines)) {
		lib.Provided = append(lib.Provided, n.Version)
	}
	for _, n := range needed {
		if !slices.Contains(o.Defines, n.Version) {
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

// baseMessage explains the first problem with lib, or returns "".
func baseMessage(lib BaseLib) string {
	if len(lib.Missing) == 0 {
		return ""
	}
	m := highestPerPrefix(lib.Missing)[0]
	if lib.ImagePath == "" {
		return fmt.Sprintf("hostlib: %s needs %s (%s) but the image has no %s; use an image that has it or add it to %s as a [[library]]",
			m.By, lib.Soname, m.Version, lib.Soname, profilesToDrop(lib.Missing))
	}
	v := ParseSymVersion(m.Version)
	if !v.Numeric() {
		return fmt.Sprintf("hostlib: %s needs %s, which only the host's own %s defines; drop %s or exclude that library",
			m.By, m.Version, lib.Soname, profilesToDrop(lib.Missing))
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
	return fmt.Sprintf("hostlib: %s needs %s but the image's %s provides %s; use an image with %s or drop %s",
		m.By, m.Version, lib.Soname, have, advice(lib.Soname, m.Version), profilesToDrop(lib.Missing))
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

var (
	libcFileRE    = regexp.MustCompile(`^libc-(\d+\.\d+)\.so$`)
	libcReleaseRE = regexp.MustCompile(`GNU C Library [^\n\x00]*release version (\d+\.\d+)`)
)

// glibcRelease finds the glibc release of a libc: "libc-2.31.so" names
// it before glibc 2.34; later ones only carry the banner that
// gnu_get_libc_version() reports. Empty if neither is there.
func glibcRelease(root elfdeps.Root, real string) string {
	if m := libcFileRE.FindStringSubmatch(path.Base(real)); m != nil {
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
	if m := libcReleaseRE.FindSubmatch(data); m != nil {
		return string(m[1])
	}
	return ""
}
