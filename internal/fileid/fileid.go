// Package fileid names one version of a file cheaply, in the text form the
// plan cache records and the C replay (mpiwrap/nsexec/plancache.c,
// file_identity and file_type) recomputes: a drift between the two only
// makes every cached plan miss, so a test in mpiwrap/nodecache checks that
// C accepts what Go writes.
package fileid

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Missing is the identity of a path that does not exist.
const Missing = "missing"

// Of is the full identity of the file at path (following symlinks):
// device, inode, size, modification and change times and mode. Planning
// records it for files whose contents it read.
func Of(path string) string {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return Missing
	}
	return fmt.Sprintf("%d:%d:%d:%d.%09d:%d.%09d:%o", st.Dev, st.Ino, st.Size,
		st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec, st.Mode)
}

// Kind is the weaker identity of a bind source: a plan depends on its
// existence and kind, not on its contents (a /tmp whose mtime changes all
// the time must not defeat the cache).
func Kind(path string) string {
	var st unix.Stat_t
	switch {
	case unix.Stat(path, &st) != nil:
		return "type:missing"
	case st.Mode&unix.S_IFMT == unix.S_IFDIR:
		return "type:dir"
	case st.Mode&unix.S_IFMT == unix.S_IFREG:
		return "type:file"
	}
	return "type:other"
}
