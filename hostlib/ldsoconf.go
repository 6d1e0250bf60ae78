package hostlib

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
)

// ConfDir is one directory line of an ld.so.conf, after includes.
type ConfDir struct {
	// Path is the directory, without trailing slashes.
	Path string `json:"path"`
	// Type is the optional "=libc6"-style suffix, rarely used.
	Type string `json:"type,omitempty"`
	// From is "file:line" inside the root.
	From string `json:"from"`
}

// Line renders the directory as ldconfig reads it.
func (d ConfDir) Line() string {
	if d.Type != "" {
		return d.Path + "=" + d.Type
	}
	return d.Path
}

// maxIncludeDepth stops include loops, which ldconfig itself would
// follow forever.
const maxIncludeDepth = 16

// ReadLdSoConf reads file (normally /etc/ld.so.conf) inside root the way
// ldconfig's parse_conf does: "#" starts a comment, "include PATTERN…"
// expands shell globs (relative ones against the including file's
// directory) in sorted order, "hwcap" lines are ignored, anything else
// is a directory. A missing file yields no directories.
func ReadLdSoConf(root elfdeps.Root, file string) ([]ConfDir, error) {
	return readConf(root, file, 0)
}

func readConf(root elfdeps.Root, file string, depth int) ([]ConfDir, error) {
	if depth > maxIncludeDepth {
		return nil, fmt.Errorf("read ld.so.conf %s: includes nest deeper than %d", file, maxIncludeDepth)
	}
	hp, err := root.HostPath(file)
	if err != nil {
		return nil, fmt.Errorf("read ld.so.conf: %w", err)
	}
	data, err := os.ReadFile(hp)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read ld.so.conf: %w", err)
	}
	var dirs []ConfDir
	for i, line := range strings.Split(string(data), "\n") {
		line, _, _ = strings.Cut(line, "#")
		line = strings.TrimLeft(line, " \t\n\v\f\r")
		switch {
		case line == "":
		case hasDirective(line, "include", false):
			inc, err := readIncludes(root, file, line[len("include")+1:], depth)
			if err != nil {
				return nil, err
			}
			dirs = append(dirs, inc...)
		case hasDirective(line, "hwcap", true):
			// ldconfig ignores hwcap lines too.
		default:
			if d, ok := parseDirLine(line); ok {
				d.From = file + ":" + strconv.Itoa(i+1)
				dirs = append(dirs, d)
			}
		}
	}
	return dirs, nil
}

// hasDirective matches "word" followed by a blank, like ldconfig.
func hasDirective(line, word string, fold bool) bool {
	if len(line) <= len(word) || (line[len(word)] != ' ' && line[len(word)] != '\t') {
		return false
	}
	if fold {
		return strings.EqualFold(line[:len(word)], word)
	}
	return line[:len(word)] == word
}

func readIncludes(root elfdeps.Root, file, rest string, depth int) ([]ConfDir, error) {
	var dirs []ConfDir
	for _, pat := range strings.FieldsFunc(rest, func(r rune) bool { return r == ' ' || r == '\t' }) {
		if !path.IsAbs(pat) {
			pat = path.Join(path.Dir(file), pat)
		}
		matches, err := root.Glob(pat)
		if err != nil {
			return nil, fmt.Errorf("read ld.so.conf %s: include %q: %w", file, pat, err)
		}
		for _, m := range matches {
			inc, err := readConf(root, m, depth+1)
			if err != nil {
				return nil, err
			}
			dirs = append(dirs, inc...)
		}
	}
	return dirs, nil
}

// parseDirLine splits "dir[=type]" and trims trailing blanks and slashes.
func parseDirLine(line string) (ConfDir, bool) {
	p, typ, _ := strings.Cut(line, "=")
	p = strings.TrimRight(p, " \t\n\v\f\r")
	p = strings.TrimRight(p, "/")
	if p == "" {
		return ConfDir{}, false
	}
	return ConfDir{Path: p, Type: strings.TrimRight(typ, " \t\n\v\f\r")}, true
}

// GenerateLdSoConf writes the container's ld.so.conf: the injected
// directory first, then the image's own directories in their order.
// Includes are already expanded, so the file stands alone.
func GenerateLdSoConf(injectDir string, image []ConfDir) []byte {
	var b bytes.Buffer
	b.WriteString("# Written by mpiwrap: injected host libraries first, then the image's own ld.so.conf.\n")
	b.WriteString(injectDir + "\n")
	for _, d := range image {
		b.WriteString(d.Line() + "\n")
	}
	return b.Bytes()
}
