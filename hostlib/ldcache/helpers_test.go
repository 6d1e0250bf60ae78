package ldcache

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
)

// require skips the test when something it needs is absent, or fails it
// when MPIWRAP_TEST_REQUIRE=1 says every prerequisite must be present.
func require(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("MPIWRAP_TEST_REQUIRE") == "1" {
		t.Fatalf("requires %s", what)
	}
	t.Skipf("requires %s", what)
}

// ldconfigPath returns the host's ldconfig, skipping the test without it.
func ldconfigPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ldconfig")
	if err != nil {
		for _, c := range []string{"/sbin/ldconfig", "/usr/sbin/ldconfig"} {
			if _, e := os.Stat(c); e == nil {
				return c
			}
		}
	}
	require(t, err == nil, "ldconfig on the host")
	return p
}

// runLdconfig runs ldconfig with args and returns stdout.
func runLdconfig(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(ldconfigPath(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ldconfig %v: %v: %s", args, err, stderr.Bytes())
	}
	return out
}
