package pmix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/pmitest"
	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/proxy"
)

// waitDone fails unless up reports its end within d.
func waitDone(t *testing.T, up *Upstream, d time.Duration) error {
	t.Helper()
	select {
	case <-up.Done():
		return up.Err()
	case <-time.After(d):
		t.Fatalf("Upstream did not report the end within %v", d)
		return nil
	}
}

// TestServerLost: the PMIx server goes away while one rank is blocked in a
// fence and another is idle behind proxy.Serve. Both must hear of it.
func TestServerLost(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	job := newFakeJob(3)
	fencing := serveFake(ctx, t, job.client(0))
	idle := serveFake(ctx, t, job.client(1))
	fenced := make(chan error, 1)
	go func() { fenced <- fencing.up.Fence(ctx) }()
	mine, _, err := proxy.Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	proxied := make(chan error, 1)
	go func() { proxied <- proxy.Serve(ctx, mine, idle.up, proxy.Options{}) }()
	time.Sleep(50 * time.Millisecond) // let the fence block
	job.kill(errors.New("server killed"))
	for name, up := range map[string]*Upstream{"fencing": fencing.up, "idle": idle.up} {
		if err := waitDone(t, up, 5*time.Second); !errors.Is(err, ErrLost) {
			t.Errorf("%s: Err = %v, want ErrLost", name, err)
		}
	}
	if err := <-fenced; err == nil {
		t.Error("fence returned nil after the server died")
	}
	if err := <-proxied; !errors.Is(err, proxy.ErrUpstreamClosed) {
		t.Errorf("proxy.Serve = %v, want ErrUpstreamClosed", err)
	}
	if err := <-idle.helper; err == nil || !strings.Contains(err.Error(), "server killed") {
		t.Errorf("helper Serve = %v", err)
	}
}

// TestHelperGone: the helper's end closes without a word (it crashed).
func TestHelperGone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, b := pmitest.ConnPair(t)
	job := newFakeJob(1)
	helperCtx, killHelper := context.WithCancel(ctx)
	go Serve(helperCtx, b, job.client(0))
	up, err := NewUpstream(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	if up.Err() != nil {
		t.Fatalf("Err before the end: %v", up.Err())
	}
	killHelper()
	if err := waitDone(t, up, 5*time.Second); !errors.Is(err, pmi.ErrClosed) {
		t.Errorf("Err = %v, want pmi.ErrClosed", err)
	}
	if err := up.Commit(ctx); !errors.Is(err, pmi.ErrClosed) {
		t.Errorf("Commit after the end = %v", err)
	}
}

// TestAbortOvertakesFence: Abort must reach PMIx while a Fence blocks,
// then hold on until the launcher ends the job (here: the server dies).
func TestAbortOvertakesFence(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	job := newFakeJob(2)
	s := serveFake(ctx, t, job.client(0))
	fenced := make(chan error, 1)
	go func() { fenced <- s.up.Fence(ctx) }()
	time.Sleep(20 * time.Millisecond)
	aborted := make(chan error, 1)
	go func() { aborted <- s.up.Abort(ctx, 7, "bye") }()
	waitFor(t, func() bool { return len(job.abortCodes()) > 0 })
	if got := job.abortCodes(); len(got) != 1 || got[0] != 7 {
		t.Errorf("aborts = %v, want [7]", got)
	}
	select {
	case err := <-aborted:
		t.Fatalf("Abort returned %v before the launcher ended the job", err)
	case <-time.After(100 * time.Millisecond):
	}
	job.kill(errors.New("job aborted"))
	if err := <-aborted; err != nil {
		t.Errorf("Abort = %v once the job ended", err)
	}
	if err := <-fenced; err == nil {
		t.Error("fence succeeded with one rank missing")
	}
}

// TestAbortBounded: a launcher that neither answers PMIx_Abort nor ends
// the job, or answers and does not end it, must not keep the proxy.
func TestAbortBounded(t *testing.T) {
	defer func(d time.Duration) { abortGrace = d }(abortGrace)
	abortGrace = 200 * time.Millisecond
	for _, block := range []bool{true, false} {
		t.Run(fmt.Sprintf("answers=%v", !block), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			job := newFakeJob(1)
			if block {
				job.blockAbt = make(chan struct{})
				defer close(job.blockAbt)
			}
			s := serveFake(ctx, t, job.client(0))
			start := time.Now()
			if err := s.up.Abort(ctx, 3, ""); err != nil {
				t.Fatalf("Abort = %v, want nil once sent", err)
			}
			if d := time.Since(start); d < abortGrace || d > 2*time.Second {
				t.Errorf("Abort took %v, want about %v", d, abortGrace)
			}
		})
	}
}

// TestAbortFails: a PMIx_Abort that fails is reported, without delay.
func TestAbortFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	job := newFakeJob(1)
	job.abortErr = errors.New("PMIx_Abort: BAD-PARAM")
	s := serveFake(ctx, t, job.client(0))
	start := time.Now()
	if err := s.up.Abort(ctx, 3, ""); err == nil || !strings.Contains(err.Error(), "BAD-PARAM") {
		t.Fatalf("Abort = %v, want the PMIx_Abort error", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("a failed Abort took %v", d)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
	}
}

// TestHelloFailure: the helper could not load libpmix.
func TestHelloFailure(t *testing.T) {
	tests := []struct {
		name  string
		write func(w io.WriteCloser)
		want  string
	}{
		{"fail", func(w io.WriteCloser) { SendFailure(w, errors.New("load libpmix: nope")) }, "load libpmix: nope"},
		{"eof", func(w io.WriteCloser) { w.Close() }, "closed the connection before saying hello"},
		{"garbage", func(w io.WriteCloser) { w.Write([]byte{0, 0, 0, 9, 99, 0, 0, 0, 0, 1, 2, 3, 4}) }, "unknown op"},
		{"reply first", func(w io.WriteCloser) { writeFrame(w, frame{op: opOK, id: 1}) }, "got ok before hello"},
		{"bad rank", func(w io.WriteCloser) {
			writeFrame(w, frame{op: opHello, fields: []string{"4", "4", "0", "ns", "v"}})
		}, "impossible"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			a, b := pmitest.ConnPair(t)
			defer b.Close()
			go tt.write(b)
			_, err := NewUpstream(ctx, a)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewUpstream = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestHelloTimeout: a helper that never speaks is bounded by ctx.
func TestHelloTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	a, b := pmitest.ConnPair(t)
	defer b.Close()
	if _, err := NewUpstream(ctx, a); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("NewUpstream = %v, want a deadline error", err)
	}
}

// TestBadReplies: a helper that breaks the protocol ends the Upstream.
func TestBadReplies(t *testing.T) {
	tests := []struct {
		name  string
		reply frame
		want  string
	}{
		{"unknown id", frame{op: opOK, id: 99}, "unknown request 99"},
		{"request op", frame{op: opPut, id: 1, fields: []string{"k", "v"}}, "unexpected put frame"},
		{"error arity", frame{op: opError, id: 1}, "0 fields, want 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			a, b := pmitest.ConnPair(t)
			defer b.Close()
			go func() {
				writeFrame(b, frame{op: opHello, fields: []string{"0", "1", "0", "ns", "v"}})
				readFrame(b) // the commit
				writeFrame(b, tt.reply)
			}()
			up, err := NewUpstream(ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			defer up.Close()
			if err := up.Commit(ctx); err == nil {
				t.Fatal("Commit succeeded")
			}
			if err := waitDone(t, up, 5*time.Second); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Err = %v, want %q", err, tt.want)
			}
		})
	}
}

func writeFrame(w io.Writer, f frame) error {
	buf, err := appendFrame(nil, f)
	if err == nil {
		_, err = w.Write(buf)
	}
	return err
}
