package proxy

import (
	"context"

	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/client"
	"github.com/mpiwrap/mpiwrap/pmi/server"
)

// Upstream is the host side of a proxy: a PMI client of the real launcher.
// Methods may be called from two goroutines at once (Abort while a Fence
// is blocked); Done and Err must be safe at any time.
type Upstream interface {
	// Info is rank, size, appnum and kvsname (PMIx: the namespace).
	Info() pmi.Info
	// Put stores a key for this rank.
	Put(ctx context.Context, key, value string) error
	// Commit pushes puts towards the server (PMIx_Commit); may be a no-op.
	Commit(ctx context.Context) error
	// Fence is a job-wide barrier after which every committed put is
	// visible (PMIx: fence with PMIX_COLLECT_DATA).
	Fence(ctx context.Context) error
	// Get looks a key up; rank is the putter or pmi.AnyRank.
	Get(ctx context.Context, rank int, key string) (value string, found bool, err error)
	// JobAttr returns a job attribute (pmi.AttrProcessMapping,
	// pmi.AttrUniverseSize, PMI_*); found is false when the host has none.
	JobAttr(ctx context.Context, key string) (value string, found bool, err error)
	// Abort asks the launcher to end the whole job with code.
	Abort(ctx context.Context, code int, msg string) error
	// Finalize is the orderly goodbye.
	Finalize(ctx context.Context) error
	// Done is closed when the connection to the host ended.
	Done() <-chan struct{}
	// Err says why Done was closed.
	Err() error
	// Close releases the connection.
	Close() error
}

// NodeMapper is an optional Upstream extension: the node index of every
// rank (PMIx: PMIX_NODEID per rank), used to synthesise
// PMI_process_mapping when the host does not provide one.
type NodeMapper interface {
	NodeIDs(ctx context.Context) ([]int, error)
}

// Checks that the clients fit, with the optional extensions they have.
var (
	_ Upstream         = (*client.PMI1)(nil)
	_ Upstream         = (*client.PMI2)(nil)
	_ server.Names     = (*client.PMI1)(nil)
	_ server.Names     = (*client.PMI2)(nil)
	_ server.NodeAttrs = (*client.PMI2)(nil)
	_ server.Limiter   = (*client.PMI1)(nil)
)
