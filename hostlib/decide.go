package hostlib

import (
	"errors"
	"fmt"
	"path"
	"slices"

	"github.com/mpiwrap/mpiwrap/hostlib/abi"
	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
	"github.com/mpiwrap/mpiwrap/hostlib/ldcache"
	"github.com/mpiwrap/mpiwrap/hostlib/profile"
)

// What is refused, injected with a note, or dropped (see doc.go, "What
// refuses a launch"):
//
//  1. Every injected ELF file (libraries and binaries) is read once.
//  2. An optional item (required = false) whose closure among the
//     injected files has a file needing a symbol version that the image's
//     copy of a base library (libc.so.6, libstdc++.so.6, …) lacks is
//     dropped, with the files no kept item needs. Its closure is what the
//     item's files load by DT_NEEDED name among the injected files.
//  3. What the command will load is worked out on the rest: the closure of
//     the command through the container's future ld.so.cache. When the
//     command is unknown, not ELF, or loads none of the profiles' MPI
//     libraries (a shell, an interpreter, `true`), the MPI libraries of
//     ABI profiles and their closure count as loaded too, since it may
//     start or dlopen an MPI program.
//  4. The base library check refuses for what loaded files lack, and
//     notes what the others lack ("injected, needs X the image lacks").

// injectedFile is one injected ELF file.
type injectedFile struct {
	file profile.File
	obj  *elfdeps.Object
}

// injectedSet is the resolution's ELF files with the names the container
// will load them by.
type injectedSet struct {
	res   *profile.Resolution
	host  elfdeps.Root
	files map[string]*injectedFile // by Dest
	names map[string]string        // name in the inject dir -> Dest
}

// readInjected reads every library file, and every binary that is ELF.
func readInjected(res *profile.Resolution, host elfdeps.Root) (*injectedSet, error) {
	s := &injectedSet{res: res, host: host, files: map[string]*injectedFile{}, names: map[string]string{}}
	for _, f := range res.Files {
		if f.Kind != profile.KindLibrary && f.Kind != profile.KindBinary {
			continue
		}
		o, err := elfdeps.ReadObject(host, f.Real)
		if f.Kind == profile.KindBinary && errors.Is(err, elfdeps.ErrNotELF) {
			continue // a script: nothing to load
		}
		if err != nil {
			return nil, fmt.Errorf("check ABI: %w", err)
		}
		o.Path = f.Source
		s.files[f.Dest] = &injectedFile{file: f, obj: o}
		if f.Kind == profile.KindLibrary && path.Dir(f.Dest) == res.InjectDir {
			s.names[path.Base(f.Dest)] = f.Dest
		}
	}
	for _, l := range res.Links {
		target := path.Join(path.Dir(l.Path), l.Target)
		if _, ok := s.files[target]; ok && path.Dir(l.Path) == res.InjectDir {
			s.names[path.Base(l.Path)] = target
		}
	}
	return s, nil
}

// closure returns roots (those that are injected ELF files) and every
// injected file they load by DT_NEEDED name, breadth first.
func (s *injectedSet) closure(roots []string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(d string) {
		if _, ok := s.files[d]; ok && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	for _, r := range roots {
		add(r)
	}
	for i := 0; i < len(out); i++ {
		for _, name := range s.files[out[i]].obj.Needed {
			if d, ok := s.names[name]; ok {
				add(d)
			} else if path.IsAbs(name) {
				add(name)
			}
		}
	}
	return out
}

// injected returns the abi view of the file at dest.
func (s *injectedSet) injected(dest string) abi.Injected {
	f := s.files[dest]
	return abi.Injected{Object: f.obj, Path: f.file.Source, Profile: f.file.Profile, Explicit: f.file.NeededBy == ""}
}

func (s *injectedSet) all() []abi.Injected {
	var out []abi.Injected
	for _, f := range s.res.Files {
		if _, ok := s.files[f.Dest]; ok {
			out = append(out, s.injected(f.Dest))
		}
	}
	return out
}

// dropOptional decides which optional items to drop in this image (step
// 2 above).
func (s *injectedSet) dropOptional(image *elfdeps.Resolver) ([]abi.DroppedItem, error) {
	base := abi.NewBaseImage(s.all(), image)
	lacks := map[string][]abi.Lack{}
	lacksOf := func(d string) ([]abi.Lack, error) {
		if l, ok := lacks[d]; ok {
			return l, nil
		}
		l, err := base.Lacks(s.injected(d))
		lacks[d] = l
		return l, err
	}
	var dropped []abi.DroppedItem
	droppedItem := map[int]bool{}
	for i, it := range s.res.Items {
		if it.Required {
			continue
		}
		lack, err := s.versionLack(s.closure(it.Dests), lacksOf)
		if err != nil {
			return nil, err
		}
		if lack == nil {
			continue
		}
		droppedItem[i] = true
		dropped = append(dropped, abi.DroppedItem{Profile: it.Profile, Item: it.Label, Pos: it.Pos, Lack: *lack,
			Message: fmt.Sprintf("hostlib: dropped optional item %s (profile %s, %s) because %s", it.Label, it.Profile, it.Pos, lack.Text)})
	}
	if len(dropped) == 0 {
		return nil, nil
	}
	var keptRoots []string
	for i, it := range s.res.Items {
		if !droppedItem[i] {
			keptRoots = append(keptRoots, it.Dests...)
		}
	}
	kept := map[string]bool{}
	for _, d := range s.closure(keptRoots) {
		kept[d] = true
	}
	n := 0
	for i, it := range s.res.Items {
		if !droppedItem[i] {
			continue
		}
		files := []string{}
		for _, d := range s.closure(it.Dests) {
			if !kept[d] {
				files = append(files, d)
				kept[d] = true // named once, by the first item that drops it
			}
		}
		dropped[n].Files = files
		n++
	}
	return dropped, nil
}

// versionLack returns the first symbol version one of the files needs
// from a base library that the image has but whose copy lacks it.
func (s *injectedSet) versionLack(files []string, lacksOf func(string) ([]abi.Lack, error)) (*abi.Lack, error) {
	for _, d := range files {
		ls, err := lacksOf(d)
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			if !l.Absent {
				return &l, nil
			}
		}
	}
	return nil, nil
}

// WithoutDropped returns res without the files of the dropped items: no
// bind, link, ld.so.cache entry or ABI library for them. The plan uses
// it to leave their mounts out. res itself is not changed.
func WithoutDropped(res *profile.Resolution, dropped []abi.DroppedItem) *profile.Resolution {
	if len(dropped) == 0 {
		return res
	}
	gone := map[string]bool{}
	items := map[string]bool{}
	for _, d := range dropped {
		for _, f := range d.Files {
			gone[f] = true
		}
		items[d.Profile+"\x00"+d.Pos] = true
	}
	out := *res
	out.Files = slices.DeleteFunc(slices.Clone(res.Files), func(f profile.File) bool { return gone[f.Dest] })
	out.Links = slices.DeleteFunc(slices.Clone(res.Links), func(l profile.Link) bool {
		return gone[path.Join(path.Dir(l.Path), l.Target)]
	})
	out.Items = slices.DeleteFunc(slices.Clone(res.Items), func(it profile.ResolvedItem) bool {
		return items[it.Profile+"\x00"+it.Pos]
	})
	out.ABI = make([]profile.ABISpec, len(res.ABI))
	for i, spec := range res.ABI {
		spec.Libraries = slices.DeleteFunc(slices.Clone(spec.Libraries), func(l profile.ABILibrary) bool { return gone[l.Dest] })
		out.ABI[i] = spec
	}
	return &out
}

// overlay maps the container paths of the kept files (and of the links
// to them in the inject dir) to the host files.
func (s *injectedSet) overlay(kept *profile.Resolution) map[string]elfdeps.OverlayFile {
	ov := map[string]elfdeps.OverlayFile{}
	for _, f := range kept.Files {
		if _, ok := s.files[f.Dest]; ok {
			ov[f.Dest] = elfdeps.OverlayFile{Root: s.host, Path: f.Real, Real: f.Dest}
		}
	}
	for _, l := range kept.Links {
		target := path.Join(path.Dir(l.Path), l.Target)
		if f, ok := ov[target]; ok {
			ov[l.Path] = f
		}
	}
	return ov
}

// loaded decides which kept files the command will load (step 3 above).
func (s *injectedSet) loaded(kept *profile.Resolution, image *elfdeps.Resolver, cache *ldcache.Cache, binaries []string) (map[string]bool, error) {
	future := *image
	future.Cache, future.Overlay, future.Exclude = cache, s.overlay(kept), elfdeps.DefaultExclude
	known := len(binaries) > 0
	var bins []string
	for _, b := range binaries {
		_, err := future.Read(b)
		if errors.Is(err, elfdeps.ErrNotELF) {
			known = false // a script: what it runs is not known here
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("check ABI: %w", err)
		}
		bins = append(bins, b)
	}
	loaded := map[string]bool{}
	if len(bins) > 0 {
		g, err := future.Closure(bins...)
		if err != nil {
			return nil, fmt.Errorf("check ABI: %w", err)
		}
		for _, n := range g.Nodes {
			if _, ok := future.Overlay[n.Path]; ok {
				loaded[n.Real] = true
			}
		}
	}
	var mpi []string
	for _, spec := range kept.ABI {
		for _, l := range spec.Libraries {
			mpi = append(mpi, l.Dest)
		}
	}
	if known && slices.ContainsFunc(mpi, func(d string) bool { return loaded[d] }) {
		return loaded, nil // an MPI program: its closure is what it loads
	}
	for _, d := range s.closure(mpi) {
		loaded[d] = true
	}
	return loaded, nil
}

// decision is what Build and CheckABI share: the injected files, the
// dropped items and the resolution without them.
type decision struct {
	set     *injectedSet
	dropped []abi.DroppedItem
	kept    *profile.Resolution
}

func decide(res *profile.Resolution, host elfdeps.Root, image *elfdeps.Resolver) (*decision, error) {
	set, err := readInjected(res, host)
	if err != nil {
		return nil, err
	}
	dropped, err := set.dropOptional(image)
	if err != nil {
		return nil, err
	}
	return &decision{set: set, dropped: dropped, kept: WithoutDropped(res, dropped)}, nil
}

// report runs the three ABI checks of package abi on the kept files,
// given the container's future ld.so.cache.
func (d *decision) report(image *elfdeps.Resolver, cache *ldcache.Cache, binaries []string) (abi.Report, error) {
	rep := abi.Report{MPI: []abi.MPIResult{}, Dropped: d.dropped}
	for i, spec := range d.kept.ABI {
		if len(spec.Libraries) == 0 && len(d.set.res.ABI[i].Libraries) > 0 {
			rep.MPI = append(rep.MPI, abi.MPIResult{Profile: spec.Profile, Family: spec.Family, Policy: spec.Policy, Verdict: abi.OK,
				Message: fmt.Sprintf("hostlib: profile %s's MPI libraries are dropped (optional items that fail this image's checks): the image's own MPI is used", spec.Profile)})
			continue
		}
		ms := abi.MPISpec{Profile: spec.Profile, Family: spec.Family, Policy: spec.Policy}
		for _, l := range spec.Libraries {
			ms.Host = append(ms.Host, abi.HostLib{Soname: l.Soname, Real: l.Real})
		}
		r, err := abi.CheckMPI(ms, image)
		if err != nil {
			return rep, err
		}
		rep.MPI = append(rep.MPI, r)
	}
	loaded, err := d.set.loaded(d.kept, image, cache, binaries)
	if err != nil {
		return rep, err
	}
	var injected []abi.Injected
	for _, f := range d.kept.Files {
		if _, ok := d.set.files[f.Dest]; ok {
			in := d.set.injected(f.Dest)
			in.Unloaded = !loaded[f.Dest]
			injected = append(injected, in)
		}
	}
	if rep.Base, err = abi.CheckBaseLibraries(injected, image); err != nil {
		return rep, err
	}
	rep.Symbols, err = abi.CheckSymbols(abi.SymbolCheck{Binaries: binaries, Image: image, Host: d.set.host, Replaced: replacements(d.kept)})
	return rep, err
}

// replacements lists the names under which each injected library
// replaces an image library.
func replacements(res *profile.Resolution) []abi.Replacement {
	var rep []abi.Replacement
	realOf := map[string]string{}
	for _, f := range res.Libraries() {
		if path.Dir(f.Dest) == res.InjectDir {
			realOf[path.Base(f.Dest)] = f.Real
			rep = append(rep, abi.Replacement{Soname: path.Base(f.Dest), HostPath: f.Real})
		}
	}
	for _, l := range res.Links {
		if r, ok := realOf[l.Target]; ok && path.Dir(l.Path) == res.InjectDir {
			rep = append(rep, abi.Replacement{Soname: path.Base(l.Path), HostPath: r})
		}
	}
	slices.SortFunc(rep, func(a, b abi.Replacement) int { return ldcache.LibCmp(a.Soname, b.Soname) })
	return rep
}
