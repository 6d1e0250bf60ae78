package profile

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"

	"github.com/mpiwrap/mpiwrap/hostlib/abi"
)

// maxProfileSize bounds what Parse reads; real profiles are a few KiB.
const maxProfileSize = 1 << 20

// Parse decodes and validates one profile. source names the file in
// messages ("/etc/mpiwrap/profiles.d/mpich.toml" or "builtin:mpich.toml").
// Errors read "profile SOURCE:LINE: …".
func Parse(name, source string, data []byte) (*Profile, error) {
	if len(data) > maxProfileSize {
		return nil, fmt.Errorf("profile %s: file is larger than %d bytes", source, maxProfileSize)
	}
	var raw rawProfile
	md, err := toml.Decode(string(data), &raw)
	if err != nil {
		return nil, tomlError("profile", source, string(data), err)
	}
	pos := positions{src: string(data), keys: locateKeys(string(data), md.Keys())}
	if err := unknownKeys(source, md, pos); err != nil {
		return nil, err
	}
	v := validator{source: source, pos: pos}
	p := v.profile(name, &raw)
	if v.err != nil {
		return nil, v.err
	}
	return p, nil
}

// parseErrorLine is the line where the offending bytes start. The
// decoder's own line number is one too high when the bad token is a
// newline ("[[library]" then end of line).
func parseErrorLine(pe toml.ParseError, src string) int {
	if in := pe.Position.Start; in >= 0 && in <= len(src) && pe.Position.Len > 0 {
		return strings.Count(src[:in], "\n") + 1
	}
	return pe.Position.Line
}

// tomlLine is compiled when an error needs it.
var tomlLine = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^toml: line (\d+)(?: \(last key "([^"]*)"\))?: `)
})

// oneLine escapes line breaks so that every error stays one line.
var oneLine = strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace

// tomlError rewrites a decoder error as "WHAT FILE:LINE: message".
func tomlError(what, source, src string, err error) error {
	return errors.New(oneLine(tomlErrorText(what, source, src, err)))
}

func tomlErrorText(what, source, src string, err error) string {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		msg := pe.Message
		if pe.LastKey != "" {
			msg = fmt.Sprintf("key %q: %s", pe.LastKey, msg)
		}
		return fmt.Sprintf("%s %s:%d: %s", what, source, parseErrorLine(pe, src), msg)
	}
	if m := tomlLine().FindStringSubmatch(err.Error()); m != nil {
		msg := strings.TrimPrefix(err.Error(), m[0])
		if m[2] != "" {
			msg = fmt.Sprintf("key %q: %s", m[2], msg)
		}
		return fmt.Sprintf("%s %s:%s: %s", what, source, m[1], msg)
	}
	return fmt.Sprintf("%s %s: %v", what, source, err)
}

// unknownKeys rejects the first key the schema does not know.
func unknownKeys(source string, md toml.MetaData, pos positions) error {
	undecoded := md.Undecoded()
	if len(undecoded) == 0 {
		return nil
	}
	k := undecoded[0]
	level, key := "", k[len(k)-1]
	if len(k) > 1 {
		level = k[0]
	}
	hint := ""
	if len(k) <= 2 {
		if s := suggest(key, knownKeys[level]); s != "" {
			hint = fmt.Sprintf("; did you mean %q?", s)
		}
	}
	return fmt.Errorf("profile %s:%d: key %q: unknown key%s", source, pos.line(k.String(), 0), k.String(), hint)
}

// suggest returns the known key closest to key, if it is close enough:
// at most two edits away, or the only key starting with the same three
// letters ("libs" -> "library").
func suggest(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" || len(key) < 3 {
		return best
	}
	for _, k := range known {
		if strings.HasPrefix(k, key[:3]) {
			if best != "" {
				return "" // ambiguous
			}
			best = k
		}
	}
	return best
}

// editDistance is the Damerau (adjacent transposition) Levenshtein
// distance, so that "nmae" is one step from "name".
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// validator turns a rawProfile into a Profile, keeping the first error.
type validator struct {
	source string
	pos    positions
	err    error
}

func (v *validator) fail(line int, format string, args ...any) {
	if v.err == nil {
		v.err = fmt.Errorf("profile %s:%d: %s", v.source, line, fmt.Sprintf(format, args...))
	}
}

func (v *validator) profile(name string, raw *rawProfile) *Profile {
	p := &Profile{Name: name, Source: v.source, Description: raw.Description}
	var err error
	if p.ABI, err = abi.ParseFamily(raw.ABI); err != nil {
		v.fail(v.pos.line("abi", 0), "key \"abi\": %v", err)
	}
	if p.Policy, err = abi.ParsePolicy(raw.ABIPolicy); err != nil {
		v.fail(v.pos.line("abi_policy", 0), "key \"abi_policy\": %v", err)
	}
	p.SearchDirs = v.absPaths("search_dirs", raw.SearchDirs)
	p.Exclude = v.globs("exclude", raw.Exclude)
	for i, r := range raw.Library {
		p.Libraries = append(p.Libraries, v.library(i, r))
	}
	for i, r := range raw.File {
		p.Files = append(p.Files, v.file(i, r))
	}
	for i, r := range raw.Binary {
		p.Binaries = append(p.Binaries, Binary{Item: v.item("binary", i, r.Name, r.Names, r.Required, "name"), Closure: boolOr(r.Closure, true)})
	}
	for i, r := range raw.Device {
		it := v.item("device", i, r.Path, r.Paths, r.Required, "path")
		v.requireAbs("device", i, "path", it.Candidates)
		p.Devices = append(p.Devices, DeviceItem{Item: it})
	}
	for i, r := range raw.Env {
		p.Env = append(p.Env, v.env(name, i, r))
	}
	return p
}
