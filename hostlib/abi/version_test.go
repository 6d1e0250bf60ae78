package abi

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
)

func TestParseSoVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		parts   int
		wantErr bool
	}{
		{"libmpich.so.12.2.2", "12.2.2", 3, false},
		{"/usr/lib/x86_64-linux-gnu/libmpich.so.12.1.10", "12.1.10", 3, false},
		{"libmpi.so.40.30.4", "40.30.4", 3, false},
		{"libmpi.so.12", "12.0.0", 1, false},
		{"libmpi.so.12.5", "12.5.0", 2, false},
		{"libmpi_gnu_123.so.12.0.0", "12.0.0", 3, false},
		{"libmpi.so.12.3.4.5", "12.3.4", 3, false},
		{"libfoo.so.1.2.debug", "1.2.0", 2, false},
		{"libmpi.so", "", 0, true},
		{"libmpi.so.x", "", 0, true},
		{"mpi", "", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			v, err := ParseSoVersion(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseSoVersion = %v, want error", v)
				}
				return
			}
			if err != nil || v.String() != tc.want || v.Parts != tc.parts {
				t.Fatalf("ParseSoVersion = %v (parts %d), %v; want %s (parts %d)", v, v.Parts, err, tc.want, tc.parts)
			}
		})
	}
}

func TestSymVersion(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"GLIBC_2.34", "GLIBC_2.31", 1},
		{"GLIBC_2.9", "GLIBC_2.10", -1},
		{"GLIBC_2.2.5", "GLIBC_2.2", 1},
		{"GLIBC_2.2.5", "GLIBC_2.2.5", 0},
		{"GLIBCXX_3.4.30", "GLIBCXX_3.4.9", 1},
		{"CXXABI_1.3.13", "CXXABI_1.3", 1},
	}
	for _, tc := range tests {
		t.Run(tc.a+" vs "+tc.b, func(t *testing.T) {
			a, b := ParseSymVersion(tc.a), ParseSymVersion(tc.b)
			if a.Prefix != b.Prefix || !a.Numeric() {
				t.Fatalf("prefixes %q %q", a.Prefix, b.Prefix)
			}
			if got := a.Compare(b); got != tc.want {
				t.Fatalf("Compare = %d, want %d", got, tc.want)
			}
		})
	}
	if v := ParseSymVersion("GLIBC_PRIVATE"); v.Numeric() || v.Prefix != "GLIBC_PRIVATE" {
		t.Errorf("GLIBC_PRIVATE parsed as %+v", v)
	}
	names := []string{"GLIBC_2.2.5", "GLIBC_PRIVATE", "GLIBC_2.34", "GLIBC_2.4", "GLIBCXX_3.4.30", "GLIBC_2.10"}
	if got := Highest("GLIBC", names); got != "GLIBC_2.34" {
		t.Errorf("Highest = %q", got)
	}
	if got := Highest("GCC", names); got != "" {
		t.Errorf("Highest(GCC) = %q", got)
	}
}

func TestParseFamilyPolicy(t *testing.T) {
	for _, s := range []string{"", "mpich", "openmpi", "none"} {
		if _, err := ParseFamily(s); err != nil {
			t.Errorf("ParseFamily(%q): %v", s, err)
		}
	}
	if _, err := ParseFamily("MPICH"); err == nil {
		t.Error("ParseFamily accepted MPICH")
	}
	if p, err := ParsePolicy(""); err != nil || p != PolicyWarn {
		t.Errorf("default policy %q, %v", p, err)
	}
	if _, err := ParsePolicy("full"); err == nil {
		t.Error("ParsePolicy accepted full")
	}
}

func TestGlibcRelease(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return "/" + name
	}
	tests := []struct {
		name, path, want string
	}{
		{"file name", write("libc-2.31.so", "\x7fELF"), "2.31"},
		{"banner", write("libc.so.6", "\x00GNU C Library (Debian GLIBC 2.36-9+deb12u14) stable release version 2.36.\x00"), "2.36"},
		{"neither", write("libc.so.7", "nothing here"), ""},
		{"missing", "/absent", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := glibcRelease(elfdeps.Root(dir), tc.path); got != tc.want {
				t.Fatalf("glibcRelease = %q, want %q", got, tc.want)
			}
		})
	}
}
