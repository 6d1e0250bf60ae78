package profile

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestApplyEnv(t *testing.T) {
	set := func(n, v string) EnvEdit { return EnvEdit{Op: EnvSet, Name: n, Value: v} }
	pre := func(n, v string) EnvEdit { return EnvEdit{Op: EnvPrepend, Name: n, Value: v, Separator: ":"} }
	app := func(n, v string) EnvEdit { return EnvEdit{Op: EnvAppend, Name: n, Value: v, Separator: ":"} }
	def := func(n, v string) EnvEdit { return EnvEdit{Op: EnvDefault, Name: n, Value: v} }
	unset := func(n string) EnvEdit { return EnvEdit{Op: EnvUnset, Name: n} }
	tests := []struct {
		name  string
		env   []string
		edits []EnvEdit
		want  []string
	}{
		{"set new", []string{"A=1"}, []EnvEdit{set("B", "2")}, []string{"A=1", "B=2"}},
		{"set keeps position", []string{"A=1", "B=2"}, []EnvEdit{set("A", "9")}, []string{"A=9", "B=2"}},
		{"prepend", []string{"P=/b"}, []EnvEdit{pre("P", "/a")}, []string{"P=/a:/b"}},
		{"prepend unset", nil, []EnvEdit{pre("P", "/a")}, []string{"P=/a"}},
		{"prepend empty", []string{"P="}, []EnvEdit{pre("P", "/a")}, []string{"P=/a"}},
		{"append", []string{"P=/a"}, []EnvEdit{app("P", "/b")}, []string{"P=/a:/b"}},
		{"custom separator", []string{"L=a"}, []EnvEdit{{Op: EnvAppend, Name: "L", Value: "b", Separator: ","}}, []string{"L=a,b"}},
		{"unset", []string{"A=1", "B=2"}, []EnvEdit{unset("A")}, []string{"B=2"}},
		{"unset absent", []string{"B=2"}, []EnvEdit{unset("A")}, []string{"B=2"}},
		{"default when unset", nil, []EnvEdit{def("D", "1")}, []string{"D=1"}},
		{"default keeps value", []string{"D=0"}, []EnvEdit{def("D", "1")}, []string{"D=0"}},
		{"default keeps empty value", []string{"D="}, []EnvEdit{def("D", "1")}, []string{"D="}},
		// Order: each edit sees the previous ones.
		{"set then default", nil, []EnvEdit{set("X", "a"), def("X", "b")}, []string{"X=a"}},
		{"default then set", nil, []EnvEdit{def("X", "b"), set("X", "a")}, []string{"X=a"}},
		{"unset then default", []string{"X=old"}, []EnvEdit{unset("X"), def("X", "new")}, []string{"X=new"}},
		{"prepend twice", []string{"P=c"}, []EnvEdit{pre("P", "b"), pre("P", "a")}, []string{"P=a:b:c"}},
		{"duplicate entries use last", []string{"A=1", "A=2"}, []EnvEdit{app("A", "3")}, []string{"A=1", "A=2:3"}},
		{"prefix is not a match", []string{"AB=1"}, []EnvEdit{set("A", "2")}, []string{"AB=1", "A=2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.env)
			got := ApplyEnv(tc.env, tc.edits)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("ApplyEnv = %q, want %q", got, tc.want)
			}
			if !slices.Equal(tc.env, in) {
				t.Fatal("ApplyEnv modified its input")
			}
		})
	}
}

// TestEnvOrderAcrossProfiles checks that Resolve keeps profile order
// (selection order) and file order within a profile.
func TestEnvOrderAcrossProfiles(t *testing.T) {
	host, err := NewHost("/")
	if err != nil {
		t.Fatal(err)
	}
	a := mustParse(t, "a", "[[env]]\nop = \"default\"\nname = \"V\"\nvalue = \"a1\"\n\n[[env]]\nop = \"append\"\nname = \"L\"\nvalue = \"a\"\n")
	b := mustParse(t, "b", "[[env]]\nop = \"set\"\nname = \"V\"\nvalue = \"b1\"\n\n[[env]]\nop = \"append\"\nname = \"L\"\nvalue = \"b\"\n")
	for _, tc := range []struct {
		order []*Profile
		want  []string
	}{
		{[]*Profile{a, b}, []string{"L=0:a:b", "V=b1"}},
		{[]*Profile{b, a}, []string{"L=0:b:a", "V=b1"}},
	} {
		res, err := Resolve(tc.order, host, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got := ApplyEnv([]string{"L=0"}, res.Env)
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("order %s then %s: env %q, want %q", tc.order[0].Name, tc.order[1].Name, got, tc.want)
		}
	}
}

func TestRenderList(t *testing.T) {
	var b bytes.Buffer
	err := RenderList(&b, []Listing{
		{Name: "mpich", Source: "/etc/mpiwrap/profiles.d/mpich.toml", Default: true, Overrides: []string{"builtin:mpich.toml"}, Description: "d"},
		{Name: "verbs", Source: "builtin:verbs.toml"},
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") ||
		!strings.Contains(lines[1], "yes") || !strings.Contains(lines[1], "(overrides builtin:mpich.toml)") ||
		!strings.Contains(lines[2], " no ") {
		t.Fatalf("list:\n%s", b.String())
	}
}
