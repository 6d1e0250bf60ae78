package pmix

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

func TestFindHelper(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	if p, err := FindHelper(); err == nil {
		t.Fatalf("FindHelper found %s in an empty PATH", p)
	} else if !strings.Contains(err.Error(), "go build -o bin/mpiwrap-pmix") {
		t.Errorf("error does not say how to build it: %v", err)
	}
	want := filepath.Join(dir, HelperName)
	if err := os.WriteFile(want, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := FindHelper(); err != nil || p != want {
		t.Fatalf("FindHelper = %q, %v; want %q", p, err, want)
	}
}

// noPMIxEnv is this environment without a PMIx launcher's variables.
func noPMIxEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PMIX_") {
			env = append(env, kv)
		}
	}
	return env
}

// TestStartFailures runs the real helper where it cannot work: the
// errors must say why, and nothing may hang.
func TestStartFailures(t *testing.T) {
	helper := buildHelper(t)
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"no helper", Config{Helper: "/nonexistent/" + HelperName}, []string{"start PMIx helper /nonexistent/mpiwrap-pmix"}},
		{"no library", Config{Helper: helper, Libraries: []string{"libpmix-not-here.so.2"}, Env: noPMIxEnv()},
			[]string{"load libpmix", "libpmix-not-here.so.2"}},
		{"not a PMIx library", Config{Helper: helper, Libraries: []string{"libc.so.6"}, Env: noPMIxEnv()},
			[]string{"has no symbol PMIx_Init"}},
		{"helper dies", Config{Helper: script(t, "exit 3")}, []string{"before saying hello", "exit status 3"}},
		{"helper silent", Config{Helper: script(t, "exec sleep 60")}, []string{"no answer", "deadline exceeded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			start := time.Now()
			up, err := Start(ctx, tt.cfg)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Start took %v", d)
			}
			if err == nil {
				up.Close()
				t.Fatal("Start succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Start = %v, want %q in it", err, w)
				}
			}
		})
	}
}

// script writes an executable shell script.
func script(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), HelperName)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStartNoLauncher: with libpmix but no PMIx server, PMIx_Init fails
// and the error reaches the caller.
func TestStartNoLauncher(t *testing.T) {
	helper := buildHelper(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	up, err := Start(ctx, Config{Helper: helper, Env: noPMIxEnv(), Stderr: &stderr})
	if err == nil {
		up.Close()
		t.Fatal("Start succeeded without a PMIx server")
	}
	testreq.Require(t, !strings.Contains(err.Error(), "load libpmix"), "libpmix is not installed: "+err.Error())
	t.Logf("Start without a launcher: %v", err)
	if !strings.Contains(err.Error(), "PMIx_Init") {
		t.Fatalf("Start = %v, want a PMIx_Init failure\nhelper stderr: %s", err, stderr.String())
	}
}
