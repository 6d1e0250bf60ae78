package plan

import (
	"os"
	"path/filepath"
	"testing"
)

// LookPathInside runs inside a container, where the root is "/": here,
// the host's.
func TestLookPathInside(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "prog")
	os.WriteFile(prog, []byte("#!/bin/sh\n"), 0o755)
	os.Mkdir(filepath.Join(dir, "subdir"), 0o755)
	other := t.TempDir()
	tests := []struct {
		cmd, pathVar, cwd, want string
	}{
		{prog, "", "/", prog},
		{"./prog", "", dir, prog},
		{"../prog", "", filepath.Join(dir, "subdir"), prog},
		{"prog", other + ":" + dir, "/", prog},
		{"prog", "relative:" + other, dir, ""},       // relative PATH entries are skipped
		{"subdir", dir, "/", ""},                     // a directory is not a command
		{filepath.Join(dir, "missing"), "", "/", ""}, // a missing path
		{"missing", dir, "/", ""},
	}
	for _, tt := range tests {
		if got := LookPathInside(tt.cmd, tt.pathVar, tt.cwd); got != tt.want {
			t.Errorf("LookPathInside(%q, %q, %q) = %q, want %q", tt.cmd, tt.pathVar, tt.cwd, got, tt.want)
		}
	}
}
