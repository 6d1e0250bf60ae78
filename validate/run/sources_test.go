package run

import (
	"bytes"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"testing"
)

// The embedded sources are copies of ci/progs (go generate makes them):
// a copy that differs would make validate build other programs than the
// CI images hold.
func TestSourcesMatchCIProgs(t *testing.T) {
	names, err := fs.Glob(sources, "csrc/*")
	if err != nil || len(names) == 0 {
		t.Fatalf("no embedded sources: %v", err)
	}
	for _, n := range names {
		want, err := os.ReadFile(filepath.Join("..", "..", "ci", "progs", path.Base(n)))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := sources.ReadFile(n)
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from ci/progs/%s: run go generate ./validate/run", n, path.Base(n))
		}
	}
	// Every program validate builds has its source.
	for _, p := range programsToBuild {
		if _, err := sources.ReadFile("csrc/" + p + ".c"); err != nil {
			t.Errorf("no source for %s: %v", p, err)
		}
	}
}
