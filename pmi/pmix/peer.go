package pmix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// peer is one end of the helper protocol in server mode, where both ends
// send requests: each numbers its own, and a reply (opOK, opNotFound,
// opError) carries the id of the request it answers.
type peer struct {
	conn io.ReadWriteCloser

	wmu  sync.Mutex // one frame at a time
	wbuf []byte

	mu      sync.Mutex
	next    uint32
	pending map[uint32]chan frame

	done chan struct{} // closed when the connection ended
	err  error         // why; set before done is closed
}

func newPeer(conn io.ReadWriteCloser) *peer {
	return &peer{conn: conn, pending: map[uint32]chan frame{}, done: make(chan struct{})}
}

// send writes one frame.
func (p *peer) send(f frame) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	var err error
	if p.wbuf, err = appendFrame(p.wbuf[:0], f); err != nil {
		return err
	}
	if _, err := p.conn.Write(p.wbuf); err != nil {
		return fmt.Errorf("PMIx helper %v: write: %w", f.op, err)
	}
	return nil
}

// reply answers request id.
func (p *peer) reply(id uint32, o op, fields ...string) error {
	return p.send(frame{op: o, id: id, fields: fields})
}

// call sends a request and waits for its reply; opError is an error.
func (p *peer) call(ctx context.Context, o op, fields ...string) (frame, error) {
	ch := make(chan frame, 1)
	p.mu.Lock()
	p.next++
	id := p.next
	p.pending[id] = ch
	p.mu.Unlock()
	forget := func() {
		p.mu.Lock()
		delete(p.pending, id)
		p.mu.Unlock()
	}
	if err := p.send(frame{op: o, id: id, fields: fields}); err != nil {
		forget()
		return frame{}, err
	}
	var f frame
	select {
	case f = <-ch:
	case <-p.done:
		select {
		case f = <-ch:
		default:
			return frame{}, fmt.Errorf("PMIx helper %v: %w", o, p.err)
		}
	case <-ctx.Done():
		forget()
		return frame{}, fmt.Errorf("PMIx helper %v: %w", o, context.Cause(ctx))
	}
	if f.op == opError {
		return f, fmt.Errorf("PMIx helper %v: %s", o, f.fields[0])
	}
	return f, nil
}

// run reads frames until the connection ends, passing replies to their
// callers and everything else to handle, in order. It returns why it
// ended (nil at a clean EOF) and closes done.
func (p *peer) run(handle func(frame) error) error {
	err := p.loop(handle)
	p.conn.Close()
	p.mu.Lock()
	p.err = err
	if err == nil {
		p.err = errPeerClosed
	}
	p.mu.Unlock()
	close(p.done)
	return err
}

var errPeerClosed = errors.New("the PMIx helper connection closed")

func (p *peer) loop(handle func(frame) error) error {
	for {
		f, err := readFrame(p.conn)
		if err == nil {
			err = f.check()
		}
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			return err
		}
		switch f.op {
		case opOK, opNotFound, opError:
			p.mu.Lock()
			ch, ok := p.pending[f.id]
			delete(p.pending, f.id)
			p.mu.Unlock()
			if ok {
				ch <- f
			}
		default:
			if err := handle(f); err != nil {
				return err
			}
		}
	}
}

// close ends the connection.
func (p *peer) close() error { return p.conn.Close() }
