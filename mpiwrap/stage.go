package mpiwrap

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/mpiwrap/mpiwrap/mpiwrap/nsexec"
	"github.com/mpiwrap/mpiwrap/mpiwrap/plan"
	"golang.org/x/sys/unix"
)

// selfExe is how mpiwrap re-executes itself for the C stages.
const selfExe = "/proc/self/exe"

// inheritable clears close-on-exec so fd survives into the next stage.
func inheritable(fd int) error {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0)
	return err
}

// planFile puts an encoded plan in a memfd the next stage can read.
func planFile(ops *nsexec.Plan) (*os.File, error) {
	fd, err := unix.MemfdCreate("mpiwrap-plan", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("create plan memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "plan")
	if _, err := f.Write(ops.Bytes()); err != nil {
		f.Close()
		return nil, fmt.Errorf("write plan: %w", err)
	}
	return f, nil
}

func stageEnv(stage, rank string, extra ...string) []string {
	env := append(os.Environ(), "_MPIWRAP_STAGE="+stage, "_MPIWRAP_RANK="+rank,
		"_MPIWRAP_SIG="+nsexec.SignalState())
	return append(env, extra...)
}

// execApply replaces this process with the C apply stage running ops. It
// returns only on failure. hold, unless -1, is a descriptor that the stage
// keeps while it sets the container up and closes when it execs the
// command (a hold on the ld.so cache entry it binds).
func execApply(ops *nsexec.Plan, rank string, hold int) error {
	plan, err := planFile(ops)
	if err != nil {
		return err
	}
	defer plan.Close()
	fd := int(plan.Fd())
	if err := inheritable(fd); err != nil {
		return fmt.Errorf("pass plan: %w", err)
	}
	env := stageEnv("apply", rank, "_MPIWRAP_PLAN="+strconv.Itoa(fd))
	if hold >= 0 {
		if err := inheritable(hold); err != nil {
			return fmt.Errorf("pass the ld.so cache hold: %w", err)
		}
		env = append(env, "_MPIWRAP_HOLD="+strconv.Itoa(hold))
	}
	err = syscall.Exec(selfExe, []string{"mpiwrap"}, env)
	return fmt.Errorf("re-execute mpiwrap: %w", err)
}

// startApply runs the C apply stage as a child with extra descriptors, which
// it sees as 3, 4, ... in order.
func startApply(ops *nsexec.Plan, rank string, stderr io.Writer, env []string, extra ...*os.File) (*exec.Cmd, error) {
	plan, err := planFile(ops)
	if err != nil {
		return nil, err
	}
	defer plan.Close()
	cmd := exec.Command(selfExe)
	cmd.Args = []string{"mpiwrap"}
	cmd.ExtraFiles = append(extra, plan)
	cmd.Env = append(stageEnv("apply", rank, "_MPIWRAP_PLAN="+strconv.Itoa(2+len(cmd.ExtraFiles)),
		"_MPIWRAP_CLOSE_FROM="+strconv.Itoa(3+len(cmd.ExtraFiles))), env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start namespace setup: %w", err)
	}
	return cmd, nil
}

// startFuseHelper starts a detached squashfuse helper that waits for the
// /dev/fuse descriptor on a socket; it returns our end of that socket.
func startFuseHelper(img plan.Image) (*os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("make squashfuse socket: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "fuse"), os.NewFile(uintptr(fds[1]), "fuse")
	defer theirs.Close()
	cmd := exec.Command(selfExe, img.Squashfuse, "-f", img.Path, "@FUSEFD@")
	cmd.Args[0] = filepath.Base(img.Squashfuse)
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.Env = append(os.Environ(), "_MPIWRAP_STAGE=fuse", "_MPIWRAP_FUSE_SOCK=3", "_MPIWRAP_CLOSE_FROM=4")
	// No stdio: squashfuse lives as long as the container, and a launcher
	// waits for every holder of a rank's output pipes. A failed mount is
	// reported by the rank that mounts it.
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, nil
	if err := cmd.Run(); err != nil { // returns once the helper has detached
		ours.Close()
		return nil, fmt.Errorf("start squashfuse helper: %w", err)
	}
	return ours, nil
}
