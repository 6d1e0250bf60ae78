package ldcache

import (
	"slices"
	"testing"
)

func sign(i int) int {
	switch {
	case i < 0:
		return -1
	case i > 0:
		return 1
	}
	return 0
}

func TestLibCmp(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"libc.so.6", "libc.so.6", 0},
		{"libfoo.so.10", "libfoo.so.9", 1},
		{"libfoo.so.9", "libfoo.so.10", -1},
		{"libfoo.so.09", "libfoo.so.9", 0}, // numeric, leading zeros ignored
		{"libfoo.so.1", "libfoo.so", 1},
		{"libfoo.so", "libfoo.so.1", -1},
		{"lib1", "liba", 1}, // digits sort after letters
		{"liba", "lib1", -1},
		{"libA", "liba", -1},
		{"", "", 0},
		{"", "a", -1},
		{"a", "", 1},
		{"libx.so.4294967296", "libx.so.0", 0}, // wraps at 32 bits like C int
	}
	for _, tc := range tests {
		t.Run(tc.a+" vs "+tc.b, func(t *testing.T) {
			if got := sign(LibCmp(tc.a, tc.b)); got != tc.want {
				t.Fatalf("LibCmp = %d, want %d", got, tc.want)
			}
			if got := sign(LibCmp(tc.b, tc.a)); got != -tc.want {
				t.Fatalf("reverse LibCmp = %d, want %d", got, -tc.want)
			}
		})
	}
}

// TestHostCacheIsSorted checks our comparator agrees with ldconfig's
// order on every adjacent pair of the host cache.
func TestHostCacheIsSorted(t *testing.T) {
	c := hostCacheOrSkip(t)
	for i := 1; i < len(c.Entries); i++ {
		if Compare(c.Entries[i-1], c.Entries[i]) > 0 {
			t.Fatalf("entries %d (%s) and %d (%s) out of order", i-1, c.Entries[i-1].Key, i, c.Entries[i].Key)
		}
	}
	sorted := slices.Clone(c.Entries)
	Sort(sorted)
	if !slices.Equal(sorted, c.Entries) {
		t.Fatal("Sort changed the order of an ldconfig-written cache")
	}
}

func e(key, value string, flags int32) Entry { return Entry{Key: key, Value: value, Flags: flags} }

func hw(key, value, subdir string) Entry {
	return Entry{Key: key, Value: value, Flags: FlagsX8664Libc6, HWCap: hwcapExtension, HWCapsSubdir: subdir}
}

func TestMergeAndLookup(t *testing.T) {
	const x64, i386 = FlagsX8664Libc6, FlagELFLibc6
	image := &Cache{Entries: []Entry{
		hw("libucp.so.0", "/usr/lib/glibc-hwcaps/x86-64-v3/libucp.so.0.0.0", "x86-64-v3"),
		e("libucp.so.0", "/usr/lib/libucp.so.0", x64),
		e("libucp.so.0", "/usr/lib32/libucp.so.0", i386),
		e("libmpich.so.12", "/usr/lib/libmpich.so.12", x64),
		e("libm.so.6", "/usr/lib/libm.so.6", x64),
		e("libc.so.6", "/usr/lib/libc.so.6", x64),
	}}
	Sort(image.Entries)
	injected := []Entry{
		e("libmpich.so.12", "/.mpiwrap/lib/libmpich.so.12", x64),
		e("libucp.so.0", "/.mpiwrap/lib/libucp.so.0", x64),
		e("libnew.so.1", "/.mpiwrap/lib/libnew.so.1", x64),
	}
	merged := &Cache{Entries: Merge(injected, image)}
	tests := []struct {
		name, want string
		opt        LookupOptions
	}{
		{"libmpich.so.12", "/.mpiwrap/lib/libmpich.so.12", LookupOptions{Flags: x64}},
		{"libucp.so.0", "/.mpiwrap/lib/libucp.so.0", LookupOptions{Flags: x64}},
		{"libucp.so.0", "/.mpiwrap/lib/libucp.so.0", LookupOptions{Flags: x64, HWCaps: []string{"x86-64-v3"}}},
		{"libucp.so.0", "/usr/lib32/libucp.so.0", LookupOptions{Flags: i386}},
		{"libnew.so.1", "/.mpiwrap/lib/libnew.so.1", LookupOptions{Flags: x64}},
		{"libc.so.6", "/usr/lib/libc.so.6", LookupOptions{Flags: x64}},
		{"libmissing.so.1", "", LookupOptions{Flags: x64}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := merged.Lookup(tc.name, tc.opt)
			if got.Value != tc.want || ok != (tc.want != "") {
				t.Fatalf("Lookup = %q, %v; want %q", got.Value, ok, tc.want)
			}
		})
	}
	// Without the merge, the image's glibc-hwcaps copy would win on a v3 CPU.
	if got, _ := image.Lookup("libucp.so.0", LookupOptions{Flags: x64, HWCaps: []string{"x86-64-v3"}}); got.HWCapsSubdir != "x86-64-v3" {
		t.Fatalf("image lookup = %+v, want the hwcaps entry", got)
	}
	data, err := merged.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(data)
	if err != nil || !slices.Equal(back.Entries, merged.Entries) {
		t.Fatalf("merged cache does not round-trip: %v", err)
	}
}

func TestFlagsString(t *testing.T) {
	tests := []struct {
		flags int32
		want  string
	}{
		{FlagsX8664Libc6, "libc6,x86-64"},
		{FlagELFLibc6, "libc6"},
		{FlagsAArch64Libc6, "libc6,AArch64"},
		{FlagELF, "ELF"},
		{0x7f, "unknown"},
		{FlagLArchFloatABIDouble | FlagELFLibc6, "libc6,4608"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := FlagsString(tc.flags); got != tc.want {
				t.Fatalf("FlagsString(%#x) = %q, want %q", tc.flags, got, tc.want)
			}
		})
	}
}
