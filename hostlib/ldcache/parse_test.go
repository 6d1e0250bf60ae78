package ldcache

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

const hostCache = "/etc/ld.so.cache"

func hostCacheOrSkip(t *testing.T) *Cache {
	t.Helper()
	_, err := os.Stat(hostCache)
	testreq.Require(t, err == nil, "a host "+hostCache)
	c, err := ParseFile(hostCache)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestParseMatchesLdconfigP renders the parsed host cache in ldconfig's
// listing format and requires byte equality with `ldconfig -p`.
func TestParseMatchesLdconfigP(t *testing.T) {
	c := hostCacheOrSkip(t)
	want := runLdconfig(t, "-p", "-C", hostCache)
	var got bytes.Buffer
	if err := c.WriteText(&got, hostCache); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("listing differs from ldconfig -p:\n%s", firstDiff(got.String(), string(want)))
	}
	if len(c.Entries) == 0 {
		t.Fatal("host cache parsed to zero entries")
	}
}

// TestParseFormats has ldconfig write old, compat and new caches of the
// same configuration and checks that all three parse to what it prints.
func TestParseFormats(t *testing.T) {
	ldconfigPath(t)
	for _, format := range []string{"new", "compat", "old"} {
		t.Run(format, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "ld.so.cache")
			runLdconfig(t, "-X", "-c", format, "-C", file)
			c, err := ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			wantFormat := map[string]Format{"new": FormatNew, "compat": FormatCompat, "old": FormatOld}[format]
			if c.Format != wantFormat {
				t.Errorf("format = %v, want %v", c.Format, wantFormat)
			}
			want := runLdconfig(t, "-p", "-C", file)
			var got bytes.Buffer
			if err := c.WriteText(&got, file); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("listing differs:\n%s", firstDiff(got.String(), string(want)))
			}
		})
	}
}

// TestMarshalRoundTrip writes the host cache again and checks both our
// parser and ldconfig -p read back the same entries.
func TestMarshalRoundTrip(t *testing.T) {
	c := hostCacheOrSkip(t)
	data, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.Entries, c.Entries) || back.Generator != c.Generator {
		t.Fatal("round trip changed the entries")
	}
	file := filepath.Join(t.TempDir(), "cache")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	got := runLdconfig(t, "-p", "-C", file)
	want := runLdconfig(t, "-p", "-C", hostCache)
	got = bytes.Replace(got, []byte(file), []byte(hostCache), 1)
	if !bytes.Equal(got, want) {
		t.Fatalf("ldconfig -p of our file differs:\n%s", firstDiff(string(got), string(want)))
	}
}

func TestParseErrors(t *testing.T) {
	good := mustMarshal(t, &Cache{Entries: []Entry{{Key: "libx.so.1", Value: "/l/libx.so.1", Flags: FlagsX8664Libc6}}})
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"garbage", []byte("this is not a cache at all, not even close to one")},
		{"old truncated", []byte(magicOld)},
		{"old too many entries", append([]byte(magicOld+"\x00"), 0xff, 0xff, 0xff, 0x0f)},
		{"new truncated entries", good[:newHeaderLen+4]},
		{"new invalid endian", withByte(good, 28, 1)},
		{"new key out of range", withByte(good, newHeaderLen+7, 0x7f)},
		{"extension misaligned", withByte(good, 32, good[32]+1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := Parse(tc.data); err == nil {
				t.Fatalf("Parse succeeded with %d entries, want error", len(c.Entries))
			}
		})
	}
}

func mustMarshal(t *testing.T, c *Cache) []byte {
	t.Helper()
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func withByte(b []byte, i int, v byte) []byte {
	c := slices.Clone(b)
	c[i] = v
	return c
}

// firstDiff shows the first differing line of two listings.
func firstDiff(got, want string) string {
	g, w := bytes.Split([]byte(got), []byte("\n")), bytes.Split([]byte(want), []byte("\n"))
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl []byte
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if !bytes.Equal(gl, wl) {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + string(gl) + "\nwant: " + string(wl)
		}
	}
	return "(no line differs; lengths differ)"
}
