package wire

import (
	"errors"
	"fmt"
	"strings"
)

// HeaderLen is the size of a PMI-2 length field.
const HeaderLen = 6

// ParseV2 parses a PMI-2 payload (after the length field). ";;" inside a
// value is an escaped ';'. The last pair may lack its ';' (liberal: only
// Slurm's server insists on it). A token without '=' is a pair with an
// empty value.
func ParseV2(p []byte) (Msg, error) {
	var m Msg
	for first := true; len(p) > 0; first = false {
		eq, semi := indexByte(p, '='), indexByte(p, ';')
		var key, val string
		if eq < 0 || (semi >= 0 && semi < eq) {
			end := semi
			if end < 0 {
				end = len(p)
			}
			key, p = string(p[:end]), p[min(end+1, len(p)):]
		} else {
			key = string(p[:eq])
			val, p = readV2Value(p[eq+1:])
		}
		if first {
			if key != "cmd" || val == "" {
				return Msg{}, v2Err("", fmt.Errorf("payload starts with %.32q, not cmd=<name>", key))
			}
			m.Cmd = val
			continue
		}
		if err := checkPairKey([]byte(key)); err != nil {
			return Msg{}, v2Err(m.Cmd, err)
		}
		if len(m.Pairs) == MaxPairs {
			return Msg{}, v2Err(m.Cmd, fmt.Errorf("more than %d pairs", MaxPairs))
		}
		m.Pairs = append(m.Pairs, Pair{key, val})
	}
	if m.Cmd == "" {
		return Msg{}, v2Err("", errors.New("empty payload"))
	}
	return m, nil
}

// readV2Value reads a value up to its terminating ';', turning ";;" into
// ';'. It returns the value and the rest of the payload.
func readV2Value(p []byte) (string, []byte) {
	semi := indexByte(p, ';')
	if semi < 0 {
		return string(p), nil
	}
	if semi+1 >= len(p) || p[semi+1] != ';' {
		return string(p[:semi]), p[semi+1:]
	}
	var b strings.Builder
	for {
		semi = indexByte(p, ';')
		if semi < 0 {
			b.Write(p)
			return b.String(), nil
		}
		b.Write(p[:semi])
		if semi+1 < len(p) && p[semi+1] == ';' {
			b.WriteByte(';')
			p = p[semi+2:]
			continue
		}
		return b.String(), p[semi+1:]
	}
}

func indexByte(p []byte, c byte) int {
	for i, b := range p {
		if b == c {
			return i
		}
	}
	return -1
}

func v2Err(cmd string, err error) *FormatError {
	return &FormatError{Proto: V2, Cmd: cmd, Err: err}
}

// AppendV2 appends m as one PMI-2 message. left selects a left-justified
// length ("38    ", as old MPICH and Slurm write) instead of a
// right-justified one ("    38", as hydra writes); readers accept both.
func AppendV2(dst []byte, m Msg, left bool) ([]byte, error) {
	start := len(dst)
	dst = append(dst, "      cmd="...)
	if err := checkV2Key(m.Cmd); err != nil {
		return dst[:start], fmt.Errorf("encode PMI-2 cmd %q: %w", m.Cmd, err)
	}
	dst = appendV2Value(dst, m.Cmd)
	for _, p := range m.Pairs {
		if err := checkV2Key(p.Key); err != nil {
			return dst[:start], fmt.Errorf("encode PMI-2 cmd=%s: key %q: %w", m.Cmd, p.Key, err)
		}
		if strings.IndexByte(p.Value, 0) >= 0 {
			return dst[:start], fmt.Errorf("encode PMI-2 cmd=%s: value of %s holds a NUL", m.Cmd, p.Key)
		}
		dst = append(dst, p.Key...)
		dst = append(dst, '=')
		dst = appendV2Value(dst, p.Value)
	}
	n := len(dst) - start - HeaderLen
	if n > MaxFrame {
		return dst[:start], fmt.Errorf("encode PMI-2 cmd=%s: %d bytes exceeds %d", m.Cmd, n, MaxFrame)
	}
	num := fmt.Appendf(nil, "%d", n)
	off := start + HeaderLen - len(num)
	if left {
		off = start
	}
	copy(dst[off:], num)
	return dst, nil
}

func appendV2Value(dst []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if v[i] == ';' {
			dst = append(dst, ';')
		}
		dst = append(dst, v[i])
	}
	return append(dst, ';')
}

func checkV2Key(k string) error {
	if k == "" {
		return errors.New("empty")
	}
	if strings.ContainsAny(k, "=;\x00") {
		return errors.New("holds '=', ';' or NUL")
	}
	return nil
}

// parseHeader reads a 6-character length padded with spaces on either side.
func parseHeader(h []byte) (int, error) {
	s := strings.Trim(string(h), " ")
	if s == "" {
		return 0, errors.New("blank length field")
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("length field %q is not a padded decimal number", h)
		}
		n = n*10 + int(c-'0')
	}
	if n > MaxFrame {
		return 0, fmt.Errorf("length %d exceeds the limit of %d", n, MaxFrame)
	}
	return n, nil
}
