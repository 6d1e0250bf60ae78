package pmitest

import (
	"fmt"
	"os"
	"testing"

	"github.com/mpiwrap/mpiwrap/internal/testc"
)

// cprogs holds the C programs BuildC compiled, once per test binary.
var cprogs testc.Builder

// RunMain runs m's tests with a fresh directory for BuildC's programs,
// removes it, and returns the exit code for TestMain to os.Exit with.
func RunMain(m *testing.M, prefix string) int {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cprogs.Dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	return code
}

// BuildC compiles ../testdata/src with compiler (once per test binary)
// and returns the binary; RunMain must be running the tests.
func BuildC(t testing.TB, compiler, src string, extra ...string) string {
	t.Helper()
	return cprogs.Build(t, compiler, src, extra...)
}
