package elfdeps

import (
	"debug/elf"
	"slices"
	"testing"
)

// TestVersionSectionsMatchDebugElf compares our .gnu.version_r and
// .gnu.version_d readers with debug/elf's on real host libraries.
func TestVersionSectionsMatchDebugElf(t *testing.T) {
	r := hostResolver(t)
	for _, soname := range []string{"libc.so.6", "libstdc++.so.6", "libmpich.so.12", "libucp.so.0", "libgcc_s.so.1"} {
		t.Run(soname, func(t *testing.T) {
			f, err := elf.Open(hostLib(t, r, soname))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			needs, err := f.DynamicVersionNeeds()
			if err != nil {
				t.Fatal(err)
			}
			var want []VersionNeed
			for _, n := range needs {
				vn := VersionNeed{File: n.Name}
				for _, d := range n.Needs {
					if d.Flags&elf.VER_FLG_WEAK != 0 {
						vn.Weak = append(vn.Weak, d.Dep)
					} else {
						vn.Versions = append(vn.Versions, d.Dep)
					}
				}
				want = append(want, vn)
			}
			got := versionNeeds(f)
			if !slices.EqualFunc(got, want, func(a, b VersionNeed) bool {
				return a.File == b.File && slices.Equal(a.Versions, b.Versions) && slices.Equal(a.Weak, b.Weak)
			}) {
				t.Fatalf("needs\n got: %+v\nwant: %+v", got, want)
			}
			defs, err := f.DynamicVersions()
			if err != nil && soname != "libmpich.so.12" && soname != "libucp.so.0" {
				t.Fatal(err)
			}
			var wantDefs []string
			for _, d := range defs {
				if d.Flags&elf.VER_FLG_BASE == 0 {
					wantDefs = append(wantDefs, d.Name)
				}
			}
			if got := versionDefs(f); !slices.Equal(got, wantDefs) {
				t.Fatalf("defs\n got: %v\nwant: %v", got, wantDefs)
			}
		})
	}
}
