package proxy_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/pmi/proxy"
	"github.com/mpiwrap/mpiwrap/pmi/server"
)

// directNs remembers the direct time per op of each size, so the proxy
// run of the same size can report its ratio.
var (
	directMu sync.Mutex
	directNs = map[int]float64{}
)

// BenchmarkFenceGetAll measures one PMI exchange as MPI_Init does it: every
// rank puts a key, fences, then gets every rank's key. "direct" ranks talk
// to the fake launcher; "proxy" ranks talk to a proxy each, whose PMI-1
// upstream talks to the launcher; "batch" is proxy with Options.Batch.
// The proxy runs report proxy/direct.
func BenchmarkFenceGetAll(b *testing.B) {
	for _, n := range []int{64, 256, 1024} {
		for _, mode := range []string{"direct", "proxy", "batch"} {
			b.Run(fmt.Sprintf("n=%d/%s", n, mode), func(b *testing.B) {
				benchExchange(b, n, mode)
			})
		}
	}
}

func benchExchange(b *testing.B, n int, mode string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	l, err := server.Start(ctx, server.JobConfig{Size: n})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ranks := make([]rankClient, n)
	for r := range ranks {
		up := upstreamFor(ctx, b, l, r, 1)
		defer up.Close()
		if mode == "direct" {
			ranks[r] = up.(rankClient)
			continue
		}
		ranks[r] = startProxy(ctx, b, up, 1, proxy.Options{Batch: mode == "batch"}).rank
		defer ranks[r].Close()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := runRanks(n, func(r int) error { return exchange(ctx, ranks[r], i) }); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(float64(n*n)/(ns/1e9), "gets/s")
	directMu.Lock()
	defer directMu.Unlock()
	if mode == "direct" {
		directNs[n] = ns
	} else if d := directNs[n]; d > 0 {
		b.ReportMetric(ns/d, "proxy/direct")
	}
}
