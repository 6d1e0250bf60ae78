package server

import (
	"context"

	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/wire"
)

// Backend answers the requests of one rank. Abort may be called while
// another method is blocked; the others are called one at a time.
type Backend interface {
	// Info is what init, fullinit and the get_* queries return.
	Info() pmi.Info
	// Put stores a key; it need not be visible before the next Fence.
	Put(ctx context.Context, key, value string) error
	// Fence blocks until every rank has fenced, then makes puts visible.
	Fence(ctx context.Context) error
	// Get looks a key up; src is the rank that put it, or pmi.AnyRank.
	Get(ctx context.Context, src int, key string) (value string, found bool, err error)
	// JobAttr returns a job attribute such as pmi.AttrProcessMapping.
	JobAttr(ctx context.Context, key string) (value string, found bool, err error)
	// Abort ends the job with code; the rank gets no reply.
	Abort(ctx context.Context, code int, msg string) error
	// Finalize is the rank's orderly goodbye.
	Finalize(ctx context.Context) error
}

// NodeAttrs is implemented by backends that serve PMI-2 node attributes.
type NodeAttrs interface {
	PutNodeAttr(ctx context.Context, key, value string) error
	// GetNodeAttr waits for the key to be put when wait is true.
	GetNodeAttr(ctx context.Context, key string, wait bool) (value string, found bool, err error)
}

// Names is implemented by backends with a name service (publish/lookup).
type Names interface {
	Publish(ctx context.Context, service, port string) error
	Unpublish(ctx context.Context, service string) error
	Lookup(ctx context.Context, service string) (port string, found bool, err error)
}

// Limiter is implemented by backends whose limits differ from the defaults
// (a proxy reports its upstream's get_maxes).
type Limiter interface {
	Maxes() wire.Maxes
}
