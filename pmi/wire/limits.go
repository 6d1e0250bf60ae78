package wire

import (
	"fmt"
	"strings"
)

// Limits on names and messages, as hydra and Slurm define them.
const (
	MaxKVSName   = 256      // kvsname / PMI-2 jobid
	MaxKey       = 64       // KVS key and protocol key names
	MaxValue     = 1024     // KVS value
	MaxV1Request = 1024     // one PMI-1 request line, newline included (Slurm reads 1024 bytes once)
	MaxFrame     = 64 << 10 // largest message read in either protocol (PMI-2's PMII_MAX_COMMAND_LEN)
	MaxPairs     = 1024     // key=value pairs in one message
	maxSpawnCmds = 256      // commands in one mcmd=spawn block
)

// Maxes are the limits a PMI-1 server reports with get_maxes.
type Maxes struct {
	KVSName, Key, Value int
}

// DefaultMaxes are hydra's and Slurm's limits.
var DefaultMaxes = Maxes{KVSName: MaxKVSName, Key: MaxKey, Value: MaxValue}

// CheckKVSName reports whether name can be sent as a kvsname or jobid.
func CheckKVSName(name string) error {
	return checkToken("kvsname", name, MaxKVSName)
}

// CheckKey reports whether key can be sent as a KVS key or attribute name.
func CheckKey(key string) error {
	return checkToken("key", key, MaxKey)
}

// CheckValue reports whether value fits MaxValue and can be framed by p:
// PMI-1 values cannot hold spaces, and no value can hold a newline or NUL.
func CheckValue(value string, p Proto) error {
	if len(value) > MaxValue {
		return fmt.Errorf("check value: %d bytes exceeds the PMI limit of %d", len(value), MaxValue)
	}
	bad := "\n\x00"
	if p == V1 {
		bad = " \t\n\r\x00"
	}
	if i := strings.IndexAny(value, bad); i >= 0 {
		return fmt.Errorf("check value: byte %q at offset %d cannot be sent over %v", value[i], i, p)
	}
	return nil
}

// checkToken accepts non-empty printable ASCII without the separators of
// either protocol.
func checkToken(what, s string, max int) error {
	if s == "" {
		return fmt.Errorf("check %s: empty", what)
	}
	if len(s) > max {
		return fmt.Errorf("check %s %.20q...: %d bytes exceeds the PMI limit of %d", what, s, len(s), max)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c > '~' || c == '=' || c == ';' {
			return fmt.Errorf("check %s %q: byte %q at offset %d is not allowed", what, s, c, i)
		}
	}
	return nil
}
