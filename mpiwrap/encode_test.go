package mpiwrap

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/mpiwrap/nsexec"
	"github.com/mpiwrap/mpiwrap/mpiwrap/plan"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run %s -update writes it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from what the code encodes now (-update rewrites it):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// encodePlan is a plan with one mount of every kind.
func encodePlan(kind plan.ImageKind) *plan.Plan {
	farm := &plan.Farm{Stage: "inject", Dirs: []string{"lib", "host"},
		Links: [][2]string{{"lib/libmpich.so.12", "/.mpiwrap/host/usr/lib/libmpich.so.12"}}}
	return &plan.Plan{
		Image:   plan.Image{Path: "/images/img", Kind: kind, Squashfuse: "/usr/bin/squashfuse_ll"},
		Overlay: true,
		Mounts: []plan.Mount{
			{Src: "/dev", Dst: "/dev", Dir: true, Recursive: true},
			{Src: "/tmp", Dst: "/tmp", Dir: true, NoSuidDev: true},
			{Src: "/etc/hosts", Dst: "/etc/hosts", ReadOnly: true, NoSuidDev: true, Optional: true},
			{Dst: plan.InjectRoot, Dir: true, ReadOnly: true, NoSuidDev: true, Farm: farm},
			{Src: "/usr/lib", Dst: plan.HostView + "/usr/lib", Dir: true, ReadOnly: true, NoSuidDev: true},
			{Src: "/", Dst: "/host", Dir: true, Recursive: true, NoSuidDev: true},
			{Dst: "/host/tmp", Dir: true, Detach: true},
			{Dst: "/etc/passwd", ReadOnly: true, NoSuidDev: true, Content: []byte("u:x:1000:1000::/home/u:/bin/sh\n")},
		},
		ExtraTargets: []string{"/etc/ld.so.cache"},
		Env:          &plan.Env{Vars: []string{"PATH=/usr/bin:/bin", "HOME=/home/u"}},
		Argv:         []string{"/opt/app/solver", "-n", "4"},
		Cwd:          "/home/u/run",
	}
}

// What the C half is asked to do for a plan, step by step: the order of
// opens (before the staging tmpfs covers /tmp), precreates, binds and the
// flags of each.
func TestEncodeGolden(t *testing.T) {
	for _, tt := range []struct {
		name string
		kind plan.ImageKind
		fuse int
	}{{"encode-dir.golden", plan.ImageDir, -1}, {"encode-squashfs.golden", plan.ImageSquashFS, 7}} {
		t.Run(tt.name, func(t *testing.T) {
			p := encodePlan(tt.kind)
			ops := &nsexec.Plan{}
			encodeSetup(ops, p, "3", true, tt.fuse)
			encodeCommand(ops, p)
			got, err := nsexec.Dump(ops.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name, got)
		})
	}
}

// --net=none: each rank enters a private network just before its command.
func TestEncodeNetNone(t *testing.T) {
	p := encodePlan(plan.ImageDir)
	p.NoNet = true
	ops := &nsexec.Plan{}
	encodeCommand(ops, p)
	got, err := nsexec.Dump(ops.Bytes())
	if err != nil || !strings.HasPrefix(got, "net-none\nchdir ") {
		t.Fatalf("got %q, %v", got, err)
	}
}
