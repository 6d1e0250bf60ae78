package pmix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mpiwrap/mpiwrap/pmi"
)

// ErrLost reports that the helper lost its PMIx server: the launcher or
// its daemon died, and the rank must be killed.
var ErrLost = errors.New("PMIx server connection lost")

// maxKey is PMIX_MAX_KEYLEN.
const maxKey = 511

// abortGrace bounds how long Abort waits for the launcher to end the job
// (srun and mpirun take about a second).
var abortGrace = 10 * time.Second

// Upstream is a proxy.Upstream (and proxy.NodeMapper) whose host side is
// a PMIx server, reached through a helper process that runs libpmix
// (Start), or through any conn that Serve answers (NewUpstream). Its
// methods are safe for concurrent use.
type Upstream struct {
	conn    io.ReadWriteCloser
	info    pmi.Info
	version string
	proc    *helperProc // nil without a helper process

	wmu  sync.Mutex // one frame at a time
	wbuf []byte

	mu      sync.Mutex
	next    uint32                // last request id
	pending map[uint32]chan frame // replies awaited
	closing bool                  // Close was called

	done chan struct{} // closed when the helper connection ended
	err  error         // why; set before done is closed
	once sync.Once
}

// NewUpstream reads the helper's hello on conn and returns the Upstream.
func NewUpstream(ctx context.Context, conn io.ReadWriteCloser) (*Upstream, error) {
	return newUpstream(ctx, conn, nil)
}

func newUpstream(ctx context.Context, conn io.ReadWriteCloser, proc *helperProc) (*Upstream, error) {
	u := &Upstream{conn: conn, proc: proc, pending: map[uint32]chan frame{}, done: make(chan struct{})}
	if err := u.hello(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	go u.readLoop()
	return u, nil
}

// hello waits for the helper's first frame.
func (u *Upstream) hello(ctx context.Context) error {
	type result struct {
		f   frame
		err error
	}
	ch := make(chan result, 1)
	go func() {
		f, err := readFrame(u.conn)
		if err == nil {
			err = f.check()
		}
		ch <- result{f, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		u.conn.Close()
		<-ch
		return fmt.Errorf("start PMIx helper: no answer: %w", context.Cause(ctx))
	}
	switch {
	case r.err != nil && (errors.Is(r.err, io.EOF) || errors.Is(r.err, io.ErrUnexpectedEOF)):
		return fmt.Errorf("start PMIx helper: it closed the connection before saying hello%s", u.proc.status(time.Second))
	case r.err != nil:
		return fmt.Errorf("start PMIx helper: %w", r.err)
	case r.f.op == opFail:
		return fmt.Errorf("start PMIx helper: %s", r.f.fields[0])
	case r.f.op != opHello:
		return fmt.Errorf("start PMIx helper: got %v before hello", r.f.op)
	}
	return u.parseHello(r.f)
}

func (u *Upstream) parseHello(f frame) error {
	var nums [3]int
	for i := range nums {
		n, err := f.intField(i)
		if err != nil {
			return fmt.Errorf("start PMIx helper: %w", err)
		}
		nums[i] = n
	}
	u.info = pmi.Info{Rank: nums[0], Size: nums[1], AppNum: nums[2], KVSName: f.fields[3]}
	u.version = f.fields[4]
	if u.info.Size <= 0 || u.info.Rank < 0 || u.info.Rank >= u.info.Size {
		return fmt.Errorf("start PMIx helper: rank %d of size %d is impossible", u.info.Rank, u.info.Size)
	}
	return nil
}

// readLoop hands replies to their callers until the connection ends.
func (u *Upstream) readLoop() {
	err := u.readReplies()
	u.mu.Lock()
	u.err = err
	u.mu.Unlock()
	close(u.done)
}

func (u *Upstream) readReplies() error {
	for {
		f, err := readFrame(u.conn)
		if err == nil {
			err = f.check()
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
				return u.closedErr()
			}
			u.conn.Close()
			return fmt.Errorf("read from the PMIx helper: %w", err)
		}
		switch f.op {
		case opLost:
			u.conn.Close()
			return fmt.Errorf("%w: %s", ErrLost, f.fields[0])
		case opOK, opNotFound, opError:
			if err := u.deliver(f); err != nil {
				u.conn.Close()
				return err
			}
		default:
			u.conn.Close()
			return fmt.Errorf("read from the PMIx helper: unexpected %v frame", f.op)
		}
	}
}

// deliver passes a reply to its caller. A reply whose caller gave up
// (its ctx ended) is dropped; one for a request never sent is an error.
func (u *Upstream) deliver(f frame) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if ch, ok := u.pending[f.id]; ok {
		ch <- f // buffered: one reply per request
		delete(u.pending, f.id)
		return nil
	}
	if f.id == 0 || f.id > u.next {
		return fmt.Errorf("read from the PMIx helper: %v reply to unknown request %d", f.op, f.id)
	}
	return nil
}

// closedErr says why the helper connection ended at EOF.
func (u *Upstream) closedErr() error {
	u.mu.Lock()
	closing := u.closing
	u.mu.Unlock()
	if closing {
		return pmi.ErrClosed
	}
	return fmt.Errorf("%w: the PMIx helper closed the connection%s", pmi.ErrClosed, u.proc.status(time.Second))
}

// call sends a request and waits for its reply; opError becomes an error.
func (u *Upstream) call(ctx context.Context, o op, fields ...string) (frame, error) {
	ch := make(chan frame, 1)
	u.mu.Lock()
	u.next++
	id := u.next
	u.pending[id] = ch
	u.mu.Unlock()
	forget := func() {
		u.mu.Lock()
		delete(u.pending, id)
		u.mu.Unlock()
	}
	if err := u.write(frame{op: o, id: id, fields: fields}); err != nil {
		forget()
		return frame{}, err
	}
	var f frame
	select {
	case f = <-ch:
	case <-u.done:
		select {
		case f = <-ch: // answered just before the end
		default:
			return frame{}, fmt.Errorf("PMIx %v: %w", o, u.Err())
		}
	case <-ctx.Done():
		forget()
		return frame{}, fmt.Errorf("PMIx %v: interrupted: %w", o, context.Cause(ctx))
	}
	if f.op == opError {
		return f, fmt.Errorf("PMIx %v: %s", o, f.fields[0])
	}
	return f, nil
}

func (u *Upstream) write(f frame) error {
	select {
	case <-u.done:
		return fmt.Errorf("PMIx %v: %w", f.op, u.Err())
	default:
	}
	u.wmu.Lock()
	defer u.wmu.Unlock()
	var err error
	if u.wbuf, err = appendFrame(u.wbuf[:0], f); err != nil {
		return err
	}
	if _, err := u.conn.Write(u.wbuf); err != nil {
		return fmt.Errorf("PMIx %v: write to the helper: %w", f.op, err)
	}
	return nil
}

// Info returns rank, size, appnum and the namespace as kvsname.
func (u *Upstream) Info() pmi.Info { return u.info }

// Version is the helper's libpmix version string.
func (u *Upstream) Version() string { return u.version }

// HelperPID is the helper process's pid, 0 without one.
func (u *Upstream) HelperPID() int {
	if u.proc == nil {
		return 0
	}
	return u.proc.pid
}

// Put stores key=value as a PMIX_STRING with PMIX_GLOBAL scope.
func (u *Upstream) Put(ctx context.Context, key, value string) error {
	if key == "" || len(key) > maxKey || strings.IndexByte(key, 0) >= 0 || strings.IndexByte(value, 0) >= 0 {
		return fmt.Errorf("PMIx put %.40q: keys are 1 to %d bytes and neither key nor value may hold NUL", key, maxKey)
	}
	_, err := u.call(ctx, opPut, key, value)
	return err
}

// Commit is PMIx_Commit.
func (u *Upstream) Commit(ctx context.Context) error {
	_, err := u.call(ctx, opCommit)
	return err
}

// Fence is PMIx_Fence of the namespace with PMIX_COLLECT_DATA.
func (u *Upstream) Fence(ctx context.Context) error {
	_, err := u.call(ctx, opFence)
	return err
}

// Get looks key up on rank, or on any rank (PMIX_RANK_UNDEF) for
// pmi.AnyRank. It never waits for a key nobody put (PMIX_IMMEDIATE).
func (u *Upstream) Get(ctx context.Context, rank int, key string) (string, bool, error) {
	if rank != pmi.AnyRank && (rank < 0 || rank >= u.info.Size) {
		return "", false, fmt.Errorf("PMIx get %s: rank %d is outside the job of %d", key, rank, u.info.Size)
	}
	return u.get(ctx, rank, key)
}

func (u *Upstream) get(ctx context.Context, rank int, key string) (string, bool, error) {
	if key == "" || len(key) > maxKey || strings.IndexByte(key, 0) >= 0 {
		return "", false, fmt.Errorf("PMIx get %.40q: keys are 1 to %d bytes without NUL", key, maxKey)
	}
	f, err := u.call(ctx, opGet, strconv.Itoa(rank), key)
	if err != nil || f.op == opNotFound {
		return "", false, err
	}
	if len(f.fields) != 1 {
		return "", false, fmt.Errorf("PMIx get %s: reply has %d fields, want 1", key, len(f.fields))
	}
	return f.fields[0], true, nil
}

// JobAttr answers universeSize from PMIX_UNIV_SIZE. Other attributes,
// PMI_process_mapping included, are not PMIx keys: they are reported
// missing, and the proxy synthesises the mapping from NodeIDs.
func (u *Upstream) JobAttr(ctx context.Context, key string) (string, bool, error) {
	if key != pmi.AttrUniverseSize {
		return "", false, nil
	}
	v, found, err := u.get(ctx, RankWildcard, KeyUnivSize)
	if err != nil || !found {
		return "", false, err
	}
	if n, perr := strconv.Atoi(v); perr != nil || n <= 0 {
		return "", false, nil
	}
	return v, true, nil
}

// NodeIDs returns the node of every rank (see nodeIDs).
func (u *Upstream) NodeIDs(ctx context.Context) ([]int, error) {
	f, err := u.call(ctx, opNodeIDs)
	if err != nil {
		return nil, err
	}
	if len(f.fields) != 1 {
		return nil, fmt.Errorf("PMIx node ids: reply has %d fields, want 1", len(f.fields))
	}
	parts := strings.Split(f.fields[0], ",")
	if len(parts) != u.info.Size {
		return nil, fmt.Errorf("PMIx node ids: %d values for a job of %d", len(parts), u.info.Size)
	}
	ids := make([]int, len(parts))
	for i, p := range parts {
		if ids[i], err = strconv.Atoi(p); err != nil || ids[i] < 0 {
			return nil, fmt.Errorf("PMIx node ids: rank %d has node %.20q", i, p)
		}
	}
	return ids, nil
}

// Abort is PMIx_Abort of the whole namespace, so the launcher ends the
// job. Like a native PMI server, which never answers an abort, it then
// holds on until the launcher ends the job (the helper dies) or for
// abortGrace: once the proxy returns, it closes the rank's PMI socket,
// and MPICH 4.0's MPI_Abort returns when its PMI_Abort reads EOF, letting
// the rank run on. An error means PMIx_Abort itself failed.
func (u *Upstream) Abort(ctx context.Context, code int, msg string) error {
	ctx, cancel := context.WithTimeout(ctx, abortGrace)
	defer cancel()
	_, err := u.call(ctx, opAbort, strconv.Itoa(code), msg)
	select {
	case <-ctx.Done():
		return nil // grace over, answered or not
	case <-u.done:
		return nil // the launcher is ending the job
	default:
	}
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-u.done:
	}
	return nil
}

// Publish registers service at port with the PMIx server's name service
// (PMIx_Publish), for MPI_Publish_name behind the proxy.
func (u *Upstream) Publish(ctx context.Context, service, port string) error {
	_, err := u.call(ctx, opPublish, service, port)
	return err
}

// Lookup finds a published service's port (PMIx_Lookup).
func (u *Upstream) Lookup(ctx context.Context, service string) (string, bool, error) {
	f, err := u.call(ctx, opLookup, service)
	if err != nil || f.op == opNotFound {
		return "", false, err
	}
	if len(f.fields) != 1 {
		return "", false, fmt.Errorf("PMIx lookup %s: reply has %d fields, want 1", service, len(f.fields))
	}
	return f.fields[0], true, nil
}

// Unpublish withdraws a published service (PMIx_Unpublish).
func (u *Upstream) Unpublish(ctx context.Context, service string) error {
	_, err := u.call(ctx, opUnpublish, service)
	return err
}

// Finalize is PMIx_Finalize; the helper exits after it.
func (u *Upstream) Finalize(ctx context.Context) error {
	_, err := u.call(ctx, opFinalize)
	return err
}

// Done is closed when the helper connection ended: Finalize, Close, the
// helper's death, or the PMIx server's loss (Err wraps ErrLost).
func (u *Upstream) Done() <-chan struct{} { return u.done }

// Err says why Done was closed; nil while it is open.
func (u *Upstream) Err() error {
	select {
	case <-u.done:
		u.mu.Lock()
		defer u.mu.Unlock()
		return u.err
	default:
		return nil
	}
}

// Close ends the connection and reaps the helper, killing it if it does
// not exit within a second of seeing the connection close.
func (u *Upstream) Close() error {
	var err error
	u.once.Do(func() {
		u.mu.Lock()
		u.closing = true
		u.mu.Unlock()
		err = u.conn.Close()
		<-u.done
		u.proc.reap(time.Second)
	})
	return err
}
