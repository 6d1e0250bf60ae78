package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/wire"
)

// ErrEarlyClose reports that a rank closed its PMI connection after using
// it but before finalize: launchers treat that as a failed rank.
var ErrEarlyClose = errors.New("rank closed its PMI connection before finalize")

// Serve answers requests on conn from b until the rank finalizes and
// closes (nil), closes without ever sending a request (nil), closes early
// (ErrEarlyClose), aborts (*pmi.AbortError), or ctx ends. It closes conn.
func Serve(ctx context.Context, conn io.ReadWriteCloser, b Backend) error {
	s := &session{conn: conn}
	s.held.Store(&holder{b})
	return s.run(ctx)
}

// ServeByID is Serve for PMI_PORT connections: the backend is chosen by the
// pmiid of the client's initack (hydra sets PMI_ID to the rank).
func ServeByID(ctx context.Context, conn io.ReadWriteCloser, byID func(id int) (Backend, error)) error {
	return (&session{conn: conn, byID: byID}).run(ctx)
}

type session struct {
	conn      io.ReadWriteCloser
	wmu       sync.Mutex             // replies come from the handler, fatal errors from the reader
	held      atomic.Pointer[holder] // the backend, set late by initack
	byID      func(int) (Backend, error)
	wbuf      []byte
	used      atomic.Bool // any request seen: EOF is now a failure
	finalized atomic.Bool
}

// item is one unit of work for the handler: a frame or a read error.
type item struct {
	f   wire.Frame
	err error
}

func (s *session) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { s.conn.Close() })
	defer stop()
	items := make(chan item, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for it := range items {
			if err := s.handle(ctx, it); err != nil {
				cancel() // reply failed: the reader will see the close
				return
			}
		}
	}()
	err := s.read(ctx, items)
	close(items)
	if err != nil {
		cancel()
	}
	<-done
	s.conn.Close()
	if err == nil && ctx.Err() != nil && !s.finalized.Load() {
		return context.Cause(ctx)
	}
	return err
}

// read feeds the handler until EOF. Abort is acted on here, so that it
// works even while the handler is blocked in a fence.
func (s *session) read(ctx context.Context, items chan<- item) error {
	r := wire.NewReader(s.conn)
	for {
		f, err := r.Next()
		switch {
		case errors.Is(err, io.EOF):
			if s.used.Load() && !s.finalized.Load() {
				return ErrEarlyClose
			}
			return nil
		case err != nil && !isFormat(err):
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return fmt.Errorf("read PMI request: %w", err)
		}
		s.used.Store(true)
		if err == nil && f.Msg.Cmd == "abort" && s.backend() != nil {
			return s.abort(ctx, f.Msg)
		}
		if wire.IsFatal(err) { // reply here: the handler may be blocked
			var buf []byte
			s.send(&buf, f.Proto, errReply(f.Proto, "", f.Msg, -1, err.Error()))
			return fmt.Errorf("read PMI request: %w", err)
		}
		select {
		case items <- item{f, err}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

func isFormat(err error) bool {
	var fe *wire.FormatError
	return errors.As(err, &fe)
}

type holder struct{ b Backend }

// backend returns the rank's backend, nil before initack named it.
func (s *session) backend() Backend {
	if h := s.held.Load(); h != nil {
		return h.b
	}
	return nil
}

func (s *session) abort(ctx context.Context, m wire.Msg) error {
	code, ok, err := m.Int("exitcode")
	if !ok || err != nil {
		code = 1 // PMI-2 abort (isworld=TRUE) carries no code
	}
	msg := m.ErrMsg()
	if msg == "" {
		msg, _ = m.Get("message")
	}
	b := s.backend()
	ae := &pmi.AbortError{Rank: b.Info().Rank, Code: code, Msg: msg}
	if err := b.Abort(ctx, code, msg); err != nil {
		return fmt.Errorf("forward abort of rank %d: %w", ae.Rank, err)
	}
	return ae
}

// handle answers one item. It returns an error only when the reply could
// not be written.
func (s *session) handle(ctx context.Context, it item) error {
	if it.err != nil {
		cmd := ""
		var fe *wire.FormatError
		if errors.As(it.err, &fe) {
			cmd = fe.Cmd
		}
		return s.reply(it.f.Proto, errReply(it.f.Proto, cmd, it.f.Msg, -1, it.err.Error()))
	}
	if it.f.Proto == wire.V2 {
		return s.reply(wire.V2, s.handleV2(ctx, it.f.Msg))
	}
	return s.handleV1(ctx, it.f)
}

// reply writes the handler's reply.
func (s *session) reply(p wire.Proto, m wire.Msg) error {
	return s.send(&s.wbuf, p, m)
}

// send writes one message in one write, replacing it by an error reply if
// it cannot be encoded in that framing.
func (s *session) send(buf *[]byte, p wire.Proto, m wire.Msg) error {
	b, err := appendMsg((*buf)[:0], p, m)
	if err != nil { // e.g. a value with spaces put over PMI-2, got over PMI-1
		f := errReply(p, "", m, -1, err.Error())
		f.Cmd = m.Cmd
		b, err = appendMsg((*buf)[:0], p, f)
		if err != nil {
			return err
		}
	}
	s.wmu.Lock()
	_, err = s.conn.Write(b)
	s.wmu.Unlock()
	if cap(b) > 4096 {
		b = nil
	}
	*buf = b
	return err
}

func appendMsg(dst []byte, p wire.Proto, m wire.Msg) ([]byte, error) {
	if p == wire.V2 {
		return wire.AppendV2(dst, m, false)
	}
	return wire.AppendV1(dst, m)
}

// errReply builds "<response> rc=<rc> msg=..." for req (or for cmd when
// the request could not be parsed).
func errReply(p wire.Proto, cmd string, req wire.Msg, rc int, msg string) wire.Msg {
	if req.Cmd != "" {
		cmd = req.Cmd
	}
	r := wire.Msg{Cmd: respName(p, cmd)}
	if th, ok := req.Get("thrid"); ok && p == wire.V2 {
		r.Add("thrid", th)
	}
	r.Add("rc", strconv.Itoa(rc))
	if p == wire.V2 {
		r.Add("errmsg", strings.ReplaceAll(msg, "\n", " "))
	} else {
		r.Add("msg", strings.Map(func(c rune) rune {
			if c <= ' ' || c > '~' {
				return '_'
			}
			return c
		}, msg))
	}
	return r
}

// respName is the response command for a request command.
func respName(p wire.Proto, cmd string) string {
	if cmd == "" {
		cmd = "error"
	}
	if p == wire.V2 {
		return cmd + "-response"
	}
	if r, ok := v1Responses[cmd]; ok {
		return r
	}
	return cmd + "_result"
}
