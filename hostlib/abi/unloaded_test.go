package abi

import (
	"strings"
	"testing"
)

// What a library the command will not load lacks is a note, not a
// refusal; what a loaded one lacks still refuses. Lacks tells a library
// the image has none of (absent) from a version its copy lacks.
func TestCheckBaseLibrariesUnloaded(t *testing.T) {
	mpich := hostObject(t, "libmpich.so.12")
	cxx := hostObject(t, "libmpichcxx.so.12")
	zlib := hostObject(t, "libz.so.1")
	tests := []struct {
		name     string
		bullseye bool // glibc 2.31's libc.so.6; else the image has no libc.so.6 either
		injected []Injected
		want     Verdict
		refusal  string   // prefix of the first message
		notes    []string // the Unloaded messages, in order
	}{
		{"unloaded C++ binding in an image without libstdc++", true, []Injected{
			{Object: zlib, Path: zlib.Path, Profile: "z", Explicit: true},
			{Object: cxx, Path: cxx.Path, Profile: "mpich", Explicit: true, Unloaded: true}}, OK, "",
			[]string{"hostlib: " + cxx.Path + " injected, needs libstdc++.so.6 the image lacks"}},
		{"unloaded MPI on old glibc", true, []Injected{
			{Object: mpich, Path: mpich.Path, Profile: "mpich", Explicit: true, Unloaded: true}}, OK, "",
			[]string{"hostlib: " + mpich.Path + " injected, needs GLIBC_2.34 the image lacks"}},
		{"loaded MPI on old glibc still refuses", true, []Injected{
			{Object: mpich, Path: mpich.Path, Profile: "mpich", Explicit: true},
			{Object: cxx, Path: cxx.Path, Profile: "mpich", Explicit: true, Unloaded: true}}, Refuse,
			"hostlib: " + mpich.Path + " needs GLIBC_2.34 but the image's libc.so.6 provides up to GLIBC_2.31; use an image with glibc >= 2.34 or drop profile mpich",
			[]string{"hostlib: " + cxx.Path + " injected, needs libstdc++.so.6 the image lacks"}},
		{"loaded library in an image without libc", false, []Injected{
			{Object: zlib, Path: zlib.Path, Profile: "z"}}, Refuse,
			"hostlib: " + zlib.Path + " needs libc.so.6 (GLIBC_2.14) but the image has no libc.so.6", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			im := newImage(t)
			if tc.bullseye {
				bullseyeBase(t, im)
			}
			res, err := CheckBaseLibraries(tc.injected, im.resolver())
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != tc.want {
				t.Fatalf("verdict %s, messages %q", res.Verdict, res.Messages)
			}
			if tc.refusal != "" && (len(res.Messages) == 0 || !strings.HasPrefix(res.Messages[0], tc.refusal)) {
				t.Fatalf("messages %q\nwant the first to start %q", res.Messages, tc.refusal)
			}
			var notes []string
			for _, u := range res.Unloaded {
				notes = append(notes, u.Message)
			}
			if strings.Join(notes, "\n") != strings.Join(tc.notes, "\n") {
				t.Fatalf("notes\n got %q\nwant %q", notes, tc.notes)
			}
			rep := Report{Base: res}
			if len(rep.Notes()) != len(tc.notes) || (rep.Err() != nil) != (tc.want == Refuse) {
				t.Fatalf("report notes %q, error %v", rep.Notes(), rep.Err())
			}
		})
	}
}

func TestLacks(t *testing.T) {
	mpich := hostObject(t, "libmpich.so.12")
	cxx := hostObject(t, "libmpichcxx.so.12")
	im := newImage(t)
	bullseyeBase(t, im)
	m := Injected{Object: mpich, Path: mpich.Path, Profile: "mpich"}
	c := Injected{Object: cxx, Path: cxx.Path, Profile: "mpich"}
	base := NewBaseImage([]Injected{m, c}, im.resolver())
	lacks, err := base.Lacks(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(lacks) != 1 || lacks[0].Soname != "libc.so.6" || lacks[0].Absent || lacks[0].What() != "GLIBC_2.34" ||
		lacks[0].Text != mpich.Path+" needs GLIBC_2.34 but the image's libc.so.6 provides up to GLIBC_2.31" {
		t.Errorf("libmpich lacks %+v, want GLIBC_2.34 from the image's libc.so.6", lacks)
	}
	// libmpichcxx needs libmpich (injected: not needed from the image)
	// and libstdc++, which the image has none of.
	lacks, err = base.Lacks(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(lacks) != 1 || lacks[0].Soname != "libstdc++.so.6" || !lacks[0].Absent || lacks[0].What() != "libstdc++.so.6" ||
		!strings.HasPrefix(lacks[0].Text, cxx.Path+" needs libstdc++.so.6 (") || !strings.HasSuffix(lacks[0].Text, ") but the image has no libstdc++.so.6") {
		t.Errorf("libmpichcxx lacks %+v, want libstdc++.so.6, absent", lacks)
	}
}
