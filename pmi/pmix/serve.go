package pmix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/mpiwrap/mpiwrap/pmi"
)

// RankWildcard asks Client.Get for job-level data (PMIX_RANK_WILDCARD);
// pmi.AnyRank asks for a key of any rank (PMIX_RANK_UNDEF).
const RankWildcard = -2

// PMIx keys the helper reads.
const (
	KeyJobSize    = "pmix.job.size"  // PMIX_JOB_SIZE (uint32)
	KeyUnivSize   = "pmix.univ.size" // PMIX_UNIV_SIZE (uint32)
	KeyAppNum     = "pmix.appnum"    // PMIX_APPNUM (uint32)
	KeyNodeID     = "pmix.nodeid"    // PMIX_NODEID (uint32), per rank
	KeyHostname   = "pmix.hname"     // PMIX_HOSTNAME (string), per rank
	KeyLocalPeers = "pmix.lpeers"    // PMIX_LOCAL_PEERS (string "0,1,2")
)

// Client is a PMIx client as the helper uses it: libpmix in the helper
// process (pmi/pmix/libpmix), or a fake in tests. Calls block; they may
// come from several goroutines at once.
type Client interface {
	// Proc is the namespace and rank PMIx_Init returned.
	Proc() (nspace string, rank int)
	// Version is the library's version string.
	Version() string
	// Put stores a string for this rank with PMIX_GLOBAL scope.
	Put(key, value string) error
	// Commit is PMIx_Commit.
	Commit() error
	// Fence is PMIx_Fence over the whole namespace with PMIX_COLLECT_DATA.
	Fence() error
	// Get is PMIx_Get of key on rank (>= 0, pmi.AnyRank or RankWildcard);
	// numbers come back in decimal. A missing key is found == false.
	Get(rank int, key string) (value string, found bool, err error)
	// Abort is PMIx_Abort of the whole namespace.
	Abort(code int, msg string) error
	// Finalize is PMIx_Finalize.
	Finalize() error
	// Lost yields once if the connection to the PMIx server is lost.
	Lost() <-chan error
	// Publish, Lookup and Unpublish are PMIx's name service (a name
	// nobody published is found == false).
	Publish(service, port string) error
	Lookup(service string) (port string, found bool, err error)
	Unpublish(service string) error
}

// Serve is the helper's side: it says hello with c's rank, size, appnum
// and namespace, then answers the Upstream's requests on conn until:
//   - the Upstream finalized: nil, after the reply;
//   - conn closed (the proxy exited or gave up): nil, without finalizing;
//   - the PMIx server went away: an error, after telling the Upstream;
//   - ctx ended: its error.
func Serve(ctx context.Context, conn io.ReadWriteCloser, c Client) error {
	info, err := jobInfo(c)
	if err != nil {
		SendFailure(conn, err)
		return err
	}
	h := &helper{c: c, conn: conn, size: info.Size}
	if err := h.send(frame{op: opHello, fields: []string{strconv.Itoa(info.Rank), strconv.Itoa(info.Size),
		strconv.Itoa(info.AppNum), info.KVSName, c.Version()}}); err != nil {
		return err
	}
	reqs := make(chan frame)
	readErr := make(chan error, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() { readErr <- h.readRequests(reqs, stop) }()
	// Requests run in their own goroutines, which are not waited for: a
	// Fence blocked in libpmix must not keep the helper alive once the
	// proxy has gone.
	for {
		select {
		case f := <-reqs:
			go h.handle(f)
		case err := <-readErr:
			if h.finalized() {
				return nil
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil
			}
			return err
		case err := <-c.Lost():
			msg := fmt.Sprintf("lost the connection to the PMIx server: %v", err)
			h.send(frame{op: opLost, fields: []string{msg}})
			conn.Close()
			return errors.New(msg)
		case <-ctx.Done():
			conn.Close()
			return context.Cause(ctx)
		}
	}
}

// SendFailure tells the Upstream that the helper could not start (libpmix
// missing, PMIx_Init failed) and closes conn.
func SendFailure(conn io.WriteCloser, err error) error {
	buf, eerr := appendFrame(nil, frame{op: opFail, fields: []string{err.Error()}})
	if eerr == nil {
		_, eerr = conn.Write(buf)
	}
	conn.Close()
	return eerr
}

// helper is the state of Serve.
type helper struct {
	c    Client
	conn io.ReadWriteCloser
	size int // ranks in the job

	wmu  sync.Mutex // one frame at a time
	wbuf []byte

	fmu  sync.Mutex
	done bool // finalize succeeded: the next EOF is expected
}

func (h *helper) finalized() bool {
	h.fmu.Lock()
	defer h.fmu.Unlock()
	return h.done
}

func (h *helper) send(f frame) error {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	var err error
	if h.wbuf, err = appendFrame(h.wbuf[:0], f); err != nil {
		buf, _ := appendFrame(h.wbuf[:0], frame{op: opError, id: f.id, fields: []string{err.Error()}})
		h.wbuf = buf
	}
	_, werr := h.conn.Write(h.wbuf)
	return werr
}

// readRequests passes requests on until the Upstream closes or breaks the
// protocol; a broken frame closes conn.
func (h *helper) readRequests(out chan<- frame, stop <-chan struct{}) error {
	for {
		f, err := readFrame(h.conn)
		if err == nil {
			err = f.check()
		}
		if err == nil && (f.op < opPut || f.op > opFinalize) && f.op != opPublish && f.op != opLookup && f.op != opUnpublish {
			err = fmt.Errorf("read PMIx helper request: %v is not a request", f.op)
		}
		if err != nil {
			h.conn.Close()
			return err
		}
		select {
		case out <- f:
		case <-stop:
			return nil
		}
	}
}

// handle answers one request. The Upstream waits for each reply before
// its next request, except that Abort may overtake a blocked Fence.
func (h *helper) handle(f frame) {
	fields, found, err := h.do(f)
	reply := frame{op: opOK, id: f.id, fields: fields}
	switch {
	case err != nil:
		reply = frame{op: opError, id: f.id, fields: []string{err.Error()}}
	case !found:
		reply = frame{op: opNotFound, id: f.id}
	}
	h.send(reply)
}

func (h *helper) do(f frame) ([]string, bool, error) {
	switch f.op {
	case opPut:
		return nil, true, h.c.Put(f.fields[0], f.fields[1])
	case opCommit:
		return nil, true, h.c.Commit()
	case opFence:
		return nil, true, h.c.Fence()
	case opGet:
		rank, err := f.intField(0)
		if err != nil {
			return nil, false, err
		}
		v, found, err := h.c.Get(rank, f.fields[1])
		return []string{v}, found, err
	case opNodeIDs:
		ids, err := nodeIDs(h.c, h.size)
		return []string{joinInts(ids)}, true, err
	case opAbort:
		code, err := f.intField(0)
		if err != nil {
			return nil, false, err
		}
		return nil, true, h.c.Abort(code, f.fields[1])
	case opPublish:
		return nil, true, h.c.Publish(f.fields[0], f.fields[1])
	case opLookup:
		v, found, err := h.c.Lookup(f.fields[0])
		return []string{v}, found, err
	case opUnpublish:
		return nil, true, h.c.Unpublish(f.fields[0])
	case opFinalize:
		err := h.c.Finalize()
		if err == nil {
			h.fmu.Lock()
			h.done = true
			h.fmu.Unlock()
		}
		return nil, true, err
	}
	return nil, false, fmt.Errorf("PMIx helper: unexpected %v request", f.op)
}

// jobInfo is what PMI init needs: rank from PMIx_Init, size from
// PMIX_JOB_SIZE, appnum from PMIX_APPNUM (of the rank, else of the job,
// else 0), kvsname = the namespace.
func jobInfo(c Client) (pmi.Info, error) {
	ns, rank := c.Proc()
	info := pmi.Info{Rank: rank, KVSName: ns}
	size, err := getInt(c, RankWildcard, KeyJobSize)
	if err != nil {
		return info, err
	}
	info.Size = size
	if rank < 0 || rank >= size {
		return info, fmt.Errorf("read PMIx job info: rank %d outside the job size %d", rank, size)
	}
	for _, r := range []int{rank, RankWildcard} {
		v, found, err := c.Get(r, KeyAppNum)
		if err != nil {
			return info, fmt.Errorf("read PMIx job info %s: %w", KeyAppNum, err)
		}
		if n, perr := strconv.Atoi(v); found && perr == nil {
			info.AppNum = n
			break
		}
	}
	return info, nil
}

// getInt reads a key that must be a non-negative number.
func getInt(c Client, rank int, key string) (int, error) {
	v, found, err := c.Get(rank, key)
	if err != nil {
		return 0, fmt.Errorf("read PMIx %s: %w", key, err)
	}
	if !found {
		return 0, fmt.Errorf("read PMIx %s: the PMIx server does not provide it", key)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("read PMIx %s: %.20q is not a count", key, v)
	}
	return n, nil
}

func joinInts(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}
