package mpiwrap

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mpiwrap/mpiwrap/internal/errlist"
	"github.com/mpiwrap/mpiwrap/mpiwrap/nodecache"
	"github.com/mpiwrap/mpiwrap/mpiwrap/nsexec"
	"github.com/mpiwrap/mpiwrap/mpiwrap/plan"
	"github.com/mpiwrap/mpiwrap/mpiwrap/userdir"
	"golang.org/x/sys/unix"
)

// Run puts this rank into its container and execs the command. It returns
// only when that fails.
func Run(spec *plan.Spec, stderr io.Writer) error {
	h, err := CurrentHost()
	if err != nil {
		return err
	}
	p, err := plan.New(spec, h)
	if err != nil {
		return err
	}
	// A rank of its own builds its ld.so cache itself (-v then shows the
	// verdict), and holds the entry until its container has it bound.
	var hold *nodecache.Hold
	if !p.Join.Shared {
		if p, hold, err = holdLdCache(p, spec, h); err != nil {
			return err
		}
	}
	rank := p.RankLabel()
	prefix := fmt.Sprintf("mpiwrap[rank %s pid %d]: ", rank, os.Getpid())
	if p.Join.Shared { // a rank of its own prints them from its plan
		for _, w := range p.Warnings {
			fmt.Fprintf(stderr, "%swarning: %s\n", prefix, w)
		}
	}
	if spec.Verbose {
		p.Describe(stderr, prefix)
		vlogf = func(format string, args ...any) { fmt.Fprintf(stderr, "%s%s\n", prefix, fmt.Sprintf(format, args...)) }
		dir, why := nodecache.Describe()
		vlogf("node cache %s%s", dir, paren(why))
	}
	if err := errlist.Join(CheckUserNamespaces(), p.Inject.Refused()); err != nil { // every pre-flight failure at once
		return err
	}
	if !p.Join.Shared && (p.PMIMode == plan.PMIProxy || p.Inject != nil && p.Inject.LdCache == plan.LdCachePending) {
		// The rank runs as a child behind a proxy, or the ld.so cache is
		// built inside the container first: that takes a keeper, here one
		// for this rank alone.
		p.Join = plan.Join{Shared: true, Key: plan.NodeKey(fmt.Sprintf("alone:%d", os.Getpid())), Size: 1,
			Why: "a rank of its own that needs the container before its command runs"}
	}
	if !p.Join.Shared {
		return runAlone(p, spec, rank, hold)
	}
	hold.Release() // the keeper holds and binds it
	return runShared(p, rank, h.Cwd)
}

// vlogf prints a line of what the run did under -v (Run sets it).
var vlogf = func(string, ...any) {}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// runAlone builds a namespace of its own and execs the command in it, all
// in one C stage.
func runAlone(p *plan.Plan, spec *plan.Spec, rank string, hold *nodecache.Hold) error {
	ops := &nsexec.Plan{}
	fuseSock := -1
	if p.Image.Kind == plan.ImageSquashFS {
		f, err := startFuseHelper(p.Image)
		if err != nil {
			return err
		}
		defer f.Close() // on success exec never returns; this keeps f alive
		fuseSock = int(f.Fd())
		if err := inheritable(fuseSock); err != nil {
			return fmt.Errorf("pass squashfuse socket: %w", err)
		}
	}
	encodeSetup(ops, p, rank, spec.Verbose, fuseSock)
	for _, w := range p.Warnings {
		ops.Print("warning: ", w)
	}
	encodeOwnCommand(ops, p)
	if p.Cacheable(spec) {
		cwd, _ := unix.Getwd()
		nodecache.SavePlan(ops.Bytes(), p.CacheDeps(spec), os.Args, os.Environ(), cwd)
	}
	return execApply(ops, rank, hold.Fd())
}

// runShared joins the node's namespace through its keeper, becoming the
// leader that starts the keeper when there is none yet.
func runShared(p *plan.Plan, rank, cwd string) error {
	if p.PMIMode == plan.PMIProxy {
		return runProxied(p, rank, cwd)
	}
	status, payload, fds, err := talkToKeeper(p, cwd, "go", os.Environ())
	switch {
	case err != nil:
		return err
	case status == repProxy:
		return runProxied(p, rank, cwd)
	case status != repOK || len(fds) != 2:
		return fmt.Errorf("bad reply from the node's namespace keeper")
	}
	return joinWith(fds, payload, rank)
}

// talkToKeeper sends this rank's request to the node's keeper, electing
// itself leader (and starting the keeper) when there is none.
func talkToKeeper(p *plan.Plan, cwd, client string, env []string) (uint32, []byte, []int, error) {
	var path string
	// A keeper can go away between our connect and its reply only when the
	// node got more ranks than it expected, and the rendezvous directory
	// only when a keeper ended meanwhile; either way, try again.
	dirs := rendezvousDirs()
	for attempt := 0; attempt < 3; attempt++ {
		fd, found, ok := findKeeper(dirs, p.Join.Key)
		var err error
		if !ok {
			fd, found, err = elect(p, dirs, p.RankLabel())
		}
		if err != nil {
			return 0, nil, nil, err
		}
		if path != found {
			vlogf("rendezvous %s%s", found, paren(userdir.Skipped(dirs, filepath.Dir(found))))
		}
		path = found
		err = writeAll(fd, encodeRequest(cwd, client, os.Args, env))
		var status uint32
		var payload []byte
		var fds []int
		if err == nil {
			status, payload, fds, err = readReply(fd)
		}
		unix.Close(fd)
		if errors.Is(err, io.ErrUnexpectedEOF) {
			continue
		}
		if (errors.Is(err, unix.ECONNRESET) || errors.Is(err, unix.EPIPE)) && p.Join.Size > 0 {
			// The keeper had answered every rank it expected and closed the
			// socket with this one still in its queue.
			return 0, nil, nil, fmt.Errorf("the node's namespace keeper had served the %d ranks it expected and shut this rank out: is the local rank count right? (--join-size %d, or the launcher's)", p.Join.Size, p.Join.Size)
		}
		if err != nil {
			return 0, nil, nil, fmt.Errorf("talk to the node's namespace keeper at %s: %w", path, err)
		}
		if status == repError {
			return 0, nil, nil, errors.New(string(payload))
		}
		return status, payload, fds, nil
	}
	return 0, nil, nil, fmt.Errorf("the node's namespace keeper at %s kept going away: is the local rank count (%d) right? pass --join-size", path, p.Join.Size)
}

func joinWith(fds []int, payload []byte, rank string) error {
	for _, fd := range fds {
		if err := inheritable(fd); err != nil {
			return fmt.Errorf("pass namespace descriptor: %w", err)
		}
	}
	ops := &nsexec.Plan{}
	ops.Setns(fds[0], fds[1])
	ops.Append(payload)
	return execApply(ops, rank, -1)
}

// elect makes this rank the node's leader unless another rank beat it to
// it: holding the lock of every rendezvous directory of ours, a socket
// nobody answers is stale, and a new one goes in the first of them.
func elect(p *plan.Plan, dirs []string, rank string) (int, string, error) {
	l, err := userdir.LockAll(dirs)
	if err != nil {
		var taken *userdir.TakenError
		if errors.As(err, &taken) {
			return -1, "", fmt.Errorf("no rendezvous directory for the node's ranks: %w, or set XDG_RUNTIME_DIR to a private directory of yours", err)
		}
		return -1, "", err
	}
	defer l.Unlock()
	if fd, path, ok := findKeeper(dirs, p.Join.Key); ok {
		return fd, path, nil
	}
	path := socketPath(l.Dir, p.Join.Key)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return -1, "", fmt.Errorf("remove stale rendezvous socket: %w", err)
	}
	ln, err := listen(path)
	if err != nil {
		return -1, "", err
	}
	defer ln.Close()
	if err := startKeeper(p, ln, path, rank); err != nil {
		os.Remove(path)
		return -1, "", err
	}
	fd, err := dial(path)
	return fd, path, err
}

// startKeeper starts the node's keeper with this rank's own arguments, so
// it builds exactly the container this rank asked for.
func startKeeper(p *plan.Plan, l *os.File, path, rank string) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fmt.Errorf("stat rendezvous socket: %w", err)
	}
	extra := []*os.File{l}
	if pidfd, err := unix.PidfdOpen(os.Getppid(), 0); err == nil {
		f := os.NewFile(uintptr(pidfd), "launcher")
		defer f.Close()
		extra = append(extra, f)
	} else if p.Join.Size == 0 {
		return fmt.Errorf("can't watch the launcher (pidfd_open: %w) and the local rank count is unknown: pass --join-size", err)
	}
	cmd := exec.Command(selfExe, os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.ExtraFiles = extra
	cmd.Env = stageEnv("keeper", rank, "_MPIWRAP_SOCK="+path,
		"_MPIWRAP_SOCK_INO="+strconv.FormatUint(st.Ino, 10),
		"_MPIWRAP_CLOSE_FROM="+strconv.Itoa(3+len(extra)))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil { // returns once the keeper has detached
		return fmt.Errorf("start the node's namespace keeper: %w", err)
	}
	return nil
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// CheckUserNamespaces explains the usual ways a site disables unprivileged
// user namespaces, before anything is attempted.
func CheckUserNamespaces() error {
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	if read("/proc/sys/user/max_user_namespaces") == "0" {
		return errors.New("user namespaces are disabled on this host (sysctl user.max_user_namespaces=0): ask the admin to set it above 0")
	}
	if os.Geteuid() != 0 && read("/proc/sys/kernel/unprivileged_userns_clone") == "0" {
		return errors.New("unprivileged user namespaces are disabled on this host (sysctl kernel.unprivileged_userns_clone=0): ask the admin to set it to 1")
	}
	return nil
}

// ExitCodes the CLI uses for mpiwrap's own failures.
const ExitFailure = nsexec.ExitMpiwrap
