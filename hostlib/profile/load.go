package profile

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
	// builtins are the embedded profiles not parsed yet, by name: most
	// runs select none or one of them, and parsing all of them was most
	// of what planning spent on profiles. Tests make sure they parse.
	builtins map[string]builtinFile
	// overridden maps a name to the sources it replaced, oldest first.
	overridden map[string][]string
	defaults   []string
	fromFiles  []string
	// broken are the user-level files that could not be loaded; they
	// fail only a selection they could be part of (see Select).
	broken []brokenFile
	// warnings say what loading skipped.
	warnings []string
}

// builtinFile is an embedded profile file, read and parsed when first
// needed.
type builtinFile struct {
	source string // "builtin:mpich.toml"
	path   string // in builtinFS
}

// brokenFile is a user-level profile file that failed to load.
type brokenFile struct {
	// name is the profile it would define, "" when its file name is no
	// valid profile name (it could then be meant for any).
	name string
	err  error
}

// validName says whether name is a profile name: a letter or digit, then
// letters, digits, '.', '_' and '-' (^[A-Za-z0-9][A-Za-z0-9._-]*$).
func validName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !asciiAlnum(c) && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return name != ""
}

func asciiAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// Load reads every profile from roots, in precedence order, and the site
// default file. An invalid built-in, site-level or --profile-file file,
// an unreadable site directory and an invalid site file are errors: a
// site must not run with a profile silently ignored. The user's level is
// the user's own business and is forgiving: an unreadable UserDir is
// skipped, and a file there that can't be read or parsed defines no
// profile and fails only a Select that could need it; both are listed
// by Warnings.
func Load(roots Roots) (*Set, error) {
	s := &Set{profiles: map[string]*Profile{}, builtins: map[string]builtinFile{}, overridden: map[string][]string{}}
	switch {
	case roots.NoBuiltin:
	case roots.Builtin == nil:
		if err := s.loadEmbedded(); err != nil {
			return nil, err
		}
	default:
		if err := s.loadFS(roots.Builtin, ".", "builtin:"); err != nil {
			return nil, err
		}
	}
	if err := s.loadDir(roots.SiteDir, false); err != nil {
		return nil, err
	}
	if err := s.loadDir(roots.UserDir, true); err != nil {
		return nil, err
	}
	for _, f := range roots.Files {
		if err := s.loadFile(f, "load profile file"); err != nil {
			return nil, err
		}
		s.fromFiles = append(s.fromFiles, profileName(f))
	}
	return s, s.loadSiteConfig(roots.SiteConfig)
}

// loadDir loads the *.toml files of a profile directory in name order; a
// directory that does not exist holds none. At the user's level (user)
// an unreadable directory is skipped and broken files are set aside.
func (s *Set) loadDir(dir string, user bool) error {
	if dir == "" {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		reason := err
		var pe *fs.PathError
		if errors.As(err, &pe) {
			reason = pe.Err
		}
		if user {
			s.warnings = append(s.warnings, fmt.Sprintf("skipped the user profile directory %s: %v", dir, reason))
			return nil
		}
		return fmt.Errorf("load profiles from %s: %w", dir, reason)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".toml") {
			continue
		}
		source := filepath.Join(dir, e.Name())
		err := s.loadFile(source, "load profile")
		if err == nil || !user {
			if err != nil {
				return err
			}
			continue
		}
		name := profileName(source)
		if !validName(name) {
			name = ""
		}
		s.broken = append(s.broken, brokenFile{name: name, err: err})
		s.warnings = append(s.warnings, fmt.Sprintf("skipped a broken user profile file (a run that selects %s fails): %v", brokenScope(name), err))
	}
	return nil
}

// brokenScope names what a broken file could define.
func brokenScope(name string) string {
	if name == "" {
		return "any profile"
	}
	return "profile " + name
}

// loadEmbedded notes the embedded built-in profiles, in name order, to
// be read and parsed when first needed.
func (s *Set) loadEmbedded() error {
	entries, err := builtinFS.ReadDir("builtin")
	if err != nil {
		return fmt.Errorf("load profiles from builtin: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".toml") {
			continue
		}
		if err := s.addBuiltin("builtin:"+e.Name(), "builtin/"+e.Name()); err != nil {
			return err
		}
	}
	return nil
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

func (s *Set) loadFile(path, what string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return s.add(path, data)
}

func profileName(source string) string {
	base := source[strings.LastIndexAny(source, "/:")+1:]
	return strings.TrimSuffix(base, ".toml")
}

func (s *Set) add(source string, data []byte) error {
	name, err := checkName(source)
	if err != nil {
		return err
	}
	p, err := Parse(name, source, data)
	if err != nil {
		return err
	}
	s.replace(name)
	s.profiles[name] = p
	return nil
}

// addBuiltin is add for an embedded file, which is parsed when needed.
func (s *Set) addBuiltin(source, path string) error {
	name, err := checkName(source)
	if err != nil {
		return err
	}
	s.replace(name)
	s.builtins[name] = builtinFile{source: source, path: path}
	return nil
}

func checkName(source string) (string, error) {
	name := profileName(source)
	if !validName(name) {
		return "", fmt.Errorf("load profile %s: name %q must start with a letter or digit and use only letters, digits, '.', '_' and '-'", source, name)
	}
	return name, nil
}

// replace notes that the profile called name, if any, is overridden.
func (s *Set) replace(name string) {
	if old, ok := s.profiles[name]; ok {
		s.overridden[name] = append(s.overridden[name], old.Source)
	}
	if old, ok := s.builtins[name]; ok {
		s.overridden[name] = append(s.overridden[name], old.source)
		delete(s.builtins, name)
	}
}

// has says whether a profile called name is known.
func (s *Set) has(name string) bool {
	_, ok := s.profiles[name]
	if !ok {
		_, ok = s.builtins[name]
	}
	return ok
}

// profile returns the profile called name, parsing an embedded one the
// first time. An embedded profile that does not parse is a broken build
// (TestBuiltinsParse), not something a run can mend: it panics.
func (s *Set) profile(name string) (*Profile, bool) {
	if p, ok := s.profiles[name]; ok {
		return p, true
	}
	b, ok := s.builtins[name]
	if !ok {
		return nil, false
	}
	var p *Profile
	data, err := builtinFS.ReadFile(b.path)
	if err == nil {
		p, err = Parse(name, b.source, data)
	}
	if err != nil {
		panic(fmt.Sprintf("mpiwrap was built with a broken built-in profile: %v", err))
	}
	delete(s.builtins, name)
	s.profiles[name] = p
	return p, true
}

// Get returns the profile called name.
func (s *Set) Get(name string) (*Profile, bool) { return s.profile(name) }

// Names returns all profile names, sorted.
func (s *Set) Names() []string {
	names := make([]string, 0, len(s.profiles)+len(s.builtins))
	for n := range s.profiles {
		names = append(names, n)
	}
	for n := range s.builtins {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Warnings says what Load skipped at the user's level: an unreadable
// directory, broken files (each error names file:line where it can).
func (s *Set) Warnings() []string { return slices.Clone(s.warnings) }

// brokenFor returns the error of a broken user-level file that could
// define name, or nil.
func (s *Set) brokenFor(name string) error {
	for _, b := range s.broken {
		if b.name == name {
			return b.err
		}
	}
	return nil
}

// Defaults returns the site's default profiles, in the site file's order.
func (s *Set) Defaults() []string { return slices.Clone(s.defaults) }

// FileProfiles returns the names of the --profile-file profiles, in order;
// a CLI usually selects them too.
func (s *Set) FileProfiles() []string { return slices.Clone(s.fromFiles) }
