package ldcache

import (
	"bytes"
	"os"
	"os/exec"
	"testing"

	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

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
	testreq.Require(t, err == nil, "ldconfig on the host")
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
