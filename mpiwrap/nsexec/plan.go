package nsexec

/*
#include "nsexec.h"
*/
import "C"

import (
	"encoding/binary"
	"strconv"
)

// Plan is an encoded list of steps for the C half. Build it with the methods
// below, in the order the steps must run.
type Plan struct{ b []byte }

func (p *Plan) op(op C.int, args ...string) {
	p.b = binary.NativeEndian.AppendUint32(p.b, uint32(op))
	p.b = binary.NativeEndian.AppendUint32(p.b, uint32(len(args)))
	for _, a := range args {
		p.b = binary.NativeEndian.AppendUint32(p.b, uint32(len(a)))
		p.b = append(p.b, a...)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func btoa(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Bytes is the encoded plan.
func (p *Plan) Bytes() []byte { return p.b }

// Append adds an already encoded plan.
func (p *Plan) Append(b []byte) { p.b = append(p.b, b...) }

// Log sets what error messages name: the rank and the image.
func (p *Plan) Log(rank string, verbose bool, image string) {
	p.op(C.OP_LOG, rank, btoa(verbose), image)
}

// Unshare enters a new user and mount namespace with the caller's ids mapped
// to themselves, and makes every mount private.
func (p *Plan) Unshare() { p.op(C.OP_UNSHARE) }

// Setns joins the namespaces behind two inherited descriptors.
func (p *Plan) Setns(userFd, mntFd int) { p.op(C.OP_SETNS, itoa(userFd), itoa(mntFd)) }

// Open takes an O_PATH handle on a host path into slot. It must follow
// Unshare: mounts can only be bound from the caller's own namespace.
func (p *Plan) Open(slot int, path string) { p.op(C.OP_OPEN, itoa(slot), path) }

// Stage mounts the private staging tmpfs over /tmp; host paths under /tmp
// must be opened before it.
func (p *Plan) Stage() { p.op(C.OP_STAGE) }

// StageMkdir makes a directory in the staging tmpfs.
func (p *Plan) StageMkdir(rel string) { p.op(C.OP_STAGE_MKDIR, rel) }

// StageWrite writes a generated file into the staging tmpfs.
func (p *Plan) StageWrite(rel string, mode uint32, data []byte) {
	p.op(C.OP_STAGE_WRITE, rel, strconv.FormatUint(uint64(mode), 8), string(data))
}

// StageLink makes a symlink in the staging tmpfs.
func (p *Plan) StageLink(rel, target string) { p.op(C.OP_STAGE_LINK, rel, target) }

// StageFd takes an O_PATH handle on a staged file into slot.
func (p *Plan) StageFd(slot int, rel string) { p.op(C.OP_STAGE_FD, itoa(slot), rel) }

// Fuse mounts /dev/fuse for a SquashFS image and sends the descriptor over
// sockFd to the squashfuse helper.
func (p *Plan) Fuse(sockFd int, image, subtype string) {
	p.op(C.OP_FUSE, itoa(sockFd), image, subtype)
}

// Precreate makes dst (a directory, or a file when !dir) in the overlay's
// upper layer if the image (slot, or the FUSE mount when slot < 0) lacks it.
func (p *Plan) Precreate(slot int, dst string, dir bool) {
	lower, kind := "-", "f"
	if slot >= 0 {
		lower = itoa(slot)
	}
	if dir {
		kind = "d"
	}
	p.op(C.OP_PRECREATE, lower, dst, kind)
}

// Root mounts the image (slot, or the FUSE mount when slot < 0) as the new
// root, under a tmpfs overlay when mount points must be made.
func (p *Plan) Root(slot int, overlay bool) {
	lower := "-"
	if slot >= 0 {
		lower = itoa(slot)
	}
	p.op(C.OP_ROOT, lower, btoa(overlay))
}

// Bind mounts slot at dst inside the root, making dst if missing, and then
// adds the mount flags in flags (MS_RDONLY, MS_NOSUID, MS_NODEV).
func (p *Plan) Bind(slot int, dst string, dir, rec bool, flags uintptr, optional bool) {
	kind := "f"
	if dir {
		kind = "d"
	}
	p.op(C.OP_BIND, itoa(slot), dst, kind, btoa(rec), strconv.FormatUint(uint64(flags), 10), btoa(optional))
}

// RemountRoot adds flags to the root mount.
func (p *Plan) RemountRoot(flags uintptr) {
	p.op(C.OP_REMOUNT_ROOT, strconv.FormatUint(uint64(flags), 10))
}

// Detach lazily unmounts dst inside the root.
func (p *Plan) Detach(dst string) { p.op(C.OP_DETACH, dst) }

// Pivot makes the root the process's root and drops the host's tree.
func (p *Plan) Pivot() { p.op(C.OP_PIVOT) }

// SendNS sends the user and mount namespace descriptors over sockFd.
func (p *Plan) SendNS(sockFd int) { p.op(C.OP_SENDNS, itoa(sockFd)) }

// Chdir enters a directory inside the container.
func (p *Plan) Chdir(path string) { p.op(C.OP_CHDIR, path) }

// Exec replaces the process with argv, searching PATH from env; image names
// the image in a "command not found" message.
func (p *Plan) Exec(image string, argv, env []string) {
	args := append([]string{image, itoa(len(argv))}, argv...)
	p.op(C.OP_EXEC, append(args, env...)...)
}

// Inherit uses an inherited descriptor as a bind source in slot.
func (p *Plan) Inherit(slot, fd int) { p.op(C.OP_INHERIT, itoa(slot), itoa(fd)) }

// RootHere makes the current root (after Setns) the root later binds
// resolve in.
func (p *Plan) RootHere() { p.op(C.OP_ROOT_HERE) }

// Env runs the environment program steps (kind, name, value, separator
// each) on the process's own environment, for ExecEnv.
func (p *Plan) Env(steps [][4]string) {
	args := make([]string, 0, 4*len(steps))
	for _, s := range steps {
		args = append(args, s[:]...)
	}
	p.op(C.OP_ENV, args...)
}

// ExecEnv is Exec with the environment that Env made.
func (p *Plan) ExecEnv(image string, argv []string) {
	p.op(C.OP_EXEC_ENV, append([]string{image, itoa(len(argv))}, argv...)...)
}

// NetNone gives the process a private network namespace with only
// loopback, inside the container's user namespace.
func (p *Plan) NetNone() { p.op(C.OP_NET_NONE) }

// Hold writes a byte to readyFd, then keeps the process (in the namespaces
// a Setns before it joined) until the other end of waitFd closes.
func (p *Plan) Hold(readyFd, waitFd int) { p.op(C.OP_HOLD, itoa(readyFd), itoa(waitFd)) }

// Return ends the plan and lets the Go runtime start, inside the namespaces.
func (p *Plan) Return() { p.op(C.OP_RETURN) }
