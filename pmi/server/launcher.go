package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/mpiwrap/mpiwrap/pmi"
)

// Launcher serves a Job to its ranks, like hydra's proxy: over one
// socketpair per rank (Start) or a loopback TCP port (StartPort).
type Launcher struct {
	job    *Job
	ctx    context.Context
	cancel context.CancelFunc
	ln     net.Listener // StartPort only

	mu    sync.Mutex
	files []*os.File  // rank ends not yet handed out (Start only)
	procs []*exec.Cmd // started by StartProcess: killed when the job fails

	ended  chan struct{} // one token per finished session
	wg     sync.WaitGroup
	closed sync.Once
}

// Start creates cfg.Size socketpairs and serves the job on them.
func Start(ctx context.Context, cfg JobConfig) (*Launcher, error) {
	l, err := newLauncher(ctx, cfg)
	if err != nil {
		return nil, err
	}
	l.files = make([]*os.File, cfg.Size)
	for r := range l.files {
		srv, rankEnd, err := Socketpair(fmt.Sprintf("pmi-rank-%d", r))
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("start fake launcher: %w", err)
		}
		l.files[r] = rankEnd
		b, _ := l.job.Rank(r)
		l.serve(r, func() error { return Serve(l.ctx, srv, b) })
	}
	return l, nil
}

// StartPort listens on 127.0.0.1 and serves every connection that names
// its rank with initack (PMI_PORT mode).
func StartPort(ctx context.Context, cfg JobConfig) (*Launcher, error) {
	l, err := newLauncher(ctx, cfg)
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	l.ln, err = lc.Listen(l.ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("start fake launcher: %w", err)
	}
	l.wg.Add(1)
	go l.accept()
	return l, nil
}

func newLauncher(ctx context.Context, cfg JobConfig) (*Launcher, error) {
	job, err := NewJob(cfg)
	if err != nil {
		return nil, err
	}
	l := &Launcher{job: job, ended: make(chan struct{}, job.cfg.Size)}
	l.ctx, l.cancel = context.WithCancel(ctx)
	context.AfterFunc(l.ctx, func() {
		if l.ln != nil {
			l.ln.Close()
		}
	})
	go func() { // a failed job kills every rank, as hydra does
		select {
		case <-job.Done():
			l.cancel()
			l.killProcs()
		case <-l.ctx.Done():
		}
	}()
	return l, nil
}

func (l *Launcher) accept() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.serve(-1, func() error { return ServeByID(l.ctx, c, l.job.Rank) })
	}
}

// serve runs one session; a failing session fails the job.
func (l *Launcher) serve(rank int, run func() error) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		if err := run(); err != nil && l.ctx.Err() == nil {
			var ae *pmi.AbortError
			if !errors.As(err, &ae) {
				err = fmt.Errorf("serve PMI rank %d: %w", rank, err)
			}
			l.job.Fail(err)
		}
		select {
		case l.ended <- struct{}{}:
		default:
		}
	}()
}

// Job returns the served job.
func (l *Launcher) Job() *Job { return l.job }

// Addr is the PMI_PORT value (StartPort only).
func (l *Launcher) Addr() string {
	if l.ln == nil {
		return ""
	}
	return l.ln.Addr().String()
}

// RankFile hands over rank r's end of its socketpair; the caller owns and
// closes it (Start only).
func (l *Launcher) RankFile(r int) (*os.File, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r < 0 || r >= len(l.files) || l.files[r] == nil {
		return nil, fmt.Errorf("take PMI fd of rank %d: not available", r)
	}
	f := l.files[r]
	l.files[r] = nil
	return f, nil
}

// Env is the environment rank r needs, with its PMI fd at number fd.
func (l *Launcher) Env(r, fd int) []string {
	c := l.job.cfg
	env := []string{
		"MPI_LOCALNRANKS=" + strconv.Itoa(min(c.PPN, c.Size-r/c.PPN*c.PPN)),
		"MPI_LOCALRANKID=" + strconv.Itoa(r%c.PPN),
	}
	if l.ln != nil {
		return append(env, "PMI_PORT="+l.Addr(), "PMI_ID="+strconv.Itoa(r))
	}
	// PMI_JOBID as Slurm sets it: its libpmi2 sends it in fullinit.
	return append(env, "PMI_FD="+strconv.Itoa(fd), "PMI_RANK="+strconv.Itoa(r),
		"PMI_SIZE="+strconv.Itoa(c.Size), "PMI_JOBID="+c.KVSName)
}

// StartProcess starts cmd as rank r: it removes inherited PMI variables,
// adds Env(r, 3) and passes the rank's PMI fd as fd 3.
func (l *Launcher) StartProcess(r int, cmd *exec.Cmd) error {
	base := cmd.Env
	if base == nil {
		base = os.Environ()
	}
	cmd.Env = append(StripPMIEnv(base), l.Env(r, 3+len(cmd.ExtraFiles))...)
	var f *os.File
	if l.ln == nil {
		var err error
		if f, err = l.RankFile(r); err != nil {
			return err
		}
		defer f.Close() // the child has its copy
		cmd.ExtraFiles = append(cmd.ExtraFiles, f)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.job.Err() != nil {
		return fmt.Errorf("start rank %d: %w", r, l.job.Err())
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start rank %d (%s): %w", r, cmd.Path, err)
	}
	l.procs = append(l.procs, cmd)
	return nil
}

// killProcs kills the processes started by StartProcess.
func (l *Launcher) killProcs() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.procs {
		c.Process.Kill() // an exited process just returns an error
	}
}

// StripPMIEnv drops PMI_*, PMIX_* and MPI_LOCAL* variables, so that a
// process sees only the launcher it is given.
func StripPMIEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if strings.HasPrefix(kv, "PMI_") || strings.HasPrefix(kv, "PMIX_") || strings.HasPrefix(kv, "MPI_LOCAL") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// Wait returns once every rank's session has ended, or the job failed,
// or ctx ended. It returns the job's failure, if any.
func (l *Launcher) Wait(ctx context.Context) error {
	for n := 0; n < l.job.cfg.Size; n++ {
		select {
		case <-l.ended:
		case <-l.job.Done():
			return l.job.Err()
		case <-ctx.Done():
			return fmt.Errorf("wait for fake launcher: %w", context.Cause(ctx))
		}
	}
	return l.job.Err()
}

// Close stops serving, closes every fd and waits for the sessions.
func (l *Launcher) Close() error {
	l.closed.Do(func() {
		l.cancel()
		l.mu.Lock()
		for i, f := range l.files {
			if f != nil {
				f.Close()
				l.files[i] = nil
			}
		}
		l.mu.Unlock()
		l.wg.Wait()
	})
	return nil
}

// Socketpair returns a connected AF_UNIX stream pair: a net.Conn for this
// process and an *os.File to hand to a child (close-on-exec is set; exec's
// ExtraFiles clears it in the child).
func Socketpair(name string) (net.Conn, *os.File, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("create socketpair %s: %w", name, err)
	}
	mine := os.NewFile(uintptr(fds[0]), name)
	c, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		syscall.Close(fds[1])
		return nil, nil, fmt.Errorf("create socketpair %s: %w", name, err)
	}
	return c, os.NewFile(uintptr(fds[1]), name), nil
}
