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
	"syscall"
	"time"
)

// outcome is how one command ended.
type outcome struct {
	stdout, stderr string
	wall           time.Duration
	exit           int    // -1: did not exit by itself
	failure        string // "" when it exited 0
}

// limitedBuffer keeps the first max bytes written.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// execute runs argv to its end or the timeout, in a process group of its
// own that is killed whole when it is cut short (launchers leave
// children), with stdin from /dev/null.
func execute(ctx context.Context, argv, env []string, timeout time.Duration) outcome {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	name := argv[0]
	if p, err := lookPath(name, env); err == nil {
		name = p
	}
	cmd := exec.CommandContext(ctx, name, argv[1:]...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	stdout, stderr := &limitedBuffer{max: 4 << 20}, &limitedBuffer{max: 1 << 20}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	start := time.Now()
	err := cmd.Run()
	o := outcome{wall: time.Since(start), exit: -1}
	o.stdout, o.stderr = stdout.String(), stderr.String()
	var ee *exec.ExitError
	switch {
	case err == nil:
		o.exit = 0
	case ctx.Err() == context.DeadlineExceeded:
		o.failure = fmt.Sprintf("timed out after %v (--timeout)", timeout)
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
		o.failure = "could not start: " + err.Error()
	}
	return o
}

// interesting lines say why a run failed.
var interesting = regexp.MustCompile(`(?i)\b(error|fail(s|ed|ure)?|abort(s|ed|ing)?|denied|cannot|can't|unable|not found|no such|refused|killed|segmentation|timed out|invalid)\b`)

// quoteLines picks the lines of a failed run's output that say why:
// those that name an error, else the last ones; at most max, each cut to
// 300 bytes, stderr before stdout; at most limit.
func quoteLines(limit int, outputs ...string) []string {
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
	var hits []string
	seen := map[string]bool{}
	for _, l := range all {
		if interesting.MatchString(l) && !seen[l] {
			seen[l] = true
			hits = append(hits, l)
			if len(hits) == limit {
				break
			}
		}
	}
	if len(hits) == 0 && len(all) > 0 {
		hits = all[max(0, len(all)-limit):]
	}
	return hits
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
