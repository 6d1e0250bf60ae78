// Package userdir picks the user's per-node directories, the rendezvous in
// /tmp and the node cache in /var/tmp, so that another user who takes a
// name there first can't stop the user's jobs.
//
// Each directory is the first of a series of names: /tmp/mpiwrap-UID, then
// /tmp/mpiwrap-UID.1 up to .7 (nsexec.h defines the length and the suffix;
// the rendezvous puts $XDG_RUNTIME_DIR/mpiwrap first when that is private).
// The one used is the first that is a private directory of ours: a
// directory, not a symlink (lstat), owned by us, with no group or other
// permission bits. Only when none is, the first that can be made as one is
// made. Entries of others are only ever looked at with lstat: never
// entered, locked, followed or removed.
//
// Why every rank of a job meets in one place without talking first: an
// entry that is ours stays ours (in sticky /tmp nobody else can remove or
// rename it, and mpiwrap removes a rendezvous directory only when empty,
// under its lock), while the entries of others may come and go. So a rank
// does not bet on one directory: it looks for its node's socket in every
// entry of ours, and a leader is elected holding the lock of every entry of
// ours (LockAll), checked again once all are held. Two electors then always
// share a lock, and the second finds the first one's socket; the C fast
// path (nsexec/userdir.c) does the same, and a test checks that both halves
// pick the same directory.
package userdir

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"strconv"
	"strings"

	"github.com/mpiwrap/mpiwrap/mpiwrap/nsexec"
	"golang.org/x/sys/unix"
)

// Series is the candidates of base: base, then base.1 to base.(Len-1).
func Series(base string) []string {
	dirs := []string{base}
	for i := 1; i < nsexec.SeriesLen; i++ {
		dirs = append(dirs, base+fmt.Sprintf(nsexec.SeriesSuffix, i))
	}
	return dirs
}

// Of is the series of prefix + uid (nsexec.CachePrefix, say).
func Of(prefix string, uid int) []string { return Series(prefix + strconv.Itoa(uid)) }

// Rendezvous is the candidates for the node rendezvous: xdg/mpiwrap when
// xdg ($XDG_RUNTIME_DIR) is a private directory of ours and short enough,
// then the series of prefix + uid.
func Rendezvous(prefix string, uid int, xdg string) []string {
	var dirs []string
	if xdg != "" && len(xdg) < nsexec.XDGMax && Private(xdg) {
		dirs = append(dirs, xdg+"/"+nsexec.XDGDir)
	}
	return append(dirs, Of(prefix, uid)...)
}

// Socket is where the rendezvous socket for a node key goes in dir: named
// by the FNV-1a hash of the key, as nsexec.h says.
func Socket(dir, key string) string {
	h := fnv.New64a()
	h.Write([]byte(key))
	return fmt.Sprintf("%s/%016x.sock", dir, h.Sum64())
}

func private(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFDIR && int(st.Uid) == os.Getuid() && st.Mode&0o077 == 0
}

// Private reports whether path is a directory of ours that nobody else can
// enter; a symlink never is.
func Private(path string) bool {
	var st unix.Stat_t
	return unix.Lstat(path, &st) == nil && private(&st)
}

// Find is the first of dirs that is a private directory of ours, or "".
func Find(dirs []string) string {
	for _, d := range dirs {
		if Private(d) {
			return d
		}
	}
	return ""
}

// Ensure is Find, but when none of dirs is ours it makes the first it can
// (mode 0700) and walks again: another rank may have made an earlier one
// meanwhile, and then both use that.
func Ensure(dirs []string) (string, error) {
	if d := Find(dirs); d != "" {
		return d, nil
	}
	var firstErr error
	for _, d := range dirs {
		err := os.Mkdir(d, 0o700)
		if (err == nil || errors.Is(err, os.ErrExist)) && Private(d) {
			break
		}
		if err != nil && !errors.Is(err, os.ErrExist) && firstErr == nil {
			firstErr = err
		}
	}
	if d := Find(dirs); d != "" {
		return d, nil
	}
	if firstErr != nil {
		return "", fmt.Errorf("make a directory of yours for mpiwrap: %w", firstErr)
	}
	return "", &TakenError{Dirs: dirs}
}

// Preview is what Ensure would pick, without making anything: the first of
// dirs that is ours, else the first that is missing (made is false then),
// else a *TakenError.
func Preview(dirs []string) (dir string, made bool, err error) {
	if d := Find(dirs); d != "" {
		return d, true, nil
	}
	for _, d := range dirs { // one lstat each: one may be made meanwhile
		var st unix.Stat_t
		switch err := unix.Lstat(d, &st); {
		case errors.Is(err, unix.ENOENT):
			return d, false, nil
		case err == nil && private(&st):
			return d, true, nil
		}
	}
	return "", false, &TakenError{Dirs: dirs}
}

// Skipped says why each of dirs before used was passed over, for -v: "" when
// none was.
func Skipped(dirs []string, used string) string {
	var why []string
	for _, d := range dirs {
		if d == used {
			break
		}
		if w := Why(d); w != "" {
			why = append(why, d+" "+w)
		}
	}
	if len(why) == 0 {
		return ""
	}
	return "skipped " + strings.Join(why, ", ")
}

// Why says what keeps path from being used: "" for a private directory of
// ours or a missing one.
func Why(path string) string {
	var st unix.Stat_t
	switch err := unix.Lstat(path, &st); {
	case errors.Is(err, unix.ENOENT):
		return ""
	case err != nil:
		return "(" + err.Error() + ")"
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return "(a symlink)"
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return "(not a directory)"
	case int(st.Uid) != os.Getuid():
		return fmt.Sprintf("(owned by uid %d)", st.Uid)
	case st.Mode&0o077 != 0:
		return fmt.Sprintf("(mode %04o, not 0700)", st.Mode&0o7777)
	}
	return ""
}

// TakenError is returned when no candidate can be ours.
type TakenError struct {
	Dirs []string
}

func (e *TakenError) Error() string {
	span := e.Dirs[0]
	if n := len(e.Dirs); n > 1 {
		span = fmt.Sprintf("%s to %s", e.Dirs[0], e.Dirs[n-1])
	}
	return fmt.Sprintf("none of %s is a directory of yours with mode 0700 or can be made as one (another user has taken them): ask the node's admin to remove them", span)
}

// Locked is the set of entries an elector holds.
type Locked struct {
	Dir string // the first entry of ours: where a new socket goes
	fds []int
}

// Unlock releases every lock.
func (l *Locked) Unlock() {
	for _, fd := range l.fds {
		unix.Close(fd)
	}
	l.fds = nil
}

// LockAll locks every entry of dirs that is ours, in order, making one when
// none is, and checks once all are held that the set is the same. An entry
// one elector holds can't go away (only its lock holder removes it) and is
// ours to every other, so two electors always share a lock.
func LockAll(dirs []string) (*Locked, error) {
	for attempt := 0; attempt < 16; attempt++ {
		if _, err := Ensure(dirs); err != nil {
			return nil, err
		}
		var ours []string
		for _, d := range dirs {
			if Private(d) {
				ours = append(ours, d)
			}
		}
		l := &Locked{}
		ok := len(ours) > 0
		for _, d := range ours {
			fd, err := Lock(d)
			if err != nil {
				ok = false
				break
			}
			l.fds = append(l.fds, fd)
		}
		for i, k := 0, 0; ok && i < len(dirs); i++ {
			mine := k < len(ours) && ours[k] == dirs[i]
			if mine {
				k++
			}
			ok = Private(dirs[i]) == mine
		}
		if ok {
			l.Dir = ours[0]
			return l, nil
		}
		l.Unlock()
	}
	return nil, fmt.Errorf("the rendezvous directories %s... keep changing", dirs[0])
}

// Lock takes an exclusive lock on directory dir, and checks that once held
// it is still the private directory at dir: another process may have
// removed it while we waited.
func Lock(dir string) (int, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", dir, err)
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	var a, b unix.Stat_t
	switch {
	case err != nil:
		err = fmt.Errorf("lock %s: %w", dir, err)
	case unix.Fstat(fd, &a) != nil || unix.Lstat(dir, &b) != nil || !private(&a) || a.Dev != b.Dev || a.Ino != b.Ino:
		err = fmt.Errorf("%s changed while we waited for its lock", dir)
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
