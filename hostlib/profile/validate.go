package profile

import (
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Tokens that strings may contain.
const (
	TokenMultiarch = "{multiarch}"
	TokenInjectDir = "{injectdir}"
)

// tokenRE is compiled when first used, not when every mpiwrap process
// starts.
var tokenRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\{[^{}]*\}`) })

// badToken returns the first unknown {token} in s, or "".
func badToken(s string) string {
	for _, t := range tokenRE().FindAllString(s, -1) {
		if t != TokenMultiarch && t != TokenInjectDir {
			return t
		}
	}
	return ""
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

// item validates the candidates shared by every kind of entry.
func (v *validator) item(kind string, idx int, one string, many []string, required *bool, key string) Item {
	line := v.pos.itemLine(kind, idx, key)
	if header := v.pos.itemLine(kind, idx, ""); line == header {
		line = v.pos.itemLine(kind, idx, key+"s")
	}
	it := Item{Required: boolOr(required, true), Pos: v.source + ":" + strconv.Itoa(line)}
	switch {
	case one != "" && len(many) > 0:
		v.fail(line, "[[%s]] #%d: give either %q or %q, not both", kind, idx+1, key, key+"s")
	case one != "":
		it.Candidates = []string{one}
	case len(many) > 0:
		it.Candidates = many
	default:
		v.fail(v.pos.itemLine(kind, idx, ""), "[[%s]] #%d: missing %q (or %q)", kind, idx+1, key, key+"s")
	}
	for _, c := range it.Candidates {
		v.checkString(line, kind, c)
		if _, err := path.Match(c, ""); err != nil {
			v.fail(line, "[[%s]] #%d: bad glob %q: %v", kind, idx+1, c, err)
		}
	}
	return it
}

// checkString rejects empty strings and unknown tokens.
func (v *validator) checkString(line int, kind, s string) {
	if strings.TrimSpace(s) == "" {
		v.fail(line, "[[%s]]: empty name", kind)
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		v.fail(line, "[[%s]] %q: control characters are not allowed", kind, s)
	}
	if t := badToken(s); t != "" {
		v.fail(line, "[[%s]] %q: unknown token %s; use %s or %s", kind, s, t, TokenMultiarch, TokenInjectDir)
	}
}

func (v *validator) requireAbs(kind string, idx int, key string, paths []string) {
	for _, p := range paths {
		if !strings.HasPrefix(p, "/") && !strings.HasPrefix(p, TokenInjectDir) {
			v.fail(v.pos.itemLine(kind, idx, key), "[[%s]] #%d: %q is not an absolute path", kind, idx+1, p)
		}
	}
}

func (v *validator) library(idx int, r rawLibrary) Library {
	l := Library{Item: v.item("library", idx, r.Name, r.Names, r.Required, "name"), Closure: boolOr(r.Closure, true), Dest: r.Dest}
	if r.Dest != "" {
		v.checkString(v.pos.itemLine("library", idx, "dest"), "library", r.Dest)
		v.requireAbs("library", idx, "dest", []string{r.Dest})
	}
	return l
}

func (v *validator) file(idx int, r rawFile) FileItem {
	f := FileItem{Item: v.item("file", idx, r.Path, r.Paths, r.Required, "path"), Dest: r.Dest}
	v.requireAbs("file", idx, "path", f.Candidates)
	if r.Dest == "" {
		return f
	}
	line := v.pos.itemLine("file", idx, "dest")
	v.checkString(line, "file", r.Dest)
	v.requireAbs("file", idx, "dest", []string{r.Dest})
	if len(f.Candidates) != 1 || strings.ContainsAny(f.Candidates[0], "*?[") {
		v.fail(line, "[[file]] #%d: \"dest\" needs exactly one path without glob characters", idx+1)
	}
	return f
}

func (v *validator) env(profile string, idx int, r rawEnv) EnvEdit {
	e := EnvEdit{Op: EnvOp(r.Op), Name: r.Name, Separator: r.Separator, Profile: profile}
	if r.Value != nil {
		e.Value = *r.Value
	}
	if e.Separator == "" && (e.Op == EnvPrepend || e.Op == EnvAppend) {
		e.Separator = ":"
	}
	if err := e.validate(r.Value != nil); err != nil {
		v.fail(v.pos.itemLine("env", idx, "op"), "[[env]] #%d: %v", idx+1, err)
	}
	if t := badToken(e.Value); t != "" {
		v.fail(v.pos.itemLine("env", idx, "value"), "[[env]] #%d: unknown token %s", idx+1, t)
	}
	return e
}

func (v *validator) absPaths(key string, paths []string) []string {
	for _, p := range paths {
		if !strings.HasPrefix(p, "/") {
			v.fail(v.pos.line(key, 0), "key %q: %q is not an absolute path", key, p)
		}
		if t := badToken(p); t != "" && t != TokenMultiarch {
			v.fail(v.pos.line(key, 0), "key %q: %q: unknown token %s", key, p, t)
		}
	}
	return paths
}

func (v *validator) globs(key string, pats []string) []string {
	for _, p := range pats {
		if _, err := path.Match(p, ""); err != nil || p == "" {
			v.fail(v.pos.line(key, 0), "key %q: bad glob %q", key, p)
		}
	}
	return pats
}
