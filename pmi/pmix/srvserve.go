package pmix

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

// ServeServer is the helper's side in server mode: the helper is its
// node's PMIx server (lib) and the host (Node, in the node's keeper)
// answers what needs the launcher. It says hello, registers the job when
// the host sends opSrvStart, then passes the server's upcalls to the host
// until the host stops it (nil), the connection ends (nil) or ctx ends.
//
// The helper answers a direct modex itself, from the data fences carried:
// a fence that does not collect data (PMIX_COLLECT_DATA false, after
// which the server asks for remote ranks' data one by one) carries, with
// the node's contribution, every local rank's committed data as
// PMIx_server_dmodex_request returns it.
func ServeServer(ctx context.Context, conn io.ReadWriteCloser, lib ServerLib) error {
	p := newPeer(conn)
	if err := p.send(frame{op: opSrvHello, fields: []string{lib.Version()}}); err != nil {
		conn.Close()
		return err
	}
	s := &srvHelper{p: p, lib: lib, ctx: ctx, data: map[int][]byte{}, stopped: make(chan struct{}),
		syncs: make(chan uint32)}
	runErr := make(chan error, 1)
	go func() { runErr <- p.run(s.request) }()
	for {
		select {
		case ev := <-lib.Events():
			s.dispatch(ev)
		case id := <-s.syncs:
			// Every upcall libpmix made before the host asked is queued:
			// send them first, then the reply, on the one connection.
			for drained := false; !drained; {
				select {
				case ev := <-lib.Events():
					s.dispatch(ev)
				default:
					drained = true
				}
			}
			p.reply(id, opOK)
		case err := <-runErr:
			return err
		case <-s.stopped:
			p.close()
			<-runErr
			return nil
		case <-ctx.Done():
			p.close()
			return context.Cause(ctx)
		}
	}
}

// srvHelper is the state of ServeServer.
type srvHelper struct {
	p   *peer
	lib ServerLib
	ctx context.Context

	mu     sync.Mutex
	nspace string
	locals []int
	data   map[int][]byte // every rank's data from the last fence that carried it
	noted  bool           // said once that a direct modex found nothing

	stopped  chan struct{}
	stopOnce sync.Once
	syncs    chan uint32 // opSrvSync requests, for ServeServer's loop
}

// dispatch passes an upcall on: a client's connect and finalize at once
// and in order (the host's view of its clients must not lag behind a
// sync), the rest in goroutines of their own, as they wait for the host.
func (s *srvHelper) dispatch(ev ServerEvent) {
	if ev.Kind == EvConnected || ev.Kind == EvFinalized {
		s.event(ev)
		return
	}
	go s.event(ev)
}

// request handles what the host asks; each in its own goroutine, as a
// registration takes a while.
func (s *srvHelper) request(f frame) error {
	switch f.op {
	case opSrvStart:
		go func() {
			fields, err := s.start(f.fields)
			if err != nil {
				s.p.reply(f.id, opError, err.Error())
				return
			}
			s.p.reply(f.id, opOK, fields...)
		}()
	case opSrvSync:
		go func() {
			select {
			case s.syncs <- f.id:
			case <-s.stopped:
			}
		}()
	case opSrvStop:
		go func() {
			s.mu.Lock()
			ns, locals := s.nspace, s.locals
			s.mu.Unlock()
			if ns != "" {
				s.lib.Deregister(ns, locals) // what a killed rank registered for cleanup
			}
			if err := s.lib.Finalize(); err != nil {
				s.p.reply(f.id, opError, err.Error())
			} else {
				s.p.reply(f.id, opOK)
			}
			s.stopOnce.Do(func() { close(s.stopped) })
		}()
	default:
		return fmt.Errorf("PMIx helper: %v is not a request in server mode", f.op)
	}
	return nil
}

// start registers the job and the local clients (see encodeStart) and
// answers with each local rank's environment.
func (s *srvHelper) start(fields []string) ([]string, error) {
	st, err := decodeStart(fields)
	if err != nil {
		return nil, err
	}
	if err := s.lib.Init(st.dir); err != nil {
		return nil, err
	}
	if err := s.lib.RegisterNamespace(st.nspace, len(st.locals), st.job, st.arrays); err != nil {
		return nil, err
	}
	out := []string{s.lib.Version()}
	for _, r := range st.locals {
		if err := s.lib.RegisterClient(st.nspace, r, st.uid, st.gid); err != nil {
			return nil, err
		}
		env, err := s.lib.SetupFork(st.nspace, r)
		if err != nil {
			return nil, err
		}
		out = append(out, strconv.Itoa(r), strconv.Itoa(len(env)))
		out = append(out, env...)
	}
	s.mu.Lock()
	s.nspace, s.locals = st.nspace, st.locals
	s.mu.Unlock()
	return out, nil
}

// event passes one upcall to the host and answers it.
func (s *srvHelper) event(ev ServerEvent) {
	rank := strconv.Itoa(ev.Rank)
	switch ev.Kind {
	case EvConnected, EvFinalized:
		s.p.send(frame{op: opSrvEvent, fields: []string{ev.Kind.String(), rank}})
	case EvAbort:
		_, err := s.p.call(s.ctx, opSrvEvent, "abort", rank, strconv.Itoa(ev.Code), ev.Msg, boolField(ev.Whole))
		ev.Done(status(err))
	case EvFence:
		data, err := s.fence(ev)
		ev.Reply(status(err), data)
	case EvDmodex:
		s.dmodex(ev)
	case EvPublish:
		fields := []string{"publish", rank}
		for i, k := range ev.Keys {
			if ev.Values[i] == nil {
				s.note(ev.Rank, fmt.Sprintf("MPI_Publish_name/PMIx_Publish of %q: mpiwrap's PMIx server forwards only string values to the launcher's name service", k))
				ev.Done(StatusNotSupported)
				return
			}
			fields = append(fields, k, *ev.Values[i])
		}
		_, err := s.p.call(s.ctx, opSrvEvent, fields...)
		ev.Done(status(err))
	case EvUnpublish:
		_, err := s.p.call(s.ctx, opSrvEvent, append([]string{"unpublish", rank}, ev.Keys...)...)
		ev.Done(status(err))
	case EvLookup:
		f, err := s.p.call(s.ctx, opSrvEvent, append([]string{"lookup", rank}, ev.Keys...)...)
		switch {
		case err != nil:
			ev.Found(StatusError, nil, nil)
		case f.op == opNotFound || len(f.fields)%2 != 0:
			ev.Found(StatusNotFound, nil, nil)
		default:
			var keys, values []string
			for i := 0; i < len(f.fields); i += 2 {
				keys, values = append(keys, f.fields[i]), append(values, f.fields[i+1])
			}
			ev.Found(StatusSuccess, keys, values)
		}
	}
}

func status(err error) int {
	if err != nil {
		return StatusError
	}
	return StatusSuccess
}

func boolField(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// note asks the host to say msg where rank's errors go.
func (s *srvHelper) note(rank int, msg string) {
	s.p.send(frame{op: opSrvEvent, fields: []string{"note", strconv.Itoa(rank), msg}})
}

// fence sends the node's contribution up and returns what every node
// contributed, concatenated, as libpmix expects it back.
func (s *srvHelper) fence(ev ServerEvent) ([]byte, error) {
	var ranks []rankData
	if !ev.Collect {
		s.mu.Lock()
		ns, locals := s.nspace, s.locals
		s.mu.Unlock()
		for _, r := range locals {
			d, err := s.lib.DmodexRequest(ns, r)
			if err != nil {
				return nil, err
			}
			ranks = append(ranks, rankData{r, d})
		}
	}
	f, err := s.p.call(s.ctx, opSrvEvent, "fence", string(appendNodeBlob(nil, ev.Data, ranks)))
	if err != nil {
		return nil, err
	}
	var all []byte
	got := map[int][]byte{}
	for i, b := range f.fields {
		data, ranks, err := parseNodeBlob([]byte(b))
		if err != nil {
			return nil, fmt.Errorf("fence: node %d's data: %w", i, err)
		}
		all = append(all, data...)
		for _, rd := range ranks {
			got[rd.rank] = rd.data
		}
	}
	if len(got) > 0 {
		s.mu.Lock()
		s.data = got
		s.mu.Unlock()
	}
	return all, nil
}

// dmodex answers a direct modex from the last fence that carried ranks'
// data, or says that none has.
func (s *srvHelper) dmodex(ev ServerEvent) {
	s.mu.Lock()
	d, ok := s.data[ev.Rank]
	ok = ok && ev.Nspace == s.nspace
	first := !ok && !s.noted
	s.noted = s.noted || first
	s.mu.Unlock()
	if ok {
		ev.Reply(StatusSuccess, d)
		return
	}
	if first {
		s.note(-1, fmt.Sprintf("a rank asked for rank %d's PMIx data before any fence carried it across nodes: mpiwrap's PMIx server carries data only in fences (unset pmix_base_async_modex for Open MPI)", ev.Rank))
	}
	ev.Reply(StatusNotFound, nil)
}

// rankData is one rank's committed data in a node's fence blob.
type rankData struct {
	rank int
	data []byte
}

// appendNodeBlob encodes a node's fence contribution: the server's data,
// then the ranks' own, each length-prefixed (uvarint).
func appendNodeBlob(dst, data []byte, ranks []rankData) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(data)))
	dst = append(dst, data...)
	dst = binary.AppendUvarint(dst, uint64(len(ranks)))
	for _, rd := range ranks {
		dst = binary.AppendUvarint(dst, uint64(rd.rank))
		dst = binary.AppendUvarint(dst, uint64(len(rd.data)))
		dst = append(dst, rd.data...)
	}
	return dst
}

var errNodeBlob = errors.New("malformed node blob")

func parseNodeBlob(b []byte) ([]byte, []rankData, error) {
	chunk := func() ([]byte, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, false
		}
		c := b[k : k+int(n)]
		b = b[k+int(n):]
		return c, true
	}
	data, ok := chunk()
	if !ok {
		return nil, nil, errNodeBlob
	}
	count, k := binary.Uvarint(b)
	if k <= 0 || count > uint64(len(b)) {
		return nil, nil, errNodeBlob
	}
	b = b[k:]
	var ranks []rankData
	for i := uint64(0); i < count; i++ {
		r, k := binary.Uvarint(b)
		if k <= 0 || r > 1<<31 {
			return nil, nil, errNodeBlob
		}
		b = b[k:]
		d, ok := chunk()
		if !ok {
			return nil, nil, errNodeBlob
		}
		ranks = append(ranks, rankData{int(r), d})
	}
	if len(b) != 0 {
		return nil, nil, errNodeBlob
	}
	return data, ranks, nil
}

// start is what opSrvStart carries.
type start struct {
	dir, nspace string
	uid, gid    int
	locals      []int
	job         []Attr
	arrays      [][]Attr // each headed by an 'A' Attr
}

// encodeStart lays start out as fields: dir, nspace, uid, gid, the local
// ranks (comma-separated), the count of job attributes and each as key,
// kind, value, then the count of arrays and, for each, the count of its
// attributes (its head first) and those.
func encodeStart(st start) []string {
	locals := make([]string, len(st.locals))
	for i, r := range st.locals {
		locals[i] = strconv.Itoa(r)
	}
	f := []string{st.dir, st.nspace, strconv.Itoa(st.uid), strconv.Itoa(st.gid), strings.Join(locals, ",")}
	f = appendAttrs(f, st.job)
	f = append(f, strconv.Itoa(len(st.arrays)))
	for _, p := range st.arrays {
		f = appendAttrs(f, p)
	}
	return f
}

func appendAttrs(f []string, attrs []Attr) []string {
	f = append(f, strconv.Itoa(len(attrs)))
	for _, a := range attrs {
		f = append(f, a.Key, string(a.Kind), a.Value)
	}
	return f
}

func decodeStart(f []string) (start, error) {
	bad := func(what string) (start, error) {
		return start{}, fmt.Errorf("PMIx helper: bad server start: %s", what)
	}
	if len(f) < 7 {
		return bad("too few fields")
	}
	st := start{dir: f[0], nspace: f[1]}
	var err1, err2 error
	st.uid, err1 = strconv.Atoi(f[2])
	st.gid, err2 = strconv.Atoi(f[3])
	if err1 != nil || err2 != nil {
		return bad("uid or gid")
	}
	for _, r := range strings.Split(f[4], ",") {
		n, err := strconv.Atoi(r)
		if err != nil || n < 0 {
			return bad("local ranks")
		}
		st.locals = append(st.locals, n)
	}
	rest := f[5:]
	var ok bool
	if st.job, rest, ok = takeAttrs(rest); !ok || len(rest) < 1 {
		return bad("job attributes")
	}
	n, err := strconv.Atoi(rest[0])
	if err != nil || n < 0 || n > len(rest) {
		return bad("array count")
	}
	rest = rest[1:]
	for i := 0; i < n; i++ {
		var p []Attr
		if p, rest, ok = takeAttrs(rest); !ok || len(p) == 0 || p[0].Kind != 'A' {
			return bad("array attributes")
		}
		st.arrays = append(st.arrays, p)
	}
	if len(rest) != 0 {
		return bad("trailing fields")
	}
	return st, nil
}

func takeAttrs(f []string) ([]Attr, []string, bool) {
	if len(f) < 1 {
		return nil, nil, false
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 0 || 3*n > len(f)-1 {
		return nil, nil, false
	}
	attrs := make([]Attr, n)
	for i := range attrs {
		k, kind, v := f[1+3*i], f[2+3*i], f[3+3*i]
		if len(kind) != 1 {
			return nil, nil, false
		}
		attrs[i] = Attr{Key: k, Kind: kind[0], Value: v}
	}
	return attrs, f[1+3*n:], true
}
