package mpiwrap

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/mpiwrap/mpiwrap/mpiwrap/nsexec"
	"golang.org/x/sys/unix"
)

// directJoin lets the ranks of a request shape the keeper has planned join
// without asking it (nsexec/direct.c, where it says why): it publishes each
// shape's reply next to the keeper's socket, keeps a holder process in the
// namespaces for the ranks' pidfds, and counts the ranks that joined by the
// bytes in a FIFO that nobody reads.
type directJoin struct {
	base    string // the socket's path without ".sock"
	size    int
	holder  *exec.Cmd
	release *os.File // its end closed, the holder leaves
	pid     int
	gen     uint64   // random: this keeper's, in the header and the holder's lock file
	joined  int      // the count FIFO, where the keeper counts the ranks it answers too
	done    *os.File // the FIFO the last rank writes to (read in the poller; open for writing too, it never ends)
	records []byte
	nrec    uint32
}

// startDirect sets up the direct join into the namespaces nsfds for size
// local ranks, sock being the keeper's socket, already counting the
// joined ranks. It returns nil where ranks can't be offered it: a size
// unknown, a kernel without pidfds, or a holder that did not start; the
// socket serves them all then, as before. (Before Linux 5.8, setns can't
// take a pidfd: there ranks find the file but fall back to the socket.)
func startDirect(sock string, size, joined int, nsfds []int, rank string) *directJoin {
	if size <= 0 || !strings.HasSuffix(sock, ".sock") || len(nsfds) != 2 || !pidfdsWork() {
		return nil
	}
	d := &directJoin{base: strings.TrimSuffix(sock, ".sock"), size: size, joined: -1}
	if err := d.start(nsfds, rank); err != nil {
		d.removeFiles()
		d.stop()
		return nil
	}
	for range joined {
		d.addJoined()
	}
	return d
}

func pidfdsWork() bool {
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

func (d *directJoin) start(nsfds []int, rank string) error {
	var err error
	for _, fifo := range []string{d.base + nsexec.JoinedSuffix, d.base + nsexec.DoneSuffix} {
		os.Remove(fifo) // a killed keeper's
		if err := unix.Mkfifo(fifo, 0o600); err != nil {
			return err
		}
	}
	// Opened for reading and writing, as the ranks open them: a FIFO
	// open so neither waits for the other end nor loses it.
	if d.joined, err = unix.Open(d.base+nsexec.JoinedSuffix, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err != nil {
		return err
	}
	done, err := unix.Open(d.base+nsexec.DoneSuffix, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	d.done = os.NewFile(uintptr(done), "done") // nonblocking: in the poller
	return d.startHolder(nsfds, rank)
}

// startHolder starts the process that sits in the namespaces: the C stage,
// told to join them and stay until release closes (so that it ends with
// the keeper however that ends). It inherits the lock file, locked, which
// holds this keeper's generation: the lock lasts as long as the holder,
// and with the generation tells a rank that the published pid is still
// the holder's. It has no stdio: a launcher waits for every holder of a
// rank's output.
func (d *directJoin) startHolder(nsfds []int, rank string) error {
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	lockPath := d.base + nsexec.HolderSuffix
	os.Remove(lockPath) // a killed keeper's
	lock, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	files = append(files, lock)
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return err
	}
	var gen [8]byte
	if _, err := rand.Read(gen[:]); err != nil {
		return err
	}
	if _, err := lock.Write(gen[:]); err != nil {
		return err
	}
	d.gen = binary.NativeEndian.Uint64(gen[:])
	for _, fd := range nsfds {
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			return err
		}
		files = append(files, os.NewFile(uintptr(dup), "ns"))
	}
	ready, readyW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer ready.Close()
	releaseR, release, err := os.Pipe()
	if err != nil {
		readyW.Close()
		return err
	}
	files = append(files, readyW, releaseR)
	d.release = release
	ops := &nsexec.Plan{}
	ops.Setns(4, 5) // 3 is the lock, kept
	ops.Hold(6, 7)
	cmd, err := startApply(ops, rank, nil, nil, files...)
	if err != nil {
		return err
	}
	d.holder = cmd
	for _, f := range files {
		f.Close()
	}
	files = nil
	if n, err := ready.Read(make([]byte, 1)); n != 1 {
		return errors.Join(errors.New("the namespace holder did not start"), err)
	}
	d.pid = cmd.Process.Pid
	return nil
}

// publish adds a shape's reply (the plan after its log label) to the
// published file, written whole and renamed into place so that a rank
// reads the old file or the new one. A file that would reach
// nsexec.ShapesMax keeps what it has: a rank reads the file into a buffer
// of that size, and a larger one would turn every rank to the socket.
func (d *directJoin) publish(shape, rankVar, image string, reply []byte) error {
	records := appendStr(appendStr(appendStr(appendStr(d.records, shape), rankVar), image), string(reply))
	var b []byte
	for _, v := range []uint32{nsexec.ShapesMagic, uint32(d.size), uint32(d.pid), 0} {
		b = binary.NativeEndian.AppendUint32(b, v)
	}
	b = binary.NativeEndian.AppendUint64(b, d.gen)
	b = binary.NativeEndian.AppendUint32(b, d.nrec+1)
	b = append(b, records...)
	if len(b) >= nsexec.ShapesMax {
		return nil
	}
	tmp := d.base + nsexec.ShapesSuffix + ".tmp"
	os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, d.base+nsexec.ShapesSuffix)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	d.records, d.nrec = records, d.nrec+1
	return nil
}

// count is how many ranks have joined: the bytes in the FIFO.
func (d *directJoin) count() int {
	n, err := unix.IoctlGetInt(d.joined, unix.TIOCINQ) // FIONREAD
	if err != nil {
		return 0
	}
	return n
}

// addJoined counts a rank the keeper answered.
func (d *directJoin) addJoined() { unix.Write(d.joined, []byte{'k'}) }

// watch calls wake each time a rank writes to the done FIFO, until stop.
func (d *directJoin) watch(wake func()) {
	buf := make([]byte, 64)
	for {
		if _, err := d.done.Read(buf); err != nil {
			return
		}
		wake()
	}
}

// removeFiles takes the published file and the FIFOs away, so that no
// rank joins through them any more; the keeper calls it under the
// directory's lock, as it removes its socket.
func (d *directJoin) removeFiles() {
	for _, s := range directSuffixes {
		os.Remove(d.base + s)
	}
}

// stop releases the holder and closes everything. The files are the
// keeper's cleanup's to remove: by now they may be another keeper's.
func (d *directJoin) stop() {
	if d == nil {
		return
	}
	if d.joined >= 0 {
		unix.Close(d.joined)
	}
	if d.done != nil {
		d.done.Close()
	}
	if d.release != nil {
		d.release.Close()
	}
	if d.holder != nil {
		d.holder.Wait()
	}
}

// directSuffixes are the names sweepStale removes with a stale socket.
var directSuffixes = []string{nsexec.ShapesSuffix, nsexec.ShapesSuffix + ".tmp", nsexec.JoinedSuffix, nsexec.DoneSuffix, nsexec.HolderSuffix}

// sweepDirect removes what a killed keeper left of its direct join in dir:
// the files whose socket is gone.
func sweepDirect(dir string) {
	for _, s := range directSuffixes {
		found, _ := filepath.Glob(filepath.Join(dir, "*"+s))
		for _, f := range found {
			base := strings.TrimSuffix(f, s)
			if _, err := os.Lstat(base + ".sock"); errors.Is(err, os.ErrNotExist) {
				os.Remove(f)
			}
		}
	}
}
