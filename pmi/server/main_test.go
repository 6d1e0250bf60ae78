package server_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

// buildDir holds C programs compiled once per test binary run.
var buildDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pmi-server-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// buildC compiles testdata/src with compiler (once) and returns the binary.
func buildC(t testing.TB, compiler, src string, extra ...string) string {
	t.Helper()
	_, err := exec.LookPath(compiler)
	testreq.Require(t, err == nil, compiler+" is not installed")
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := built[src]; ok {
		return bin
	}
	bin := filepath.Join(buildDir, src[:len(src)-2])
	args := append([]string{"-o", bin, filepath.Join("..", "testdata", src)}, extra...)
	out, err := exec.Command(compiler, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("compile %s with %s: %v\n%s", src, compiler, err, out)
	}
	built[src] = bin
	return bin
}
