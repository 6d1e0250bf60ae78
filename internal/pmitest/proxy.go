package pmitest

import (
	"context"
	"fmt"
	"testing"

	"github.com/mpiwrap/mpiwrap/pmi/client"
	"github.com/mpiwrap/mpiwrap/pmi/proxy"
)

// Proxied is one rank behind an in-process proxy.
type Proxied struct {
	Rank   Rank           // the rank's client, talking to the proxy
	Up     proxy.Upstream // the proxy's upstream
	Served chan error     // proxy.Serve's result
}

// ProxyRank runs proxy.Serve for up and connects a PMI-v client as the
// rank behind it. It returns errors rather than failing a test, for
// callers on goroutines other than the test's.
func ProxyRank(ctx context.Context, up proxy.Upstream, v int, opts proxy.Options) (*Proxied, error) {
	mine, rankEnd, err := proxy.Socketpair()
	if err != nil {
		return nil, err
	}
	p := &Proxied{Up: up, Served: make(chan error, 1)}
	go func() { p.Served <- proxy.Serve(ctx, mine, up, opts) }()
	conn, err := fileConn(rankEnd)
	if err != nil {
		return nil, err
	}
	in := up.Info()
	p.Rank, err = NewClient(ctx, client.Config{Conn: conn, Rank: in.Rank, Size: in.Size}, v)
	if err != nil {
		return nil, fmt.Errorf("rank %d behind proxy: %w", in.Rank, err)
	}
	return p, nil
}

// StartProxy is ProxyRank that fails t on error.
func StartProxy(ctx context.Context, t testing.TB, up proxy.Upstream, v int, opts proxy.Options) *Proxied {
	t.Helper()
	p, err := ProxyRank(ctx, up, v, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
