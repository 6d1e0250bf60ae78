package libpmix

/*
#include <stdlib.h>
#include "abi.h"
#include "srvshim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/mpiwrap/mpiwrap/pmi/pmix"
)

// Server is the process's PMIx server (pmix.ServerLib) on a dlopen'ed
// libpmix. libpmix's upcalls arrive on its progress thread and are queued
// on Events without blocking it.
type Server struct {
	version string
	events  chan pmix.ServerEvent

	mu     sync.Mutex
	nspace string // the job's, once registered: lookups answer in it
}

var (
	srvOnce   sync.Once
	theServer *Server // the upcalls' destination, once OpenServer succeeded

	dmodexMu   sync.Mutex
	dmodexNext uintptr
	dmodexWait = map[uintptr]chan dmodexResult{}
)

type dmodexResult struct {
	status int
	data   []byte
}

// OpenServer loads the first of libs that dlopen accepts, for a server.
// PMIx keeps one server per process, so it succeeds at most once.
func OpenServer(libs []string) (*Server, error) {
	err := errInitTwice
	var s *Server
	srvOnce.Do(func() { s, err = openServer(libs) })
	return s, err
}

func openServer(libs []string) (*Server, error) {
	if len(libs) == 0 {
		return nil, errors.New("load libpmix: no library names given")
	}
	var msgs []string
	buf := make([]C.char, 512)
	for _, name := range libs {
		cname := C.CString(name)
		rc := C.mpw_srv_open(cname, &buf[0], C.size_t(len(buf)))
		C.free(unsafe.Pointer(cname))
		if rc != 0 {
			msgs = append(msgs, C.GoString(&buf[0]))
			continue
		}
		version := C.GoString(C.mpw_srv_version())
		if major := versionMajor(version); major < 4 {
			return nil, fmt.Errorf("load libpmix: %q is older than PMIx v4, whose ABI mpiwrap-pmix is built for", version)
		}
		// The hash store: ds12's locks fail in a user namespace, and the
		// clients then need no shared-memory files. Native security: the
		// clients share the server's uid, and munge may be absent inside.
		os.Setenv("PMIX_MCA_gds", "hash")
		os.Setenv("PMIX_MCA_psec", "native")
		theServer = &Server{version: version, events: make(chan pmix.ServerEvent, 1024)}
		return theServer, nil
	}
	return nil, fmt.Errorf("load libpmix: %s; install OpenPMIx (Debian: libpmix2) or name the library", strings.Join(msgs, "; "))
}

func srvErr(what string, rc C.int) error {
	if rc == 0 {
		return nil
	}
	return fmt.Errorf("%s: %w", what, &StatusError{Status: int(rc), Text: C.GoString(C.mpw_srv_strerror(rc))})
}

// Version is PMIx_Get_version().
func (s *Server) Version() string { return s.version }

// Events yields the server's upcalls.
func (s *Server) Events() <-chan pmix.ServerEvent { return s.events }

// Init is PMIx_server_init with dir for the server's files.
func (s *Server) Init(dir string) error {
	cd := C.CString(dir)
	defer C.free(unsafe.Pointer(cd))
	return srvErr("PMIx_server_init", C.mpw_srv_init(cd))
}

// Finalize is PMIx_server_finalize.
func (s *Server) Finalize() error {
	return srvErr("PMIx_server_finalize", C.mpw_srv_finalize())
}

// RegisterNamespace is PMIx_server_register_nspace.
func (s *Server) RegisterNamespace(nspace string, nlocal int, job []pmix.Attr, arrays [][]pmix.Attr) error {
	l := C.mpw_infos_new()
	defer C.mpw_infos_free(l)
	if err := addAttrs(l, job); err != nil {
		return err
	}
	for _, a := range arrays {
		if len(a) == 0 || a[0].Kind != 'A' {
			return fmt.Errorf("load PMIx info array: no head")
		}
		pl := C.mpw_infos_new()
		err := addAttrs(pl, a[1:])
		if err == nil {
			ck := C.CString(a[0].Key)
			err = srvErr("load PMIx info array "+a[0].Key, C.mpw_infos_add_array(l, ck, pl))
			C.free(unsafe.Pointer(ck))
		}
		C.mpw_infos_free(pl)
		if err != nil {
			return err
		}
	}
	cns := C.CString(nspace)
	defer C.free(unsafe.Pointer(cns))
	s.mu.Lock()
	s.nspace = nspace
	s.mu.Unlock()
	return srvErr("PMIx_server_register_nspace "+nspace, C.mpw_srv_register_nspace(cns, C.int(nlocal), l))
}

func addAttrs(l *C.mpw_infos, attrs []pmix.Attr) error {
	for _, a := range attrs {
		ck, cv := C.CString(a.Key), C.CString(a.Value)
		rc := C.mpw_infos_add(l, ck, C.char(a.Kind), cv)
		C.free(unsafe.Pointer(ck))
		C.free(unsafe.Pointer(cv))
		if err := srvErr(fmt.Sprintf("load PMIx info %s=%.40q", a.Key, a.Value), rc); err != nil {
			return err
		}
	}
	return nil
}

// RegisterClient is PMIx_server_register_client.
func (s *Server) RegisterClient(nspace string, rank, uid, gid int) error {
	cns := C.CString(nspace)
	defer C.free(unsafe.Pointer(cns))
	rc := C.mpw_srv_register_client(cns, C.uint32_t(rank), C.uid_t(uid), C.gid_t(gid))
	return srvErr("PMIx_server_register_client rank "+strconv.Itoa(rank), rc)
}

// Deregister is PMIx_server_deregister_client of ranks, then
// PMIx_server_deregister_nspace: libpmix runs the cleanups they
// registered (PMIX_REGISTER_CLEANUP).
func (s *Server) Deregister(nspace string, ranks []int) error {
	cr := make([]C.uint32_t, len(ranks)+1)
	for i, r := range ranks {
		cr[i] = C.uint32_t(r)
	}
	cns := C.CString(nspace)
	defer C.free(unsafe.Pointer(cns))
	return srvErr("PMIx_server_deregister_nspace "+nspace, C.mpw_srv_deregister(cns, &cr[0], C.size_t(len(ranks))))
}

// SetupFork is PMIx_server_setup_fork on an empty environment.
func (s *Server) SetupFork(nspace string, rank int) ([]string, error) {
	cns := C.CString(nspace)
	defer C.free(unsafe.Pointer(cns))
	var env **C.char
	if err := srvErr("PMIx_server_setup_fork rank "+strconv.Itoa(rank), C.mpw_srv_setup_fork(cns, C.uint32_t(rank), &env)); err != nil {
		return nil, err
	}
	var out []string
	if env != nil {
		for _, p := range unsafe.Slice(env, 1<<20) {
			if p == nil {
				break
			}
			out = append(out, C.GoString(p))
			C.free(unsafe.Pointer(p))
		}
		C.free(unsafe.Pointer(env))
	}
	return out, nil
}

// DmodexRequest is PMIx_server_dmodex_request, waited for.
func (s *Server) DmodexRequest(nspace string, rank int) ([]byte, error) {
	ch := make(chan dmodexResult, 1)
	dmodexMu.Lock()
	dmodexNext++
	token := dmodexNext
	dmodexWait[token] = ch
	dmodexMu.Unlock()
	cns := C.CString(nspace)
	defer C.free(unsafe.Pointer(cns))
	if err := srvErr("PMIx_server_dmodex_request rank "+strconv.Itoa(rank), C.mpw_srv_dmodex_request(cns, C.uint32_t(rank), C.uintptr_t(token))); err != nil {
		dmodexMu.Lock()
		delete(dmodexWait, token)
		dmodexMu.Unlock()
		return nil, err
	}
	r := <-ch
	if r.status != 0 {
		return nil, srvErr("PMIx_server_dmodex_request rank "+strconv.Itoa(rank), C.int(r.status))
	}
	return r.data, nil
}

//export goSrvDmodexData
func goSrvDmodexData(token C.uintptr_t, status C.int, data *C.char, n C.size_t) {
	r := dmodexResult{status: int(status)}
	if data != nil && n > 0 {
		r.data = C.GoBytes(unsafe.Pointer(data), C.int(n))
	}
	dmodexMu.Lock()
	ch := dmodexWait[uintptr(token)]
	delete(dmodexWait, uintptr(token))
	dmodexMu.Unlock()
	if ch != nil {
		ch <- r
	}
}

// queue hands an upcall to Events. libpmix's progress thread must not
// wait, so a full queue (a host that stopped reading) fails the upcall.
func queue(ev pmix.ServerEvent) bool {
	if theServer == nil {
		return false
	}
	select {
	case theServer.events <- ev:
		return true
	default:
		return false
	}
}

//export goSrvClient
func goSrvClient(rank C.uint32_t, what C.int) {
	kind := pmix.EvConnected
	if what == 2 {
		kind = pmix.EvFinalized
	}
	queue(pmix.ServerEvent{Kind: kind, Rank: int(rank)})
}

//export goSrvAbort
func goSrvAbort(token C.uintptr_t, rank C.uint32_t, status C.int, msg *C.char, whole C.int) {
	ev := pmix.ServerEvent{Kind: pmix.EvAbort, Rank: int(rank), Code: int(status), Msg: C.GoString(msg), Whole: whole != 0}
	ev.Done = opDone(token)
	if !queue(ev) {
		ev.Done(pmix.StatusError)
	}
}

func opDone(token C.uintptr_t) func(int) {
	var once sync.Once
	return func(st int) { once.Do(func() { C.mpw_srv_op_done(token, C.int(st)) }) }
}

func modexReply(token C.uintptr_t) func(int, []byte) {
	var once sync.Once
	return func(st int, data []byte) {
		once.Do(func() {
			var p *C.char
			if len(data) > 0 {
				p = (*C.char)(C.CBytes(data))
				defer C.free(unsafe.Pointer(p))
			}
			C.mpw_srv_modex_done(token, C.int(st), p, C.size_t(len(data)))
		})
	}
}

//export goSrvFence
func goSrvFence(token C.uintptr_t, collect C.int, data *C.char, n C.size_t) C.int {
	ev := pmix.ServerEvent{Kind: pmix.EvFence, Collect: collect != 0}
	if n > 0 {
		ev.Data = C.GoBytes(unsafe.Pointer(data), C.int(n))
	}
	ev.Reply = modexReply(token)
	if !queue(ev) {
		return C.MPW_PMIX_ERROR
	}
	return C.MPW_PMIX_SUCCESS
}

//export goSrvDmodex
func goSrvDmodex(token C.uintptr_t, nspace *C.char, rank C.uint32_t) {
	ev := pmix.ServerEvent{Kind: pmix.EvDmodex, Nspace: C.GoString(nspace), Rank: int(rank)}
	ev.Reply = modexReply(token)
	if !queue(ev) {
		ev.Reply(pmix.StatusError, nil)
	}
}

func cStrings(p **C.char, n C.size_t) []*C.char {
	if n == 0 || p == nil {
		return nil
	}
	return unsafe.Slice(p, int(n))
}

//export goSrvPublish
func goSrvPublish(token C.uintptr_t, rank C.uint32_t, n C.size_t, keys, vals **C.char) {
	ev := pmix.ServerEvent{Kind: pmix.EvPublish, Rank: int(rank)}
	vs := cStrings(vals, n)
	for i, k := range cStrings(keys, n) {
		ev.Keys = append(ev.Keys, C.GoString(k))
		var v *string
		if vs[i] != nil {
			s := C.GoString(vs[i])
			v = &s
		}
		ev.Values = append(ev.Values, v)
	}
	ev.Done = opDone(token)
	if !queue(ev) {
		ev.Done(pmix.StatusError)
	}
}

//export goSrvLookup
func goSrvLookup(token C.uintptr_t, rank C.uint32_t, n C.size_t, keys **C.char, unpublish C.int) {
	ev := pmix.ServerEvent{Kind: pmix.EvLookup, Rank: int(rank)}
	for _, k := range cStrings(keys, n) {
		ev.Keys = append(ev.Keys, C.GoString(k))
	}
	if unpublish != 0 {
		ev.Kind = pmix.EvUnpublish
		ev.Done = opDone(token)
		if !queue(ev) {
			ev.Done(pmix.StatusError)
		}
		return
	}
	var once sync.Once
	ev.Found = func(st int, keys, values []string) {
		once.Do(func() { lookupDone(token, rank, st, keys, values) })
	}
	if !queue(ev) {
		ev.Found(pmix.StatusError, nil, nil)
	}
}

func lookupDone(token C.uintptr_t, rank C.uint32_t, st int, keys, values []string) {
	n := min(len(keys), len(values))
	ck := make([]*C.char, n+1)
	cv := make([]*C.char, n+1)
	for i := 0; i < n; i++ {
		ck[i], cv[i] = C.CString(keys[i]), C.CString(values[i])
	}
	kp := (**C.char)(C.malloc(C.size_t(n+1) * C.size_t(unsafe.Sizeof(ck[0]))))
	vp := (**C.char)(C.malloc(C.size_t(n+1) * C.size_t(unsafe.Sizeof(cv[0]))))
	copy(unsafe.Slice(kp, n+1), ck)
	copy(unsafe.Slice(vp, n+1), cv)
	theServer.mu.Lock()
	cns := C.CString(theServer.nspace) // PMI-1 does not say who published
	theServer.mu.Unlock()
	C.mpw_srv_lookup_done(token, C.int(st), C.size_t(n), kp, vp, cns, rank)
	for i := 0; i < n; i++ {
		C.free(unsafe.Pointer(ck[i]))
		C.free(unsafe.Pointer(cv[i]))
	}
	C.free(unsafe.Pointer(kp))
	C.free(unsafe.Pointer(vp))
	C.free(unsafe.Pointer(cns))
}

var _ pmix.ServerLib = (*Server)(nil)
