package mpiwrap

import (
	"path/filepath"

	"github.com/mpiwrap/mpiwrap/mpiwrap/nsexec"
	"github.com/mpiwrap/mpiwrap/mpiwrap/plan"
	"golang.org/x/sys/unix"
)

// mountFlags turns a mount's restrictions into mount(2) flags.
func mountFlags(m plan.Mount) uintptr {
	var f uintptr
	if m.ReadOnly {
		f |= unix.MS_RDONLY
	}
	if m.NoSuidDev {
		f |= unix.MS_NOSUID | unix.MS_NODEV
	}
	return f
}

// rootFlags: the image is mounted read-only, nosuid and nodev, always.
const rootFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV

// encodeSetup encodes the steps that build the container's namespace, up to
// and including pivot_root. Host paths are opened right after unshare and
// before the staging tmpfs covers /tmp, so sources under /tmp stay reachable.
// fuseSock is the socket to the squashfuse helper (SquashFS only).
func encodeSetup(ops *nsexec.Plan, p *plan.Plan, rank string, verbose bool, fuseSock int) {
	ops.Log(rank, verbose, p.Image.Path)
	ops.Unshare()
	imageSlot := -1
	slots := make([]int, len(p.Mounts))
	next := 0
	if p.Image.Kind == plan.ImageDir {
		imageSlot, next = 0, 1
		ops.Open(imageSlot, p.Image.Path)
	}
	for i, m := range p.Mounts {
		if m.Src != "" {
			slots[i] = next
			ops.Open(next, m.Src)
			next++
		}
	}
	ops.Stage()
	ops.StageMkdir("files")
	for i, m := range p.Mounts {
		switch {
		case m.Content != nil:
			rel := "files/" + filepath.Base(m.Dst)
			ops.StageWrite(rel, 0o644, m.Content)
			slots[i] = next
			ops.StageFd(next, rel)
			next++
		case m.Farm != nil:
			encodeFarm(ops, m.Farm)
			slots[i] = next
			ops.StageFd(next, m.Farm.Stage)
			next++
		}
	}
	if p.Image.Kind == plan.ImageSquashFS {
		ops.Fuse(fuseSock, p.Image.Path, filepath.Base(p.Image.Squashfuse))
	}
	if p.Overlay {
		for i, m := range p.Mounts {
			if !m.Detach && !plan.NestedIn(p.Mounts[:i], m.Dst) {
				ops.Precreate(imageSlot, m.Dst, m.Dir)
			}
		}
		for _, t := range p.ExtraTargets {
			ops.Precreate(imageSlot, t, false)
		}
	}
	ops.Root(imageSlot, p.Overlay)
	for i, m := range p.Mounts {
		if m.Detach {
			ops.Detach(m.Dst)
			continue
		}
		ops.Bind(slots[i], m.Dst, m.Dir, m.Recursive, mountFlags(m), m.Optional)
	}
	ops.RemountRoot(rootFlags)
	ops.Pivot()
}

// encodeCommand encodes the steps that start the rank's command inside,
// with the environment the plan computed (the keeper's answer to a rank).
func encodeCommand(ops *nsexec.Plan, p *plan.Plan) {
	encodeEntry(ops, p)
	ops.Exec(p.Image.Path, p.Argv, p.Env.Vars)
}

// encodeOwnCommand is encodeCommand for a rank that applies its own plan:
// its environment program runs on its own environment at exec time, so the
// plan can be cached and replayed under another environment.
func encodeOwnCommand(ops *nsexec.Plan, p *plan.Plan) {
	encodeEntry(ops, p)
	steps := make([][4]string, len(p.Env.Program))
	for i, s := range p.Env.Program {
		steps[i] = [4]string{string(s.Kind), s.Name, s.Value, s.Sep}
	}
	ops.Env(steps)
	ops.ExecEnv(p.Image.Path, p.Argv)
}

func encodeEntry(ops *nsexec.Plan, p *plan.Plan) {
	if p.NoNet { // per rank: the ranks of a node meet through shared memory
		ops.NetNone()
	}
	ops.Chdir(p.Cwd)
}

// encodeFarm builds the injected tree in the staging tmpfs.
func encodeFarm(ops *nsexec.Plan, f *plan.Farm) {
	ops.StageMkdir(f.Stage)
	for _, d := range f.Dirs {
		ops.StageMkdir(f.Stage + "/" + d)
	}
	for _, l := range f.Links {
		ops.StageLink(f.Stage+"/"+l[0], l[1])
	}
}
