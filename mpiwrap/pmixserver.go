package mpiwrap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mpiwrap/mpiwrap/mpiwrap/nsexec"
	"github.com/mpiwrap/mpiwrap/mpiwrap/plan"
	"github.com/mpiwrap/mpiwrap/pmi/launchenv"
	"github.com/mpiwrap/mpiwrap/pmi/pmix"
	"github.com/mpiwrap/mpiwrap/pmi/proxy"
	"golang.org/x/sys/unix"
)

// The node's PMIx server (plan.PMIServer): an Open MPI image under a
// launcher that offers only PMI-1/2. The keeper runs one pmix.Node for
// its node's ranks: an mpiwrap-pmix helper in server mode, which loads the
// host's libpmix, and the keeper's side, which holds every local rank's
// connection to the launcher (the PMI_FD a C client passes, or a
// connection of its own to PMI_PORT with the rank's PMI_ID) and carries
// fences, aborts and finalizes over them. The rank joins like a hosted
// one (repProxyHosted, so the C half closes the launcher's PMI_FD in it)
// but its environment names the PMIx server instead of a PMI socket, and
// it stays the launcher's child.
//
// The server's files live in the job's private directory, next to the
// keeper's socket in the user's 0700 rendezvous directory, bound into the
// container at the same path. The keeper holds a lock on it while it
// lives; it removes it when the node's ranks are done, and any later
// keeper of the user removes one whose keeper died (sweepServeDirs).
type servedNode struct {
	dir  string
	lock int // flock on dir while the job runs

	mu      sync.Mutex
	node    *pmix.Node
	failure string              // why the server could not start: every rank is told
	ranks   map[int]*hostedRank // the node's ranks, once each has its reply
}

// serveDirSuffix names the job's directory after its socket.
const serveDirSuffix = ".pmix"

// maybeServe prepares the server's directory when the leader's ranks may
// need the server: its plan says so, or a SquashFS image's MPI is read
// only inside (after the namespace, which must bind the directory).
func (k *keeper) maybeServe(h *plan.Host) error {
	offerPMI := plan.HostOffer(h.Env) == launchenv.OfferPMI
	unknown := k.leader.MPI.Family == plan.FamilyUnknown && k.leader.Image.Kind == plan.ImageSquashFS
	if !offerPMI || (k.leader.PMIMode != plan.PMIServer && !unknown) {
		return nil
	}
	sock := os.Getenv("_MPIWRAP_SOCK")
	if sock == "" {
		return errors.New("the node's PMIx server: the keeper has no rendezvous socket")
	}
	sweepServeDirs(filepath.Dir(sock))
	dir := strings.TrimSuffix(sock, ".sock") + serveDirSuffix
	os.RemoveAll(dir) // a stale one of the same name: its keeper is gone
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("make the PMIx server's directory: %w", err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == nil {
		err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
	}
	if err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("lock the PMIx server's directory %s: %w", dir, err)
	}
	k.served = &servedNode{dir: dir, lock: fd, ranks: map[int]*hostedRank{}}
	k.leader.ServeDir(dir)
	return nil
}

// sweepServeDirs removes the server directories in dir whose keeper died
// (nobody holds their lock).
func sweepServeDirs(dir string) {
	stale, _ := filepath.Glob(filepath.Join(dir, "*"+serveDirSuffix))
	for _, d := range stale {
		fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if err != nil {
			continue
		}
		if unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) == nil {
			os.RemoveAll(d)
		}
		unix.Close(fd)
	}
}

// servable says whether the keeper can serve this client: it passed its
// stderr, and its PMI_FD or it has a PMI_PORT the keeper can connect to.
func servable(req *request) bool {
	_, hasPort := plan.LookupEnv(req.env, "PMI_PORT")
	return req.stderrFd >= 0 && (hostable(req) || hasPort)
}

// planServedRank connects to the launcher for the rank (starting the
// node's server with the first), and answers with the rank's plan.
func (k *keeper) planServedRank(spec *plan.Spec, req *request) (uint32, []byte, *hostedRank) {
	if k.served == nil || !servable(req) {
		return repError, []byte("the rank's Open MPI needs the node's PMIx server, which this rank can't reach: it passed the keeper no PMI_FD (or PMI_PORT) and stderr"), nil
	}
	if plan.MountInputs(spec, req.env, req.cwd) != k.inputs {
		return repError, k.mismatch(), nil
	}
	up, err := k.connectRank(req)
	if err != nil {
		return repError, []byte(err.Error()), nil
	}
	rank := up.Info().Rank
	node, err := k.served.start(k, up, req)
	if err == nil {
		err = node.Attach(rank, up)
	} else {
		up.Close()
	}
	if err != nil {
		return repError, []byte(err.Error()), nil
	}
	senv, _ := node.Env(rank)
	env := servedEnv(req.env, senv)
	renv, err := plan.RankEnv(env, spec, k.leader.ProfileEnv, k.leader.HintEnv())
	if err != nil {
		return repError, []byte(err.Error()), nil
	}
	p := *k.leader
	p.Env, p.Argv = renv, spec.Command
	p.Launcher = plan.Launcher{Rank: rank}
	ops := &nsexec.Plan{}
	ops.Log(p.RankLabel(), false, p.Image.Path)
	k.encodeWarnings(ops)
	encodeCommand(ops, &p)
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return repError, []byte(fmt.Sprintf("make the rank's socket: %v", err)), nil
	}
	h := &hostedRank{rank: rank, size: up.Info().Size, upFd: -1, stderr: req.stderrFd,
		mine: pair[0], theirs: pair[1], pidfd: -1, served: true}
	return repProxyHosted, ops.Bytes(), h
}

// connectRank opens the rank's own connection to the launcher: on a copy
// of the PMI_FD it passed, or to PMI_PORT with its PMI_ID, and checks it
// against the rank's variables.
func (k *keeper) connectRank(req *request) (proxy.Upstream, error) {
	env := slices.Clone(req.env)
	if req.pmiFd >= 0 {
		fd, err := unix.FcntlInt(uintptr(req.pmiFd), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			return nil, fmt.Errorf("take the rank's PMI_FD: %w", err)
		}
		for i, kv := range env {
			if strings.HasPrefix(kv, "PMI_FD=") {
				env[i] = "PMI_FD=" + strconv.Itoa(fd)
			}
		}
	}
	ctx, cancel := context.WithTimeout(k.ctx, 60*time.Second)
	defer cancel()
	up, err := proxy.UpstreamFromEnv(ctx, env, proxy.WireAuto)
	if err != nil {
		return nil, fmt.Errorf("connect to the launcher's PMI for the node's PMIx server: %w", err)
	}
	if rank, size := req.launcher().Rank, req.launcher().Size; rank >= 0 && size > 0 {
		if err := sameRank(up, rank, size); err != nil {
			up.Close()
			return nil, err
		}
	}
	return up, nil
}

// servedEnv is a served rank's environment: the launcher's, without what
// reaches the launcher (the keeper holds that now), with the server's
// client variables and what Open MPI 4 needs besides.
func servedEnv(env, server []string) []string {
	out := make([]string, 0, len(env)+len(server)+len(pmix.OpenMPIEnv))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "PMI_FD", k == "PMI_PORT", k == "PMI_ID", strings.HasPrefix(k, "PMIX_"):
			continue
		}
		out = append(out, kv)
	}
	for _, kv := range pmix.OpenMPIEnv {
		if k, _, _ := strings.Cut(kv, "="); !slices.ContainsFunc(out, func(s string) bool { return strings.HasPrefix(s, k+"=") }) {
			out = append(out, kv)
		}
	}
	return append(out, server...)
}

// start starts the node's server with its first rank's connection; later
// ranks get the running one (or the reason it failed).
func (s *servedNode) start(k *keeper, up proxy.Upstream, req *request) (*pmix.Node, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.node != nil || s.failure != "" {
		if s.failure != "" {
			return nil, errors.New(s.failure)
		}
		return s.node, nil
	}
	node, err := s.startNode(k, up, req)
	if err != nil {
		s.failure = fmt.Sprintf("the node's PMIx server: %v", err)
		return nil, errors.New(s.failure)
	}
	s.node = node
	k.sessions.Add(1)
	go func() {
		defer k.sessions.Done()
		select {
		case <-node.Done():
		case <-k.ctx.Done(): // the launcher is gone: so are, or will be, its ranks
			node.LauncherGone()
			s.kill("") // quietly: their output went with the launcher
			select {
			case <-node.Done():
			case <-time.After(10 * time.Second): // a rank that won't die: leave it
				node.Close()
			}
		}
		s.remove()
	}()
	return node, nil
}

func (s *servedNode) startNode(k *keeper, up proxy.Upstream, req *request) (*pmix.Node, error) {
	ctx, cancel := context.WithTimeout(k.ctx, 60*time.Second)
	defer cancel()
	host, _ := os.Hostname()
	local, _ := proxy.LocalSizeFromEnv(req.env)
	job, err := pmix.JobFromUpstream(ctx, up, host, local)
	if err != nil {
		return nil, err
	}
	var stderr *os.File // the first rank's, for libpmix's own messages
	if fd, err := unix.FcntlInt(uintptr(req.stderrFd), unix.F_DUPFD_CLOEXEC, 3); err == nil {
		stderr = os.NewFile(uintptr(fd), "stderr")
		defer stderr.Close() // the helper has its copy
	}
	cfg := pmix.NodeConfig{Dir: s.dir, UID: os.Getuid(), GID: os.Getgid(), Job: job, Env: os.Environ(),
		Note: s.note, Kill: s.kill}
	if stderr != nil {
		cfg.Stderr = stderr
	}
	return pmix.StartNode(ctx, cfg)
}

// add records a served rank once it has its reply; the keeper then
// watches it and tells the server when it exits.
func (s *servedNode) add(k *keeper, h *hostedRank) {
	s.mu.Lock()
	s.ranks[h.rank] = h
	node := s.node
	s.mu.Unlock()
	gone := exited(h.pidfd)
	k.sessions.Add(1)
	go func() {
		defer k.sessions.Done()
		<-gone // the pidfd is the rank's own: exited owns it now
		h.pidfd = -1
		node.Exited(h.rank)
		s.mu.Lock()
		delete(s.ranks, h.rank)
		s.mu.Unlock()
		h.close()
	}()
}

// exited tells the server that a rank it never watched is gone.
func (s *servedNode) exited(rank int) {
	s.mu.Lock()
	node := s.node
	s.mu.Unlock()
	if node != nil {
		node.Exited(rank)
	}
}

// note writes msg where rank's errors go (-1: the lowest rank's).
func (s *servedNode) note(rank int, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.ranks[rank]
	if h == nil {
		for r, x := range s.ranks {
			if h == nil || r < h.rank {
				h = x
			}
		}
	}
	if h != nil && h.stderr >= 0 {
		unix.Write(h.stderr, []byte(fmt.Sprintf("mpiwrap[rank %d pid %d]: error: %s\n", h.rank, h.pid, msg)))
	}
}

// kill ends every served rank, saying why (unless reason is "").
func (s *servedNode) kill(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.ranks {
		if h.stderr >= 0 && reason != "" {
			unix.Write(h.stderr, []byte(fmt.Sprintf("mpiwrap[rank %d pid %d]: error: %s; the rank was killed\n", h.rank, h.pid, reason)))
		}
		h.kill()
	}
}

// remove deletes the server's directory, once the server is done.
func (s *servedNode) remove() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lock < 0 {
		return
	}
	os.RemoveAll(s.dir)
	unix.Close(s.lock)
	s.lock = -1
	// The rendezvous directory too, if this was its last entry, under its
	// lock as the keeper's cleanup does: a rank may be electing a keeper.
	dir := filepath.Dir(s.dir)
	if unlock, err := lockDir(dir); err == nil {
		os.Remove(dir)
		unlock()
	}
}

// tryServed is a Go rank's way to the node's PMIx server (a rank under -v,
// or one the C half left to Go): it asks the keeper with its PMI_FD and
// stderr attached, as a C client does. It returns false when the keeper
// says the rank is no served one.
func tryServed(p *plan.Plan, rank, cwd string) (bool, error) {
	if p.PMIMode == plan.PMIProxy || plan.HostOffer(os.Environ()) != launchenv.OfferPMI {
		return false, nil
	}
	fd, _, ok := findKeeper(rendezvousDirs(), p.Join.Key)
	if !ok {
		return false, nil
	}
	defer unix.Close(fd)
	pmiFd := -1
	if v, err := strconv.Atoi(os.Getenv("PMI_FD")); err == nil && v >= 3 {
		if _, err := unix.FcntlInt(uintptr(v), unix.F_GETFD, 0); err == nil {
			pmiFd = v
		}
	}
	req := encodeRequest(cwd, "go-served", os.Args, os.Environ())
	fds := []int{2}
	if pmiFd >= 0 {
		fds = []int{pmiFd, 2}
	}
	if err := unix.Sendmsg(fd, req[:1], unix.UnixRights(fds...), nil, 0); err != nil {
		return false, fmt.Errorf("talk to the node's namespace keeper: %w", err)
	}
	if err := writeAll(fd, req[1:]); err != nil {
		return false, fmt.Errorf("talk to the node's namespace keeper: %w", err)
	}
	status, payload, rfds, err := readReply(fd)
	switch {
	case err != nil:
		return false, fmt.Errorf("talk to the node's namespace keeper: %w", err)
	case status == repFallthrough:
		return false, nil
	case status == repError:
		return true, errors.New(string(payload))
	case status != repProxyHosted || len(rfds) != 3:
		return true, errors.New("bad reply from the node's namespace keeper")
	}
	unix.Close(rfds[2])
	if pmiFd >= 0 { // the keeper holds the rank's connection now
		unix.Close(pmiFd)
	}
	return true, joinWith(rfds[:2], payload, rank)
}
