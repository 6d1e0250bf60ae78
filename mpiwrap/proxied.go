package mpiwrap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"

	"github.com/mpiwrap/mpiwrap/mpiwrap/nsexec"
	"github.com/mpiwrap/mpiwrap/mpiwrap/plan"
	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/launchenv"
	"github.com/mpiwrap/mpiwrap/pmi/pmix"
	"github.com/mpiwrap/mpiwrap/pmi/proxy"
	"github.com/mpiwrap/mpiwrap/pmi/server"
	"golang.org/x/sys/unix"
)

// In proxy mode this process stays outside the container as its rank's PMI
// server (pmi/proxy): the rank, a child that joins the container, gets one
// end of a socketpair as PMI_FD, and the proxy speaks to the launcher with
// whatever it offers (PMI-1/PMI-2, or PMIx through the mpiwrap-pmix helper).
// Ranks that reach the keeper from C with a PMI_FD are proxied by the
// keeper instead (hosted.go).

// ExitStatus is returned when mpiwrap must exit with a command's status
// rather than report an error of its own.
type ExitStatus struct {
	Code   int
	Signal syscall.Signal // non-zero: the command died of it
}

func (e *ExitStatus) Error() string { return fmt.Sprintf("command exited with %d", e.Code) }

// proxiedEnv is the environment of a rank behind a proxy, which the keeper
// derives from the rank's own (client "go-proxy RANK SIZE").
func proxiedEnv(env []string, client string) ([]string, bool) {
	var info pmi.Info
	if n, _ := fmt.Sscanf(client, "go-proxy %d %d", &info.Rank, &info.Size); n != 2 {
		return env, false
	}
	return proxy.RankEnv(env, info, rankFd), true
}

// rankFd is where the rank finds its PMI socket: after the namespace
// descriptors (3, 4) and the plan (5) that the child stage inherits.
const rankFd = 6

// upstream connects to what the launcher offers. Batch is for PMI-1/2:
// every rank of such a job is behind a proxy (--pmi=proxy), and batching
// is what makes a proxied fence as fast as a direct one. Below
// batchAbove ranks its second fence costs more than the gets it saves.
func upstream(ctx context.Context, env []string) (proxy.Upstream, proxy.Options, error) {
	opts := proxy.Options{}
	opts.LocalSize, _ = proxy.LocalSizeFromEnv(env)
	switch plan.HostOffer(env) {
	case launchenv.OfferPMI:
		up, err := proxy.UpstreamFromEnv(ctx, env, proxy.WireAuto)
		if err != nil {
			return nil, opts, fmt.Errorf("connect to the launcher's PMI: %w", err)
		}
		opts.Batch = up.Info().Size > batchAbove
		return up, opts, nil
	case launchenv.OfferPMIx:
		up, err := pmix.Start(ctx, pmix.Config{Env: env, Stderr: os.Stderr})
		if err != nil {
			return nil, opts, fmt.Errorf("connect to the launcher's PMIx server: %w", err)
		}
		return up, opts, nil
	}
	return nil, opts, errors.New("the launcher offers no PMI to proxy")
}

const batchAbove = 16

// upstreamConn is the outcome of connecting upstream in the background.
type upstreamConn struct {
	up   proxy.Upstream
	opts proxy.Options
	err  error
}

// runProxied runs the rank behind a proxy. The rank starts at once, with
// its rank and size from the launcher's variables, while the proxy
// connects upstream (a PMI request waits in the socket meanwhile), so the
// ranks of a job start as close together as without a proxy. It returns
// *ExitStatus with the rank's status, or an error of mpiwrap's own.
func runProxied(p *plan.Plan, rank, cwd string) error {
	// The keeper's repProxy also sends a Go rank of the node's PMIx
	// server here: it serves the rank once it has the rank's PMI_FD.
	if served, err := tryServed(p, rank, cwd); served || err != nil {
		return err
	}
	oneThread()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	upc := make(chan upstreamConn, 1)
	go func() {
		up, opts, err := upstream(ctx, os.Environ())
		upc <- upstreamConn{up, opts, err}
	}()
	info := pmi.Info{Rank: p.Launcher.Rank, Size: p.Launcher.Size}
	if info.Rank < 0 || info.Size < 1 { // the variables don't say: ask the launcher
		c := <-upc
		if c.err != nil {
			return c.err
		}
		info = c.up.Info()
		upc <- c
	}
	client := fmt.Sprintf("go-proxy %d %d", info.Rank, info.Size)
	status, payload, fds, err := talkToKeeper(p, cwd, client, os.Environ())
	if err != nil {
		return err
	}
	if status != repOK {
		return fmt.Errorf("the node's namespace keeper refused a proxied rank")
	}
	ops := &nsexec.Plan{}
	ops.Setns(3, 4)
	ops.Append(payload)
	cmd, err := rankCommand(ops, rank, fds)
	if err != nil {
		return err
	}
	return serveCmd(ctx, cmd, upc, info)
}

// oneThread keeps the proxy's goroutines on one thread: each PMI message
// then wakes one thread rather than a chain of them, which is what a rank
// pays for when ranks outnumber cores.
func oneThread() { runtime.GOMAXPROCS(1) }

// rankCommand prepares the child stage that joins the container and execs
// the command: namespaces as fds 3 and 4, the plan as 5, the PMI socket
// (added by serveRank) as 6.
func rankCommand(ops *nsexec.Plan, rank string, nsfds []int) (*exec.Cmd, error) {
	plan, err := planFile(ops)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(selfExe)
	cmd.Args = []string{"mpiwrap"}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	for _, fd := range nsfds {
		cmd.ExtraFiles = append(cmd.ExtraFiles, os.NewFile(uintptr(fd), "ns"))
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, plan)
	cmd.Env = stageEnv("apply", rank, "_MPIWRAP_PLAN=5", "_MPIWRAP_CLOSE_FROM="+strconv.Itoa(rankFd+1))
	// The rank must not outlive its proxy: killed, the proxy can't stop it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd, nil
}

// serveCmd starts the child stage; serveRank takes it from there.
func serveCmd(ctx context.Context, cmd *exec.Cmd, upc <-chan upstreamConn, info pmi.Info) error {
	mine, rankEnd, err := proxy.Socketpair()
	if err != nil {
		return err
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, rankEnd)
	err = cmd.Start()
	rankEnd.Close()
	if err != nil {
		mine.Close()
		return fmt.Errorf("start the rank: %w", err)
	}
	return serveRank(ctx, cmd.Process, mine, upc, info)
}

// RunProxyParent is main for a process whose C half forked the rank for a
// proxy (nsexec.ProxiedRank): serve it and end like it.
func RunProxyParent(pid, fd int) error {
	oneThread()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := os.NewFile(uintptr(fd), "pmi")
	conn, err := net.FileConn(f)
	f.Close()
	proc, _ := os.FindProcess(pid)
	if err != nil {
		proc.Kill()
		return fmt.Errorf("take the rank's PMI socket: %w", err)
	}
	upc := make(chan upstreamConn, 1)
	go func() {
		up, opts, err := upstream(ctx, os.Environ())
		upc <- upstreamConn{up, opts, err}
	}()
	l := plan.DetectLauncher(os.Environ())
	return serveRank(ctx, proc, conn, upc, pmi.Info{Rank: l.Rank, Size: l.Size})
}

// serveRank serves a started rank's PMI once the upstream is there,
// forwards the launcher's signals to the rank and ends like it. If the
// proxy fails first (abort, the launcher went away), the rank is killed
// rather than left hanging.
func serveRank(ctx context.Context, proc *os.Process, mine net.Conn, upc <-chan upstreamConn, info pmi.Info) (err error) {
	defer mine.Close()
	s := &rankSession{ctx: ctx, proc: proc, mine: mine, info: info}
	// A launcher may kill the task as soon as its PMI connection closes
	// (hydra with PMI_PORT does), so when mpiwrap is to say why it failed
	// the connection stays open until the process exits, after that.
	defer func() {
		var st *ExitStatus
		if s.up != nil && errors.As(err, &st) {
			s.up.Close()
		}
	}()
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGCONT, syscall.SIGALRM)
	defer signal.Stop(sigs)
	exited := make(chan rankExit, 1)
	go func() { st, err := proc.Wait(); exited <- rankExit{st, err} }()
	for {
		select {
		case sig := <-sigs:
			proc.Signal(sig)
		case c := <-upc:
			upc = nil
			s.connected(c)
		case s.serr = <-s.served:
			// Abort or a lost launcher: the job is over. An aborting rank
			// still sits in PMI_Abort on its open socket; stop it there.
			if s.serr != nil {
				proc.Kill()
			}
			s.served = nil
		case e := <-exited:
			return s.finish(e, upc)
		}
	}
}

// rankSession is a proxied rank as serveRank sees it.
type rankSession struct {
	ctx    context.Context
	proc   *os.Process
	mine   net.Conn
	info   pmi.Info
	up     proxy.Upstream // once connected
	served chan error     // the proxy's end, while it serves
	serr   error          // why the proxy stopped
}

type rankExit struct {
	st  *os.ProcessState
	err error
}

// connected starts serving the rank over the upstream, or stops the rank
// when the upstream could not be had or disagrees with its variables.
func (s *rankSession) connected(c upstreamConn) {
	if c.err == nil {
		c.err = sameRank(c.up, s.info.Rank, s.info.Size)
	}
	if c.err != nil {
		s.serr = c.err
		s.proc.Kill()
		return
	}
	s.up = c.up
	c.opts.OnAbort = func() { s.proc.Kill() }
	c.opts.Note = func(msg string) { // the proxy's stderr is the rank's
		fmt.Fprintf(os.Stderr, "mpiwrap[rank %d pid %d]: error: %s\n", s.info.Rank, s.proc.Pid, msg)
	}
	c.opts.AbortSent = func(code int) { Exit(&ExitStatus{Code: code}) }
	s.served = make(chan error, 1)
	go func() { s.served <- proxy.Serve(s.ctx, s.mine, c.up, c.opts) }()
}

// finish ends the session once the rank has exited, and says how.
func (s *rankSession) finish(e rankExit, upc <-chan upstreamConn) error {
	switch {
	case s.served != nil:
		s.serr = <-s.served // the rank's exit closed its end
	case upc != nil: // it never waited for PMI: still say goodbye upstream
		if c := <-upc; c.err != nil {
			s.serr = c.err
		} else {
			s.up = c.up
			s.serr = proxy.Serve(s.ctx, s.mine, c.up, c.opts)
		}
	}
	if e.err != nil {
		return fmt.Errorf("wait for the rank: %w", e.err)
	}
	return rankStatus(e.st, s.serr)
}

// sameRank checks that the launcher's PMI agrees with its variables,
// which the rank's environment was made from.
func sameRank(up proxy.Upstream, rank, size int) error {
	if in := up.Info(); in.Rank != rank || in.Size != size {
		return fmt.Errorf("the launcher says rank %d of %d, its variables said %d of %d", in.Rank, in.Size, rank, size)
	}
	return nil
}

// rankStatus turns the rank's end and the proxy's into mpiwrap's: the
// rank's own status, unless the proxy failed first and stopped it.
func rankStatus(st *os.ProcessState, serr error) error {
	if ab, ok := proxy.IsAbort(serr); ok {
		return &ExitStatus{Code: ab.Code}
	}
	switch {
	case serr == nil || errors.Is(serr, server.ErrEarlyClose): // the rank ended on its own
	case errors.Is(serr, proxy.ErrUpstreamClosed):
		return fmt.Errorf("the launcher's PMI went away, so the rank was killed: %w", serr)
	default:
		return fmt.Errorf("PMI proxy: %w", serr)
	}
	if ws, _ := st.Sys().(syscall.WaitStatus); ws.Signaled() {
		return &ExitStatus{Code: 128 + int(ws.Signal()), Signal: ws.Signal()}
	}
	return &ExitStatus{Code: st.ExitCode()}
}

// Exit ends mpiwrap like the command ended: with its code, or by its
// signal, so the launcher sees what it would have seen.
func Exit(st *ExitStatus) {
	if st.Signal != 0 {
		signal.Reset(st.Signal)
		unix.Kill(os.Getpid(), st.Signal)
	}
	os.Exit(st.Code)
}
