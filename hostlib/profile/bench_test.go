package profile

import (
	"os"
	"testing"
)

// BenchmarkLoadDefault is the profile loading each plan starts with: the
// built-in profiles and whatever the default roots hold.
func BenchmarkLoadDefault(b *testing.B) {
	roots := DefaultRoots(os.Getenv)
	b.ReportAllocs()
	for range b.N {
		if _, err := Load(roots); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseBuiltin parses every built-in profile once per op.
func BenchmarkParseBuiltin(b *testing.B) {
	entries, err := builtinFS.ReadDir("builtin")
	if err != nil {
		b.Fatal(err)
	}
	type file struct {
		name string
		data []byte
	}
	var files []file
	for _, e := range entries {
		data, err := builtinFS.ReadFile("builtin/" + e.Name())
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, file{e.Name(), data})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, f := range files {
			if _, err := Parse(profileName(f.name), "builtin:"+f.name, f.data); err != nil {
				b.Fatal(err)
			}
		}
	}
}
