package pmix

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/mpiwrap/mpiwrap/pmi/server"
)

// HelperName is the helper executable's name. It must be linked
// dynamically (it dlopens libpmix), unlike mpiwrap itself.
const HelperName = "mpiwrap-pmix"

// HelperFD is the descriptor on which the helper finds its socket.
const HelperFD = 3

// DefaultLibraries are the libpmix names the helper tries, in order.
var DefaultLibraries = []string{"libpmix.so.2", "libpmix.so"}

// Config says how to start the helper.
type Config struct {
	// Helper is the helper's path; "" means FindHelper.
	Helper string
	// Libraries are the libpmix names or paths to try in order; nil means
	// DefaultLibraries.
	Libraries []string
	// Env is the helper's environment, which must hold the launcher's
	// PMIX_* variables; nil means this process's environment.
	Env []string
	// Stderr receives the helper's and libpmix's messages; nil discards.
	Stderr io.Writer
}

// FindHelper looks for HelperName next to this executable, then in $PATH.
func FindHelper() (string, error) {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), HelperName)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath(HelperName)
	if err != nil {
		return "", fmt.Errorf("find PMIx helper %s: not next to this executable nor in $PATH; install it beside mpiwrap (go build -o bin/%s ./cmd/%s)", HelperName, HelperName, HelperName)
	}
	return p, nil
}

// Start runs the helper with one end of a socketpair as HelperFD and
// returns the Upstream on the other end once the helper has initialised
// PMIx (ctx bounds that wait). Close the Upstream to stop the helper.
func Start(ctx context.Context, cfg Config) (*Upstream, error) {
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
		return nil, fmt.Errorf("start PMIx helper %s: %w", path, err)
	}
	cmd := exec.Command(path, libs...)
	cmd.Env = cfg.Env
	cmd.Stderr = cfg.Stderr
	cmd.ExtraFiles = []*os.File{theirs} // HelperFD
	err = cmd.Start()
	theirs.Close()
	if err != nil {
		mine.Close()
		return nil, fmt.Errorf("start PMIx helper %s: %w", path, err)
	}
	proc := &helperProc{cmd: cmd, pid: cmd.Process.Pid, exited: make(chan struct{})}
	go func() { proc.err = cmd.Wait(); close(proc.exited) }()
	u, err := newUpstream(ctx, mine, proc)
	if err != nil {
		proc.reap(time.Second)
		return nil, fmt.Errorf("%w (helper %s)", err, path)
	}
	return u, nil
}

// helperProc is a started helper. Methods accept a nil receiver.
type helperProc struct {
	cmd    *exec.Cmd
	pid    int
	exited chan struct{} // closed once reaped
	err    error         // cmd.Wait's result
}

// status describes how the helper ended, waiting up to grace for it.
func (p *helperProc) status(grace time.Duration) string {
	if p == nil {
		return ""
	}
	select {
	case <-p.exited:
	case <-time.After(grace):
		return fmt.Sprintf(" (pid %d still running)", p.pid)
	}
	if p.err == nil {
		return fmt.Sprintf(" (pid %d exited with status 0)", p.pid)
	}
	return fmt.Sprintf(" (pid %d %v)", p.pid, p.err)
}

// reap waits up to grace for the helper to exit, then kills it.
func (p *helperProc) reap(grace time.Duration) {
	if p == nil {
		return
	}
	select {
	case <-p.exited:
		return
	case <-time.After(grace):
	}
	p.cmd.Process.Kill()
	<-p.exited
}
