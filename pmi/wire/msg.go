package wire

import (
	"errors"
	"fmt"
	"strconv"
)

// Proto is the framing of one message.
type Proto uint8

// The two framings.
const (
	V1 Proto = 1 // PMI-1 line ("cmd=...\n"), also PMI-2's init handshake
	V2 Proto = 2 // PMI-2 length-prefixed ("    38cmd=...;")
)

func (p Proto) String() string {
	switch p {
	case V1:
		return "PMI-1"
	case V2:
		return "PMI-2"
	}
	return "PMI-?"
}

// Pair is one key=value token.
type Pair struct {
	Key, Value string
}

// Msg is one request or response: the command and its pairs in wire order.
type Msg struct {
	Cmd   string
	Pairs []Pair
}

// NewMsg builds a message from alternating keys and values.
func NewMsg(cmd string, kv ...string) Msg {
	m := Msg{Cmd: cmd}
	if len(kv) >= 2 {
		m.Pairs = make([]Pair, 0, len(kv)/2)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Pairs = append(m.Pairs, Pair{kv[i], kv[i+1]})
	}
	return m
}

// Add appends a pair.
func (m *Msg) Add(key, value string) {
	m.Pairs = append(m.Pairs, Pair{key, value})
}

// Get returns the value of the first pair named key.
func (m Msg) Get(key string) (string, bool) {
	for _, p := range m.Pairs {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

// Int returns the first pair named key as an integer. Leading spaces are
// not allowed; a missing key returns ok=false and no error.
func (m Msg) Int(key string) (n int, ok bool, err error) {
	v, ok := m.Get(key)
	if !ok {
		return 0, false, nil
	}
	n, err = strconv.Atoi(v)
	if err != nil {
		return 0, true, fmt.Errorf("parse %s=%q in cmd=%s: not an integer", key, v, m.Cmd)
	}
	return n, true, nil
}

// RC returns the rc pair, 0 when absent (RFC 13 allows omitting rc=0).
func (m Msg) RC() (int, error) {
	rc, _, err := m.Int("rc")
	return rc, err
}

// ErrMsg returns msg= or errmsg=, whichever the sender used.
func (m Msg) ErrMsg() string {
	if s, ok := m.Get("errmsg"); ok {
		return s
	}
	s, _ := m.Get("msg")
	return s
}

// Bool reads a PMI-2 boolean: TRUE/FALSE, or an integer (MPICH >= 4.1).
func (m Msg) Bool(key string) bool {
	v, _ := m.Get(key)
	switch v {
	case "TRUE", "true", "yes":
		return true
	}
	n, err := strconv.Atoi(v)
	return err == nil && n != 0
}

// FormatError reports malformed input.
type FormatError struct {
	Proto Proto  // framing being read
	Cmd   string // the command, if it could be read
	Fatal bool   // framing is lost: reply, then close the connection
	Err   error
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("parse %v message: %v", e.Proto, e.Err)
}

func (e *FormatError) Unwrap() error { return e.Err }

// IsFatal reports whether err is a *FormatError that lost the framing, or
// any other read error.
func IsFatal(err error) bool {
	var fe *FormatError
	if errors.As(err, &fe) {
		return fe.Fatal
	}
	return err != nil
}
