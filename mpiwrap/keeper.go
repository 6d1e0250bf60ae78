package mpiwrap

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mpiwrap/mpiwrap/mpiwrap/nsexec"
	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/proxy"
	"golang.org/x/sys/unix"
)

// ParseFunc turns a rank's full mpiwrap argv into a Spec, resolving relative
// paths against cwd. It returns a nil Spec for commands other than run.
type ParseFunc func(argv []string, cwd string) (*Spec, error)

// keeper builds the node's namespace once and hands it to every local rank.
type keeper struct {
	parse   ParseFunc
	plan    *Plan
	inputs  string // mountInputs of the leader
	nsfds   []int
	failure string // why the namespace could not be built
	joined  map[int32]bool
	parsed  map[string]*Spec // by cwd and argv: ranks mostly repeat one line
}

// RunKeeper is the body of the detached keeper process (stage "keeper"). It
// inherits the listening socket as fd 3 and, when available, a pidfd of the
// launcher as fd 4. It returns the process exit code.
func RunKeeper(parse ParseFunc) int {
	listener, launcher := 3, -1
	if _, err := unix.FcntlInt(4, unix.F_GETFD, 0); err == nil {
		launcher = 4
	}
	k := &keeper{parse: parse, joined: map[int32]bool{}, parsed: map[string]*Spec{}}
	k.failure = k.build()
	quietStdio()
	k.serve(listener, launcher)
	k.cleanup()
	return 0
}

func (k *keeper) build() string {
	cwd, err := os.Getwd()
	if err != nil {
		return fmt.Sprintf("keeper: get working directory: %v", err)
	}
	spec, err := k.parse(os.Args, cwd)
	if err == nil && spec == nil {
		err = errors.New("not a run command")
	}
	if err != nil {
		return err.Error()
	}
	h := NewHost(os.Environ(), cwd)
	if k.plan, err = NewPlan(spec, h); err != nil {
		return err.Error()
	}
	if err := CheckUserNamespaces(); err != nil {
		return err.Error()
	}
	k.inputs = mountInputs(spec, h.Env, cwd)
	k.nsfds, err = k.plan.buildNamespace(k.plan.RankLabel(), spec.Verbose)
	if err != nil {
		return err.Error()
	}
	if in := k.plan.Inject; in != nil && in.LdCache == "pending" {
		if err := k.plan.buildLdCacheInside(k.nsfds, k.plan.RankLabel()); err != nil {
			return err.Error()
		}
	}
	if err := k.plan.Inject.Refused(); err != nil {
		return err.Error()
	}
	if k.plan.MPI.Family == "unknown" && k.plan.Image.Kind == ImageSquashFS && hostOffer(h.Env) == "pmix" {
		if err := k.plan.detectMPIInside(k.nsfds); err != nil {
			return err.Error()
		}
	}
	return ""
}

// buildNamespace runs the C setup stage as a child that ends by sending its
// user and mount namespace descriptors; those keep the namespace alive.
func (p *Plan) buildNamespace(rank string, verbose bool) ([]int, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("make namespace socket: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(pair[0]), "ns"), os.NewFile(uintptr(pair[1]), "ns")
	defer ours.Close()
	extra := []*os.File{theirs}
	fuseSock := -1
	if p.Image.Kind == ImageSquashFS {
		f, err := startFuseHelper(p.Image)
		if err != nil {
			theirs.Close()
			return nil, err
		}
		defer f.Close()
		extra, fuseSock = append(extra, f), 4
	}
	ops := &nsexec.Plan{}
	p.encodeSetup(ops, rank, verbose, fuseSock)
	ops.SendNS(3)
	var stderr bytes.Buffer
	cmd, err := startApply(ops, rank, &stderr, nil, extra...)
	theirs.Close()
	if err != nil {
		return nil, err
	}
	_, _, fds, rerr := readReply(int(ours.Fd()))
	werr := cmd.Wait()
	if werr != nil || len(fds) != 2 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = fmt.Sprintf("namespace setup failed: %v %v", werr, rerr)
		}
		return nil, errors.New(stripPrefix(msg))
	}
	return fds, nil
}

// stripPrefix removes the "mpiwrap[...]: error: " of a C stage's message:
// each rank prints it again under its own prefix.
func stripPrefix(msg string) string {
	if i := strings.Index(msg, "error: "); i >= 0 && strings.HasPrefix(msg, "mpiwrap[") {
		return msg[i+len("error: "):]
	}
	return msg
}

// quietStdio points stdio at /dev/null once setup is over: a keeper that
// holds the launcher's output pipes would keep the launcher waiting.
func quietStdio() {
	null, err := unix.Open("/dev/null", unix.O_RDWR, 0)
	if err != nil {
		return
	}
	for fd := 0; fd <= 2; fd++ {
		unix.Dup2(null, fd)
	}
	unix.Close(null)
}

// serve answers ranks until all expected local ranks have joined or the
// launcher is gone; there is no timer.
func (k *keeper) serve(listener, launcher int) {
	size := 1 // a rank alone on its node: no launcher-derived sharing
	if k.plan == nil || k.plan.Join.Shared {
		size = 0
	}
	if k.plan != nil && k.plan.Join.Shared {
		size = k.plan.Join.Size
	}
	polls := []unix.PollFd{{Fd: int32(listener), Events: unix.POLLIN}}
	if launcher >= 0 {
		polls = append(polls, unix.PollFd{Fd: int32(launcher), Events: unix.POLLIN})
	}
	for size == 0 || len(k.joined) < size {
		if _, err := unix.Poll(polls, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		if len(polls) > 1 && polls[1].Revents != 0 {
			return
		}
		if polls[0].Revents&unix.POLLIN == 0 {
			continue
		}
		conn, _, err := unix.Accept4(listener, unix.SOCK_CLOEXEC)
		if err != nil {
			continue
		}
		k.answer(conn)
		unix.Close(conn)
	}
}

// answer gives one rank the namespace and its own command, environment and
// working directory, planned from its own arguments.
func (k *keeper) answer(conn int) {
	// A bound on a broken client, so one can't stall the others.
	tv := unix.NsecToTimeval((30 * time.Second).Nanoseconds())
	unix.SetsockoptTimeval(conn, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	cred, _ := unix.GetsockoptUcred(conn, unix.SOL_SOCKET, unix.SO_PEERCRED)
	b, err := readMessage(conn)
	if err != nil {
		return
	}
	status, payload := uint32(repError), []byte(k.failure)
	if k.failure == "" {
		status, payload = k.planRank(b)
	}
	var fds []int
	if status == repOK {
		fds = k.nsfds
	}
	// A rank told an error won't come back: it counts as answered, or the
	// keeper would wait for the launcher, holding the namespace (and a
	// squashfuse) the launcher may be waiting on. A rank sent to run behind
	// a proxy (fallthrough, repProxy) comes back and counts then.
	if status == repProxyFork {
		fds = k.nsfds
	}
	if sendReply(conn, status, payload, fds) == nil && (status == repOK || status == repError || status == repProxyFork) && cred != nil {
		k.joined[cred.Pid] = true
	}
}

func (k *keeper) planRank(b []byte) (uint32, []byte) {
	req, err := decodeRequest(b)
	if err != nil {
		return repError, []byte("bad request to the namespace keeper: " + err.Error())
	}
	spec, err := k.parseCached(req)
	if err != nil {
		return repError, []byte(err.Error())
	}
	if req.client == "c" && (spec == nil || spec.Verbose) {
		return repFallthrough, nil
	}
	if spec == nil {
		return repError, []byte("the namespace keeper only runs commands")
	}
	mode, _, err := PMIMode(spec, req.env, k.plan.MPI)
	rankEnv, proxied := proxiedEnv(req.env, req.client)
	switch {
	case err != nil:
		return repError, []byte(err.Error())
	case mode == "proxy" && req.client == "c":
		return k.planForkedRank(spec, req) // the C half forks the rank, the parent proxies
	case mode == "proxy" && !proxied:
		return repProxy, nil
	}
	if mountInputs(spec, req.env, req.cwd) != k.inputs {
		return repError, []byte(fmt.Sprintf("this rank asks for a different image, binds or directories than rank %s on this node, but all ranks of a step on one node share one container: give every rank the same image, binds, $HOME and working directory", k.plan.RankLabel()))
	}
	env, err := RankEnv(rankEnv, spec, k.plan.ProfileEnv)
	if err != nil {
		return repError, []byte(err.Error())
	}
	p := *k.plan
	p.Env, p.Argv = env, spec.Command
	p.Launcher = Launcher{Rank: DetectLauncher(req.env).Rank}
	ops := &nsexec.Plan{}
	ops.Log(p.RankLabel(), false, p.Image.Path)
	for _, w := range p.Warnings {
		ops.Print("warning: ", w)
	}
	p.encodeCommand(ops)
	return repOK, ops.Bytes()
}

// planForkedRank answers a C client whose rank runs behind a proxy: it
// forks the rank at once and its Go runtime becomes the proxy. The rank's
// environment says PMI_FD=@, which the child fills in.
func (k *keeper) planForkedRank(spec *Spec, req *request) (uint32, []byte) {
	l := DetectLauncher(req.env)
	if l.Rank < 0 || l.Size < 1 {
		return repFallthrough, nil // rank and size only the launcher knows: Go asks it
	}
	env := proxy.RankEnv(req.env, pmi.Info{Rank: l.Rank, Size: l.Size}, 0)
	for i, kv := range env {
		if kv == "PMI_FD=0" {
			env[i] = "PMI_FD=@"
		}
	}
	renv, err := RankEnv(env, spec, k.plan.ProfileEnv)
	if err != nil {
		return repError, []byte(err.Error())
	}
	p := *k.plan
	p.Env, p.Argv = renv, spec.Command
	p.Launcher = Launcher{Rank: l.Rank}
	ops := &nsexec.Plan{}
	ops.Log(p.RankLabel(), false, p.Image.Path)
	p.encodeCommand(ops)
	return repProxyFork, ops.Bytes()
}

func (k *keeper) parseCached(req *request) (*Spec, error) {
	key := req.cwd + "\x00" + strings.Join(req.argv, "\x00")
	if spec, ok := k.parsed[key]; ok {
		return spec, nil
	}
	spec, err := k.parse(req.argv, req.cwd)
	if err == nil {
		k.parsed[key] = spec
	}
	return spec, err
}

// cleanup removes the socket (if it is still ours) and the directory (if
// empty), so nothing is left in /tmp once the ranks have joined.
func (k *keeper) cleanup() {
	path := os.Getenv("_MPIWRAP_SOCK")
	dir := filepath.Dir(path)
	unlock, err := lockDir(dir)
	if err != nil {
		return
	}
	defer unlock()
	var st unix.Stat_t
	if unix.Stat(path, &st) == nil && strconv.FormatUint(st.Ino, 10) == os.Getenv("_MPIWRAP_SOCK_INO") {
		os.Remove(path)
	}
	sweepStale(dir)
	os.Remove(dir)
}

// sweepStale removes sockets whose keeper was killed before it could clean
// up (a SIGKILLed job step, say): nobody answers them.
func sweepStale(dir string) {
	socks, _ := filepath.Glob(filepath.Join(dir, "*.sock"))
	for _, s := range socks {
		fd, err := dial(s)
		if err == nil {
			unix.Close(fd)
			continue
		}
		if errors.Is(err, unix.ECONNREFUSED) {
			os.Remove(s)
		}
	}
}
