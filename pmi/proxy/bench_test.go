package proxy_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/pmitest"
	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/proxy"
	"github.com/mpiwrap/mpiwrap/pmi/server"
)

// benchModes are the ways a rank reaches the fake launcher: "direct" ranks
// talk to it; "proxy" ranks talk to a proxy each, whose PMI-1 upstream
// talks to it; "batch" is proxy with Options.Batch, the proxies of each
// simulated node of benchPPN ranks sharing a Cache, as the proxies that
// one node's keeper hosts do.
var benchModes = []string{"direct", "batch", "proxy"}

const benchPPN = 64

// BenchmarkFenceGetAll measures one PMI exchange as MPI_Init does it: every
// rank puts a key, fences, then gets every rank's key. Each iteration runs
// the exchange once per mode, one after the other, so that the ratios are
// measured side by side; it reports each mode's ns per exchange and
// batch/direct and proxy/direct.
func BenchmarkFenceGetAll(b *testing.B) {
	for _, n := range []int{64, 256, 1024} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) { benchExchange(b, n) })
	}
}

func benchExchange(b *testing.B, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	ranks := map[string][]pmitest.Rank{}
	for _, mode := range benchModes {
		l := pmitest.Launch(ctx, b, server.JobConfig{Size: n}, false)
		rs := make([]pmitest.Rank, n)
		var cache *proxy.Cache
		for r := range rs {
			if r%benchPPN == 0 {
				cache = proxy.NewCache()
			}
			up := pmitest.Upstream(ctx, b, l, r, 1)
			defer up.Close()
			if mode == "direct" {
				rs[r] = up.(pmitest.Rank)
				continue
			}
			opts := proxy.Options{Batch: mode == "batch"}
			if opts.Batch {
				opts.Cache = cache
			}
			rs[r] = pmitest.StartProxy(ctx, b, up, 1, opts).Rank
			defer rs[r].Close()
		}
		// MPI_Init reads the mapping first; for proxies this also waits
		// out their prefetch of it, so that it does not run into the timing.
		if err := pmitest.RunRanks(n, func(r int) error {
			_, _, err := rs[r].JobAttr(ctx, pmi.AttrProcessMapping)
			return err
		}); err != nil {
			b.Fatal(err)
		}
		ranks[mode] = rs
	}
	spent := map[string]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, mode := range benchModes {
			start := time.Now()
			if err := pmitest.RunRanks(n, func(r int) error { return pmitest.Exchange(ctx, ranks[mode][r], i, pmitest.ByRank) }); err != nil {
				b.Fatalf("%s: %v", mode, err)
			}
			spent[mode] += time.Since(start)
		}
	}
	b.StopTimer()
	per := func(mode string) float64 { return float64(spent[mode].Nanoseconds()) / float64(b.N) }
	for _, mode := range benchModes {
		b.ReportMetric(per(mode), mode+"-ns/op")
	}
	b.ReportMetric(per("batch")/per("direct"), "batch/direct")
	b.ReportMetric(per("proxy")/per("direct"), "proxy/direct")
}
