package profile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// unreadableDir returns a directory path that ReadDir fails on even for
// root: a symlink to itself.
func unreadableDir(t *testing.T) string {
	t.Helper()
	loop := filepath.Join(t.TempDir(), "profiles.d")
	if err := os.Symlink("profiles.d", loop); err != nil {
		t.Fatal(err)
	}
	return loop
}

// A user directory that can't be read is skipped with a warning that
// names it and the reason; a site directory that can't be read is an
// error that does the same.
func TestUnreadableProfileDirs(t *testing.T) {
	dirs := map[string]string{"loop": unreadableDir(t)}
	if os.Geteuid() != 0 { // root reads a mode 000 directory anyway
		d := filepath.Join(t.TempDir(), "profiles.d")
		write(t, filepath.Join(d, "x.toml"), desc("x"))
		if err := os.Chmod(d, 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(d, 0o755) })
		dirs["mode 000"] = d
	}
	reasons := map[string]string{"loop": "too many levels of symbolic links", "mode 000": "permission denied"}
	for name, dir := range dirs {
		t.Run(name, func(t *testing.T) {
			s, err := Load(Roots{UserDir: dir})
			if err != nil {
				t.Fatalf("user dir: %v", err)
			}
			want := "skipped the user profile directory " + dir + ": " + reasons[name]
			if w := s.Warnings(); len(w) != 1 || w[0] != want {
				t.Errorf("warnings %q, want %q", w, want)
			}
			if ps, err := s.Select([]string{"mpich"}, nil); err != nil || len(ps) != 1 {
				t.Errorf("select mpich: %v", err)
			}
			_, err = Load(Roots{SiteDir: dir})
			if want := "load profiles from " + dir + ": " + reasons[name]; err == nil || err.Error() != want {
				t.Errorf("site dir: %v, want %s", err, want)
			}
		})
	}
}

// brokenRoots has a site file, built-ins a and z, and a user directory with
// a good profile, a broken one, a broken one that overrides the built-in
// a, and a broken one whose name is no profile name.
func brokenRoots(t *testing.T, invalidName bool) Roots {
	dir := t.TempDir()
	user := filepath.Join(dir, "user")
	write(t, filepath.Join(user, "good.toml"), desc("good"))
	write(t, filepath.Join(user, "bad.toml"), desc("bad")+"\n[[library]]\nnmae = \"libz.so.1\"\n")
	write(t, filepath.Join(user, "a.toml"), "description = 3\n")
	if invalidName {
		write(t, filepath.Join(user, "my profile.toml"), "[[libary]]\n")
	}
	return Roots{
		Builtin: fstest.MapFS{"a.toml": {Data: []byte(desc("builtin a"))}, "z.toml": {Data: []byte(desc("builtin z"))}},
		UserDir: user,
	}
}

// A broken user file fails only a selection it could be part of; other
// runs get a warning naming file:line.
func TestBrokenUserProfiles(t *testing.T) {
	roots := brokenRoots(t, false)
	s, err := Load(roots)
	if err != nil {
		t.Fatalf("a broken user file fails Load: %v", err)
	}
	bad := `profile ` + roots.UserDir + `/bad.toml:4: key "library.nmae": unknown key; did you mean "name"?`
	badA := `profile ` + roots.UserDir + `/a.toml:1: `
	warnings := strings.Join(s.Warnings(), "\n")
	for _, w := range []string{"(a run that selects profile bad fails): " + bad, "(a run that selects profile a fails): " + badA} {
		if !strings.Contains(warnings, w) {
			t.Errorf("warnings:\n%s\nwant %q", warnings, w)
		}
	}
	if _, ok := s.Get("bad"); ok {
		t.Error("a broken file defines a profile")
	}
	tests := []struct {
		name      string
		add, drop []string
		want      string // error prefix; "" for success
	}{
		{"no profile", nil, nil, ""},
		{"another user profile", []string{"good"}, nil, ""},
		{"a built-in", []string{"z"}, nil, ""},
		{"the broken one", []string{"good", "bad"}, nil, `select profile "bad": ` + bad},
		{"a built-in it would override", []string{"a"}, nil, `select profile "a": ` + badA},
		{"dropped again", []string{"bad"}, []string{"bad"}, ""},
		{"dropping it", nil, []string{"bad"}, ""},
		{"unknown", []string{"nope"}, nil, `select profile "nope": no such profile`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Select(tc.add, tc.drop)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// A broken user file named like no profile could be meant for any: every
// run that selects a profile fails, one that selects none does not.
func TestBrokenUserProfileWithoutName(t *testing.T) {
	roots := brokenRoots(t, true)
	s, err := Load(roots)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(s.Warnings(), "\n"), "(a run that selects any profile fails): load profile "+roots.UserDir+"/my profile.toml: name") {
		t.Errorf("warnings %q", s.Warnings())
	}
	if _, err := s.Select(nil, []string{"all"}); err != nil {
		t.Errorf("no profile selected: %v", err)
	}
	if _, err := s.Select([]string{"z"}, nil); err == nil || !strings.Contains(err.Error(), "my profile.toml") || !strings.Contains(err.Error(), "it may be meant for any of them") {
		t.Errorf("select z: %v", err)
	}
}

// The site's own files stay strict, and a site default that only a broken
// user file defines fails the runs that get it.
func TestBrokenSiteProfilesStayErrors(t *testing.T) {
	dir := t.TempDir()
	site, user := filepath.Join(dir, "site"), filepath.Join(dir, "user")
	write(t, filepath.Join(site, "s.toml"), "[[library]]\nnmae = 1\n")
	if _, err := Load(Roots{NoBuiltin: true, SiteDir: site}); err == nil || !strings.HasPrefix(err.Error(), "profile "+site+"/s.toml:2: ") {
		t.Errorf("broken site file: %v", err)
	}
	if _, err := Load(Roots{NoBuiltin: true, Files: []string{filepath.Join(site, "s.toml")}}); err == nil || !strings.HasPrefix(err.Error(), "profile "+site+"/s.toml:2: ") {
		t.Errorf("broken --profile-file: %v", err)
	}
	cfg := filepath.Join(dir, "mpiwrap.toml")
	write(t, cfg, "[profiles]\ndefault = [\"u\"]\n")
	write(t, filepath.Join(user, "u.toml"), "abi = \"nope\"\n")
	s, err := Load(Roots{NoBuiltin: true, UserDir: user, SiteConfig: cfg})
	if err != nil {
		t.Fatalf("a default only a broken user file defines: %v", err)
	}
	if _, err := s.Select(nil, nil); err == nil || !strings.HasPrefix(err.Error(), `select profile "u": profile `+user+"/u.toml:1: ") {
		t.Errorf("select the defaults: %v", err)
	}
	if _, err := s.Select(nil, []string{"all"}); err != nil {
		t.Errorf("--no-profile: %v", err)
	}
	write(t, cfg, "[profiles]\ndefault = [\"u\"\n")
	if _, err := Load(Roots{NoBuiltin: true, UserDir: user, SiteConfig: cfg}); err == nil || !strings.HasPrefix(err.Error(), "load site config "+cfg+":") {
		t.Errorf("broken site file: %v", err)
	}
}
