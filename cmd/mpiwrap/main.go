// Command mpiwrap runs one MPI rank in an unprivileged container, sharing
// one namespace per node, with the host's MPI, fabric and GPU stacks
// injected and PMI proxied when needed:
//
//	mpirun -n 1024 mpiwrap IMAGE ./solver
//	srun -n 1024 mpiwrap --profile mpich IMAGE /opt/app/bin/solver
package main

// #include <stdlib.h>
import "C"

import (
	"errors"
	"fmt"
	"os"

	"github.com/mpiwrap/mpiwrap/mpiwrap"
	"github.com/mpiwrap/mpiwrap/mpiwrap/nsexec"
	"github.com/mpiwrap/mpiwrap/mpiwrap/plan"
)

func main() {
	if pid, fd, ok := nsexec.ProxiedRank(); ok { // the C half forked the rank
		os.Exit(finish(mpiwrap.RunProxyParent(pid, fd)))
	}
	switch nsexec.Stage() {
	case "keeper":
		os.Exit(mpiwrap.RunKeeper(parseRun))
	case "apply": // the C plan returned: run a task inside a container
		os.Exit(mpiwrap.RunInsideStage())
	}
	os.Exit(execute(os.Args[1:]))
}

// execute runs the CLI and returns the exit code. A rank that fails before
// its command starts aborts the job through the launcher's PMI.
func execute(args []string) int {
	cmd := newRootCmd(cli{})
	cmd.SetArgs(args)
	code := finish(cmd.Execute())
	if code == mpiwrap.ExitFailure {
		mpiwrap.AbortJob(code)
	}
	return code
}

// finish reports err and returns the exit code, or ends like a proxied
// rank did.
func finish(err error) int {
	var st *mpiwrap.ExitStatus
	switch {
	case errors.As(err, &st):
		mpiwrap.Exit(st)
	case err != nil:
		fmt.Fprintf(os.Stderr, "%s%v\n", errorPrefix(), err)
		return mpiwrap.ExitFailure
	}
	return 0
}

// errorPrefix is "mpiwrap[rank R pid P]: error: ", with the rank from the
// launcher's environment.
func errorPrefix() string {
	l := plan.DetectLauncher(os.Environ())
	rank := "-"
	if l.Rank >= 0 {
		rank = fmt.Sprint(l.Rank)
	}
	return fmt.Sprintf("mpiwrap[rank %s pid %d]: error: ", rank, os.Getpid())
}
