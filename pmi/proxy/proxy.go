package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/server"
)

// ErrUpstreamClosed reports that the host's PMI connection ended before the
// rank finalized: the runtime should kill the rank.
var ErrUpstreamClosed = errors.New("host PMI connection closed before the rank finalized")

// Options tunes a proxy.
type Options struct {
	// LocalSize is the number of ranks on this node as the launcher says
	// (LocalSizeFromEnv); 0 if unknown. When it equals the job size the
	// proxy can synthesise PMI_process_mapping without asking the host.
	LocalSize int

	// Batch makes the proxies of a job exchange each fence's puts in
	// blobs through a two-level tree (see batcher), so that a fence plus a
	// get of every rank's key costs about 2*sqrt(N) upstream requests per
	// rank instead of N. It costs a second upstream fence per fence, and
	// needs every rank of the job behind a proxy with Batch set. Use it
	// with PMI-1/PMI-2 upstreams; PMIx fences already collect data.
	Batch bool

	// OnAbort, when set, is called when the rank aborts, before the abort
	// goes upstream, and AbortSent once the launcher has it. A proxy that
	// the launcher sees as the task stops its rank in OnAbort and exits
	// with the code in AbortSent, as MPICH's PMI_Abort does: the launcher
	// may kill the job's tasks any moment after that.
	OnAbort   func()
	AbortSent func(code int)

	// Cache, when set, is shared by the batching proxies of one job on one
	// node, so that each fence's data is read from the host once per node.
	// Nil: the proxy has its own.
	Cache *Cache

	// Note, when set, is told of a request the upstream refused whose
	// reason the rank's MPI would not show (MPI_Publish_name, ...), to say
	// it where the rank's errors go.
	Note func(msg string)
}

// Serve serves one rank on conn (the proxy's end of the rank's socketpair)
// and forwards to up, until:
//   - the rank finalized and closed, or closed without using PMI: nil (in
//     the second case the proxy finalizes upstream itself);
//   - the rank aborted: *pmi.AbortError, after forwarding the abort;
//   - the upstream closed first: an error wrapping ErrUpstreamClosed;
//   - the rank closed after init but before finalize: an error wrapping
//     server.ErrEarlyClose (the host will see the proxy exit and fail
//     the job, as it would for a native rank);
//   - ctx ended: its error.
//
// Serve closes conn but not up, except after an abort: then conn stays
// open, so the rank stays blocked in PMI_Abort (MPICH 4.0's MPI_Abort
// returns, and the rank runs on, once the socket closes), and the caller
// must stop the rank first and close conn afterwards.
func Serve(ctx context.Context, conn io.ReadWriteCloser, up Upstream, opts Options) error {
	hc := &holdConn{ReadWriteCloser: conn}
	b := newBackend(up, opts)
	b.hold = &hc.hold
	conn = hc
	ctx, cancel := context.WithCancelCause(ctx)
	var prefetched sync.WaitGroup
	prefetched.Go(func() { b.prefetch(ctx) })
	// The prefetch's answer is read before the caller may close up: hydra
	// fails, and takes the job down, when it cannot write an answer.
	defer func() { prefetched.Wait(); cancel(nil) }()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-up.Done():
			if !b.finalizing.Load() {
				cancel(fmt.Errorf("%w: %v", ErrUpstreamClosed, up.Err()))
			}
		case <-stop:
		}
	}()
	err := server.Serve(ctx, conn, b)
	if ae, ok := IsAbort(err); ok {
		return ae // the host may close right after an abort: abort wins
	}
	if cause := context.Cause(ctx); cause != nil && errors.Is(cause, ErrUpstreamClosed) {
		return cause
	}
	if err != nil {
		return fmt.Errorf("proxy rank %d: %w", b.info.Rank, err)
	}
	if !b.finalizing.Load() {
		if ferr := up.Finalize(ctx); ferr != nil {
			return fmt.Errorf("proxy rank %d: finalize upstream for a rank that did not use PMI: %w", b.info.Rank, ferr)
		}
	}
	return nil
}

// holdConn ignores Close once the rank has aborted (see Serve).
type holdConn struct {
	io.ReadWriteCloser
	hold atomic.Bool
}

func (h *holdConn) Close() error {
	if h.hold.Load() {
		return nil
	}
	return h.ReadWriteCloser.Close()
}

// IsAbort returns the rank's abort, if err is one.
func IsAbort(err error) (*pmi.AbortError, bool) {
	var ae *pmi.AbortError
	ok := errors.As(err, &ae)
	return ae, ok
}

// Socketpair returns the proxy's end (a net.Conn) and the rank's end (an
// *os.File to pass to the rank, e.g. through exec.Cmd.ExtraFiles).
func Socketpair() (net.Conn, *os.File, error) {
	return server.Socketpair("mpiwrap-pmi")
}

// rankEnvDrop are the host PMI variables the rank must not see: it talks
// to the proxy only. PMIX_* go too, or MPICH >= 5 would find both PMI and
// PMIx and refuse to choose.
var rankEnvDrop = []string{"PMI_FD=", "PMI_PORT=", "PMI_ID=", "PMI_RANK=", "PMI_SIZE=", "PMI_SPAWNED=", "PMIX_"}

// RankEnv rewrites env for the rank behind a proxy: host PMI and PMIx
// variables are replaced by PMI_FD=fd, PMI_RANK and PMI_SIZE from info.
func RankEnv(env []string, info pmi.Info, fd int) []string {
	out := make([]string, 0, len(env)+4)
	for _, kv := range env {
		drop := false
		for _, p := range rankEnvDrop {
			drop = drop || strings.HasPrefix(kv, p)
		}
		if !drop {
			out = append(out, kv)
		}
	}
	out = append(out, "PMI_FD="+strconv.Itoa(fd), "PMI_RANK="+strconv.Itoa(info.Rank), "PMI_SIZE="+strconv.Itoa(info.Size))
	if info.Spawned {
		out = append(out, "PMI_SPAWNED=1")
	}
	return out
}
