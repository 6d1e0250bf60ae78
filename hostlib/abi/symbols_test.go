package abi

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fooLibs are builds of libfoo.so.1 and a program linked against one.
type fooLibs struct {
	img, imgV, hostFull, hostOld, hostOldV string
	prog                                   func(lib string) string
}

// buildFoo compiles image and host variants of libfoo.so.1: the image's
// defines foo_a and foo_b (imgV with symbol versions FOO_1 and FOO_2),
// the host ones lack foo_b or FOO_2.
func buildFoo(t *testing.T) fooLibs {
	build := t.TempDir()
	mapFile := func(name, body string) string {
		p := filepath.Join(build, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	lib := func(out, src string, extra ...string) string {
		return cc(t, build, out, src, append([]string{"-shared", "-fPIC", "-Wl,-soname,libfoo.so.1"}, extra...)...)
	}
	progs := map[string]string{}
	return fooLibs{
		img: lib("img-libfoo.so.1", "int foo_a(void){return 1;} int foo_b(void){return 2;} int foo_c(void){return 3;}"),
		imgV: lib("img-libfoo-v.so.1", "int foo_a(void){return 1;} int foo_b(void){return 2;}",
			"-Wl,--version-script,"+mapFile("v2.map", "FOO_1 { global: foo_a; local: *; }; FOO_2 { global: foo_b; } FOO_1;")),
		hostFull: lib("host-full.so", "int foo_a(void){return 1;} int foo_b(void){return 2;}"),
		hostOld:  lib("host-old.so", "int foo_a(void){return 1;}"),
		hostOldV: lib("host-old-v.so", "int foo_a(void){return 1;}",
			"-Wl,--version-script,"+mapFile("v1.map", "FOO_1 { global: foo_a; local: *; };")),
		prog: func(libPath string) string {
			if p, ok := progs[libPath]; ok {
				return p
			}
			dir := filepath.Join(build, filepath.Base(libPath)+".d")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(libPath, filepath.Join(dir, "libfoo.so")); err != nil {
				t.Fatal(err)
			}
			progs[libPath] = cc(t, dir, "prog", "int foo_a(void); int foo_b(void); int main(void){return foo_a()+foo_b();}", "-L"+dir, "-lfoo")
			return progs[libPath]
		},
	}
}

// TestCheckSymbols checks host builds of libfoo against an image program
// that uses foo_a and foo_b.
func TestCheckSymbols(t *testing.T) {
	foo := buildFoo(t)
	imgLib, imgLibV, prog := foo.img, foo.imgV, foo.prog
	hostFull, hostOld, hostOldV := foo.hostFull, foo.hostOld, foo.hostOldV
	tests := []struct {
		name, imgLib, host string
		want               Verdict
		missing, versions  []string
	}{
		{"host has all", imgLib, hostFull, OK, nil, nil},
		{"host lacks foo_b", imgLib, hostOld, Refuse, []string{"foo_b"}, nil},
		{"host lacks version", imgLibV, hostOldV, Refuse, []string{"foo_b@FOO_2"}, []string{"FOO_2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			im := newImage(t)
			im.lib(tc.imgLib, "libfoo.so.1", "")
			im.lib(prog(tc.imgLib), "prog", "")
			res, err := CheckSymbols(SymbolCheck{
				Binaries: []string{"/usr/lib/prog"},
				Image:    im.resolver(),
				Host:     "/",
				Replaced: []Replacement{{Soname: "libfoo.so.1", HostPath: tc.host}, {Soname: "libunused.so.1", HostPath: tc.host}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != 1 {
				t.Fatalf("results %+v, want one for libfoo.so.1", res)
			}
			r := res[0]
			if r.Verdict != tc.want || !slices.Equal(r.Missing, tc.missing) || !slices.Equal(r.MissingVersions, tc.versions) {
				t.Fatalf("result %+v", r)
			}
			if tc.want == Refuse && !strings.Contains(r.Message, "lacks what the image's programs use from libfoo.so.1") {
				t.Fatalf("message %q", r.Message)
			}
		})
	}
}

func TestCheckSymbolsSkipsScripts(t *testing.T) {
	im := newImage(t)
	if err := os.MkdirAll(filepath.Join(im.root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(im.root, "bin/run.sh"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := CheckSymbols(SymbolCheck{Binaries: []string{"/bin/run.sh"}, Image: im.resolver(), Host: "/",
		Replaced: []Replacement{{Soname: "libx.so.1", HostPath: "/nonexistent"}}})
	if err != nil || len(res) != 0 {
		t.Fatalf("res %+v err %v", res, err)
	}
	_, err = CheckSymbols(SymbolCheck{Binaries: []string{"/bin/missing"}, Image: im.resolver(), Host: "/"})
	if err == nil {
		t.Fatal("a missing binary was accepted")
	}
}
