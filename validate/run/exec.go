package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// outcome is how one command ended.
type outcome struct {
	stdout, stderr string
	wall           time.Duration
	exit           int    // -1: did not exit by itself
	failure        string // "" when it exited 0
	// hung: the output was complete but the job did not end within the
	// grace time, and was stopped (see runSpec.grace).
	hung bool
}

// runSpec is one command to run.
type runSpec struct {
	argv, env []string
	timeout   time.Duration
	// complete, when set, says whether the output so far holds the whole
	// result; the job then has grace to end before it is stopped as hung.
	complete func(stdout string) bool
	grace    time.Duration
}

// buffer keeps the first max bytes written, for readers on other
// goroutines too, and calls onWrite after each write.
type buffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	max     int
	onWrite func(string)
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	if room := b.max - b.b.Len(); room > 0 {
		b.b.Write(p[:min(len(p), room)])
	}
	s, f := b.b.String(), b.onWrite
	b.mu.Unlock()
	if f != nil {
		f(s)
	}
	return len(p), nil
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// execute runs argv to its end or the timeout, in a process group of its
// own that is killed whole when it is cut short (launchers leave
// children), with stdin from /dev/null.
func execute(ctx context.Context, argv, env []string, timeout time.Duration) outcome {
	return executeSpec(ctx, runSpec{argv: argv, env: env, timeout: timeout})
}

// executeSpec is execute with the hang watch: once the output is
// complete, a job that has not ended within the grace time gets SIGTERM
// (its process group: the launcher stops its ranks), then SIGKILL.
func executeSpec(ctx context.Context, rs runSpec) outcome {
	ctx, cancel := context.WithTimeout(ctx, rs.timeout)
	defer cancel()
	name := rs.argv[0]
	if p, err := lookPath(name, rs.env); err == nil {
		name = p
	}
	cmd := exec.CommandContext(ctx, name, rs.argv[1:]...)
	cmd.Env = rs.env
	// The launcher dies with validate (killed, or a batch job's end):
	// hydra, srun and mpirun then stop their ranks.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	stdout, stderr := &buffer{max: 4 << 20}, &buffer{max: 1 << 20}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	completed := make(chan struct{})
	if rs.complete != nil && rs.grace > 0 {
		var once sync.Once
		stdout.onWrite = func(s string) {
			if rs.complete(s) {
				once.Do(func() { close(completed) })
			}
		}
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return outcome{exit: -1, failure: "could not start: " + err.Error()}
	}
	ended := make(chan struct{})
	var hung atomic.Bool
	go func() {
		select {
		case <-completed:
		case <-ended:
			return
		}
		select {
		case <-time.After(rs.grace):
		case <-ended:
			return
		}
		hung.Store(true)
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		case <-ended:
		}
	}()
	err := cmd.Wait()
	close(ended)
	o := outcome{wall: time.Since(start), exit: -1, hung: hung.Load()}
	o.stdout, o.stderr = stdout.String(), stderr.String()
	var ee *exec.ExitError
	switch {
	case o.hung:
		o.failure = fmt.Sprintf("printed its result but did not end within %v, and was stopped", rs.grace)
	case err == nil:
		o.exit = 0
	case ctx.Err() == context.DeadlineExceeded:
		o.failure = fmt.Sprintf("timed out after %v (--timeout)", rs.timeout)
	case ctx.Err() != nil:
		o.failure = "interrupted"
	case errors.As(err, &ee):
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			o.failure = fmt.Sprintf("killed by signal %d (%v)", int(st.Signal()), st.Signal())
		} else {
			o.exit = ee.ExitCode()
			o.failure = fmt.Sprintf("exited with status %d", o.exit)
		}
	default:
		o.failure = err.Error()
	}
	return o
}

// interesting lines say why a run failed.
var interesting = regexp.MustCompile(`(?i)\b(error|fail(s|ed|ure)?|abort(s|ed|ing)?|denied|cannot|can't|unable|not found|no such|refused|killed|segmentation|timed out|invalid)\b`)

// quoteLines picks the lines of a failed run's output that say why:
// mpiwrap's own errors first, then those that name an error, else the
// last ones; each cut to 300 bytes, stderr before stdout; at most limit.
func quoteLines(limit int, outputs ...string) []string {
	all := outputLines(outputs...)
	var hits []string
	seen := map[string]bool{}
	for _, pick := range []func(string) bool{
		func(l string) bool { return strings.HasPrefix(l, "mpiwrap[") },
		interesting.MatchString,
	} {
		for _, l := range all {
			if len(hits) < limit && pick(l) && !seen[l] {
				seen[l] = true
				hits = append(hits, l)
			}
		}
	}
	if len(hits) == 0 && len(all) > 0 {
		hits = all[max(0, len(all)-limit):]
	}
	return hits
}

// outputLines are the non-blank lines of outputs, each cut to 300 bytes.
func outputLines(outputs ...string) []string {
	var all []string
	for _, out := range outputs {
		for _, l := range strings.Split(out, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				if len(l) > 300 {
					l = l[:300] + "..."
				}
				all = append(all, l)
			}
		}
	}
	return all
}

// tailLines are the last n lines of outputs, for the JSON report.
func tailLines(n int, outputs ...string) []string {
	all := outputLines(outputs...)
	return all[max(0, len(all)-n):]
}

// environ is the environment the runs get.
func environ(env []string) []string {
	if env != nil {
		return env
	}
	return os.Environ()
}

// lookPath finds file as exec.LookPath does, in the PATH of env (the
// runs' environment, which may differ from this process's).
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		return exec.LookPath(file)
	}
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w", file, exec.ErrNotFound)
}
