package profile

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/mpiwrap/mpiwrap/hostlib/abi"
	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
)

func (b *builder) binary(p *Profile, r *elfdeps.Resolver, bin Binary) error {
	n := 0
	item := b.item(p, KindBinary, "binary "+strings.Join(bin.Candidates, " | "), bin.Item)
	for _, c := range bin.Candidates {
		c, ok := b.expand(c)
		if !ok {
			continue
		}
		src := b.findBinary(c)
		if src == "" {
			continue
		}
		label := "binary " + c
		ok, err := b.addPath(p.Name, label, src, src)
		if err != nil {
			return fmt.Errorf("resolve profile %s (%s): %w", p.Name, bin.Pos, err)
		}
		if !ok {
			continue
		}
		n++
		b.res.Files[b.byDest[src]].Kind = KindBinary
		item.Dests = appendNew(item.Dests, src)
		if !bin.Closure {
			continue
		}
		if _, err := r.Read(src); errors.Is(err, elfdeps.ErrNotELF) {
			continue // a script: nothing to load
		}
		if err := b.closure(p, r, label, src, bin.Required); err != nil {
			return err
		}
	}
	if n == 0 {
		b.missing(p, KindBinary, bin.Item, "not found in "+strings.Join(b.pathDirs(), ":"))
	}
	return nil
}

// findBinary returns the host path of a binary name or path, or "".
func (b *builder) findBinary(c string) string {
	root := b.hostResolver().Root
	cands := []string{c}
	if !strings.Contains(c, "/") {
		cands = nil
		for _, d := range b.pathDirs() {
			cands = append(cands, d+"/"+c)
		}
	}
	for _, p := range cands {
		if fi, err := root.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

func (b *builder) device(p *Profile, d DeviceItem) error {
	root := b.hostResolver().Root
	n := 0
	for _, c := range d.Candidates {
		matches, err := b.match(c)
		if err != nil {
			return fmt.Errorf("resolve profile %s (%s): %w", p.Name, d.Pos, err)
		}
		for _, m := range matches {
			fi, err := root.Stat(m)
			if err != nil || fi.Mode()&os.ModeDevice == 0 {
				continue // vanished, or not a device node
			}
			if !slices.ContainsFunc(b.res.Devices, func(x Device) bool { return x.Dest == m }) {
				b.res.Devices = append(b.res.Devices, Device{Source: m, Dest: m, Profile: p.Name})
			}
			n++
		}
	}
	if n == 0 {
		b.missing(p, KindDevice, d.Item, "no such device node")
	}
	return nil
}

// abi records the profile's ABI family with the injected libraries that
// carry it (whichever profile put them there).
func (b *builder) abi(p *Profile) {
	if p.ABI == abi.FamilyNone {
		return
	}
	spec := ABISpec{Profile: p.Name, Family: p.ABI, Policy: p.Policy}
	for _, soname := range p.ABI.Sonames() {
		if i, ok := b.byDest[b.inject+"/"+soname]; ok {
			f := b.res.Files[i]
			spec.Libraries = append(spec.Libraries, ABILibrary{Soname: soname, Real: f.Real, Dest: f.Dest})
		} else if target, ok := b.links[b.inject+"/"+soname]; ok {
			f := b.res.Files[b.byDest[b.inject+"/"+target]]
			spec.Libraries = append(spec.Libraries, ABILibrary{Soname: soname, Real: f.Real, Dest: f.Dest})
		}
	}
	b.res.ABI = append(b.res.ABI, spec)
}

// item starts the record of a library or binary item's files.
func (b *builder) item(p *Profile, kind, label string, it Item) *ResolvedItem {
	b.res.Items = append(b.res.Items, ResolvedItem{Profile: p.Name, Kind: kind, Label: label, Pos: it.Pos,
		Required: it.Required, Dests: []string{}})
	return &b.res.Items[len(b.res.Items)-1]
}

func appendNew(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// finish sorts the result into its documented order. Empty lists are
// [] rather than null in JSON.
func (b *builder) finish() *Resolution {
	res := b.res
	slices.SortStableFunc(res.Files, func(x, y File) int { return strings.Compare(x.Dest, y.Dest) })
	for p, t := range b.links {
		res.Links = append(res.Links, Link{Path: p, Target: t})
	}
	slices.SortFunc(res.Links, func(x, y Link) int { return strings.Compare(x.Path, y.Path) })
	slices.SortStableFunc(res.Devices, func(x, y Device) int { return strings.Compare(x.Dest, y.Dest) })
	res.Profiles, res.Files, res.Links = orEmpty(res.Profiles), orEmpty(res.Files), orEmpty(res.Links)
	res.Devices, res.Env, res.ABI = orEmpty(res.Devices), orEmpty(res.Env), orEmpty(res.ABI)
	res.Missing, res.Conflicts, res.Items = orEmpty(res.Missing), orEmpty(res.Conflicts), orEmpty(res.Items)
	return res
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
