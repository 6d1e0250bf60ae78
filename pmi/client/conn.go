package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/wire"
)

// conn is a lock-step PMI connection with a reader goroutine.
type conn struct {
	c      net.Conn
	resp   chan wire.Frame // responses to the outstanding request
	expect atomic.Int32    // responses still due to it

	mu     sync.Mutex // one request at a time
	wbuf   []byte
	broken error // set when a call gave up mid-request: stream is out of step

	done     chan struct{} // closed when the reader stops
	err      error         // why the reader stopped; read after done
	closeErr sync.Once
}

func newConn(c net.Conn) *conn {
	cn := &conn{c: c, resp: make(chan wire.Frame, maxResponses), done: make(chan struct{})}
	go cn.readLoop()
	return cn
}

// readLoop hands each message to the waiting call. A message nobody asked
// for is a protocol error; so is a malformed one.
func (cn *conn) readLoop() {
	defer close(cn.done)
	r := wire.NewReader(cn.c)
	for {
		f, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = pmi.ErrClosed
			}
			cn.err = err
			return
		}
		if cn.expect.Add(-1) < 0 {
			cn.err = fmt.Errorf("read PMI response: unsolicited %v message cmd=%s", f.Proto, f.Msg.Cmd)
			cn.c.Close()
			return
		}
		cn.resp <- f // never blocks: at most maxResponses are due
	}
}

// maxResponses is the most responses one request gets (initack's four).
const maxResponses = 4

// Done is closed when the connection ended (peer closed, error or Close).
func (cn *conn) Done() <-chan struct{} { return cn.done }

// Err says why the connection ended; nil while it is up.
func (cn *conn) Err() error {
	select {
	case <-cn.done:
		return cn.err
	default:
		return nil
	}
}

// Close closes the connection and waits for the reader.
func (cn *conn) Close() error {
	var err error
	cn.closeErr.Do(func() { err = cn.c.Close() })
	<-cn.done
	return err
}

// roundTrip sends req and returns the response, checking its command.
func (cn *conn) roundTrip(ctx context.Context, p wire.Proto, req wire.Msg, want string) (wire.Msg, error) {
	ms, err := cn.exchange(ctx, p, req, want)
	if err != nil {
		return wire.Msg{}, err
	}
	return ms[0], nil
}

// exchange sends req and reads one response per entry of want.
func (cn *conn) exchange(ctx context.Context, p wire.Proto, req wire.Msg, want ...string) ([]wire.Msg, error) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	cn.expect.Store(int32(len(want)))
	if err := cn.sendLocked(p, req); err != nil {
		return nil, err
	}
	out := make([]wire.Msg, 0, len(want))
	for _, w := range want {
		f, err := cn.next(ctx)
		if err != nil {
			cn.broken = fmt.Errorf("PMI %s: %w", req.Cmd, err)
			return nil, cn.broken
		}
		if f.Msg.Cmd != w {
			cn.broken = fmt.Errorf("PMI %s: expected cmd=%s, got cmd=%s", req.Cmd, w, f.Msg.Cmd)
			return nil, cn.broken
		}
		out = append(out, f.Msg)
	}
	return out, nil
}

// next waits for the next response. A response that arrived just before
// the connection closed is still returned.
func (cn *conn) next(ctx context.Context) (wire.Frame, error) {
	select {
	case f := <-cn.resp:
		return f, nil
	case <-cn.done:
		select {
		case f := <-cn.resp:
			return f, nil
		default:
			return wire.Frame{}, cn.err
		}
	case <-ctx.Done():
		return wire.Frame{}, fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
}

// send writes a request that has no response (abort).
func (cn *conn) send(p wire.Proto, req wire.Msg) error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	cn.expect.Store(0)
	return cn.sendLocked(p, req)
}

// sendLocked encodes req and writes it in one write. PMI-1 requests over
// wire.MaxV1Request bytes are refused rather than split.
func (cn *conn) sendLocked(p wire.Proto, req wire.Msg) error {
	if cn.broken != nil {
		return cn.broken
	}
	if err := cn.Err(); err != nil {
		return fmt.Errorf("PMI %s: %w", req.Cmd, err)
	}
	var err error
	if p == wire.V2 {
		cn.wbuf, err = wire.AppendV2(cn.wbuf[:0], req, true)
	} else {
		cn.wbuf, err = wire.AppendV1(cn.wbuf[:0], req)
		if err == nil && len(cn.wbuf) > wire.MaxV1Request {
			err = fmt.Errorf("encode PMI-1 %s: request of %d bytes exceeds the %d-byte limit of PMI-1 servers (Slurm reads one 1024-byte block)", req.Cmd, len(cn.wbuf), wire.MaxV1Request)
		}
	}
	if err != nil {
		return err
	}
	if _, err := cn.c.Write(cn.wbuf); err != nil {
		return fmt.Errorf("PMI %s: write: %w", req.Cmd, err)
	}
	return nil
}

// rcErr turns a non-zero rc into *pmi.ErrorReply.
func rcErr(req string, m wire.Msg) error {
	rc, err := m.RC()
	if err != nil {
		return err
	}
	if rc != 0 {
		return &pmi.ErrorReply{Cmd: req, RC: rc, Msg: m.ErrMsg()}
	}
	return nil
}
