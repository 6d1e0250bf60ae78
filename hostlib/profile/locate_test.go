package profile

import (
	"io/fs"
	"regexp"
	"testing"
)

// keyPatternRE is the regexp that findKey writes out.
func keyPatternRE(name string) *regexp.Regexp {
	q := regexp.QuoteMeta(name)
	return regexp.MustCompile(`(?m)(?:^|[\[.{,])[ \t]*(?:` + q + `|"` + q + `"|'` + q + `')[ \t]*[=.\]]`)
}

func TestFindKeyIsTheRegexp(t *testing.T) {
	docs := []string{
		"name = 1\n",
		"  name=1",
		"[library]\nname = \"x\"\n",
		"[[library]]\n  names = [\"a\"]\n  name = \"b\"\n",
		"a.name.b = 1\n",
		"x = { name = 1, other.name = 2 }\n",
		"\"name\" = 1\n'name'=2\n",
		"\" a\" = 1\n[x.\" a\"]\n",
		"\"\" = 1\n",
		"description = \"name = 1\"\nname = 2\n",
		"[ name ]\n",
		"[\tname\t]",
		"name",
		"name =",
		"xname = 1\n",
		",name]",
		"{\"name\".x = 1}",
		"ñame = 1\nname = 2\n",
	}
	names := []string{"name", " a", "", "x", "a", "b", "other", "ñame", "description"}
	_ = fs.WalkDir(builtinFS, "builtin", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := builtinFS.ReadFile(path)
			docs = append(docs, string(data))
		}
		return nil
	})
	names = append(names, "library", "file", "binary", "env", "names", "path", "required", "closure", "abi", "search_dirs", "exclude", "value", "mode")
	for _, doc := range docs {
		step := 1
		if len(doc) > 500 {
			step = 7 // a built-in file: every 7th offset is enough
		}
		for _, name := range names {
			for off := 0; off <= len(doc); off += step {
				s := doc[off:]
				want := -1
				if at := keyPatternRE(name).FindStringIndex(s); at != nil {
					want = at[0]
				}
				if got := findKey(s, name); got != want {
					t.Fatalf("findKey(%q, %q) = %d, want %d", s, name, got, want)
				}
			}
		}
	}
}
