package libpmix

/*
#cgo CFLAGS: -O2 -Wall
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "abi.h"
#include "shim.h"
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/pmix"
)

// Client is the process's PMIx client (pmix.Client) on a dlopen'ed
// libpmix. Its methods are safe for concurrent use: libpmix serialises
// them on its progress thread.
type Client struct {
	nspace  string
	rank    int
	version string
	lost    chan error
}

var (
	initOnce     sync.Once
	errInitTwice = errors.New("initialise PMIx: the client is already initialised in this process")
)

// Init loads the first of libs that dlopen accepts and initialises PMIx.
// PMIx has one client per process, so Init succeeds at most once.
func Init(libs []string) (*Client, error) {
	var c *Client
	err := errInitTwice
	initOnce.Do(func() { c, err = initClient(libs) })
	return c, err
}

func initClient(libs []string) (*Client, error) {
	version, err := open(libs)
	if err != nil {
		return nil, err
	}
	if major := versionMajor(version); major < 4 {
		return nil, fmt.Errorf("load libpmix: %q is older than PMIx v4, whose ABI mpiwrap-pmix is built for", version)
	}
	p := make([]int, 2)
	if err := unix.Pipe2(p, unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("initialise PMIx: pipe: %w", err)
	}
	c := &Client{version: version, lost: make(chan error, 1)}
	go c.watch(os.NewFile(uintptr(p[0]), "pmix-events"))
	var ns [256]C.char
	var rank C.uint32_t
	if rc := C.mpw_init(C.int(p[1]), &ns[0], C.size_t(len(ns)), &rank); rc != 0 {
		unix.Close(p[1]) // ends watch
		return nil, fmt.Errorf("initialise PMIx (%s): PMIx_Init: %w; is this a task of a PMIx launcher (srun --mpi=pmix, mpirun)?", shortVersion(version), statusErr(rc))
	}
	c.nspace, c.rank = C.GoString(&ns[0]), int(rank)
	return c, nil
}

// open dlopens the first library that loads and returns its version.
func open(libs []string) (string, error) {
	if len(libs) == 0 {
		return "", errors.New("load libpmix: no library names given")
	}
	var msgs []string
	buf := make([]C.char, 512)
	for _, name := range libs {
		cname := C.CString(name)
		rc := C.mpw_open(cname, &buf[0], C.size_t(len(buf)))
		C.free(unsafe.Pointer(cname))
		if rc == 0 {
			return C.GoString(C.mpw_version()), nil
		}
		msgs = append(msgs, C.GoString(&buf[0]))
	}
	return "", fmt.Errorf("load libpmix: %s; install OpenPMIx (Debian: libpmix2) or name the library", strings.Join(msgs, "; "))
}

// versionMajor reads the major version from PMIx_Get_version, e.g.
// "OpenPMIx 4.2.2rc2 (PMIx Standard: 4.2, ...)"; 0 if there is none.
func versionMajor(v string) int {
	for _, f := range strings.Fields(v) {
		if major, _, ok := strings.Cut(f, "."); ok {
			if n, err := strconv.Atoi(major); err == nil {
				return n
			}
		}
	}
	return 0
}

// shortVersion is the name and number, e.g. "OpenPMIx 4.2.2rc2".
func shortVersion(v string) string {
	f := strings.Fields(v)
	return strings.Join(f[:min(2, len(f))], " ")
}

// watch turns lost-connection events into one error on c.lost.
func (c *Client) watch(r *os.File) {
	defer r.Close()
	var b [4]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return
	}
	st := C.int(int32(binary.NativeEndian.Uint32(b[:])))
	c.lost <- fmt.Errorf("event %w", statusErr(st))
}

// StatusError is a PMIx status other than success.
type StatusError struct {
	Status int    // the pmix_status_t
	Text   string // PMIx_Error_string
}

func (e *StatusError) Error() string { return fmt.Sprintf("%s (PMIx status %d)", e.Text, e.Status) }

func statusErr(rc C.int) error {
	return &StatusError{Status: int(rc), Text: C.GoString(C.mpw_strerror(rc))}
}

// Proc is the namespace and rank PMIx_Init returned.
func (c *Client) Proc() (string, int) { return c.nspace, c.rank }

// Version is PMIx_Get_version().
func (c *Client) Version() string { return c.version }

// Lost yields once if the PMIx server connection is lost.
func (c *Client) Lost() <-chan error { return c.lost }

// Put is PMIx_Put(PMIX_GLOBAL) of a PMIX_STRING.
func (c *Client) Put(key, value string) error {
	ck, cv := C.CString(key), C.CString(value)
	defer C.free(unsafe.Pointer(ck))
	defer C.free(unsafe.Pointer(cv))
	if rc := C.mpw_put(ck, cv); rc != 0 {
		return fmt.Errorf("PMIx_Put %s: %w", key, statusErr(rc))
	}
	return nil
}

// Commit is PMIx_Commit.
func (c *Client) Commit() error {
	if rc := C.mpw_commit(); rc != 0 {
		return fmt.Errorf("PMIx_Commit: %w", statusErr(rc))
	}
	return nil
}

// Fence is PMIx_Fence of the namespace with PMIX_COLLECT_DATA.
func (c *Client) Fence() error {
	if rc := C.mpw_fence(); rc != 0 {
		return fmt.Errorf("PMIx_Fence: %w", statusErr(rc))
	}
	return nil
}

// Get is PMIx_Get with PMIX_IMMEDIATE; rank may be pmi.AnyRank
// (PMIX_RANK_UNDEF) or pmix.RankWildcard.
func (c *Client) Get(rank int, key string) (string, bool, error) {
	var r C.uint32_t
	switch {
	case rank == pmi.AnyRank:
		r = C.MPW_PMIX_RANK_UNDEF
	case rank == pmix.RankWildcard:
		r = C.MPW_PMIX_RANK_WILDCARD
	case rank >= 0 && int64(rank) < C.MPW_PMIX_RANK_WILDCARD:
		r = C.uint32_t(rank)
	default:
		return "", false, fmt.Errorf("PMIx_Get %s: rank %d out of range", key, rank)
	}
	cns, ck := C.CString(c.nspace), C.CString(key)
	defer C.free(unsafe.Pointer(cns))
	defer C.free(unsafe.Pointer(ck))
	var out *C.char
	var typ C.int
	rc := C.mpw_get(cns, r, ck, &out, &typ)
	defer C.free(unsafe.Pointer(out))
	switch rc {
	case 0:
		return C.GoString(out), true, nil
	case C.MPW_PMIX_ERR_NOT_FOUND:
		return "", false, nil
	case C.MPW_SHIM_BADTYPE:
		return "", false, fmt.Errorf("PMIx_Get %s of rank %d: value of PMIx data type %d is neither a string nor a number", key, rank, int(typ))
	}
	return "", false, fmt.Errorf("PMIx_Get %s of rank %d: %w", key, rank, statusErr(rc))
}

// Abort is PMIx_Abort of the whole namespace.
func (c *Client) Abort(code int, msg string) error {
	cm := C.CString(msg)
	defer C.free(unsafe.Pointer(cm))
	if rc := C.mpw_abort(C.int(code), cm); rc != 0 {
		return fmt.Errorf("PMIx_Abort: %w", statusErr(rc))
	}
	return nil
}

// Finalize is PMIx_Finalize.
func (c *Client) Finalize() error {
	if rc := C.mpw_finalize(); rc != 0 {
		return fmt.Errorf("PMIx_Finalize: %w", statusErr(rc))
	}
	return nil
}

// Publish is PMIx_Publish of service=port.
func (c *Client) Publish(service, port string) error {
	ck, cv := C.CString(service), C.CString(port)
	defer C.free(unsafe.Pointer(ck))
	defer C.free(unsafe.Pointer(cv))
	if rc := C.mpw_publish(ck, cv); rc != 0 {
		return fmt.Errorf("PMIx_Publish %s: %w", service, statusErr(rc))
	}
	return nil
}

// Lookup is PMIx_Lookup of service; a name nobody published is not found.
func (c *Client) Lookup(service string) (string, bool, error) {
	ck := C.CString(service)
	defer C.free(unsafe.Pointer(ck))
	var out *C.char
	rc := C.mpw_lookup(ck, &out)
	defer C.free(unsafe.Pointer(out))
	switch rc {
	case 0:
		return C.GoString(out), true, nil
	case C.MPW_PMIX_ERR_NOT_FOUND:
		return "", false, nil
	case C.MPW_SHIM_BADTYPE:
		return "", false, fmt.Errorf("PMIx_Lookup %s: the published value is no string", service)
	}
	return "", false, fmt.Errorf("PMIx_Lookup %s: %w", service, statusErr(rc))
}

// Unpublish is PMIx_Unpublish of service.
func (c *Client) Unpublish(service string) error {
	ck := C.CString(service)
	defer C.free(unsafe.Pointer(ck))
	if rc := C.mpw_unpublish(ck); rc != 0 {
		return fmt.Errorf("PMIx_Unpublish %s: %w", service, statusErr(rc))
	}
	return nil
}

var _ pmix.Client = (*Client)(nil)
