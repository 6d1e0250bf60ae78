package profile

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/hostlib/abi"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      string // exact error text
	}{
		{"unknown top key", "description = \"x\"\nlibs = 1\n",
			`profile t.toml:2: key "libs": unknown key; did you mean "library"?`},
		{"unknown item key", "[[library]]\nname = \"a.so.1\"\n\n[[library]]\nnmae = \"b.so.1\"\n",
			`profile t.toml:5: key "library.nmae": unknown key; did you mean "name"?`},
		{"unknown key no hint", "[[env]]\nop = \"set\"\nname = \"X\"\nvalue = \"1\"\nzzzzzz = 2\n",
			`profile t.toml:5: key "env.zzzzzz": unknown key`},
		{"syntax", "description = \"x\"\n[[library]\n",
			`profile t.toml:2: expected end of table array name delimiter ']', but got '\n' instead`},
		{"type", "[[library]]\nname = \"a\"\nclosure = \"yes\"\n",
			`profile t.toml:3: key "library.closure": incompatible types: TOML value has type string; destination has type boolean`},
		{"bad abi", "# c\nabi = \"lam\"\n",
			`profile t.toml:2: key "abi": unknown ABI family "lam"; use one of "mpich", "openmpi", "none"`},
		{"bad policy", "abi_policy = \"loose\"\n",
			`profile t.toml:1: key "abi_policy": unknown ABI policy "loose"; use one of "major", "warn", "strict"`},
		{"name and names", "[[library]]\nname = \"a\"\nnames = [\"b\"]\n",
			`profile t.toml:2: [[library]] #1: give either "name" or "names", not both`},
		{"missing name", "[[file]]\nrequired = false\n",
			`profile t.toml:1: [[file]] #1: missing "path" (or "paths")`},
		{"relative file", "[[file]]\npath = \"etc/x\"\n",
			`profile t.toml:2: [[file]] #1: "etc/x" is not an absolute path`},
		{"dest with glob", "[[file]]\npath = \"/etc/x*\"\ndest = \"/y\"\n",
			`profile t.toml:3: [[file]] #1: "dest" needs exactly one path without glob characters`},
		{"bad token", "[[library]]\nname = \"/usr/lib/{arch}/x.so\"\n",
			`profile t.toml:2: [[library]] "/usr/lib/{arch}/x.so": unknown token {arch}; use {multiarch} or {injectdir}`},
		{"env op", "[[env]]\nop = \"replace\"\nname = \"X\"\nvalue = \"1\"\n",
			`profile t.toml:2: [[env]] #1: env X: unknown op "replace"; use one of "set", "prepend", "append", "unset", "default"`},
		{"env unset value", "[[env]]\nop = \"unset\"\nname = \"X\"\nvalue = \"\"\n",
			`profile t.toml:2: [[env]] #1: env X: op "unset" takes no value`},
		{"env set no value", "\n[[env]]\nop = \"set\"\nname = \"X\"\n",
			`profile t.toml:3: [[env]] #1: env X: op "set" needs a value`},
		{"env name", "[[env]]\nop = \"set\"\nname = \"A-B\"\nvalue = \"1\"\n",
			`profile t.toml:2: [[env]] #1: env name "A-B" is not a valid variable name`},
		{"relative search dir", "search_dirs = [\"lib\"]\n",
			`profile t.toml:1: key "search_dirs": "lib" is not an absolute path`},
		{"bad exclude glob", "exclude = [\"lib[\"]\n",
			`profile t.toml:1: key "exclude": bad glob "lib["`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t", "t.toml", []byte(tc.src))
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			if err.Error() != tc.want {
				t.Fatalf("error\n got: %s\nwant: %s", err, tc.want)
			}
		})
	}
}

func TestParseDefaults(t *testing.T) {
	src := `description = "d"
search_dirs = ["/opt/x/{multiarch}"]

[[library]]
name = "libx.so.1"

[[library]]
names = ["/opt/p/*.so"]
closure = false
required = false
dest = "{injectdir}/p"

[[env]]
op = "prepend"
name = "PATH"
value = "/opt/bin"
`
	p, err := Parse("t", "t.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if p.ABI != abi.FamilyNone || p.Policy != abi.PolicyWarn {
		t.Errorf("abi %q policy %q, want none/warn", p.ABI, p.Policy)
	}
	l0, l1 := p.Libraries[0], p.Libraries[1]
	if !l0.Required || !l0.Closure || l0.Pos != "t.toml:5" {
		t.Errorf("first library %+v: want required, closure, at t.toml:5", l0)
	}
	if l1.Required || l1.Closure || l1.Dest != "{injectdir}/p" || l1.Pos != "t.toml:8" {
		t.Errorf("second library %+v", l1)
	}
	if e := p.Env[0]; e.Separator != ":" || e.Profile != "t" {
		t.Errorf("env %+v: want separator \":\" and profile t", e)
	}
}

func TestBuiltinsParse(t *testing.T) {
	// Load leaves the embedded files to be parsed when needed, and a
	// broken one would panic there: each must parse.
	entries, err := builtinFS.ReadDir("builtin")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := builtinFS.ReadFile("builtin/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(profileName(e.Name()), "builtin:"+e.Name(), data); err != nil {
			t.Errorf("%s: %v", e.Name(), err)
		}
	}
	s, err := Load(Roots{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"libfabric", "mpich", "nvidia", "openmpi", "ucx", "verbs"}
	if got := strings.Join(s.Names(), " "); got != strings.Join(want, " ") {
		t.Fatalf("built-ins %s, want %s", got, strings.Join(want, " "))
	}
	for _, n := range want {
		p, _ := s.Get(n)
		if !strings.HasPrefix(p.Source, "builtin:") || p.Description == "" {
			t.Errorf("%s: source %q description %q", n, p.Source, p.Description)
		}
	}
	if p, _ := s.Get("mpich"); p.ABI != abi.FamilyMPICH {
		t.Errorf("mpich ABI = %q", p.ABI)
	}
	if p, _ := s.Get("openmpi"); p.ABI != abi.FamilyOpenMPI {
		t.Errorf("openmpi ABI = %q", p.ABI)
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"name", "name", 0}, {"nmae", "name", 1}, {"nam", "name", 1}, {"", "abc", 3}, {"closure", "clsoure", 1},
	}
	for _, tc := range tests {
		t.Run(tc.a+"/"+tc.b, func(t *testing.T) {
			if got := editDistance(tc.a, tc.b); got != tc.want {
				t.Fatalf("editDistance = %d, want %d", got, tc.want)
			}
		})
	}
}

// FuzzParse checks the profile parser never panics and that its errors
// are one line naming the file.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"mpich", "openmpi", "verbs", "ucx", "libfabric", "nvidia"} {
		data, err := builtinFS.ReadFile("builtin/" + name + ".toml")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("[[env]]\nop = \"set\"\nname = \"X\"\nvalue = \"{injectdir}\"\n"))
	f.Add([]byte("a = [\n1,\n2]\n[[library]]\n'name' = \"x\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Parse("f", "f.toml", data)
		if err == nil {
			return
		}
		if !strings.HasPrefix(err.Error(), "profile f.toml") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("malformed error %q", err)
		}
	})
}

// A site file overrides an embedded profile that was never parsed.
func TestSiteOverridesLazyBuiltin(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "mpich.toml"), []byte("description = \"site mpich\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(Roots{SiteDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := s.Get("mpich"); !ok || p.Description != "site mpich" {
		t.Fatalf("Get(mpich) = %+v, %v; want the site's", p, ok)
	}
	for _, l := range s.List() {
		if l.Name == "mpich" && (l.Source != filepath.Join(dir, "mpich.toml") || !slices.Equal(l.Overrides, []string{"builtin:mpich.toml"})) {
			t.Fatalf("List: %+v", l)
		}
		if l.Name == "ucx" && (l.Source != "builtin:ucx.toml" || l.Description == "") {
			t.Fatalf("List: %+v", l)
		}
	}
	ps, err := s.Select([]string{"ucx", "mpich"}, nil)
	if err != nil || len(ps) != 2 || ps[0].Name != "ucx" || ps[0].Source != "builtin:ucx.toml" || ps[1].Description != "site mpich" {
		t.Fatalf("Select = %+v, %v", ps, err)
	}
}
