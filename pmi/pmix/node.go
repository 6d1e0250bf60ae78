package pmix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/server"
)

// Rank is one local rank's connection to a PMI-1/2 launcher, as a Node
// uses it; pmi/client's PMI1 and PMI2 (proxy.Upstream) fit.
type Rank interface {
	Info() pmi.Info
	Put(ctx context.Context, key, value string) error
	Commit(ctx context.Context) error
	Fence(ctx context.Context) error
	Get(ctx context.Context, rank int, key string) (string, bool, error)
	JobAttr(ctx context.Context, key string) (string, bool, error)
	Abort(ctx context.Context, code int, msg string) error
	Finalize(ctx context.Context) error
	Done() <-chan struct{}
	Err() error
	Close() error
}

// names is a Rank with the launcher's name service (PMI-1 publish_name).
type names interface {
	Publish(ctx context.Context, service, port string) error
	Unpublish(ctx context.Context, service string) error
	Lookup(ctx context.Context, service string) (string, bool, error)
}

// NodeConfig starts a node's PMIx server.
type NodeConfig struct {
	Helper    string    // "" means FindHelper
	Libraries []string  // nil means DefaultLibraries
	Env       []string  // the helper's environment; nil means this process's
	Stderr    io.Writer // the helper's and libpmix's messages; nil discards
	Dir       string    // the job's private directory (it must exist, mode 0700)
	UID, GID  int       // who the ranks run as
	Job       NodeJob
	// Note says msg where rank's errors go (rank -1: the node's first).
	Note func(rank int, msg string)
	// Kill ends every local rank: the job is over and they would hang.
	Kill func(reason string)
}

// Node is a node's PMIx server for the ranks of a PMI-1/2 launcher: the
// helper runs libpmix's server (ServeServer), and Node carries what needs
// the launcher over the local ranks' PMI connections:
//   - a fence (libpmix calls it once for the node, when all local ranks
//     have entered, and only when the job spans nodes) puts the node's
//     blob in parts (package modex) through the first local rank, enters
//     the launcher's barrier on every local rank's connection, and reads
//     every other node's blob back;
//   - an abort is sent on the aborting rank's connection; a rank's
//     PMIx_Finalize becomes its finalize upstream;
//   - a rank that exits having connected but not finalized aborts the job
//     (its peers would wait for it in the next fence), one that never
//     connected is finalized on its behalf;
//   - a connection the launcher closes before its rank finalized ends
//     the node's ranks (Kill);
//   - publish, lookup and unpublish go to the launcher's name service.
type Node struct {
	cfg    NodeConfig
	ctx    context.Context
	cancel context.CancelFunc
	p      *peer
	proc   *helperProc
	envs   map[int][]string
	locals []int

	mu       sync.Mutex
	ranks    map[int]*nodeRank
	fences   int
	killed   bool
	stopped  bool
	aborting bool          // a local rank's abort went to the launcher: the job is ending
	done     chan struct{} // every local rank ended and the server stopped
}

// nodeRank is one local rank's state.
type nodeRank struct {
	up        Rank
	connected bool // PMIx_Init reached the server
	finalized bool // PMIx_Finalize did, and its finalize went upstream
	exited    bool
}

// StartNode starts the helper, registers the job and the local ranks, and
// returns once every local rank's environment is known (Env).
func StartNode(ctx context.Context, cfg NodeConfig) (*Node, error) {
	path := cfg.Helper
	if path == "" {
		var err error
		if path, err = FindHelper(); err != nil {
			return nil, err
		}
	}
	libs := cfg.Libraries
	if libs == nil {
		libs = DefaultLibraries
	}
	mine, theirs, err := server.Socketpair(HelperName)
	if err != nil {
		return nil, fmt.Errorf("start PMIx server %s: %w", path, err)
	}
	cmd := exec.Command(path, append([]string{ServerFlag}, libs...)...)
	cmd.Env = serverEnv(cfg.Env)
	cmd.Stderr = cfg.Stderr
	cmd.ExtraFiles = []*os.File{theirs}
	// The server must not outlive its node's keeper.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	theirs.Close()
	if err != nil {
		mine.Close()
		return nil, fmt.Errorf("start PMIx server %s: %w", path, err)
	}
	proc := &helperProc{cmd: cmd, pid: cmd.Process.Pid, exited: make(chan struct{})}
	go func() { proc.err = cmd.Wait(); close(proc.exited) }()
	nctx, cancel := context.WithCancel(context.Background())
	n := &Node{cfg: cfg, ctx: nctx, cancel: cancel, p: newPeer(mine), proc: proc, ranks: map[int]*nodeRank{},
		done: make(chan struct{}), locals: cfg.Job.Locals(cfg.Job.Node)}
	for _, r := range n.locals {
		n.ranks[r] = &nodeRank{}
	}
	if err := n.start(ctx); err != nil {
		n.p.close()
		cancel()
		proc.reap(time.Second)
		return nil, fmt.Errorf("start PMIx server: %w (helper %s)", err, path)
	}
	return n, nil
}

// ServerFlag makes the helper a node's PMIx server.
const ServerFlag = "--server"

// serverEnv is the helper's environment without a launcher's PMIx
// variables, which would make libpmix take itself for a client.
func serverEnv(env []string) []string {
	if env == nil {
		env = os.Environ()
	}
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if len(kv) < 5 || kv[:5] != "PMIX_" {
			out = append(out, kv)
		}
	}
	return out
}

// start reads the hello, then registers the job.
func (n *Node) start(ctx context.Context) error {
	hello := make(chan error, 1)
	go func() {
		f, err := readFrame(n.p.conn)
		if err == nil {
			err = f.check()
		}
		switch {
		case err != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
			err = fmt.Errorf("it closed the connection before saying hello%s", n.proc.status(time.Second))
		case err != nil:
		case f.op == opFail:
			err = errors.New(f.fields[0])
		case f.op != opSrvHello:
			err = fmt.Errorf("got %v before hello", f.op)
		}
		hello <- err
	}()
	select {
	case err := <-hello:
		if err != nil {
			return err
		}
	case <-ctx.Done():
		return fmt.Errorf("no hello: %w", context.Cause(ctx))
	}
	go func() {
		n.p.run(n.event)
		n.lost(fmt.Errorf("the PMIx server (helper pid %d) ended%s", n.proc.pid, n.proc.status(time.Second)))
	}()
	job, arrays := n.cfg.Job.attrs(n.cfg.Dir)
	st := start{dir: n.cfg.Dir, nspace: n.cfg.Job.Namespace, uid: n.cfg.UID, gid: n.cfg.GID,
		locals: n.locals, job: job, arrays: arrays}
	f, err := n.p.call(ctx, opSrvStart, encodeStart(st)...)
	if err != nil {
		return err
	}
	return n.parseEnvs(f.fields)
}

func (n *Node) parseEnvs(f []string) error {
	n.envs = map[int][]string{}
	if len(f) < 1 {
		return errors.New("server start: empty reply")
	}
	for rest := f[1:]; len(rest) > 0; {
		r, err1 := strconv.Atoi(rest[0])
		k, err2 := 0, error(nil)
		if len(rest) > 1 {
			k, err2 = strconv.Atoi(rest[1])
		}
		if len(rest) < 2 || err1 != nil || err2 != nil || k < 0 || k > len(rest)-2 {
			return errors.New("server start: bad environment reply")
		}
		n.envs[r] = rest[2 : 2+k]
		rest = rest[2+k:]
	}
	for _, r := range n.locals {
		if _, ok := n.envs[r]; !ok {
			return fmt.Errorf("server start: no environment for rank %d", r)
		}
	}
	return nil
}

// Locals are the node's ranks, in order.
func (n *Node) Locals() []int { return slices.Clone(n.locals) }

// Env is a local rank's PMIx client environment (PMIX_NAMESPACE,
// PMIX_RANK, PMIX_SERVER_URI*, ...), as PMIx_server_setup_fork made it.
func (n *Node) Env(rank int) ([]string, bool) {
	e, ok := n.envs[rank]
	return slices.Clone(e), ok
}

// Attach gives the Node a local rank's launcher connection, before the
// rank starts. The Node owns it from then on.
func (n *Node) Attach(rank int, up Rank) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	r, ok := n.ranks[rank]
	if !ok || r.up != nil {
		up.Close()
		return fmt.Errorf("attach rank %d: not a local rank of this node's PMIx server, or attached twice", rank)
	}
	r.up = up
	go n.watch(rank, up)
	return nil
}

// watch ends the node's ranks if the launcher closes rank's connection
// before the rank finalized.
func (n *Node) watch(rank int, up Rank) {
	select {
	case <-up.Done():
	case <-n.ctx.Done():
		return
	}
	n.mu.Lock()
	r := n.ranks[rank]
	clean := r.finalized || (r.exited && !r.connected) || n.aborting
	n.mu.Unlock()
	if !clean {
		n.lost(fmt.Errorf("the launcher's PMI connection of rank %d went away: %w", rank, up.Err()))
	}
}

// lost ends the node's ranks, once.
func (n *Node) lost(err error) {
	n.mu.Lock()
	skip := n.killed || n.stopped
	n.killed = true
	n.mu.Unlock()
	if !skip && n.cfg.Kill != nil {
		n.cfg.Kill(err.Error())
	}
}

// Exited says that a local rank's process ended.
func (n *Node) Exited(rank int) {
	n.mu.Lock()
	r, ok := n.ranks[rank]
	if !ok || r.exited {
		n.mu.Unlock()
		return
	}
	r.exited = true
	up, finalized := r.up, r.finalized
	n.mu.Unlock()
	if !finalized {
		// Its PMIx_Init and PMIx_Finalize may still be on their way.
		ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
		n.p.call(ctx, opSrvSync)
		cancel()
	}
	n.mu.Lock()
	connected, finalized := r.connected, r.finalized
	n.mu.Unlock()
	if up != nil {
		switch {
		case !connected: // not a PMIx program: say goodbye for it
			up.Finalize(n.ctx)
		case !finalized: // its peers would wait for it: end the job
			n.endJob(rank, up)
		}
	}
	n.maybeDone()
}

// LauncherGone says that the launcher has ended: a local rank that never
// reached the node (no connection attached) never will, and counts as
// exited, so the server stops once the others have (running the cleanups
// the ranks registered, which Close would skip).
func (n *Node) LauncherGone() {
	n.mu.Lock()
	for _, r := range n.ranks {
		if r.up == nil {
			r.exited = true
		}
	}
	n.mu.Unlock()
	n.maybeDone()
}

// exitGrace is how long a rank's unfinalized exit waits for the launcher
// to end the job on its own before the node aborts it (var for tests).
var exitGrace = 500 * time.Millisecond

// endJob ends the job after rank exited without finalizing, unless the
// job is ending already: a local abort went up, or the launcher closes
// the rank's connection within exitGrace (hydra ends a job whose rank was
// killed; killing the others, or another node's abort, ends it too). An
// abort then would only replace the exit code the launcher reports.
func (n *Node) endJob(rank int, up Rank) {
	n.mu.Lock()
	aborting := n.aborting
	n.mu.Unlock()
	if aborting {
		return
	}
	select {
	case <-up.Done():
	case <-n.ctx.Done():
	case <-time.After(exitGrace):
		up.Abort(n.ctx, 1, fmt.Sprintf("rank %d exited without finalizing PMIx", rank))
	}
}

// maybeDone stops the server once every local rank has exited.
func (n *Node) maybeDone() {
	n.mu.Lock()
	for _, r := range n.ranks {
		if !r.exited {
			n.mu.Unlock()
			return
		}
	}
	if n.stopped {
		n.mu.Unlock()
		return
	}
	n.stopped = true
	n.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
		n.p.call(ctx, opSrvStop)
		cancel()
		n.Close()
	}()
}

// Done is closed once every local rank has exited and the server is gone.
func (n *Node) Done() <-chan struct{} { return n.done }

// Close stops the helper and closes every connection.
func (n *Node) Close() error {
	n.mu.Lock()
	select {
	case <-n.done:
		n.mu.Unlock()
		return nil
	default:
	}
	n.stopped = true
	ups := []Rank{}
	for _, r := range n.ranks {
		if r.up != nil {
			ups = append(ups, r.up)
		}
	}
	n.mu.Unlock()
	n.p.close()
	n.proc.reap(time.Second)
	n.cancel()
	for _, up := range ups {
		up.Close()
	}
	n.mu.Lock()
	select {
	case <-n.done:
	default:
		close(n.done)
	}
	n.mu.Unlock()
	return nil
}

// event handles what the helper sends: requests in their own goroutines,
// as a fence waits for the launcher's barrier.
func (n *Node) event(f frame) error {
	if f.op != opSrvEvent || len(f.fields) < 2 {
		return fmt.Errorf("PMIx server: unexpected %v frame", f.op)
	}
	kind, args := f.fields[0], f.fields[2:]
	rank, err := strconv.Atoi(f.fields[1])
	if err != nil && kind != "fence" {
		return fmt.Errorf("PMIx server: %s event for rank %q", kind, f.fields[1])
	}
	switch kind {
	case "connected", "finalized":
		n.client(rank, kind == "finalized")
	case "note":
		if n.cfg.Note != nil && len(args) == 1 {
			n.cfg.Note(rank, args[0])
		}
	case "fence":
		go n.answer(f.id, func() ([]string, error) { return n.fence([]byte(f.fields[1])) })
	case "abort":
		go n.answer(f.id, func() ([]string, error) { return nil, n.abort(rank, args) })
	case "publish", "unpublish", "lookup":
		go n.answer(f.id, func() ([]string, error) { return n.names(kind, rank, args) })
	default:
		return fmt.Errorf("PMIx server: unknown event %q", kind)
	}
	return nil
}

// errNotFound makes answer reply opNotFound.
var errNotFound = errors.New("not found")

func (n *Node) answer(id uint32, do func() ([]string, error)) {
	fields, err := do()
	switch {
	case errors.Is(err, errNotFound):
		n.p.reply(id, opNotFound)
	case err != nil:
		n.p.reply(id, opError, err.Error())
	default:
		n.p.reply(id, opOK, fields...)
	}
}

// client records a rank's PMIx_Init or PMIx_Finalize; a finalize goes
// upstream on the rank's connection.
func (n *Node) client(rank int, finalized bool) {
	n.mu.Lock()
	r, ok := n.ranks[rank]
	if !ok {
		n.mu.Unlock()
		return
	}
	r.connected = true
	up := r.up
	first := finalized && !r.finalized
	r.finalized = r.finalized || finalized
	n.mu.Unlock()
	if first && up != nil {
		if err := up.Finalize(n.ctx); err != nil && n.cfg.Note != nil {
			n.cfg.Note(rank, fmt.Sprintf("finalize with the launcher: %v", err))
		}
	}
}

func (n *Node) rank(rank int) (Rank, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if r, ok := n.ranks[rank]; ok && r.up != nil {
		return r.up, nil
	}
	return nil, fmt.Errorf("rank %d has no connection to the launcher here", rank)
}

// abortGrace bounds how long the node waits for the launcher to end the
// job after an abort before it ends its own ranks (var for tests).
var nodeAbortGrace = 10 * time.Second

// abort sends a rank's abort to the launcher, which ends the job; should
// it not, the node's ranks end after nodeAbortGrace.
func (n *Node) abort(rank int, args []string) error {
	if len(args) != 3 {
		return errors.New("bad abort event")
	}
	code, err := strconv.Atoi(args[0])
	if err != nil {
		return errors.New("bad abort code")
	}
	up, err := n.rank(rank)
	if err != nil {
		return err
	}
	// PMI-1.1 carries only the code (hydra 4.0 ignores a message): say it
	// where the rank's errors go, as a PMIx launcher would.
	n.note(rank, fmt.Sprintf("rank %d aborted the job with exit code %d: %s", rank, code, args[1]))
	n.mu.Lock()
	n.aborting = true
	n.mu.Unlock()
	if err := up.Abort(n.ctx, code, args[1]); err != nil {
		return fmt.Errorf("abort through the launcher: %w", err)
	}
	go func() {
		select {
		case <-up.Done():
		case <-n.ctx.Done():
		case <-time.After(nodeAbortGrace):
			n.lost(fmt.Errorf("rank %d aborted with code %d, and the launcher did not end the job within %v", rank, code, nodeAbortGrace))
		}
	}()
	return nil
}

func (n *Node) note(rank int, msg string) {
	if n.cfg.Note != nil {
		n.cfg.Note(rank, msg)
	}
}
