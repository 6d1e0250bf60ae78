// Package nsexec is the single-threaded half of mpiwrap: C code that runs
// from an ELF constructor, before the Go runtime starts any thread, and
// applies a plan that the Go half encoded. It exists because
// unshare(CLONE_NEWUSER) and setns() into a mount namespace refuse
// multi-threaded callers, and because a rank that joins its node's namespace
// should not pay for a Go runtime start at all (see fastpath.c).
//
// The Go half re-executes /proc/self/exe with _MPIWRAP_STAGE set:
//
//	apply  read the plan from fd $_MPIWRAP_PLAN and apply it; the plan ends
//	       in exec (the command), in a clean exit (a namespace builder that
//	       handed its namespaces out), or in a return to the Go runtime,
//	       which then runs inside the namespaces.
//	fuse   detach, wait for a /dev/fuse descriptor, exec squashfuse on it.
//	keeper detach, then run the Go runtime (the node's namespace keeper).
package nsexec

/*
#cgo CFLAGS: -std=gnu11 -O2 -Wall -Wextra -Wno-unused-parameter
#include <stdlib.h>
#include "nsexec.h"
void nsx_file_identity(const char *path, char *out, size_t len);
*/
import "C"

import (
	"unsafe"
)

// Exit codes shared with the C half.
const (
	ExitMpiwrap    = C.EXIT_MPIWRAP
	ExitCannotExec = C.EXIT_CANNOT_EXEC
	ExitNotFound   = C.EXIT_NOT_FOUND
)

// The rest of the contract with the C half, from nsexec.h (see there).
const (
	ReqMagic       = C.NSX_REQ_MAGIC
	RepOK          = C.NSX_REP_OK
	RepError       = C.NSX_REP_ERROR
	RepFallthrough = C.NSX_REP_FALLTHROUGH
	RepProxy       = C.NSX_REP_PROXY
	RepProxyFork   = C.NSX_REP_PROXY_FORK
	RepProxyHosted = C.NSX_REP_PROXY_HOSTED
	MaxMessage     = C.NSX_MAX_MESSAGE

	XDGDir           = C.NSX_XDG_DIR
	XDGMax           = C.NSX_XDG_MAX
	RendezvousPrefix = C.NSX_RENDEZVOUS_PREFIX
	CachePrefix      = C.NSX_CACHE_PREFIX
	SeriesLen        = C.NSX_SERIES_LEN
	SeriesSuffix     = C.NSX_SERIES_SUFFIX
	PlanMagic        = C.NSX_PLAN_MAGIC
	PlanMax          = C.NSX_PLAN_MAX

	ShapesMagic  = C.NSX_SHAPES_MAGIC
	ShapesSuffix = C.NSX_SHAPES_SUFFIX
	JoinedSuffix = C.NSX_JOINED_SUFFIX
	DoneSuffix   = C.NSX_DONE_SUFFIX
	HolderSuffix = C.NSX_HOLDER_SUFFIX
	ShapesMax    = C.NSX_SHAPES_MAX
)

// ShapesHead is the header of a shapes file (struct nsx_shapes_head).
type ShapesHead struct {
	Magic, Size, Holder, Pad uint32
	Gen                      uint64
}

// Stage is the stage this process was started in ("" for a user's command).
func Stage() string {
	if C.nsexec_stage == nil {
		return ""
	}
	return C.GoString(C.nsexec_stage)
}

// ProxiedRank is the rank that the C half forked for a proxy and this
// process's end of its PMI socket, or ok false.
func ProxiedRank() (pid, fd int, ok bool) {
	if C.nsexec_rank_pid <= 0 {
		return 0, 0, false
	}
	return int(C.nsexec_rank_pid), int(C.nsexec_proxy_fd), true
}

// SignalState is the launcher's signal dispositions and mask, recorded before
// the Go runtime changed them; pass it on as _MPIWRAP_SIG.
func SignalState() string {
	return C.GoString(&C.nsexec_sigstate[0])
}

// JoinKeyC and SocketPathC expose the C rendezvous naming so tests can check
// that Go and C agree.
func JoinKeyC() (string, bool) {
	buf := make([]byte, 1024)
	if C.nsx_join_key((*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf))) != 0 {
		return "", false
	}
	return C.GoString((*C.char)(unsafe.Pointer(&buf[0]))), true
}

// SocketPathC is the C half's socket path for key, or false where the
// rendezvous directory is missing or not private.
func SocketPathC(key string) (string, bool) {
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	buf := make([]byte, 256)
	if C.nsx_socket_path(ck, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf))) != 0 {
		return "", false
	}
	return C.GoString((*C.char)(unsafe.Pointer(&buf[0]))), true
}

// UserDirC is the C half's directory of prefix's series (prefix + uid,
// then its numbered fallbacks): the first that is a private directory of
// ours, made when none is and create is set; false when every one is taken.
func UserDirC(prefix string, create bool) (string, bool) {
	cp := C.CString(prefix)
	defer C.free(unsafe.Pointer(cp))
	mk := C.int(0)
	if create {
		mk = 1
	}
	buf := make([]byte, 512)
	if C.nsx_user_dir(cp, mk, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf))) != 0 {
		return "", false
	}
	return C.GoString((*C.char)(unsafe.Pointer(&buf[0]))), true
}

// SocketPathAtC is SocketPathC with the rendezvous prefix a parameter.
func SocketPathAtC(prefix, key string) (string, bool) {
	cp, ck := C.CString(prefix), C.CString(key)
	defer C.free(unsafe.Pointer(cp))
	defer C.free(unsafe.Pointer(ck))
	buf := make([]byte, 512)
	if C.nsx_socket_path_at(cp, ck, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf))) != 0 {
		return "", false
	}
	return C.GoString((*C.char)(unsafe.Pointer(&buf[0]))), true
}

// FileIdentityC is the identity the C replay checks a plan's input by,
// which must be internal/fileid's Of.
func FileIdentityC(path string) string {
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	buf := make([]byte, 256)
	C.nsx_file_identity(cp, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	return C.GoString((*C.char)(unsafe.Pointer(&buf[0])))
}

// CachedPlanC is the plan that the C replay would run for argv in this
// process's working directory and environment, or false when it would
// plan in Go instead: tests check with it that C reads what Go writes.
func CachedPlanC(argv []string) ([]byte, bool) {
	cargv := make([]*C.char, len(argv)+1)
	for i, a := range argv {
		cargv[i] = C.CString(a)
		defer C.free(unsafe.Pointer(cargv[i]))
	}
	var n C.size_t
	var owner unsafe.Pointer
	p := C.nsx_cached_plan(C.int(len(argv)), &cargv[0], &n, &owner)
	if p == nil {
		return nil, false
	}
	defer C.free(owner)
	return C.GoBytes(unsafe.Pointer(p), C.int(n)), true
}

// freeStrings frees what cStrings allocated.
func freeStrings(ss []*C.char) {
	for _, s := range ss {
		C.free(unsafe.Pointer(s))
	}
}

// PerRankVarsC is the C half's copy of pmi/launchenv's PerRank.
func PerRankVarsC() []string {
	var out []string
	for p := C.nsx_per_rank_vars(); *p != nil; p = (**C.char)(unsafe.Add(unsafe.Pointer(p), unsafe.Sizeof(p))) {
		out = append(out, C.GoString(*p))
	}
	return out
}

// ShapeKeyC is the C half's shape key for a rank with this working
// directory, argv, environment and count of passed descriptors, which must
// be the keeper's shapeKey of the request such a rank sends.
func ShapeKeyC(cwd string, argv, env []string, nfds int) (string, bool) {
	cc := C.CString(cwd)
	defer C.free(unsafe.Pointer(cc))
	ca, ce := cStrings(argv), cStrings(env)
	defer freeStrings(ca)
	defer freeStrings(ce)
	buf := make([]byte, 1<<20)
	n := C.nsx_shape_key(cc, C.int(len(argv)), &ca[0], &ce[0], C.int(nfds), (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	if n < 0 {
		return "", false
	}
	return string(buf[:n]), true
}

// ShapePlanC is the plan the C half makes for such a rank from a shapes
// file, and the file's header; false when the file has none for it.
func ShapePlanC(file []byte, cwd string, argv, env []string, nfds int) ([]byte, ShapesHead, bool) {
	cc := C.CString(cwd)
	defer C.free(unsafe.Pointer(cc))
	ca, ce := cStrings(argv), cStrings(env)
	defer freeStrings(ca)
	defer freeStrings(ce)
	capacity := len(file) + 4096
	in := C.CBytes(file)
	defer C.free(in)
	out := (*[1 << 30]byte)(C.malloc(C.size_t(capacity)))[:capacity:capacity]
	defer C.free(unsafe.Pointer(&out[0]))
	var head C.struct_nsx_shapes_head
	n := C.nsx_shape_plan((*C.uchar)(in), C.size_t(len(file)), (*C.uchar)(&out[0]), C.size_t(capacity), cc, C.int(len(argv)), &ca[0], &ce[0], C.int(nfds), &head)
	h := ShapesHead{uint32(head.magic), uint32(head.size), uint32(head.holder), uint32(head.pad), uint64(head.gen)}
	if n < 0 {
		return nil, h, false
	}
	return append([]byte(nil), out[:n]...), h, true
}
