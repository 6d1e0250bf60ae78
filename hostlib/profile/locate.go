package profile

import (
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
)

// keyLine is a key of the document with the line it is on.
type keyLine struct {
	key  string // dotted, without array indices: "library.name"
	line int
}

// locateKeys finds the line of every key the TOML decoder reports.
// BurntSushi/toml keeps positions private but lists keys in document
// order, so a forward search from the previous key's position finds each
// one: a table header "[a.b]" / "[[a]]" or an assignment "k =" / "k.x =".
// The document already parsed, so this only has to be right for valid
// TOML; a key it cannot find gets the previous key's line.
func locateKeys(src string, keys []toml.Key) []keyLine {
	out := make([]keyLine, 0, len(keys))
	pos, line := 0, 1
	for _, k := range keys {
		if len(k) == 0 {
			continue
		}
		if at := keyPattern(k[len(k)-1]).FindStringIndex(src[pos:]); at != nil {
			line += strings.Count(src[pos:pos+at[0]], "\n")
			pos += at[0]
			// Step past the match so the next key is searched after it,
			// but stay on its line (a key ends before its newline).
			next := pos + 1
			line += strings.Count(src[pos:next], "\n")
			pos = next
		}
		out = append(out, keyLine{key: k.String(), line: line})
	}
	return out
}

// keyPattern matches the last component of a key where it is defined: at
// the start of a line, after "[" / "[[" / "." / "{" / ",", as a bare or
// quoted key, followed by "=", "." or "]".
func keyPattern(name string) *regexp.Regexp {
	q := regexp.QuoteMeta(name)
	return regexp.MustCompile(`(?m)(?:^|[\[.{,])[ \t]*(?:` + q + `|"` + q + `"|'` + q + `')[ \t]*[=.\]]`)
}

// positions answers "which line is this key on" for one document.
type positions struct {
	src  string
	keys []keyLine
}

// line returns the line of the n-th (0-based) occurrence of key, or 0.
func (p positions) line(key string, n int) int {
	for _, k := range p.keys {
		if k.key == key {
			if n == 0 {
				return k.line
			}
			n--
		}
	}
	return 0
}

// itemLine returns the line of key inside the idx-th table of array
// table kind ("library"), falling back to the table's header line.
func (p positions) itemLine(kind string, idx int, key string) int {
	start := p.line(kind, idx)
	end := p.line(kind, idx+1)
	for _, k := range p.keys {
		if k.key == kind+"."+key && k.line >= start && (end == 0 || k.line < end) {
			return k.line
		}
	}
	return start
}
