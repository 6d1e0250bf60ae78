package profile

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
)

//go:embed builtin/*.toml
var builtinFS embed.FS

// Roots says where profiles and the site default file live. Tests point
// every field at temporary directories.
type Roots struct {
	// Builtin holds the built-in *.toml files; nil means the embedded ones.
	Builtin fs.FS
	// NoBuiltin skips built-in profiles entirely.
	NoBuiltin bool
	// SiteDir is normally /etc/mpiwrap/profiles.d; "" skips it.
	SiteDir string
	// UserDir is normally $XDG_CONFIG_HOME/mpiwrap/profiles.d; "" skips it.
	UserDir string
	// Files are --profile-file arguments, in order.
	Files []string
	// SiteConfig is normally /etc/mpiwrap/mpiwrap.toml; "" skips it.
	SiteConfig string
}

// DefaultRoots returns the standard locations. getenv is os.Getenv in
// production; HOME and XDG_CONFIG_HOME pick the user directory.
func DefaultRoots(getenv func(string) string) Roots {
	r := Roots{SiteDir: "/etc/mpiwrap/profiles.d", SiteConfig: "/etc/mpiwrap/mpiwrap.toml"}
	if x := getenv("XDG_CONFIG_HOME"); filepath.IsAbs(x) {
		r.UserDir = filepath.Join(x, "mpiwrap", "profiles.d")
	} else if h := getenv("HOME"); filepath.IsAbs(h) {
		r.UserDir = filepath.Join(h, ".config", "mpiwrap", "profiles.d")
	}
	return r
}

// Set is every profile that is known, after overrides.
type Set struct {
	profiles map[string]*Profile
	// overridden maps a name to the sources it replaced, oldest first.
	overridden map[string][]string
	defaults   []string
	fromFiles  []string
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Load reads every profile from roots, in precedence order, and the site
// default file. Any invalid file is an error: a site must not run with a
// profile silently ignored.
func Load(roots Roots) (*Set, error) {
	s := &Set{profiles: map[string]*Profile{}, overridden: map[string][]string{}}
	if !roots.NoBuiltin {
		b := roots.Builtin
		if b == nil {
			sub, err := fs.Sub(builtinFS, "builtin")
			if err != nil {
				return nil, fmt.Errorf("load built-in profiles: %w", err)
			}
			b = sub
		}
		if err := s.loadFS(b, ".", "builtin:"); err != nil {
			return nil, err
		}
	}
	for _, dir := range []string{roots.SiteDir, roots.UserDir} {
		if err := s.loadDir(dir); err != nil {
			return nil, err
		}
	}
	for _, f := range roots.Files {
		if err := s.loadFile(f); err != nil {
			return nil, err
		}
		s.fromFiles = append(s.fromFiles, profileName(f))
	}
	return s, s.loadSiteConfig(roots.SiteConfig)
}

func (s *Set) loadDir(dir string) error {
	if dir == "" {
		return nil
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return s.loadFS(os.DirFS(dir), ".", dir+"/")
}

// loadFS loads the *.toml files of one directory in name order.
func (s *Set) loadFS(fsys fs.FS, dir, prefix string) error {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return fmt.Errorf("load profiles from %s: %w", strings.TrimSuffix(prefix, "/"), err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".toml") {
			continue
		}
		data, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return fmt.Errorf("load profile %s%s: %w", prefix, e.Name(), err)
		}
		if err := s.add(prefix+e.Name(), data); err != nil {
			return err
		}
	}
	return nil
}

func (s *Set) loadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("load profile file: %w", err)
	}
	return s.add(path, data)
}

func profileName(source string) string {
	base := source[strings.LastIndexAny(source, "/:")+1:]
	return strings.TrimSuffix(base, ".toml")
}

func (s *Set) add(source string, data []byte) error {
	name := profileName(source)
	if !nameRE.MatchString(name) {
		return fmt.Errorf("load profile %s: name %q must start with a letter or digit and use only letters, digits, '.', '_' and '-'", source, name)
	}
	p, err := Parse(name, source, data)
	if err != nil {
		return err
	}
	if old, ok := s.profiles[name]; ok {
		s.overridden[name] = append(s.overridden[name], old.Source)
	}
	s.profiles[name] = p
	return nil
}

// Get returns the profile called name.
func (s *Set) Get(name string) (*Profile, bool) {
	p, ok := s.profiles[name]
	return p, ok
}

// Names returns all profile names, sorted.
func (s *Set) Names() []string {
	names := make([]string, 0, len(s.profiles))
	for n := range s.profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Defaults returns the site's default profiles, in the site file's order.
func (s *Set) Defaults() []string { return slices.Clone(s.defaults) }

// FileProfiles returns the names of the --profile-file profiles, in order;
// a CLI usually selects them too.
func (s *Set) FileProfiles() []string { return slices.Clone(s.fromFiles) }
