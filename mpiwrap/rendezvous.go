package mpiwrap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/mpiwrap/mpiwrap/mpiwrap/nsexec"
	"github.com/mpiwrap/mpiwrap/mpiwrap/userdir"

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

func readMessage(fd int) ([]byte, error) {
	b, fds, err := readMessageFds(fd)
	for _, f := range fds {
		unix.Close(f)
	}
	return b, err
}

// readMessageFds is readMessage that also returns descriptors attached to
// the message's first bytes (close-on-exec).
func readMessageFds(fd int) ([]byte, []int, error) {
	var head [4]byte
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := unix.Recvmsg(fd, head[:], oob, unix.MSG_CMSG_CLOEXEC)
	for errors.Is(err, unix.EINTR) {
		n, oobn, _, _, err = unix.Recvmsg(fd, head[:], oob, unix.MSG_CMSG_CLOEXEC)
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
	b, err := readBody(fd, head, n)
	return b, fds, err
}

// readBody reads the rest of a message whose first n header bytes are in
// head.
func readBody(fd int, head [4]byte, n int) ([]byte, error) {
	if err := readFull(fd, head[n:]); err != nil {
		return nil, err
	}
	size := binary.NativeEndian.Uint32(head[:])
	if size > maxMessage {
		return nil, fmt.Errorf("message of %d bytes is too long", size)
	}
	b := make([]byte, size)
	return b, readFull(fd, b)
}

func decodeRequest(b []byte) (*request, error) {
	if len(b) < 12 || binary.NativeEndian.Uint32(b) != reqMagic {
		return nil, errors.New("bad request magic")
	}
	nargv := int(binary.NativeEndian.Uint32(b[4:]))
	nenv := int(binary.NativeEndian.Uint32(b[8:]))
	b = b[12:]
	var strs []string
	for i := 0; i < 2+nargv+nenv; i++ {
		if len(b) < 4 || uint64(len(b)-4) < uint64(binary.NativeEndian.Uint32(b)) {
			return nil, errors.New("truncated request")
		}
		n := binary.NativeEndian.Uint32(b)
		strs = append(strs, string(b[4:4+n]))
		b = b[4+n:]
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
