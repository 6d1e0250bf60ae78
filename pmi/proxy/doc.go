// Package proxy is mpiwrap's per-rank PMI proxy.
//
// The runtime gives the container rank one end of a socketpair as PMI_FD
// (RankEnv, Socketpair) and calls Serve on the other end. Serve is a small
// PMI-1/PMI-2 server (pmi/server) whose Backend forwards every request to
// the host's PMI through an Upstream: pmi/client's PMI1 and PMI2 over the
// inherited PMI_FD or PMI_PORT, or a PMIx adapter.
//
// Translation rules:
//   - put goes to Upstream.Put; barrier_in / kvs-fence become Commit then
//     Fence (PMIx: commit, then fence with data collection).
//   - get is Upstream.Get with pmi.AnyRank (PMI-1 names no rank; PMIx uses
//     PMIX_RANK_UNDEF); PMI-2 kvs-get passes its srcid.
//   - PMI_process_mapping and universeSize come from Upstream.JobAttr. When
//     the upstream lacks them, the mapping is built from NodeMapper (node of
//     every rank) or, when every rank is local, as one node; the universe
//     size defaults to the job size. Attributes are cached: they never change.
//     The mapping, which every MPI_Init reads, is fetched as soon as Serve
//     starts, while the rank is still loading.
//   - abort is forwarded upstream, so the launcher ends the whole job, and
//     Serve returns *pmi.AbortError with the rank's exit code.
//   - If the upstream closes before the rank finalized, Serve returns an
//     error wrapping ErrUpstreamClosed at once, even while the rank is idle,
//     so the runtime can kill the rank instead of leaving it hanging.
//   - With Options.Batch, puts stay in the proxy until the fence, where the
//     proxies trade them as blobs (see batcher); gets are then served
//     from a local copy. This is what makes the proxy as fast as direct PMI
//     at scale; below a few dozen ranks the second fence costs more than it
//     saves, and the runtime leaves Batch off. Proxies of one node that
//     share a Cache (Options.Cache) read each fence's data once.
//   - A rank that exits without ever speaking PMI (a non-MPI program) is
//     not a failure: the proxy finalizes upstream on its behalf.
//
// Memory: a proxy holds two connections, four goroutines and buffers of
// about 1 KiB; TestProxyRSS measures the resident size of a proxy process.
//
// DetectHost describes what the launcher offers from the environment, for
// the runtime's --pmi=auto; UpstreamFromEnv connects to it.
package proxy
