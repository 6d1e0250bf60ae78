package mpiwrap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mpiwrap/mpiwrap/mpiwrap/nodecache"
	"github.com/mpiwrap/mpiwrap/mpiwrap/nsexec"
	"github.com/mpiwrap/mpiwrap/mpiwrap/plan"
	"github.com/mpiwrap/mpiwrap/netinject"
	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/launchenv"
	"github.com/mpiwrap/mpiwrap/pmi/proxy"
	"golang.org/x/sys/unix"
)

// ParseFunc turns a rank's full mpiwrap argv into a Spec, resolving relative
// paths against cwd. It returns a nil Spec for commands other than run.
type ParseFunc func(argv []string, cwd string) (*plan.Spec, error)

// keeper builds the node's namespace once and hands it to every local rank.
type keeper struct {
	parse   ParseFunc
	leader  *plan.Plan // the plan of the rank that started the keeper
	inputs  string     // mountInputs of the leader
	nsfds   []int
	failure string // why the namespace could not be built
	joined  map[int32]bool
	parsed  map[string]*plan.Spec // by cwd and argv: ranks mostly repeat one line
	replies map[replyKey][]byte   // a rank's reply after its log label, by what it depends on
	shapes  map[string]shapeReply // the same by request shape (shapeKey), looked up first
	reqBuf  []byte                // where requests are read, one at a time

	size        int              // the local ranks it waits for (0: until the launcher is gone)
	direct      *directJoin      // the shapes published for ranks to join without asking
	directTried bool             // whether startDirect ran
	unpublished []publishedShape // planned while answering, published once the reply is out
	wake        func()           // makes serve look at the count again

	ctx      context.Context // ends when the launcher is gone
	sessions sync.WaitGroup  // hosted ranks' PMI proxies, served ranks and their server
	fences   *proxy.Cache    // their batched fences' data, read once
	served   *servedNode     // the node's PMIx server (pmixserver.go), when its ranks may need one
}

// RunKeeper is the body of the detached keeper process (stage "keeper"). It
// inherits the listening socket as fd 3 and, when available, a pidfd of the
// launcher as fd 4. It returns the process exit code.
func RunKeeper(parse ParseFunc) int {
	listener, launcher := 3, -1
	if _, err := unix.FcntlInt(4, unix.F_GETFD, 0); err == nil {
		launcher = 4
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	k := &keeper{parse: parse, joined: map[int32]bool{}, parsed: map[string]*plan.Spec{}, replies: map[replyKey][]byte{}, shapes: map[string]shapeReply{}, ctx: ctx,
		fences: proxy.NewCache()}
	k.failure = k.build()
	quietStdio()
	oneThread() // for the PMI proxies it may host (hosted.go)
	gone := exited(launcher)
	if !k.serve(listener, gone) {
		cancel()
	}
	k.cleanup()
	for _, fd := range k.nsfds { // the ranks keep the namespace alive now
		unix.Close(fd)
	}
	k.reportCounts()
	k.direct.stop()
	go func() { <-gone; cancel() }()
	k.sessions.Wait()
	if k.served != nil {
		k.served.remove()
	}
	return 0
}

func (k *keeper) build() string {
	cwd, err := os.Getwd()
	if err != nil {
		return fmt.Sprintf("keeper: get working directory: %v", err)
	}
	spec, err := k.parse(os.Args, cwd)
	if err != nil {
		return err.Error()
	}
	if spec == nil {
		// The leader runs no command (mpiwrap check under a launcher):
		// its ranks, like it, are the Go half's; the keeper sends each
		// there (planRequest) until the launcher is gone.
		return ""
	}
	h := plan.NewHost(os.Environ(), cwd)
	h.NodeCache, h.Network = nodeCache{}, netinject.Node{}
	if k.leader, err = plan.New(spec, h); err != nil {
		return err.Error()
	}
	if err := CheckUserNamespaces(); err != nil {
		return err.Error()
	}
	k.inputs = plan.MountInputs(spec, h.Env, cwd)
	if err := k.maybeServe(h); err != nil {
		return err.Error()
	}
	var hold *nodecache.Hold
	k.leader, hold, err = holdLdCache(k.leader, spec, h)
	defer hold.Release() // once the namespace has it bound
	if err != nil {
		return err.Error()
	}

	if err := k.leader.Inject.Refused(); err != nil { // before any mount
		return err.Error()
	}
	k.nsfds, err = buildNamespace(k.leader, k.leader.RankLabel(), spec.Verbose)
	if err != nil {
		return err.Error()
	}
	if in := k.leader.Inject; in != nil && in.LdCache == plan.LdCachePending {
		if err := buildLdCacheInside(k.leader, k.nsfds, k.leader.RankLabel()); err != nil {
			return err.Error()
		}
	}
	if err := k.leader.Inject.Refused(); err != nil {
		return err.Error()
	}
	// The PMI mode of a SquashFS image's ranks depends on its MPI when the
	// launcher offers PMIx (proxy for MPICH) or PMI-1/2 (the PMIx server
	// for Open MPI).
	if offer := plan.HostOffer(h.Env); k.leader.MPI.Family == plan.FamilyUnknown && k.leader.Image.Kind == plan.ImageSquashFS && offer != launchenv.OfferNone {
		if err := detectMPIIn(k.leader, k.nsfds); err != nil {
			return err.Error()
		}
	}
	return ""
}

// buildNamespace runs the C setup stage as a child that ends by sending its
// user and mount namespace descriptors; those keep the namespace alive.
func buildNamespace(p *plan.Plan, rank string, verbose bool) ([]int, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("make namespace socket: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(pair[0]), "ns"), os.NewFile(uintptr(pair[1]), "ns")
	defer ours.Close()
	extra := []*os.File{theirs}
	fuseSock := -1
	if p.Image.Kind == plan.ImageSquashFS {
		f, err := startFuseHelper(p.Image)
		if err != nil {
			theirs.Close()
			return nil, err
		}
		defer f.Close()
		extra, fuseSock = append(extra, f), 4
	}
	ops := &nsexec.Plan{}
	encodeSetup(ops, p, rank, verbose, fuseSock)
	ops.SendNS(3)
	var stderr bytes.Buffer
	cmd, err := startApply(ops, rank, &stderr, nil, extra...)
	theirs.Close()
	if err != nil {
		return nil, err
	}
	_, _, fds, rerr := readReply(int(ours.Fd()))
	werr := cmd.Wait()
	if werr != nil || len(fds) != 2 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = fmt.Sprintf("namespace setup failed: %v %v", werr, rerr)
		}
		return nil, errors.New(stripPrefix(msg))
	}
	return fds, nil
}

// stripPrefix removes the "mpiwrap[...]: error: " of a C stage's message:
// each rank prints it again under its own prefix.
func stripPrefix(msg string) string {
	if i := strings.Index(msg, "error: "); i >= 0 && strings.HasPrefix(msg, "mpiwrap[") {
		return msg[i+len("error: "):]
	}
	return msg
}

// quietStdio points stdio at /dev/null once setup is over: a keeper that
// holds the launcher's output pipes would keep the launcher waiting.
func quietStdio() {
	null, err := unix.Open("/dev/null", unix.O_RDWR, 0)
	if err != nil {
		return
	}
	for fd := 0; fd <= 2; fd++ {
		unix.Dup2(null, fd)
	}
	unix.Close(null)
}

// serve answers ranks until all expected local ranks have joined (true) or
// the launcher is gone (false); there is no timer. It accepts in the Go
// runtime's poller, not in a blocking accept(2): with GOMAXPROCS=1 a
// goroutine blocked in a syscall would hold up the hosted ranks' proxies.
// It accepts on the listening socket itself, one accept4 per rank: at 1024
// ranks a net.Listener's wrapping of each connection (and a goroutine
// handing it over) was a large part of the keeper's time. Ranks still
// queued when it returns see the socket close, and elect a new keeper.
func (k *keeper) serve(listener int, gone <-chan struct{}) bool {
	size := 1 // a rank alone on its node: no launcher-derived sharing
	if k.leader == nil || k.leader.Join.Shared {
		size = 0
	}
	if k.leader != nil && k.leader.Join.Shared {
		size = k.leader.Join.Size
	}
	k.size = size
	if unix.SetNonblock(listener, true) != nil {
		return false
	}
	f := os.NewFile(uintptr(listener), "keeper") // nonblocking: in the poller
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	// The launcher's end and the last rank to join directly (directJoin)
	// wake the accept, through its deadline.
	k.wake = func() { f.SetReadDeadline(time.Unix(1, 0)) }
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-gone:
			k.wake()
		case <-stop:
		}
	}()
	isGone := func() bool {
		select {
		case <-gone:
			return true
		default:
			return false
		}
	}
	for size == 0 || k.count() < size {
		conn, err := acceptRank(rc)
		if errors.Is(err, os.ErrDeadlineExceeded) && !isGone() {
			// Woken to count again. Gone may have come meanwhile:
			// its wake-up must not be lost with the deadline.
			f.SetReadDeadline(time.Time{})
			if isGone() {
				return false
			}
			continue
		}
		if err != nil {
			return false
		}
		k.answer(conn)
		unix.Close(conn)
		k.publishUnpublished()
	}
	return true
}

// count is how many of the expected ranks have joined, directly or
// through the socket.
func (k *keeper) count() int {
	if k.direct != nil {
		return k.direct.count()
	}
	return len(k.joined)
}

// publishedShape is a planned own-rank reply of a C client's shape.
type publishedShape struct {
	shape string
	shapeReply
}

// publishUnpublished publishes the shapes planned since the last call,
// starting the direct join at the first. A failure only means that ranks
// of that shape keep asking through the socket.
func (k *keeper) publishUnpublished() {
	for _, p := range k.unpublished {
		if !k.directTried && k.leader != nil && k.leader.Join.Shared {
			k.directTried = true
			k.direct = startDirect(os.Getenv("_MPIWRAP_SOCK"), k.size, len(k.joined), k.nsfds, k.leader.RankLabel())
			if k.direct != nil {
				go k.direct.watch(k.wake)
			}
		}
		if k.direct != nil {
			k.direct.publish(p.shape, p.rankVar, k.leader.Image.Path, p.reply)
		}
	}
	k.unpublished = nil
}

// reportCounts appends how many ranks joined through the socket and how
// many directly to the file $_MPIWRAP_KEEPER_COUNTS, for the tests that
// check that ranks do join directly.
func (k *keeper) reportCounts() {
	path := os.Getenv("_MPIWRAP_KEEPER_COUNTS")
	if path == "" {
		return
	}
	direct := 0
	if k.direct != nil {
		direct = k.direct.count() - len(k.joined)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	fmt.Fprintf(f, "socket %d direct %d\n", len(k.joined), direct)
	f.Close()
}

// acceptRank accepts one connection as a blocking, close-on-exec
// descriptor, waiting in the poller only when none is queued: the poller
// is edge-triggered, so after an aborted connection (or EINTR) it tries
// again at once, as net.Listener does, or a queued rank would wait for
// the next one to arrive.
func acceptRank(rc syscall.RawConn) (int, error) {
	conn, aerr := -1, error(nil)
	err := rc.Read(func(fd uintptr) bool {
		for {
			conn, _, aerr = unix.Accept4(int(fd), unix.SOCK_CLOEXEC)
			if !errors.Is(aerr, unix.EINTR) && !errors.Is(aerr, unix.ECONNABORTED) {
				return !errors.Is(aerr, unix.EAGAIN)
			}
		}
	})
	if err != nil {
		return -1, err
	}
	return conn, aerr
}

// exited returns a channel closed when the process of pidfd exits (never,
// for -1), watched through the Go runtime's poller.
func exited(pidfd int) <-chan struct{} {
	done := make(chan struct{})
	if pidfd < 0 {
		return done
	}
	if err := unix.SetNonblock(pidfd, true); err != nil {
		return done
	}
	raw, err := os.NewFile(uintptr(pidfd), "launcher").SyscallConn()
	if err != nil {
		return done
	}
	go func() {
		defer close(done)
		waited := false
		raw.Read(func(uintptr) bool { // readable once the process exits
			ready := waited
			waited = true
			return ready
		})
	}()
	return done
}

// answer gives one rank the namespace and its own command, environment and
// working directory, planned from its own arguments.
func (k *keeper) answer(conn int) {
	cred, _ := unix.GetsockoptUcred(conn, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if k.reqBuf == nil {
		k.reqBuf = make([]byte, 8<<10)
	}
	b, passed, err := readRequest(conn, k.reqBuf, 30*time.Second)
	status, payload := uint32(repError), []byte(k.failure)
	var h *hostedRank
	if err == nil && k.failure == "" {
		status, payload, h = k.planRank(b, passed)
	}
	for _, fd := range passed { // what a hosted rank did not take
		if h == nil || (fd != h.upFd && fd != h.stderr) {
			unix.Close(fd)
		}
	}
	if err != nil {
		return
	}
	var fds []int
	switch status {
	case repOK, repProxyFork:
		fds = k.nsfds
	case repProxyHosted:
		fds = append(slices.Clone(k.nsfds), h.theirs)
	}
	// A rank told an error won't come back: it counts as answered, or the
	// keeper would wait for the launcher, holding the namespace (and a
	// squashfuse) the launcher may be waiting on. A rank sent to run behind
	// a proxy (fallthrough, repProxy) comes back and counts then.
	sent := sendReply(conn, status, payload, fds) == nil
	if sent && status != repFallthrough && status != repProxy && cred != nil && !k.joined[cred.Pid] {
		k.joined[cred.Pid] = true
		if k.direct != nil {
			k.direct.addJoined()
		}
	}
	if h != nil {
		unix.Close(h.theirs)
		if !sent || cred == nil || h.start(k, cred.Pid) != nil {
			h.close()
		}
	}
}

func (k *keeper) planRank(b []byte, passed []int) (uint32, []byte, *hostedRank) {
	req, err := decodeRequest(b)
	if err != nil {
		return repError, []byte("bad request to the namespace keeper: " + err.Error()), nil
	}
	switch len(passed) { // see send_request in nsexec/fastpath.c
	case 1:
		req.stderrFd = passed[0]
	case 2:
		req.pmiFd, req.stderrFd = passed[0], passed[1]
	}
	req.shape = shapeKey(req, len(passed))
	if r, ok := k.shapes[req.shape]; ok {
		return repOK, k.ownReply(rankFrom(req.env, r.rankVar), r.reply), nil
	}
	return k.planRequest(req)
}

// shapeKey is what a rank's request says apart from the values of the
// variables that differ between the ranks of one step (launchenv.PerRank,
// kept as their launchenv.Class): ranks of one step on a node share it,
// and with it their reply but for the log label. It is checked before any
// planning, so the keeper's answer to the 2nd to Nth rank is a lookup.
func shapeKey(req *request, nfds int) string {
	var b strings.Builder
	b.Grow(len(req.cwd) + 64*(len(req.argv)+len(req.env)))
	for _, f := range []string{req.cwd, req.client, strconv.Itoa(len(req.argv)), strconv.Itoa(nfds)} {
		b.WriteString(f)
		b.WriteByte(0)
	}
	for _, a := range req.argv {
		b.WriteByte(0)
		b.WriteString(a)
	}
	for _, kv := range req.env {
		b.WriteByte(0)
		if name, value, ok := strings.Cut(kv, "="); ok && launchenv.PerRank[name] {
			b.WriteString(name)
			b.WriteByte('=')
			b.WriteString(launchenv.Class(value))
		} else {
			b.WriteString(kv)
		}
	}
	return b.String()
}

// rankFrom reads a rank as launchenv.Detect does: the last NAME=VALUE of
// name, as a whole number, else -1.
func rankFrom(env []string, name string) int {
	rank := -1
	if name == "" {
		return rank
	}
	prefix := name + "="
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, prefix); ok {
			if n, err := strconv.Atoi(v); err == nil {
				rank = n
			} else {
				rank = -1
			}
		}
	}
	return rank
}

// shapeReply is a planned own-rank reply after its log label, and the
// variable its rank is read from.
type shapeReply struct {
	rankVar string
	reply   []byte
}

// ownReply is a rank's plan: its log label, then the reply of its shape.
func (k *keeper) ownReply(rank int, reply []byte) []byte {
	label := plan.Plan{Launcher: plan.Launcher{Rank: rank}}
	ops := &nsexec.Plan{}
	ops.Log(label.RankLabel(), false, k.leader.Image.Path)
	ops.Append(reply)
	return ops.Bytes()
}

func (k *keeper) planRequest(req *request) (uint32, []byte, *hostedRank) {
	spec, err := k.parseCached(req)
	if err != nil {
		return repError, []byte(err.Error()), nil
	}
	if req.client == "c" && (spec == nil || spec.Verbose) {
		return repFallthrough, nil, nil
	}
	if spec == nil || k.leader == nil {
		return repError, []byte("the namespace keeper only runs commands, and this node's first rank runs none"), nil
	}
	mode, _, err := plan.DecidePMIOffer(spec, req.env, req.launcher().Offer, k.leader.MPI)
	rankEnv, proxied := proxiedEnv(req.env, req.client)
	switch {
	case err != nil:
		return repError, []byte(err.Error()), nil
	case mode == plan.PMIServer && (req.client == "c" || req.client == "go-served"):
		return k.planServedRank(spec, req)
	case mode == plan.PMIServer && req.client == "go":
		return repProxy, nil, nil // it comes back with its PMI_FD (tryServed)
	case mode == plan.PMIServer:
		return repError, []byte("the rank's Open MPI needs the node's PMIx server, which a rank behind a PMI proxy can't reach"), nil
	case req.client == "go-served": // asked in case; it is no served rank
		return repFallthrough, nil, nil
	case mode == plan.PMIProxy && req.client == "c" && hostable(req):
		return k.planHostedRank(spec, req) // the keeper proxies
	case mode == plan.PMIProxy && req.client == "c":
		status, payload := k.planForkedRank(spec, req) // the C half forks the rank, the parent proxies
		return status, payload, nil
	case mode == plan.PMIProxy && !proxied:
		return repProxy, nil, nil
	}
	if !proxied { // the rank runs the program on its own environment
		key := replyKey{spec, replySig(req)}
		if _, ok := k.replies[key]; !ok {
			status, reply := k.planOwnRank(spec, req)
			if status != repOK {
				return status, reply, nil
			}
			k.replies[key] = reply
		}
		if req.shape != "" {
			r := shapeReply{req.launcher().RankVar, k.replies[key]}
			k.shapes[req.shape] = r
			if req.client == "c" {
				k.unpublished = append(k.unpublished, publishedShape{req.shape, r})
			}
		}
		return repOK, k.ownReply(req.launcher().Rank, k.replies[key]), nil
	}
	label := plan.Plan{Launcher: plan.Launcher{Rank: req.launcher().Rank}}
	ops := &nsexec.Plan{}
	ops.Log(label.RankLabel(), false, k.leader.Image.Path)
	if plan.MountInputs(spec, req.env, req.cwd) != k.inputs {
		return repError, k.mismatch(), nil
	}
	env, err := plan.RankEnv(rankEnv, spec, k.leader.ProfileEnv, k.leader.HintEnv())
	if err != nil {
		return repError, []byte(err.Error()), nil
	}
	p := *k.leader
	p.Env, p.Argv = env, spec.Command
	k.encodeWarnings(ops)
	encodeCommand(ops, &p)
	return repOK, ops.Bytes(), nil
}

// replyKey is what a rank's reply depends on besides its log label: ranks
// of one step repeat one command line and environment shape, so the
// keeper plans each shape once (at 1024 ranks it answers them in turn).
type replyKey struct {
	spec *plan.Spec
	sig  string
}

// replySig digests the parts of a request a reply depends on: the working
// directory, HOME and the PMIx variables but the rank and PMIX_ID (the
// binds, PMIx directories and module names), and which PMI is on offer.
func replySig(req *request) string {
	var b strings.Builder
	b.WriteString(req.cwd)
	b.WriteString(string(req.launcher().Offer))
	for _, kv := range req.env {
		if strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "PMIX_") && !strings.HasPrefix(kv, "PMIX_RANK=") && !strings.HasPrefix(kv, "PMIX_ID=") {
			b.WriteByte(0)
			b.WriteString(kv)
		}
	}
	return b.String()
}

// planOwnRank plans the part of a rank's reply after its log label, for a
// rank whose environment program runs on its own environment at exec.
func (k *keeper) planOwnRank(spec *plan.Spec, req *request) (uint32, []byte) {
	if plan.MountInputs(spec, req.env, req.cwd) != k.inputs {
		return repError, k.mismatch()
	}
	env, err := plan.RankEnv(req.env, spec, k.leader.ProfileEnv, k.leader.HintEnv())
	if err != nil {
		return repError, []byte(err.Error())
	}
	p := *k.leader
	p.Env, p.Argv = env, spec.Command
	ops := &nsexec.Plan{}
	k.encodeWarnings(ops)
	encodeOwnCommand(ops, &p)
	return repOK, ops.Bytes()
}

func (k *keeper) encodeWarnings(ops *nsexec.Plan) {
	for _, w := range k.leader.Warnings {
		ops.Print("warning: ", w)
	}
}

func (k *keeper) mismatch() []byte {
	return []byte(fmt.Sprintf("this rank asks for a different image, binds or directories than rank %s on this node, but all ranks of a step on one node share one container: give every rank the same image, binds, $HOME and working directory", k.leader.RankLabel()))
}

// planForkedRank answers a C client whose rank runs behind a proxy: it
// forks the rank at once and its Go runtime becomes the proxy.
func (k *keeper) planForkedRank(spec *plan.Spec, req *request) (uint32, []byte) {
	rank, size := req.launcher().Rank, req.launcher().Size
	if rank < 0 || size < 1 {
		return repFallthrough, nil // rank and size only the launcher knows: Go asks it
	}
	return k.proxiedPlan(spec, req, rank, size, repProxyFork)
}

// proxiedPlan is the plan of a rank behind a proxy. The rank's environment
// says PMI_FD=@, which the C half fills in with the proxy's socket.
func (k *keeper) proxiedPlan(spec *plan.Spec, req *request, rank, size int, status uint32) (uint32, []byte) {
	env := proxy.RankEnv(req.env, pmi.Info{Rank: rank, Size: size}, 0)
	for i, kv := range env {
		if kv == "PMI_FD=0" {
			env[i] = "PMI_FD=@"
		}
	}
	renv, err := plan.RankEnv(env, spec, k.leader.ProfileEnv, k.leader.HintEnv())
	if err != nil {
		return repError, []byte(err.Error())
	}
	p := *k.leader
	p.Env, p.Argv = renv, spec.Command
	p.Launcher = plan.Launcher{Rank: rank}
	ops := &nsexec.Plan{}
	ops.Log(p.RankLabel(), false, p.Image.Path)
	encodeCommand(ops, &p)
	return status, ops.Bytes()
}

func (k *keeper) parseCached(req *request) (*plan.Spec, error) {
	key := req.cwd + "\x00" + strings.Join(req.argv, "\x00")
	if spec, ok := k.parsed[key]; ok {
		return spec, nil
	}
	spec, err := k.parse(req.argv, req.cwd)
	if err == nil {
		k.parsed[key] = spec
	}
	return spec, err
}

// cleanup removes the socket (if it is still ours) and the directory (if
// empty), so nothing is left in /tmp once the ranks have joined.
func (k *keeper) cleanup() {
	path := os.Getenv("_MPIWRAP_SOCK")
	dir := filepath.Dir(path)
	unlock, err := lockDir(dir)
	if err != nil {
		return
	}
	defer unlock()
	var st unix.Stat_t
	if unix.Stat(path, &st) == nil && strconv.FormatUint(st.Ino, 10) == os.Getenv("_MPIWRAP_SOCK_INO") {
		if k.direct != nil {
			k.direct.removeFiles()
		}
		os.Remove(path)
	}
	sweepStale(dir)
	sweepDirect(dir)
	sweepServeDirs(dir)
	os.Remove(dir)
}

// sweepStale removes sockets whose keeper was killed before it could clean
// up (a SIGKILLed job step, say): nobody answers them.
func sweepStale(dir string) {
	socks, _ := filepath.Glob(filepath.Join(dir, "*.sock"))
	for _, s := range socks {
		fd, err := dial(s)
		if err == nil {
			unix.Close(fd)
			continue
		}
		if errors.Is(err, unix.ECONNREFUSED) {
			os.Remove(s)
		}
	}
}
