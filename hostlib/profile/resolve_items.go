package profile

import (
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
	"github.com/mpiwrap/mpiwrap/hostlib/ldcache"
)

// found is a library and the name it was asked for.
type found struct {
	obj  *elfdeps.Object
	name string
}

func (b *builder) library(p *Profile, r *elfdeps.Resolver, l Library) error {
	var all []found
	applies := false
	for _, c := range l.Candidates {
		c, ok := b.expand(c)
		if !ok {
			continue
		}
		applies = true
		fs, err := b.findLibraries(r, c)
		if err != nil {
			return fmt.Errorf("resolve profile %s (%s): %w", p.Name, l.Pos, err)
		}
		all = append(all, fs...)
	}
	if len(all) == 0 {
		reason := "no such shared library file"
		if slices.ContainsFunc(l.Candidates, func(c string) bool { return !strings.Contains(c, "/") }) {
			reason = "not found in search_dirs, ld.so.cache or the default directories"
		}
		b.missing(p, KindLibrary, l.Item, missingReason(applies, reason))
		return nil
	}
	dest := b.inject
	if l.Dest != "" {
		dest, _ = b.expand(l.Dest)
	}
	label := "library " + strings.Join(l.Candidates, " | ")
	item := b.item(p, KindLibrary, label, l.Item)
	for _, f := range all {
		item.Dests = appendNew(item.Dests, b.addLibrary(p.Name, label, f.obj, dest, f.name, "", nil))
		if l.Closure {
			if err := b.closure(p, r, label, f.obj.Path, l.Required); err != nil {
				return err
			}
		}
	}
	return nil
}

func missingReason(applies bool, reason string) string {
	if !applies {
		return "every candidate needs {multiarch} and this host has no multiarch directories"
	}
	return reason
}

// findLibraries resolves one candidate: an absolute path or glob, a
// soname glob over the cache and search_dirs, or a soname.
func (b *builder) findLibraries(r *elfdeps.Resolver, c string) ([]found, error) {
	if strings.Contains(c, "/") {
		paths := []string{c}
		if isGlob(c) {
			var err error
			if paths, err = r.Root.Glob(c); err != nil {
				return nil, fmt.Errorf("expand %s: %w", c, err)
			}
		}
		return readAll(r, paths, func(p string) string { return path.Base(p) })
	}
	names := []string{c}
	if isGlob(c) {
		names = b.globSonames(r, c)
	}
	var out []found
	for _, n := range names {
		o, err := r.Lookup(n, nil)
		if notFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, found{o, n})
	}
	return out, nil
}

func readAll(r *elfdeps.Resolver, paths []string, name func(string) string) ([]found, error) {
	var out []found
	for _, p := range paths {
		o, err := r.Read(p)
		if notFound(err) {
			continue // e.g. a .la file or a dangling link next to the .so files
		}
		if err != nil {
			return nil, err
		}
		out = append(out, found{o, name(p)})
	}
	return out, nil
}

// globSonames lists cache keys (native flags) and files in the extra
// directories matching pattern, sorted and without repeats.
func (b *builder) globSonames(r *elfdeps.Resolver, pattern string) []string {
	var names []string
	if r.Cache != nil {
		for _, e := range r.Cache.Entries {
			if ok, _ := path.Match(pattern, e.Key); ok && e.Flags == elfdeps.NativeCacheFlags() {
				names = append(names, e.Key)
			}
		}
	}
	for _, d := range r.ExtraDirs {
		matches, _ := r.Root.Glob(d + "/" + pattern)
		for _, m := range matches {
			names = append(names, path.Base(m))
		}
	}
	slices.SortFunc(names, ldcache.LibCmp)
	return slices.Compact(names)
}

// closure adds what the object at p needs to the injected directory.
func (b *builder) closure(p *Profile, r *elfdeps.Resolver, label, objPath string, required bool) error {
	g, err := r.Closure(objPath)
	if err != nil {
		return fmt.Errorf("resolve profile %s: %w", p.Name, err)
	}
	for _, n := range g.Nodes {
		if n.Root {
			continue
		}
		b.addLibrary(p.Name, label, n.Object, b.inject, n.Names[0], n.NeededBy, n.Names[1:])
	}
	for _, m := range g.Missing {
		b.res.Missing = append(b.res.Missing, Missing{
			Profile: p.Name, Kind: KindDependency, Name: m.Name, Required: required,
			Reason: fmt.Sprintf("needed by %s: %s", m.NeededBy, m.Reason),
		})
	}
	return nil
}

// addLibrary records a library asked for under name in dir and returns
// its container path. In the injected directory the file is named by its
// DT_SONAME and every other name becomes a link to it: ldconfig then
// indexes both (a link whose target is named by the soname keeps its own
// name as a cache key, the rule that gives "libfoo.so" entries).
// Elsewhere (plugin directories loaded by path) the file keeps name.
func (b *builder) addLibrary(profile, item string, o *elfdeps.Object, dir, name, neededBy string, aliases []string) string {
	primary := name
	if dir == b.inject && o.Soname != "" && !strings.ContainsAny(o.Soname, "/") {
		primary = o.Soname
		aliases = append(slices.Clone(aliases), name)
	}
	f := File{Kind: KindLibrary, Source: o.Path, Real: o.Real, Dest: dir + "/" + primary,
		Profile: profile, Item: item, NeededBy: neededBy, Soname: o.Soname}
	if !b.addFile(f) || dir != b.inject {
		return f.Dest
	}
	for _, a := range aliases {
		if a != "" && a != primary && !strings.Contains(a, "/") {
			b.addLink(dir+"/"+a, primary)
		}
	}
	return f.Dest
}

// addFile records f unless its Dest is taken; a different file at the
// same Dest is a conflict. It reports whether f is (now) at Dest.
func (b *builder) addFile(f File) bool {
	delete(b.links, f.Dest) // a real file beats a link of the same name
	if i, ok := b.byDest[f.Dest]; ok {
		old := b.res.Files[i]
		if old.Real != f.Real {
			b.res.Conflicts = append(b.res.Conflicts, Conflict{Dest: f.Dest, Kept: old.Real, Dropped: f.Real, Profile: f.Profile})
			return false
		}
		return true
	}
	b.byDest[f.Dest] = len(b.res.Files)
	b.res.Files = append(b.res.Files, f)
	return true
}

func (b *builder) addLink(p, target string) {
	if _, isFile := b.byDest[p]; isFile {
		return
	}
	if _, ok := b.links[p]; !ok {
		b.links[p] = target
	}
}

func (b *builder) file(p *Profile, f FileItem) error {
	n := 0
	applies := false
	for _, c := range f.Candidates {
		c, ok := b.expand(c)
		if !ok {
			continue
		}
		applies = true
		matches, err := b.match(c)
		if err != nil {
			return fmt.Errorf("resolve profile %s (%s): %w", p.Name, f.Pos, err)
		}
		for _, m := range matches {
			dest := m
			if f.Dest != "" {
				dest, _ = b.expand(f.Dest)
			}
			ok, err := b.addPath(p.Name, "file "+c, m, dest)
			if err != nil {
				return fmt.Errorf("resolve profile %s (%s): %w", p.Name, f.Pos, err)
			}
			if ok {
				n++
			}
		}
	}
	if n == 0 {
		b.missing(p, KindFile, f.Item, missingReason(applies, "no such file or directory"))
	}
	return nil
}

// match returns the existing paths for a path or glob, sorted.
func (b *builder) match(c string) ([]string, error) {
	root := b.hostResolver().Root
	if isGlob(c) {
		return root.Glob(c)
	}
	if _, err := root.Stat(c); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	return []string{c}, nil
}

// addPath records a file or directory bind; false if it vanished.
func (b *builder) addPath(profile, item, src, dest string) (bool, error) {
	root := b.hostResolver().Root
	fi, err := root.Stat(src)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	real, err := root.Real(src)
	if err != nil {
		return false, err
	}
	kind := KindFile
	if fi.IsDir() {
		kind = KindDir
	}
	return b.addFile(File{Kind: kind, Source: src, Real: real, Dest: dest, Profile: profile, Item: item}), nil
}
