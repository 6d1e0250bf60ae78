package wire

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// ParseV1 parses one PMI-1 line without its newline. Tokens are separated by
// runs of spaces or tabs; the first must be cmd=<name>. A token without '='
// becomes a pair with an empty value (newer MPICH sends such tokens).
func ParseV1(line []byte) (Msg, error) {
	line = bytes.TrimRight(line, "\r")
	var m Msg
	for first := true; ; first = false {
		line = bytes.TrimLeft(line, " \t")
		if len(line) == 0 {
			break
		}
		end := bytes.IndexAny(line, " \t")
		if end < 0 {
			end = len(line)
		}
		tok := line[:end]
		line = line[end:]
		k, v, _ := bytes.Cut(tok, []byte("="))
		if first {
			if string(k) != "cmd" || len(v) == 0 {
				return Msg{}, v1Err("", fmt.Errorf("line starts with %.32q, not cmd=<name>", tok))
			}
			m.Cmd = string(v)
			continue
		}
		if err := checkPairKey(k); err != nil {
			return Msg{}, v1Err(m.Cmd, err)
		}
		if len(m.Pairs) == MaxPairs {
			return Msg{}, v1Err(m.Cmd, fmt.Errorf("more than %d pairs", MaxPairs))
		}
		m.Pairs = append(m.Pairs, Pair{string(k), string(v)})
	}
	if m.Cmd == "" {
		return Msg{}, v1Err("", errors.New("empty line"))
	}
	return m, nil
}

func v1Err(cmd string, err error) *FormatError {
	return &FormatError{Proto: V1, Cmd: cmd, Err: err}
}

func checkPairKey(k []byte) error {
	if len(k) == 0 {
		return errors.New("pair with an empty key")
	}
	if len(k) > MaxKey {
		return fmt.Errorf("key %.20q... longer than %d bytes", k, MaxKey)
	}
	return nil
}

// AppendV1 appends m as one PMI-1 line, newline included. value= is always
// written last (Flux reads it as the rest of the line).
func AppendV1(dst []byte, m Msg) ([]byte, error) {
	if err := checkV1Token(m.Cmd, true); err != nil {
		return dst, fmt.Errorf("encode PMI-1 cmd %q: %w", m.Cmd, err)
	}
	dst = append(dst, "cmd="...)
	dst = append(dst, m.Cmd...)
	var val *Pair
	for i := range m.Pairs {
		p := &m.Pairs[i]
		if p.Key == "value" && val == nil {
			val = p
			continue
		}
		var err error
		if dst, err = appendV1Pair(dst, m.Cmd, p); err != nil {
			return dst, err
		}
	}
	if val != nil {
		var err error
		if dst, err = appendV1Pair(dst, m.Cmd, val); err != nil {
			return dst, err
		}
	}
	return append(dst, '\n'), nil
}

func appendV1Pair(dst []byte, cmd string, p *Pair) ([]byte, error) {
	if err := checkV1Token(p.Key, true); err != nil || strings.Contains(p.Key, "=") {
		return dst, fmt.Errorf("encode PMI-1 cmd=%s: key %q cannot be sent", cmd, p.Key)
	}
	if err := checkV1Token(p.Value, false); err != nil {
		return dst, fmt.Errorf("encode PMI-1 cmd=%s %s=: %w", cmd, p.Key, err)
	}
	dst = append(dst, ' ')
	dst = append(dst, p.Key...)
	dst = append(dst, '=')
	return append(dst, p.Value...), nil
}

func checkV1Token(s string, nonEmpty bool) error {
	if nonEmpty && s == "" {
		return errors.New("empty")
	}
	if i := strings.IndexAny(s, " \t\r\n\x00"); i >= 0 {
		return fmt.Errorf("byte %q at offset %d cannot be sent over PMI-1", s[i], i)
	}
	return nil
}

// parseSpawnLine parses one "key=value" line of a spawn block. The value is
// the rest of the line and may hold spaces.
func parseSpawnLine(line []byte) (Pair, error) {
	line = bytes.TrimRight(line, "\r")
	k, v, ok := bytes.Cut(line, []byte("="))
	if !ok {
		return Pair{}, fmt.Errorf("spawn line %.32q has no '='", line)
	}
	k = bytes.TrimSpace(k)
	if err := checkPairKey(k); err != nil {
		return Pair{}, err
	}
	return Pair{string(k), string(v)}, nil
}

// AppendSpawn appends a mcmd=spawn block: one "mcmd=spawn ... endcmd"
// section per command, each pair on its own line.
func AppendSpawn(dst []byte, cmds []Msg) ([]byte, error) {
	for _, c := range cmds {
		dst = append(dst, "mcmd=spawn\n"...)
		for _, p := range c.Pairs {
			if err := checkV1Token(p.Key, true); err != nil || strings.Contains(p.Key, "=") {
				return dst, fmt.Errorf("encode spawn: key %q cannot be sent", p.Key)
			}
			if strings.ContainsAny(p.Value, "\n\x00") {
				return dst, fmt.Errorf("encode spawn: value of %s holds a newline or NUL", p.Key)
			}
			dst = append(dst, p.Key...)
			dst = append(dst, '=')
			dst = append(dst, p.Value...)
			dst = append(dst, '\n')
		}
		dst = append(dst, "endcmd\n"...)
	}
	return dst, nil
}
