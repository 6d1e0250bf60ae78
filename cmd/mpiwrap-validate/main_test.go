package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/validate"
)

func TestParse(t *testing.T) {
	var errs strings.Builder
	o, code := parse([]string{"--reps", "3", "--profile", "mpich", "img"}, &errs)
	if code != -1 || o.Reps != 3 || !filepath.IsAbs(o.Image) || strings.Join(o.MpiwrapArgs, " ") != "--profile=mpich" {
		t.Fatalf("parse: %+v, code %d: %s", o, code, errs.String())
	}
	// What mpiwrap validate passes: its options as JSON.
	want := validate.Defaults()
	want.Image, want.Reps, want.Benches = "/img", 7, []string{"latency"}
	data, _ := json.Marshal(&want)
	o, code = parse([]string{"--options-json=" + string(data)}, &errs)
	if code != -1 || o.Image != "/img" || o.Reps != 7 || strings.Join(o.Benches, ",") != "latency" {
		t.Fatalf("parse JSON: %+v, code %d: %s", o, code, errs.String())
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--help"}, 0, "usage: mpiwrap-validate"},
		{[]string{}, 2, "want one IMAGE"},
		{[]string{"a", "b"}, 2, "want one IMAGE, got 2"},
		{[]string{"--nope", "img"}, 2, "unknown flag"},
		{[]string{"--options-json={", "img"}, 2, "--options-json"},
		{[]string{"--reps", "0", "img"}, 2, "--reps 0"},
		{[]string{"--json", filepath.Join(t.TempDir(), "no", "v.json"), "img"}, 2, "no directory"},
	} {
		var errs strings.Builder
		_, code := parse(c.args, &errs)
		if code != c.code || !strings.Contains(errs.String(), c.want) {
			t.Errorf("%q: code %d, stderr %q; want %d and %q", c.args, code, errs.String(), c.code, c.want)
		}
	}
}

func TestMainSetupError(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	js := filepath.Join(dir, "v.json")
	var out strings.Builder
	code := mainWith([]string{"--progress", "off", "--json", js, filepath.Join(dir, "no-image")}, &out, f)
	data, _ := os.ReadFile(f.Name())
	if code != 2 || !strings.Contains(string(data), "mpiwrap validate: error: image:") {
		t.Fatalf("code %d, stderr %q", code, data)
	}
	// The JSON says why, for a site's script.
	var rep struct {
		Verdict  string `json:"verdict"`
		ExitCode int    `json:"exit_code"`
		Error    string `json:"error"`
	}
	js2, err := os.ReadFile(js)
	if err != nil || json.Unmarshal(js2, &rep) != nil || rep.Verdict != "ERROR" || rep.ExitCode != 2 || !strings.Contains(rep.Error, "image") {
		t.Fatalf("JSON %s (%v)", js2, err)
	}
}
