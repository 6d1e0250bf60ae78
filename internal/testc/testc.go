// Package testc compiles the C test programs of a package's testdata once
// per test binary, for tests that need real MPI or PMI programs.
package testc

import (
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

// Builder compiles into Dir; the zero Dir is not usable.
type Builder struct {
	Dir   string
	mu    sync.Mutex
	built map[string]string
}

// Build compiles src (a file in ../testdata) with compiler and extra flags,
// once, and returns the binary. A missing compiler is a missing
// requirement (testreq).
func (b *Builder) Build(t testing.TB, compiler, src string, extra ...string) string {
	t.Helper()
	_, err := exec.LookPath(compiler)
	testreq.Require(t, err == nil, compiler+" is not installed")
	b.mu.Lock()
	defer b.mu.Unlock()
	if bin, ok := b.built[src]; ok {
		return bin
	}
	bin := filepath.Join(b.Dir, strings.TrimSuffix(src, ".c"))
	args := append([]string{"-o", bin, filepath.Join("..", "testdata", src)}, extra...)
	if out, err := exec.Command(compiler, args...).CombinedOutput(); err != nil {
		t.Fatalf("compile %s with %s: %v\n%s", src, compiler, err, out)
	}
	if b.built == nil {
		b.built = map[string]string{}
	}
	b.built[src] = bin
	return bin
}
