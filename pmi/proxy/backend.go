package proxy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/server"
	"github.com/mpiwrap/mpiwrap/pmi/wire"
)

// backend is the server.Backend that translates a rank's requests into
// Upstream calls.
type backend struct {
	up    Upstream
	opts  Options
	info  pmi.Info
	batch *batcher // nil unless Options.Batch

	mu    sync.Mutex
	attrs map[string]*attr // job attributes are fixed: ask the host once

	finalizing atomic.Bool  // Finalize was called: upstream EOF is expected
	finalized  atomic.Bool  // upstream acknowledged Finalize
	hold       *atomic.Bool // set on abort: keep the rank's socket open
}

// attr is one job attribute, fetched once: later callers wait on ready.
type attr struct {
	ready chan struct{}
	value string
	found bool
	err   error
}

func newBackend(up Upstream, opts Options) *backend {
	b := &backend{up: up, opts: opts, info: up.Info(), attrs: map[string]*attr{}}
	if opts.Batch {
		b.batch = newBatcher(up, b.info, opts.Cache)
	}
	return b
}

func (b *backend) Info() pmi.Info { return b.info }

func (b *backend) Put(ctx context.Context, key, value string) error {
	if b.batch != nil {
		b.batch.put(key, value)
		return nil
	}
	return b.up.Put(ctx, key, value)
}

// Fence commits then fences, the PMIx order; PMI clients commit for free.
func (b *backend) Fence(ctx context.Context) error {
	if b.batch != nil {
		return b.batch.fence(ctx)
	}
	if err := b.up.Commit(ctx); err != nil {
		return err
	}
	return b.up.Fence(ctx)
}

func (b *backend) Get(ctx context.Context, src int, key string) (string, bool, error) {
	if b.batch != nil {
		return b.batch.get(ctx, src, key)
	}
	return b.up.Get(ctx, src, key)
}

// JobAttr answers from the cache, the upstream, or a synthesised value.
// A failed fetch is not cached, so the next caller asks again.
func (b *backend) JobAttr(ctx context.Context, key string) (string, bool, error) {
	b.mu.Lock()
	a, ok := b.attrs[key]
	if !ok {
		a = &attr{ready: make(chan struct{})}
		b.attrs[key] = a
	}
	b.mu.Unlock()
	if ok {
		select {
		case <-a.ready:
			if a.err != nil {
				return b.JobAttr(ctx, key)
			}
			return a.value, a.found, nil
		case <-ctx.Done():
			return "", false, context.Cause(ctx)
		}
	}
	a.value, a.found, a.err = b.fetchAttr(ctx, key)
	if a.err != nil {
		b.mu.Lock()
		delete(b.attrs, key)
		b.mu.Unlock()
	}
	close(a.ready)
	return a.value, a.found, a.err
}

func (b *backend) fetchAttr(ctx context.Context, key string) (string, bool, error) {
	v, found, err := b.up.JobAttr(ctx, key)
	if err != nil {
		return "", false, err
	}
	if !found || v == "" {
		return b.synthesise(ctx, key)
	}
	return v, found, nil
}

// prefetch asks for the attributes every MPI_Init reads while the rank
// is still starting, so that its first requests are answered here.
func (b *backend) prefetch(ctx context.Context) {
	b.JobAttr(ctx, pmi.AttrProcessMapping)
}

// synthesise builds the attributes MPI needs when the host lacks them.
func (b *backend) synthesise(ctx context.Context, key string) (string, bool, error) {
	switch key {
	case pmi.AttrUniverseSize:
		return strconv.Itoa(b.info.Size), true, nil
	case pmi.AttrProcessMapping:
		if nm, ok := b.up.(NodeMapper); ok {
			nodes, err := nm.NodeIDs(ctx)
			if err != nil {
				return "", false, fmt.Errorf("synthesise %s: %w", key, err)
			}
			if len(nodes) != b.info.Size {
				return "", false, fmt.Errorf("synthesise %s: upstream knows the node of %d ranks, job has %d", key, len(nodes), b.info.Size)
			}
			v, err := wire.FormatMapping(nodes)
			return v, err == nil && len(v) <= wire.MaxValue, err
		}
		if b.opts.LocalSize == b.info.Size && b.info.Size > 0 {
			v, err := wire.BlockMapping(b.info.Size, b.info.Size)
			return v, err == nil, err
		}
	}
	// Unknown: MPICH then falls back to exchanging host names.
	return "", false, nil
}

func (b *backend) Abort(ctx context.Context, code int, msg string) error {
	if b.hold != nil {
		b.hold.Store(true) // see holdConn
	}
	if b.opts.OnAbort != nil {
		b.opts.OnAbort()
	}
	if err := b.up.Abort(ctx, code, msg); err != nil {
		return err
	}
	if b.opts.AbortSent != nil {
		b.opts.AbortSent(code)
	}
	return nil
}

func (b *backend) Finalize(ctx context.Context) error {
	b.finalizing.Store(true)
	if err := b.up.Finalize(ctx); err != nil {
		return err
	}
	b.finalized.Store(true)
	return nil
}

// Maxes reports the upstream's limits, so clients size their values to
// what the host accepts.
func (b *backend) Maxes() wire.Maxes {
	if l, ok := b.up.(server.Limiter); ok {
		return l.Maxes()
	}
	return wire.DefaultMaxes
}

func (b *backend) PutNodeAttr(ctx context.Context, key, value string) error {
	na, ok := b.up.(server.NodeAttrs)
	if !ok {
		return fmt.Errorf("PMI-2 node attributes: %w by this upstream", errors.ErrUnsupported)
	}
	return na.PutNodeAttr(ctx, key, value)
}

func (b *backend) GetNodeAttr(ctx context.Context, key string, wait bool) (string, bool, error) {
	na, ok := b.up.(server.NodeAttrs)
	if !ok {
		return "", false, fmt.Errorf("PMI-2 node attributes: %w by this upstream", errors.ErrUnsupported)
	}
	return na.GetNodeAttr(ctx, key, wait)
}

// The name service goes upstream; a call the launcher can't serve is
// refused, and Options.Note says so naming the MPI call, as the rank's
// MPI reports only an error class.
func (b *backend) Publish(ctx context.Context, service, port string) error {
	n, err := b.names("MPI_Publish_name", service)
	if err == nil {
		err = b.refused("MPI_Publish_name", service, n.Publish(ctx, service, port))
	}
	return err
}

func (b *backend) Unpublish(ctx context.Context, service string) error {
	n, err := b.names("MPI_Unpublish_name", service)
	if err == nil {
		err = b.refused("MPI_Unpublish_name", service, n.Unpublish(ctx, service))
	}
	return err
}

func (b *backend) Lookup(ctx context.Context, service string) (string, bool, error) {
	n, err := b.names("MPI_Lookup_name", service)
	if err != nil {
		return "", false, err
	}
	port, found, err := n.Lookup(ctx, service)
	return port, found, b.refused("MPI_Lookup_name", service, err)
}

func (b *backend) names(call, service string) (server.Names, error) {
	n, ok := b.up.(server.Names)
	if !ok {
		return nil, b.refused(call, service, fmt.Errorf("%w by this upstream", errors.ErrUnsupported))
	}
	return n, nil
}

func (b *backend) refused(call, service string, err error) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%s of %q: the launcher's name service refused it: %w", call, service, err)
	if b.opts.Note != nil {
		b.opts.Note(err.Error())
	}
	return err
}
