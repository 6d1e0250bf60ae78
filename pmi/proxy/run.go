package proxy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
)

// Run starts cmd as the rank behind a proxy and serves it until both the
// rank and the proxy are done. cmd gets the rank end of a socketpair as
// its next ExtraFiles entry and an environment rewritten by RankEnv (from
// cmd.Env, or this process's environment when nil). If the proxy fails
// first (abort, upstream closed), the rank is killed.
//
// It returns *pmi.AbortError when the rank aborted, an error wrapping
// ErrUpstreamClosed when the host went away, the rank's *exec.ExitError
// when it failed, and nil when it exited 0 after an orderly PMI session.
func Run(ctx context.Context, cmd *exec.Cmd, up Upstream, opts Options) error {
	mine, rankEnd, err := Socketpair()
	if err != nil {
		return err
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = RankEnv(env, up.Info(), 3+len(cmd.ExtraFiles))
	cmd.ExtraFiles = append(cmd.ExtraFiles, rankEnd)
	err = cmd.Start()
	rankEnd.Close()
	if err != nil {
		mine.Close()
		return fmt.Errorf("start rank %s behind the PMI proxy: %w", cmd.Path, err)
	}
	served := make(chan error, 1)
	opts.OnAbort = func() { cmd.Process.Kill() }
	go func() { served <- Serve(ctx, mine, up, opts) }()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case serr := <-served:
		if serr != nil {
			cmd.Process.Kill() // the job is over: do not leave the rank hanging
			<-exited
			mine.Close() // after an abort Serve leaves it open until now
			return serr
		}
		return <-exited
	case werr := <-exited:
		serr := <-served // the rank's exit closed its end
		mine.Close()
		if _, ok := IsAbort(serr); ok || werr == nil {
			return serr
		}
		var ee *exec.ExitError
		if serr != nil && !errors.As(werr, &ee) {
			return errors.Join(werr, serr)
		}
		return werr
	}
}
