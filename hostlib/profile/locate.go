package profile

import (
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
		if at := findKey(src[pos:], k[len(k)-1]); at >= 0 {
			line += strings.Count(src[pos:pos+at], "\n")
			pos += at
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

// findKey returns where the last component of a key, name, is defined
// in s, or -1: the first place that is at the start of a line (or of s)
// or is one of "[" "." "{" ",", followed by blanks, name bare or in
// double or single quotes, blanks, and "=", "." or "]". The match starts
// at the line's start or at that character. This is the regexp
//
//	(?m)(?:^|[\[.{,])[ \t]*(?:NAME|"NAME"|'NAME')[ \t]*[=.\]]
//
// written out: compiling one per key cost more than decoding the profile.
func findKey(s, name string) int {
	for i := 0; i < len(s); i++ {
		if (i == 0 || s[i-1] == '\n') && keyAt(s, i, name) {
			return i
		}
		if strings.IndexByte("[.{,", s[i]) >= 0 && keyAt(s, i+1, name) {
			return i
		}
	}
	return -1
}

// keyAt says whether s[i:] is blanks, name bare or quoted, blanks and one
// of "=", "." or "]". Every split of the leading blanks is tried, as the
// regexp would, for a quoted name that itself starts with a blank.
func keyAt(s string, i int, name string) bool {
	for j := i; j <= len(s); j++ {
		rest := s[j:]
		for _, q := range [...]string{"", `"`, "'"} {
			r, ok := strings.CutPrefix(rest, q)
			if ok {
				r, ok = strings.CutPrefix(r, name)
			}
			if ok {
				r, ok = strings.CutPrefix(r, q)
			}
			if ok && keyEnd(r) {
				return true
			}
		}
		if j == len(s) || (s[j] != ' ' && s[j] != '\t') {
			break
		}
	}
	return false
}

// keyEnd says whether r is blanks and then "=", "." or "]".
func keyEnd(r string) bool {
	r = strings.TrimLeft(r, " \t")
	return r != "" && (r[0] == '=' || r[0] == '.' || r[0] == ']')
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
