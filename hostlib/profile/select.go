package profile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// siteConfig is the part of mpiwrap.toml this package owns.
type siteConfig struct {
	Profiles struct {
		Default []string `toml:"default"`
	} `toml:"profiles"`
}

// loadSiteConfig reads [profiles] default = […] from path. Only keys
// under [profiles] are checked; other tables belong to other packages.
func (s *Set) loadSiteConfig(path string) error {
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load site config: %w", err)
	}
	var cfg siteConfig
	md, err := toml.Decode(string(data), &cfg)
	if err != nil {
		return tomlError("load site config", path, string(data), err)
	}
	pos := positions{src: string(data), keys: locateKeys(string(data), md.Keys())}
	for _, k := range md.Undecoded() {
		if len(k) >= 2 && k[0] == "profiles" {
			hint := ""
			if sug := suggest(k[len(k)-1], []string{"default"}); sug != "" {
				hint = fmt.Sprintf("; did you mean %q?", sug)
			}
			return fmt.Errorf("load site config %s:%d: key %q: unknown key%s", path, pos.line(k.String(), 0), k.String(), hint)
		}
	}
	for _, name := range cfg.Profiles.Default {
		if !s.has(name) && s.brokenFor(name) == nil { // a broken user file fails Select
			return fmt.Errorf("load site config %s:%d: default profile %q: no such profile; known: %s",
				path, pos.line("profiles.default", 0), name, strings.Join(s.Names(), ", "))
		}
	}
	s.defaults = dedupe(cfg.Profiles.Default)
	return nil
}

// Select returns the profiles of a run: the site defaults, then add, in
// order and without repeats, minus drop. A drop entry "all" removes every
// site default (profiles named in add stay). Unknown names are errors.
//
// A broken user-level file (see Load) is an error when the selection
// could need it: when it would define a selected profile (its file name
// without .toml is the profile's name), or, when its file name is no
// valid profile name, for any selection that is not empty. Otherwise it
// is only one of the Warnings. Dropping a profile that only a broken
// file defines is not an error.
func (s *Set) Select(add, drop []string) ([]*Profile, error) {
	for _, n := range append(slices.Clone(add), drop...) {
		if !s.has(n) && n != "all" && s.brokenFor(n) == nil {
			return nil, fmt.Errorf("select profile %q: no such profile; known: %s", n, strings.Join(s.Names(), ", "))
		}
	}
	names := s.defaults
	if slices.Contains(drop, "all") {
		names = nil
	}
	names = dedupe(append(slices.Clone(names), add...))
	var out []*Profile
	for _, n := range names {
		if slices.Contains(drop, n) {
			continue
		}
		if err := s.brokenFor(n); err != nil {
			return nil, fmt.Errorf("select profile %q: %w", n, err)
		}
		p, _ := s.profile(n)
		out = append(out, p)
	}
	if err := s.brokenFor(""); err != nil && len(out) > 0 {
		return nil, fmt.Errorf("select profiles %s: %w; fix or remove that file: its name is no profile name, so it may be meant for any of them",
			strings.Join(selectedNames(out), ","), err)
	}
	return out, nil
}

func selectedNames(ps []*Profile) []string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return names
}

func dedupe(names []string) []string {
	var out []string
	for _, n := range names {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// Listing is one line of `mpiwrap profile list`.
type Listing struct {
	Name        string `json:"name"`
	Source      string `json:"source"`
	Description string `json:"description,omitempty"`
	// Default is true for profiles every run gets.
	Default bool `json:"default"`
	// Overrides lists the sources this one replaced, oldest first.
	Overrides []string `json:"overrides,omitempty"`
}

// List describes every profile, sorted by name.
func (s *Set) List() []Listing {
	var out []Listing
	for _, n := range s.Names() {
		p, _ := s.profile(n)
		out = append(out, Listing{
			Name: n, Source: p.Source, Description: p.Description,
			Default:   slices.Contains(s.defaults, n),
			Overrides: slices.Clone(s.overridden[n]),
		})
	}
	return out
}
