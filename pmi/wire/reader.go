package wire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Frame is one message read from a connection.
type Frame struct {
	Proto Proto
	Msg   Msg
	// Spawn holds the commands of a PMI-1 "mcmd=spawn" block, each one's
	// lines as pairs in order; Msg.Cmd is then "spawn".
	Spawn []Msg
}

// Reader reads messages of either framing from a stream. It never assumes
// that one read() is one message.
type Reader struct {
	br  *bufio.Reader
	buf []byte
}

// NewReader returns a Reader with a small buffer (PMI messages are short;
// a long one is gathered in a scratch slice instead).
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 512)}
}

// Next reads the next message. It returns io.EOF at a clean end of stream,
// io.ErrUnexpectedEOF inside a message, and *FormatError for bad input.
func (r *Reader) Next() (Frame, error) {
	for {
		c, err := r.br.ReadByte()
		if err != nil {
			return Frame{}, err
		}
		switch {
		case c == '\n' || c == '\r':
			continue // stray blank line between messages
		case c == ' ' || (c >= '0' && c <= '9'):
			_ = r.br.UnreadByte()
			return r.nextV2()
		default:
			_ = r.br.UnreadByte()
			return r.nextV1()
		}
	}
}

func (r *Reader) nextV2() (Frame, error) {
	var h [HeaderLen]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		return Frame{Proto: V2}, unexpected(err)
	}
	n, err := parseHeader(h[:])
	if err != nil {
		return Frame{Proto: V2}, &FormatError{Proto: V2, Fatal: true, Err: err}
	}
	if cap(r.buf) < n {
		r.buf = make([]byte, n)
	}
	p := r.buf[:n]
	if _, err := io.ReadFull(r.br, p); err != nil {
		return Frame{Proto: V2}, unexpected(err)
	}
	m, err := ParseV2(p)
	r.shrink()
	return Frame{Proto: V2, Msg: m}, err
}

func (r *Reader) nextV1() (Frame, error) {
	line, err := r.readLine()
	if err != nil {
		return Frame{Proto: V1}, err
	}
	if bytes.HasPrefix(line, []byte("mcmd=")) {
		return r.nextSpawn(line)
	}
	m, err := ParseV1(line)
	r.shrink()
	return Frame{Proto: V1, Msg: m}, err
}

// readLine returns the next line without its newline. A line longer than
// MaxFrame is a fatal error as soon as that many bytes have come: waiting
// for its newline could be waiting forever.
func (r *Reader) readLine() ([]byte, error) {
	r.buf = r.buf[:0]
	for {
		if _, err := r.br.Peek(1); err != nil { // wait for whatever comes next
			return nil, unexpected(err)
		}
		have, _ := r.br.Peek(r.br.Buffered())
		i := bytes.IndexByte(have, '\n')
		if i < 0 && len(r.buf)+len(have) <= MaxFrame {
			r.buf = append(r.buf, have...)
			r.br.Discard(len(have))
			continue
		}
		if i < 0 || len(r.buf)+i > MaxFrame {
			r.buf = nil
			return nil, &FormatError{Proto: V1, Fatal: true, Err: fmt.Errorf("line longer than %d bytes", MaxFrame)}
		}
		r.buf = append(r.buf, have[:i]...)
		r.br.Discard(i + 1)
		return r.buf, nil
	}
}

// nextSpawn reads a mcmd=spawn block whose first line is first.
func (r *Reader) nextSpawn(first []byte) (Frame, error) {
	f := Frame{Proto: V1, Msg: Msg{Cmd: "spawn"}}
	if string(bytes.TrimRight(first, "\r")) != "mcmd=spawn" {
		return r.skipSpawn(f, fmt.Errorf("block starts with %.32q, not mcmd=spawn", first))
	}
	cur, total := Msg{Cmd: "spawn"}, 0
	for {
		line, err := r.readLine()
		if err != nil {
			return f, blockErr(err)
		}
		total += len(line) + 1
		s := string(bytes.TrimRight(line, "\r"))
		switch {
		case total > MaxFrame || len(f.Spawn) >= maxSpawnCmds || len(cur.Pairs) >= MaxPairs:
			return f, &FormatError{Proto: V1, Cmd: "spawn", Fatal: true, Err: errors.New("spawn block too large")}
		case s == "mcmd=spawn":
			continue // start of the next command
		case s == "endcmd":
			f.Spawn = append(f.Spawn, cur)
			if spawnDone(cur) {
				return f, nil
			}
			cur = Msg{Cmd: "spawn"}
			continue
		}
		p, err := parseSpawnLine(line)
		if err != nil {
			return r.skipSpawn(f, err)
		}
		cur.Pairs = append(cur.Pairs, p)
	}
}

// spawnDone reports whether cmd is the last of its block.
func spawnDone(cmd Msg) bool {
	so, ok1, err1 := cmd.Int("spawnssofar")
	tot, ok2, err2 := cmd.Int("totspawns")
	if !ok1 || !ok2 || err1 != nil || err2 != nil {
		return true
	}
	return so >= tot
}

// skipSpawn discards the rest of a bad block so the stream stays in step.
func (r *Reader) skipSpawn(f Frame, cause error) (Frame, error) {
	for n := 0; ; n++ {
		line, err := r.readLine()
		if err != nil {
			return f, blockErr(err)
		}
		if string(bytes.TrimRight(line, "\r")) == "endcmd" || n > MaxPairs {
			return f, &FormatError{Proto: V1, Cmd: "spawn", Fatal: n > MaxPairs, Err: cause}
		}
	}
}

func blockErr(err error) error {
	var fe *FormatError
	if errors.As(err, &fe) {
		fe.Cmd, fe.Fatal = "spawn", true
		return fe
	}
	return err
}

// shrink drops a scratch buffer grown by one big message, to keep idle
// connections small.
func (r *Reader) shrink() {
	if cap(r.buf) > 4096 {
		r.buf = nil
	}
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
