// Package pmix is the proxy's PMIx upstream: it lets a rank whose MPI has
// only a PMI-1/PMI-2 client (Debian's MPICH 4.0) run under a PMIx-only
// launcher (srun --mpi=pmix, Open MPI's mpirun).
//
// PMIx is a binary protocol best spoken through the host's own libpmix,
// loaded at run time so that mpiwrap builds and starts without it. mpiwrap
// is linked statically, and a static binary cannot dlopen, so libpmix runs
// in a small dynamically linked helper, mpiwrap-pmix (package
// pmi/pmix/libpmix, command cmd/mpiwrap-pmix), one per rank, because PMIx
// knows each client by its rank. The proxy talks to its helper over a
// socketpair:
//
//	rank --PMI-1/2--> mpiwrap (proxy.Serve) --frames--> mpiwrap-pmix --PMIx--> launcher
//
// Start runs the helper and returns an Upstream for proxy.Serve or
// proxy.Run; Serve is the helper's side of the protocol (proto.go) over a
// Client, which pmi/pmix/libpmix implements with libpmix.
//
// Translation (proxy.Upstream -> PMIx):
//   - Info: rank from PMIx_Init, size from PMIX_JOB_SIZE, appnum from
//     PMIX_APPNUM (0 if absent), kvsname = the namespace.
//   - Put: PMIx_Put(PMIX_GLOBAL) of a PMIX_STRING; Commit: PMIx_Commit;
//     Fence: PMIx_Fence of the namespace with PMIX_COLLECT_DATA.
//   - Get: PMIx_Get with PMIX_IMMEDIATE, so a missing key is "not found"
//     at once instead of a wait; pmi.AnyRank is PMIX_RANK_UNDEF. The
//     helper always selects the "hash" data store (PMIX_MCA_gds=hash):
//     OpenPMIx 4.2's shared-memory stores (ds21, ds12), the default under
//     srun and mpirun, do not search all ranks for PMIX_RANK_UNDEF and
//     time out (or, with PMIX_IMMEDIATE, miss) instead.
//   - JobAttr universeSize: PMIX_UNIV_SIZE. PMI_process_mapping is built
//     by the proxy from NodeIDs: PMIX_NODEID of each rank, else
//     PMIX_HOSTNAME of each rank, else PMIX_LOCAL_PEERS if all are local.
//   - Abort: PMIx_Abort of the namespace, so the launcher ends the job;
//     it returns once the job is ending (or after abortGrace), because
//     MPICH 4.0's MPI_Abort returns if its PMI socket closes first.
//   - A lost PMIx server (PMIX_ERR_LOST_CONNECTION event) or a dead helper
//     closes Done; Err wraps ErrLost or pmi.ErrClosed.
//
// # Server mode
//
// The other way round, Node lets an Open MPI rank (PMIx only) run under a
// launcher that offers only PMI-1/2 (hydra, srun --mpi=pmi2): the node's
// keeper starts one helper with ServerFlag, which runs libpmix's server
// (ServeServer over a ServerLib, which pmi/pmix/libpmix implements), and
// carries what the server needs of the launcher over the node's ranks'
// PMI connections (Rank):
//
//	rank --PMIx--> mpiwrap-pmix --server (libpmix) --frames--> keeper (Node) --PMI-1/2--> launcher
//
// Both ends send requests in this mode (peer.go): the host registers the
// job (opSrvStart: NodeJob's attributes, from the launcher's size,
// appnum, universe and PMI_process_mapping) and stops the server; the
// helper passes libpmix's upcalls (opSrvEvent): a client's connect and
// finalize, abort, fence, publish, lookup, unpublish, and notes for the
// rank's stderr. A fence's node blobs cross the nodes in the launcher's
// KVS, split by package modex; ServeServer's doc says how a direct modex
// is answered.
package pmix
