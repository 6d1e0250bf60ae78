// Package pmi holds the types shared by mpiwrap's PMI layer, which speaks
// PMI-1 and PMI-2 to the container rank and PMI-1, PMI-2 or PMIx to the
// launcher.
//
// The layer is split by job:
//
//   - pmi/wire: the byte-level codecs. PMI-1 is one "cmd=x k=v" line per
//     request (plus the multi-line "mcmd=spawn ... endcmd" block); PMI-2 is a
//     6-character length followed by "cmd=x;k=v;". A Reader tells them apart
//     per message, as hydra does, so one fd can carry both.
//   - pmi/server: a PMI server engine that answers one rank's requests from a
//     Backend, and an in-process fake launcher (KVS, fence, job attributes)
//     that serves N simulated ranks over socketpairs for tests and benchmarks.
//   - pmi/client: PMI-1 and PMI-2 clients over PMI_FD or PMI_PORT.
//   - pmi/pmix: the PMIx upstream. Start runs mpiwrap-pmix
//     (cmd/mpiwrap-pmix), a dynamically linked helper that loads the host's
//     libpmix at run time (pmi/pmix/libpmix), one per rank, and returns an
//     Upstream that talks to it over a socketpair; Serve is the helper's
//     side of that protocol.
//     Its server mode (Node) is the other way round: the node's PMIx
//     server for Open MPI ranks under a PMI-1/2 launcher, one helper per
//     node, with fences carried through the launcher's KVS.
//   - pmi/modex: splits a binary blob into PMI-1/2 values and joins them.
//   - pmi/proxy: the proxy. It serves one container rank with the server
//     engine and forwards to the launcher through an Upstream, for which
//     pmi/client's PMI1 and PMI2 and pmi/pmix's Upstream are the
//     implementations.
//
// The protocol facts the layer follows are written down next to the code
// that relies on them: the wire formats in pmi/wire/doc.go, how launchers
// answer in pmi/client/doc.go, the proxy's translation rules in
// pmi/proxy/doc.go and the PMI-to-PMIx mapping in pmi/pmix/doc.go.
package pmi

import (
	"errors"
	"fmt"
)

// AnyRank asks a Get for a key without naming the rank that put it
// (PMI-1 get, PMI-2 srcid=-1, PMIx PMIX_RANK_UNDEF).
const AnyRank = -1

// Job attribute names understood everywhere in this layer.
const (
	// AttrProcessMapping is the "(vector,(node,nnodes,ppn),...)" rank layout.
	AttrProcessMapping = "PMI_process_mapping"
	// AttrUniverseSize is PMI-2's name for the universe size.
	AttrUniverseSize = "universeSize"
)

// Info is what a rank learns at init.
type Info struct {
	Rank    int    // this process's rank in the job
	Size    int    // number of ranks in the job
	AppNum  int    // index of the executable in an MPMD launch; Slurm says -1
	KVSName string // PMI-1 kvsname, PMI-2 jobid, PMIx namespace
	Spawned bool   // created by a spawn (PMI_SPAWNED / spawner-jobid)
	Debug   bool   // the server asked for verbose PMI (pmiverbose/debug)
}

// ErrNotFound is returned when a key or attribute has no value.
var ErrNotFound = errors.New("pmi: key not found")

// ErrClosed is returned once the peer closed the PMI connection.
var ErrClosed = errors.New("pmi: connection closed by peer")

// AbortError reports that a rank called abort. The job must end with Code.
type AbortError struct {
	Rank int    // rank that aborted; -1 if unknown
	Code int    // exit code the rank asked for
	Msg  string // message the rank sent, if any
}

func (e *AbortError) Error() string {
	if e.Msg == "" {
		return fmt.Sprintf("pmi: rank %d aborted with exit code %d", e.Rank, e.Code)
	}
	return fmt.Sprintf("pmi: rank %d aborted with exit code %d: %s", e.Rank, e.Code, e.Msg)
}

// ErrorReply is a non-zero rc a server sent back.
type ErrorReply struct {
	Cmd string // the request's command
	RC  int    // the rc the server sent
	Msg string // msg= or errmsg=, if any
}

func (e *ErrorReply) Error() string {
	if e.Msg == "" {
		return fmt.Sprintf("pmi: %s failed with rc=%d", e.Cmd, e.RC)
	}
	return fmt.Sprintf("pmi: %s failed with rc=%d: %s", e.Cmd, e.RC, e.Msg)
}
