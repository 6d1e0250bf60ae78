package mpiwrap

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/mpiwrap/mpiwrap/mpiwrap/plan"
	"github.com/mpiwrap/mpiwrap/pmi/proxy"
	"github.com/mpiwrap/mpiwrap/pmi/server"
	"golang.org/x/sys/unix"
)

// A hosted rank has the node's keeper as its PMI proxy, instead of a proxy
// process of its own: the C client passes the launcher's PMI_FD (and its
// stderr) with its request, the keeper answers repProxyHosted with one end
// of a socketpair, and the rank execs with that end as PMI_FD. With ranks
// outnumbering cores, one proxy process per node instead of one per rank is
// what keeps the proxy off MPI_Init's critical path (see README,
// Performance). Other ranks keep a proxy process of their own: under PMIx
// each needs a PMIx client of its own (the mpiwrap-pmix helper), and under
// PMI_PORT (hydra -pmi-port) only the launcher knows the rank before the
// rank's environment is made.
type hostedRank struct {
	rank, size int
	env        []string // the rank's environment, PMI_FD naming upFd
	upFd       int      // the launcher's PMI_FD, received
	stderr     int      // the rank's stderr, received
	mine       int      // the keeper's end of the rank's PMI socket
	theirs     int      // the rank's end, sent with the reply
	pid        int32    // the rank's; it stays through exec
	pidfd      int      // the rank's
	served     bool     // the node's PMIx server serves it (pmixserver.go)
}

// hostable says whether the keeper can proxy this C client: its PMI_FD
// and stderr came with the request.
func hostable(req *request) bool {
	_, hasFd := plan.LookupEnv(req.env, "PMI_FD")
	return hasFd && req.pmiFd >= 0 && req.stderrFd >= 0
}

func (k *keeper) planHostedRank(spec *plan.Spec, req *request) (uint32, []byte, *hostedRank) {
	rank, size := req.launcher().Rank, req.launcher().Size
	if rank < 0 || size < 1 {
		return repFallthrough, nil, nil // rank and size only the launcher knows: Go asks it
	}
	status, payload := k.proxiedPlan(spec, req, rank, size, repProxyHosted)
	if status != repProxyHosted {
		return status, payload, nil
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return repError, []byte(fmt.Sprintf("make the rank's PMI socket: %v", err)), nil
	}
	env := slices.Clone(req.env)
	for i, kv := range env {
		if strings.HasPrefix(kv, "PMI_FD=") {
			env[i] = "PMI_FD=" + strconv.Itoa(req.pmiFd)
		}
	}
	h := &hostedRank{rank: rank, size: size, env: env, upFd: req.pmiFd, stderr: req.stderrFd,
		mine: pair[0], theirs: pair[1], pidfd: -1}
	return repProxyHosted, payload, h
}

// start serves the rank's PMI in the background once it has its reply.
func (h *hostedRank) start(k *keeper, pid int32) error {
	fd, err := unix.PidfdOpen(int(pid), 0)
	if err != nil {
		if h.served { // gone already
			k.served.exited(h.rank)
		}
		return err
	}
	h.pid, h.pidfd = pid, fd
	if h.served {
		k.served.add(k, h)
		return nil
	}
	k.sessions.Add(1)
	go func() {
		defer k.sessions.Done()
		defer h.close()
		h.serve(k)
	}()
	return nil
}

// serve proxies until the rank is done. On an abort, a lost launcher or a
// failure of the proxy the rank is killed, as a proxy process would.
func (h *hostedRank) serve(k *keeper) {
	up, err := proxy.UpstreamFromEnv(k.ctx, h.env, proxy.WireAuto)
	h.upFd = -1 // the client owns it now, or it is closed
	if err == nil {
		if err = sameRank(up, h.rank, h.size); err != nil {
			up.Close()
		}
	}
	if err != nil {
		h.fail(fmt.Errorf("connect to the launcher's PMI: %w", err))
		return
	}
	defer up.Close()
	opts := proxy.Options{Batch: h.size > batchAbove, Cache: k.fences, Note: h.note}
	opts.LocalSize, _ = proxy.LocalSizeFromEnv(h.env)
	f := os.NewFile(uintptr(h.mine), "pmi")
	conn, err := net.FileConn(f)
	f.Close()
	h.mine = -1
	if err != nil {
		h.fail(fmt.Errorf("take the rank's PMI socket: %w", err))
		return
	}
	serr := proxy.Serve(k.ctx, conn, up, opts)
	_, aborted := proxy.IsAbort(serr)
	switch {
	case serr == nil:
	case aborted: // the rank waits in PMI_Abort: stop it, then close
		h.kill()
		conn.Close()
	case errors.Is(serr, server.ErrEarlyClose): // it died; the launcher saw that
		h.kill()
	case errors.Is(serr, proxy.ErrUpstreamClosed):
		h.fail(fmt.Errorf("the launcher's PMI went away, so the rank was killed: %w", serr))
	default:
		h.fail(fmt.Errorf("PMI proxy: %w", serr))
	}
}

// note says msg where the rank's own errors go.
func (h *hostedRank) note(msg string) {
	if h.stderr >= 0 {
		unix.Write(h.stderr, []byte(fmt.Sprintf("mpiwrap[rank %d pid %d]: error: %s\n", h.rank, h.pid, msg)))
	}
}

// fail reports err where the rank's own errors go, and kills the rank.
func (h *hostedRank) fail(err error) {
	if h.stderr >= 0 {
		msg := fmt.Sprintf("mpiwrap[rank %d pid %d]: error: %v\n", h.rank, h.pid, err)
		unix.Write(h.stderr, []byte(msg))
	}
	h.kill()
}

func (h *hostedRank) kill() {
	if h.pidfd >= 0 {
		unix.PidfdSendSignal(h.pidfd, unix.SIGKILL, nil, 0)
	}
}

func (h *hostedRank) close() {
	for _, fd := range []*int{&h.upFd, &h.stderr, &h.mine, &h.pidfd} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
}
