package pmix

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The helper protocol. Every frame is
//
//	uint32 length of the rest (big endian)
//	uint8  op
//	uint32 id (big endian): a request's id, echoed by its reply; 0 otherwise
//	fields: each a uvarint byte length followed by the bytes
//
// Numbers travel as decimal strings, so a frame dump is readable.
// The helper speaks first (opHello or opFail); then the Upstream sends
// requests and the helper answers each with opOK, opNotFound or opError,
// in any order. opLost is the helper's last word when the PMIx server went
// away.
type op uint8

const (
	opHello    op = iota + 1 // helper: rank, size, appnum, nspace, library version
	opFail                   // helper: could not load or initialise libpmix: message
	opLost                   // helper: lost the PMIx server: message
	opPut                    // key, value
	opCommit                 //
	opFence                  //
	opGet                    // rank (AnyRank, RankWildcard or >= 0), key
	opNodeIDs                //
	opAbort                  // code, message
	opFinalize               //
	opOK                     // reply: result fields
	opNotFound               // reply: no such key
	opError                  // reply: message
	// Server mode (srvserve.go, node.go): the helper is the node's PMIx
	// server, and requests go both ways, each side numbering its own.
	opSrvHello // helper: version (after opFail if libpmix can't be loaded)
	opSrvStart // host: dir, nspace, uid, gid, local ranks, job and proc attributes
	opSrvEvent // helper: an upcall: kind, then its fields (id 0: needs no reply)
	opSrvStop  // host: finalize the server
	opSrvSync  // host: reply once every upcall made so far has been sent
	// The name service, client mode (after the server ops to keep their
	// numbers): requests of the Upstream.
	opPublish   // service, port
	opLookup    // service
	opUnpublish // service
	opMax
)

var opNames = [...]string{"", "hello", "fail", "lost", "put", "commit", "fence", "get", "nodeids", "abort", "finalize", "ok", "notfound", "error",
	"srvhello", "srvstart", "srvevent", "srvstop", "srvsync",
	"publish", "lookup", "unpublish"}

func (o op) String() string {
	if o > 0 && o < opMax {
		return opNames[o]
	}
	return "op" + strconv.Itoa(int(o))
}

// maxFrame bounds a frame: a node list of a million ranks fits.
const maxFrame = 16 << 20

// frame is one decoded message.
type frame struct {
	op     op
	id     uint32
	fields []string
}

// appendFrame encodes f after dst.
func appendFrame(dst []byte, f frame) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, byte(f.op))
	dst = binary.BigEndian.AppendUint32(dst, f.id)
	for _, s := range f.fields {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	n := len(dst) - start - 4
	if n > maxFrame {
		return dst[:start], fmt.Errorf("encode PMIx helper %v frame: %d bytes exceeds the %d-byte limit", f.op, n, maxFrame)
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(n))
	return dst, nil
}

// readFrame reads one frame. A clean EOF before the frame is io.EOF; a
// frame cut short is io.ErrUnexpectedEOF.
func readFrame(r io.Reader) (frame, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return frame{}, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < 5 || n > maxFrame {
		return frame{}, fmt.Errorf("read PMIx helper frame: length %d out of range [5, %d]", n, maxFrame)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return frame{}, err
	}
	return decodeBody(body)
}

// decodeBody parses a frame without its length prefix.
func decodeBody(body []byte) (frame, error) {
	if len(body) < 5 {
		return frame{}, fmt.Errorf("read PMIx helper frame: %d bytes is too short", len(body))
	}
	f := frame{op: op(body[0]), id: binary.BigEndian.Uint32(body[1:5])}
	if f.op == 0 || f.op >= opMax {
		return frame{}, fmt.Errorf("read PMIx helper frame: unknown op %d", body[0])
	}
	rest := body[5:]
	for len(rest) > 0 {
		l, k := binary.Uvarint(rest)
		if k <= 0 || l > uint64(len(rest)-k) {
			return frame{}, fmt.Errorf("read PMIx helper %v frame: field %d overruns the frame", f.op, len(f.fields))
		}
		f.fields = append(f.fields, string(rest[k:k+int(l)]))
		rest = rest[k+int(l):]
	}
	return f, nil
}

// arity is how many fields each op carries; -1 is any number.
var arity = [opMax]int{opHello: 5, opFail: 1, opLost: 1, opPut: 2, opCommit: 0, opFence: 0,
	opGet: 2, opNodeIDs: 0, opAbort: 2, opFinalize: 0, opOK: -1, opNotFound: 0, opError: 1,
	opSrvHello: 1, opSrvStart: -1, opSrvEvent: -1, opSrvStop: 0, opSrvSync: 0,
	opPublish: 2, opLookup: 1, opUnpublish: 1}

// check reports whether f has the fields its op needs.
func (f frame) check() error {
	if want := arity[f.op]; want >= 0 && len(f.fields) != want {
		return fmt.Errorf("read PMIx helper %v frame: %d fields, want %d", f.op, len(f.fields), want)
	}
	return nil
}

// intField parses field i of f as a decimal int.
func (f frame) intField(i int) (int, error) {
	n, err := strconv.Atoi(f.fields[i])
	if err != nil {
		return 0, fmt.Errorf("read PMIx helper %v frame: field %d %.20q is not a number", f.op, i, f.fields[i])
	}
	return n, nil
}
