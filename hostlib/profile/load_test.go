package profile

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func desc(d string) string { return "description = \"" + d + "\"\n" }

// testRoots lays out built-ins, site, user and --profile-file layers, each
// redefining "a" so the override order shows in its description.
func testRoots(t *testing.T) Roots {
	dir := t.TempDir()
	site, user := filepath.Join(dir, "site"), filepath.Join(dir, "user")
	write(t, filepath.Join(site, "a.toml"), desc("site a"))
	write(t, filepath.Join(site, "b.toml"), desc("site b"))
	write(t, filepath.Join(site, "README"), "not a profile")
	write(t, filepath.Join(user, "a.toml"), desc("user a"))
	write(t, filepath.Join(user, "c.toml"), desc("user c"))
	file := filepath.Join(dir, "cli", "a.toml")
	write(t, file, desc("file a"))
	cfg := filepath.Join(dir, "mpiwrap.toml")
	write(t, cfg, "[runtime]\nother = 1\n\n[profiles]\ndefault = [\"b\", \"a\", \"b\"]\n")
	return Roots{
		Builtin:    fstest.MapFS{"a.toml": {Data: []byte(desc("builtin a"))}, "z.toml": {Data: []byte(desc("builtin z"))}},
		SiteDir:    site,
		UserDir:    user,
		Files:      []string{file},
		SiteConfig: cfg,
	}
}

func TestLoadOverrideOrder(t *testing.T) {
	roots := testRoots(t)
	s, err := Load(roots)
	if err != nil {
		t.Fatal(err)
	}
	list := s.List()
	names := make([]string, len(list))
	for i, l := range list {
		names[i] = l.Name
	}
	if !slices.Equal(names, []string{"a", "b", "c", "z"}) {
		t.Fatalf("names %v", names)
	}
	a := list[0]
	if a.Description != "file a" || a.Source != roots.Files[0] || !a.Default {
		t.Fatalf("a = %+v", a)
	}
	wantOver := []string{"builtin:a.toml", roots.SiteDir + "/a.toml", roots.UserDir + "/a.toml"}
	if !slices.Equal(a.Overrides, wantOver) {
		t.Fatalf("a overrides %v, want %v", a.Overrides, wantOver)
	}
	if !list[1].Default || list[2].Default || list[3].Default {
		t.Fatalf("defaults wrong: %+v", list)
	}
	if !slices.Equal(s.Defaults(), []string{"b", "a"}) || !slices.Equal(s.FileProfiles(), []string{"a"}) {
		t.Fatalf("Defaults %v FileProfiles %v", s.Defaults(), s.FileProfiles())
	}
}

func TestSelect(t *testing.T) {
	s, err := Load(testRoots(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		add, drop []string
		want      string
		wantErr   string
	}{
		{"defaults only", nil, nil, "b a", ""},
		{"add keeps order", []string{"z", "c", "a"}, nil, "b a z c", ""},
		{"drop a default", []string{"c"}, []string{"b"}, "a c", ""},
		{"drop all defaults", []string{"c"}, []string{"all"}, "c", ""},
		{"drop wins over add", []string{"c"}, []string{"c"}, "b a", ""},
		{"unknown add", []string{"nope"}, nil, "", `select profile "nope": no such profile; known: a, b, c, z`},
		{"unknown drop", nil, []string{"nope"}, "", `select profile "nope": no such profile; known: a, b, c, z`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := s.Select(tc.add, tc.drop)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.Name)
			}
			if strings.Join(got, " ") != tc.want {
				t.Fatalf("selected %v, want %s", got, tc.want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) Roots
		want  string
	}{
		{"bad file in site dir", func(t *testing.T, dir string) Roots {
			write(t, filepath.Join(dir, "x.toml"), "[[library]]\nnmae = 1\n")
			return Roots{NoBuiltin: true, SiteDir: dir}
		}, `profile DIR/x.toml:2: key "library.nmae": unknown key; did you mean "name"?`},
		{"bad name", func(t *testing.T, dir string) Roots {
			write(t, filepath.Join(dir, "-x.toml"), "")
			return Roots{NoBuiltin: true, SiteDir: dir}
		}, `load profile DIR/-x.toml: name "-x" must start with a letter or digit and use only letters, digits, '.', '_' and '-'`},
		{"unknown default", func(t *testing.T, dir string) Roots {
			write(t, filepath.Join(dir, "d", "p.toml"), "")
			write(t, filepath.Join(dir, "m.toml"), "\n[profiles]\ndefault = [\"p\", \"q\"]\n")
			return Roots{NoBuiltin: true, SiteDir: filepath.Join(dir, "d"), SiteConfig: filepath.Join(dir, "m.toml")}
		}, `load site config DIR/m.toml:3: default profile "q": no such profile; known: p`},
		{"unknown site key", func(t *testing.T, dir string) Roots {
			write(t, filepath.Join(dir, "m.toml"), "[profiles]\ndefaults = []\n")
			return Roots{NoBuiltin: true, SiteConfig: filepath.Join(dir, "m.toml")}
		}, `load site config DIR/m.toml:2: key "profiles.defaults": unknown key; did you mean "default"?`},
		{"missing profile file", func(t *testing.T, dir string) Roots {
			return Roots{NoBuiltin: true, Files: []string{filepath.Join(dir, "nope.toml")}}
		}, `load profile file: open DIR/nope.toml: no such file or directory`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := Load(tc.setup(t, dir))
			want := strings.ReplaceAll(tc.want, "DIR", dir)
			if err == nil || err.Error() != want {
				t.Fatalf("err\n got: %v\nwant: %s", err, want)
			}
		})
	}
}

func TestMissingDirsAreFine(t *testing.T) {
	dir := t.TempDir()
	s, err := Load(Roots{SiteDir: filepath.Join(dir, "no"), UserDir: filepath.Join(dir, "nope"), SiteConfig: filepath.Join(dir, "none.toml")})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Names()) == 0 || len(s.Defaults()) != 0 {
		t.Fatalf("names %v defaults %v", s.Names(), s.Defaults())
	}
}

func TestDefaultRoots(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"xdg", map[string]string{"XDG_CONFIG_HOME": "/x", "HOME": "/h"}, "/x/mpiwrap/profiles.d"},
		{"home", map[string]string{"HOME": "/h"}, "/h/.config/mpiwrap/profiles.d"},
		{"relative xdg ignored", map[string]string{"XDG_CONFIG_HOME": "rel", "HOME": "/h"}, "/h/.config/mpiwrap/profiles.d"},
		{"nothing", map[string]string{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := DefaultRoots(func(k string) string { return tc.env[k] })
			if r.UserDir != tc.want || r.SiteDir != "/etc/mpiwrap/profiles.d" || r.SiteConfig != "/etc/mpiwrap/mpiwrap.toml" {
				t.Fatalf("roots %+v, want user dir %q", r, tc.want)
			}
		})
	}
}
