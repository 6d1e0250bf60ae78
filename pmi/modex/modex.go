// Package modex carries a binary blob through a PMI-1/PMI-2 key-value
// store, whose values are short printable strings: Split cuts it into
// values that fit the store's limit, Join puts them back together.
//
// A blob travels as unpadded URL-safe base64 (A-Z a-z 0-9 - _: no space,
// ';', '=' or newline, which PMI-1 and PMI-2 framing reserve), cut into
// parts of at most the limit. The first part starts with a header
// "N.LEN.CRC." (decimal part count and blob length, hexadecimal CRC-32
// of the blob), so that a reader knows how many keys to get after the
// first and can tell a complete blob from a mixed or truncated one.
//
// Room says how long a value can be for a given store: PMI-2 and the
// PMI-1 value limit allow 1024 bytes, but a PMI-1 put must fit one
// 1024-byte request line (Slurm reads each with one read), kvsname and
// key included.
package modex

import (
	"encoding/base64"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

// MinRoom is the smallest limit Split accepts: a header of a large blob
// and some data.
const MinRoom = 48

// MaxBlob bounds a blob (and what Join accepts): 256 MiB.
const MaxBlob = 256 << 20

var enc = base64.RawURLEncoding

// Split encodes blob as values of at most room bytes each.
func Split(blob []byte, room int) ([]string, error) {
	if room < MinRoom {
		return nil, fmt.Errorf("split modex blob: values of %d bytes are too short (need %d)", room, MinRoom)
	}
	if len(blob) > MaxBlob {
		return nil, fmt.Errorf("split modex blob: %d bytes exceeds %d", len(blob), MaxBlob)
	}
	data := enc.EncodeToString(blob)
	sum := crc32.ChecksumIEEE(blob)
	// The header's part count depends on how much the first part holds,
	// which depends on the header: try counts until one fits.
	for n := 1; ; n++ {
		head := header(n, len(blob), sum)
		first := room - len(head)
		if first < 0 {
			return nil, fmt.Errorf("split modex blob: a %d-byte header leaves no room in %d", len(head), room)
		}
		if need := 1 + ceilDiv(max(len(data)-first, 0), room); need > n {
			continue
		}
		parts := make([]string, 0, n)
		take := min(first, len(data))
		parts = append(parts, head+data[:take])
		for rest := data[take:]; len(rest) > 0; {
			k := min(room, len(rest))
			parts = append(parts, rest[:k])
			rest = rest[k:]
		}
		if len(parts) != n { // n is the least count that fits, so this holds
			return nil, fmt.Errorf("split modex blob: %d parts for a header of %d", len(parts), n)
		}
		return parts, nil
	}
}

func header(n, length int, sum uint32) string {
	return strconv.Itoa(n) + "." + strconv.Itoa(length) + "." + strconv.FormatUint(uint64(sum), 16) + "."
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// Count reads how many parts a blob has from its first part.
func Count(first string) (int, error) {
	h, err := parseHeader(first)
	return h.n, err
}

type head struct {
	n, length int
	sum       uint32
	rest      string
}

func parseHeader(first string) (head, error) {
	f := strings.SplitN(first, ".", 4)
	if len(f) != 4 {
		return head{}, errors.New("join modex blob: the first part has no header")
	}
	n, err1 := strconv.Atoi(f[0])
	length, err2 := strconv.Atoi(f[1])
	sum, err3 := strconv.ParseUint(f[2], 16, 32)
	if err1 != nil || err2 != nil || err3 != nil || n < 1 || length < 0 || length > MaxBlob ||
		n > 1+enc.EncodedLen(length) {
		return head{}, fmt.Errorf("join modex blob: bad header %.40q", first)
	}
	return head{n: n, length: length, sum: uint32(sum), rest: f[3]}, nil
}

// Join decodes the parts Split made, checking their count, the length and
// the checksum.
func Join(parts []string) ([]byte, error) {
	if len(parts) == 0 {
		return nil, errors.New("join modex blob: no parts")
	}
	h, err := parseHeader(parts[0])
	if err != nil {
		return nil, err
	}
	if len(parts) != h.n {
		return nil, fmt.Errorf("join modex blob: %d parts, the header says %d", len(parts), h.n)
	}
	var b strings.Builder
	b.WriteString(h.rest)
	for _, p := range parts[1:] {
		b.WriteString(p)
	}
	if b.Len() != enc.EncodedLen(h.length) {
		return nil, fmt.Errorf("join modex blob: %d characters for a blob of %d bytes", b.Len(), h.length)
	}
	blob, err := enc.DecodeString(b.String())
	if err != nil {
		return nil, fmt.Errorf("join modex blob: %w", err)
	}
	if crc32.ChecksumIEEE(blob) != h.sum {
		return nil, errors.New("join modex blob: checksum mismatch (parts of different blobs?)")
	}
	return blob, nil
}

// V1Line is the fixed part of a PMI-1 put request, "cmd=put kvsname=
// key= value=\n", which must fit wire.MaxV1Request with its values.
const V1Line = len("cmd=put kvsname= key= value=\n")

// Room is the longest value a put of key can carry: at most maxValue,
// and for PMI-1 (v1) small enough that the request line, with kvsname
// and key, fits lineMax bytes.
func Room(v1 bool, kvsname, key string, maxValue, lineMax int) int {
	if !v1 {
		return maxValue
	}
	return min(maxValue, lineMax-V1Line-len(kvsname)-len(key))
}

// Key names part i of node's blob for fence f.
func Key(f, node, i int) string {
	return "mpwx." + strconv.Itoa(f) + "." + strconv.Itoa(node) + "." + strconv.Itoa(i)
}
