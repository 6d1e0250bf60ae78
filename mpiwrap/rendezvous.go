package mpiwrap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mpiwrap/mpiwrap/mpiwrap/nsexec"
	"github.com/mpiwrap/mpiwrap/mpiwrap/userdir"
	"github.com/mpiwrap/mpiwrap/pmi/launchenv"

	"golang.org/x/sys/unix"
)

// The rendezvous is a Unix socket per node join key, in a directory that
// belongs to the user and has mode 0700: the first of a series of names
// that is ours (package userdir, where it says why the ranks of a job still
// all meet). The C fast path (nsexec/fastpath.c, userdir.c) computes the
// same names; keep the two in step.

// The magic, the reply codes and the directory names are the contract with
// the C fast path, defined once in nsexec.h.
const (
	reqMagic       = nsexec.ReqMagic
	repOK          = nsexec.RepOK
	repError       = nsexec.RepError
	repFallthrough = nsexec.RepFallthrough
	repProxy       = nsexec.RepProxy
	repProxyFork   = nsexec.RepProxyFork
	repProxyHosted = nsexec.RepProxyHosted
	maxMessage     = nsexec.MaxMessage
)

// rendezvousDirs are the candidates for the rendezvous directory, in the
// order that every rank, in Go and in C, walks them (package userdir).
func rendezvousDirs() []string {
	return userdir.Rendezvous(nsexec.RendezvousPrefix, os.Getuid(), os.Getenv("XDG_RUNTIME_DIR"))
}

func socketPath(dir, key string) string { return userdir.Socket(dir, key) }

// findKeeper connects to the node's keeper for key in whichever rendezvous
// directory of ours holds its socket.
func findKeeper(dirs []string, key string) (int, string, bool) {
	for _, d := range dirs {
		if !userdir.Private(d) {
			continue
		}
		path := socketPath(d, key)
		if fd, err := dial(path); err == nil {
			return fd, path, true
		}
	}
	return -1, "", false
}

// lockDir locks one rendezvous directory; the keeper holds it while it
// removes its socket and, when empty, the directory.
func lockDir(dir string) (func(), error) {
	fd, err := userdir.Lock(dir)
	if err != nil {
		return nil, fmt.Errorf("lock rendezvous directory: %w", err)
	}
	return func() { unix.Close(fd) }, nil
}

// dial connects to a keeper, checking that it runs as us.
func dial(path string) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return -1, err
	}
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil || int(cred.Uid) != os.Getuid() {
		unix.Close(fd)
		return -1, fmt.Errorf("keeper at %s is not ours", path)
	}
	return fd, nil
}

// listen binds the rendezvous socket; the backlog holds ranks that arrive
// while the keeper is still building the namespace.
func listen(path string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("make rendezvous socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind rendezvous socket %s: %w", path, err)
	}
	if err := unix.Listen(fd, unix.SOMAXCONN); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("listen on rendezvous socket %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

func appendStr(b []byte, s string) []byte {
	b = binary.NativeEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// encodeRequest matches build_request in fastpath.c; client is "c" or "go"
// (only the C fast path can be told to fall through to Go).
func encodeRequest(cwd, client string, argv, env []string) []byte {
	b := make([]byte, 4, 4096)
	b = binary.NativeEndian.AppendUint32(b, reqMagic)
	b = binary.NativeEndian.AppendUint32(b, uint32(len(argv)))
	b = binary.NativeEndian.AppendUint32(b, uint32(len(env)))
	b = appendStr(b, cwd)
	b = appendStr(b, client)
	for _, s := range append(append([]string{}, argv...), env...) {
		b = appendStr(b, s)
	}
	binary.NativeEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

type request struct {
	cwd, client string
	argv, env   []string
	pmiFd       int // the launcher's PMI_FD, passed by a C client; -1 if not
	stderrFd    int // the rank's stderr, passed with it; -1 if not
	detected    *launchenv.Env
	shape       string // shapeKey, set by the keeper
}

// launcher is what plan.RankOf and plan.HostOffer read from the rank's
// environment, read once: at 1024 ranks the keeper's answers are its
// serial part, and each reading builds a map of the whole environment.
func (r *request) launcher() launchenv.Env {
	if r.detected == nil {
		e := launchenv.Detect(r.env, launchenv.Probes{})
		r.detected = &e
	}
	return *r.detected
}

func readFull(fd int, b []byte) error {
	for off := 0; off < len(b); {
		n, err := unix.Read(fd, b[off:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrUnexpectedEOF
		}
		off += n
	}
	return nil
}

// readRequest reads a rank's request on a keeper's connection, with its
// descriptors (close-on-exec). A client sends nothing after its request
// until the reply, so one recvmsg may take the whole message, and does
// when the client sent it in one sendmsg, as the C fast path does. Only a
// request that has not all arrived yet waits, for at most timeout: a bound
// on a broken client, so one can't stall the others.
//
// buf is where it reads (the keeper reuses one); what it returns may be in
// buf, or allocated when the request is larger.
func readRequest(fd int, buf []byte, timeout time.Duration) ([]byte, []int, error) {
	oob := make([]byte, unix.CmsgSpace(4*4))
	var n, oobn int
	var err error
	for flags := unix.MSG_CMSG_CLOEXEC | unix.MSG_DONTWAIT; ; {
		n, oobn, _, _, err = unix.Recvmsg(fd, buf, oob, flags)
		if errors.Is(err, unix.EAGAIN) && flags&unix.MSG_DONTWAIT != 0 {
			tv := unix.NsecToTimeval(timeout.Nanoseconds())
			unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
			flags &^= unix.MSG_DONTWAIT
			continue
		}
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return nil, nil, err
	}
	var fds []int
	if msgs, perr := unix.ParseSocketControlMessage(oob[:oobn]); perr == nil {
		for _, m := range msgs {
			if got, err := unix.ParseUnixRights(&m); err == nil {
				fds = append(fds, got...)
			}
		}
	}
	if n == 0 {
		return nil, fds, io.ErrUnexpectedEOF
	}
	rest := func(b []byte) error { // what has not come yet waits, bounded
		tv := unix.NsecToTimeval(timeout.Nanoseconds())
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		return readFull(fd, b)
	}
	if n < 4 {
		if err := rest(buf[n:4]); err != nil {
			return nil, fds, err
		}
		n = 4
	}
	size := binary.NativeEndian.Uint32(buf)
	if size > maxMessage {
		return nil, fds, fmt.Errorf("message of %d bytes is too long", size)
	}
	total := 4 + int(size)
	if n > total {
		return nil, fds, errors.New("more than one request on one connection")
	}
	if total > len(buf) {
		buf = append(buf[:n], make([]byte, total-n)...)
	}
	if n < total {
		if err := rest(buf[n:total]); err != nil {
			return nil, fds, err
		}
	}
	return buf[4:total], fds, nil
}

func decodeRequest(b []byte) (*request, error) {
	if len(b) < 12 || binary.NativeEndian.Uint32(b) != reqMagic {
		return nil, errors.New("bad request magic")
	}
	nargv := int(binary.NativeEndian.Uint32(b[4:]))
	nenv := int(binary.NativeEndian.Uint32(b[8:]))
	b = b[12:]
	if nargv < 0 || nenv < 0 || 2+nargv+nenv > len(b)/4 {
		return nil, errors.New("truncated request")
	}
	// One copy of the strings, sliced: the keeper decodes a request per rank.
	all, off := string(b), 0
	strs := make([]string, 0, 2+nargv+nenv)
	for i := 0; i < 2+nargv+nenv; i++ {
		if len(b)-off < 4 || uint64(len(b)-off-4) < uint64(binary.NativeEndian.Uint32(b[off:])) {
			return nil, errors.New("truncated request")
		}
		n := int(binary.NativeEndian.Uint32(b[off:]))
		strs = append(strs, all[off+4:off+4+n])
		off += 4 + n
	}
	return &request{cwd: strs[0], client: strs[1], argv: strs[2 : 2+nargv], env: strs[2+nargv:], pmiFd: -1, stderrFd: -1}, nil
}

// sendReply writes u32 length, u32 status and the payload, with the
// namespace descriptors attached to the first byte.
func sendReply(fd int, status uint32, payload []byte, nsfds []int) error {
	b := binary.NativeEndian.AppendUint32(nil, uint32(4+len(payload)))
	b = binary.NativeEndian.AppendUint32(b, status)
	b = append(b, payload...)
	var oob []byte
	if len(nsfds) > 0 {
		oob = unix.UnixRights(nsfds...)
	}
	for len(b) > 0 {
		n, err := unix.SendmsgN(fd, b, oob, nil, unix.MSG_NOSIGNAL)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		b, oob = b[n:], nil
	}
	return nil
}

// readReply reads what sendReply wrote; descriptors come back close-on-exec.
func readReply(fd int) (status uint32, payload []byte, fds []int, err error) {
	head := make([]byte, 8)
	oob := make([]byte, unix.CmsgSpace(8*4))
	n, oobn, _, _, err := unix.Recvmsg(fd, head, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return 0, nil, nil, err
	}
	if oobn > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err == nil && len(msgs) > 0 {
			fds, _ = unix.ParseUnixRights(&msgs[0])
		}
	}
	if n == 0 {
		return 0, nil, fds, io.ErrUnexpectedEOF
	}
	if err := readFull(fd, head[n:]); err != nil {
		return 0, nil, fds, err
	}
	size := binary.NativeEndian.Uint32(head)
	if size < 4 || size > maxMessage {
		return 0, nil, fds, fmt.Errorf("bad reply length %d", size)
	}
	payload = make([]byte, size-4)
	if err := readFull(fd, payload); err != nil {
		return 0, nil, fds, err
	}
	return binary.NativeEndian.Uint32(head[4:]), payload, fds, nil
}
