package main

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/mpiwrap/plan"
)

func parse(t *testing.T, args ...string) (*plan.Spec, error) {
	t.Helper()
	var got *plan.Spec
	cmd := newRootCmd(cli{runF: func(s *plan.Spec) error { got = s; return nil }, cwd: "/work"})
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	return got, cmd.Execute()
}

func TestParseForms(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		image   string
		command []string
	}{
		{"bare", []string{"img", "./solver", "-x", "--y"}, "/work/img", []string{"./solver", "-x", "--y"}},
		{"bare with flags", []string{"-v", "--no-home", "/abs/img", "ls", "-la"}, "/abs/img", []string{"ls", "-la"}},
		{"run with --", []string{"run", "--no-cwd", "img", "--", "cmd", "-v"}, "/work/img", []string{"cmd", "-v"}},
		{"run without --", []string{"run", "img", "cmd"}, "/work/img", []string{"cmd"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := parse(t, tt.args...)
			if err != nil || spec == nil {
				t.Fatalf("parse: %v", err)
			}
			if spec.Image != tt.image || !slices.Equal(spec.Command, tt.command) {
				t.Fatalf("image %q command %q", spec.Image, spec.Command)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	spec, err := parse(t, "-b", "data:/d:ro", "--bind=/x", "--set-env", "A=1", "--unset-env", "B*",
		"--env-file", "e.env", "--set-env", "C=2", "--keep-ld-env", "--join-key", "k", "--join-size", "3",
		"img", "cmd")
	if err != nil {
		t.Fatal(err)
	}
	wantBinds := []plan.BindSpec{{Src: "/work/data", Dst: "/d", ReadOnly: true}, {Src: "/x", Dst: "/x"}}
	if !slices.Equal(spec.Binds, wantBinds) {
		t.Errorf("binds %+v", spec.Binds)
	}
	wantEnv := []plan.EnvEdit{{Op: "set", Name: "A", Value: "1"}, {Op: "unset", Name: "B*"},
		{Op: "file", Name: "/work/e.env"}, {Op: "set", Name: "C", Value: "2"}}
	if !slices.Equal(spec.EnvEdits, wantEnv) {
		t.Errorf("env edits %+v", spec.EnvEdits)
	}
	if !spec.KeepLDEnv || spec.JoinKey != "k" || spec.JoinSize != 3 {
		t.Errorf("spec %+v", spec)
	}
}

func TestParseNetFlags(t *testing.T) {
	spec, err := parse(t, "img", "cmd")
	if err != nil || spec.NoFabricHints || spec.Net != plan.NetHost || spec.Fabric != "" {
		t.Fatalf("defaults: %+v, %v", spec, err)
	}
	spec, err = parse(t, "--fabric", "ib0,mlx5_0", "--fabric-hints=off", "--net", "none", "img", "cmd")
	if err != nil || !spec.NoFabricHints || spec.Net != plan.NetNone || spec.Fabric != "ib0,mlx5_0" {
		t.Fatalf("spec %+v, %v", spec, err)
	}
	if spec, err = parse(t, "--fabric-hints", "img", "cmd"); err != nil || spec.NoFabricHints {
		t.Fatalf("--fabric-hints alone: %+v, %v", spec, err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--bogus", "img", "cmd"}, "unknown flag: --bogus (mpiwrap flags go before IMAGE"},
		{[]string{"-b", "a:rel", "img", "cmd"}, "must be absolute"},
		{[]string{"--set-env", "NOEQUALS", "img", "cmd"}, "want NAME=VALUE"},
		{[]string{"--join-size", "-1", "img", "cmd"}, "--join-size"},
		{[]string{"run"}, "requires at least 1 arg"},
		{[]string{"--net", "bridge", "img", "cmd"}, `bad --net "bridge": want host or none`},
		{[]string{"--fabric-hints=maybe", "img", "cmd"}, "want on or off"},
		{[]string{"--pmi", "pmix", "img", "cmd"}, `bad --pmi "pmix"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := parse(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParseRunForKeeper(t *testing.T) {
	spec, err := parseRun([]string{"mpiwrap", "--no-home", "img", "true"}, "/elsewhere")
	if err != nil || spec == nil || spec.Image != "/elsewhere/img" || !spec.NoHome {
		t.Fatalf("parseRun = %+v, %v", spec, err)
	}
	spec, err = parseRun([]string{"mpiwrap", "version"}, "/")
	if err != nil || spec != nil {
		t.Fatalf("parseRun(version) = %+v, %v; want nil spec", spec, err)
	}
}
