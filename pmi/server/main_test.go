package server_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/mpiwrap/mpiwrap/internal/testc"
)

// cprogs holds C programs compiled once per test binary run.
var cprogs testc.Builder

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pmi-server-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	cprogs.Dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildC compiles testdata/src with compiler (once) and returns the binary.
func buildC(t testing.TB, compiler, src string, extra ...string) string {
	t.Helper()
	return cprogs.Build(t, compiler, src, extra...)
}
