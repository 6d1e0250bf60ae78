package ldcache

import (
	"slices"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse. Whatever parses must survive
// a Marshal/Parse round trip unchanged.
func FuzzParse(f *testing.F) {
	f.Add([]byte(magicOld + "\x00\x00\x00\x00\x00"))
	f.Add([]byte{})
	seed, err := (&Cache{Entries: []Entry{
		{Key: "libz.so.1", Value: "/lib/libz.so.1", Flags: FlagsX8664Libc6},
		hw("libz.so.1", "/lib/glibc-hwcaps/x86-64-v2/libz.so.1", "x86-64-v2"),
	}}).Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		out, err := c.Marshal()
		if err != nil {
			return // e.g. an extension entry whose name is empty
		}
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parse of marshalled cache: %v", err)
		}
		if !slices.Equal(back.Entries, c.Entries) {
			t.Fatalf("round trip changed entries")
		}
	})
}
