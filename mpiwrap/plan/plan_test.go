package plan

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testImage makes a minimal directory image.
func testImage(t *testing.T, dirs ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range append([]string{"etc", "dev", "proc", "sys", "tmp", "bin"}, dirs...) {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\nu:x:1000:1000:old:/home/u:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\nusers:x:100:\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/hosts"), nil, 0o644)
	os.WriteFile(filepath.Join(root, "etc/resolv.conf"), nil, 0o644)
	os.WriteFile(filepath.Join(root, "bin/sh"), nil, 0o755)
	return root
}

// dirOutsideTmp is a temporary directory that the /tmp bind doesn't cover.
func dirOutsideTmp(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("/var/tmp", "mpiwrap-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func testHost(home, cwd string) *Host {
	return &Host{UID: 1000, GID: 1000, User: "alice", Gecos: "Alice", Shell: "/bin/sh",
		Groups: []Group{{1000, "alice"}, {100, "users"}}, Home: home, Cwd: cwd,
		Env: []string{"PATH=/usr/bin:/bin", "HOME=" + home}}
}

func TestNewPlanMounts(t *testing.T) {
	img := testImage(t)
	home := dirOutsideTmp(t)
	work := filepath.Join(home, "work")
	os.Mkdir(work, 0o755)
	data := dirOutsideTmp(t)
	spec := &Spec{Image: img, Command: []string{"./solver"},
		Binds: []BindSpec{{Src: data, Dst: "/data", ReadOnly: true}}}
	p, err := New(spec, testHost(home, work))
	if err != nil {
		t.Fatal(err)
	}
	var dsts []string
	for _, m := range p.Mounts {
		dsts = append(dsts, m.Dst)
	}
	want := []string{"/dev", "/proc", "/sys", "/tmp", "/etc/hosts", "/etc/resolv.conf", home, "/data", "/etc/passwd", "/etc/group"}
	if !slices.Equal(dsts, want) {
		t.Fatalf("mounts %q\nwant   %q", dsts, want)
	}
	if p.Cwd != work {
		t.Errorf("cwd %q, want %q (inside the home bind)", p.Cwd, work)
	}
	if !p.Overlay || !strings.Contains(p.OverlayWhy, "/data") {
		t.Errorf("overlay %v (%s): /data and the home are missing in the image", p.Overlay, p.OverlayWhy)
	}
	if m := p.Mounts[7]; !m.ReadOnly || !m.NoSuidDev || !m.Dir {
		t.Errorf("/data mount %+v: want read-only, nosuid, nodev dir", m)
	}
}

func TestNewPlanCwd(t *testing.T) {
	img := testImage(t, "usr/src")
	home, other := dirOutsideTmp(t), dirOutsideTmp(t)
	tests := []struct {
		name    string
		spec    Spec
		cwd     string
		wantCwd string
		bound   bool
		warn    bool
	}{
		{"own dir is bound", Spec{}, other, other, true, false},
		{"no-cwd", Spec{NoCwd: true}, other, "/", false, false},
		{"system dir not bound", Spec{}, "/usr/src", "/", false, true},
		{"under /tmp", Spec{}, "/tmp", "/tmp", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Image, tt.spec.Command = img, []string{"true"}
			p, err := New(&tt.spec, testHost(home, tt.cwd))
			if err != nil {
				t.Fatal(err)
			}
			bound := slices.ContainsFunc(p.Mounts, func(m Mount) bool { return m.Src == tt.cwd && m.Why != "default" })
			if p.Cwd != tt.wantCwd || bound != tt.bound || (len(p.Warnings) > 0) != tt.warn {
				t.Fatalf("cwd %q bound %v warnings %q", p.Cwd, bound, p.Warnings)
			}
		})
	}
}

func TestNewPlanErrors(t *testing.T) {
	img := testImage(t)
	file := filepath.Join(t.TempDir(), "notanimage")
	os.WriteFile(file, []byte("not squashfs"), 0o644)
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"missing image", Spec{Image: "/nonexistent/img", Command: []string{"true"}}, "does not exist"},
		{"not an image", Spec{Image: file, Command: []string{"true"}}, "neither a directory nor a SquashFS"},
		{"no command", Spec{Image: img}, "no command given"},
		{"missing bind source", Spec{Image: img, Command: []string{"true"}, Binds: []BindSpec{{Src: "/nonexistent/src", Dst: "/x"}}}, "bind source /nonexistent/src does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(&tt.spec, testHost(t.TempDir(), "/tmp"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestAccounts(t *testing.T) {
	img := testImage(t)
	pw, gr, _ := Accounts(Image{Path: img, Kind: ImageDir}, testHost("/home/alice", "/"))
	wantPW := "root:x:0:0:root:/root:/bin/sh\n_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\n"
	if string(pw) != wantPW {
		t.Errorf("passwd:\n%s\nwant:\n%s", pw, wantPW)
	}
	wantGR := "root:x:0:\nalice:x:1000:alice\nusers:x:100:alice\n"
	if string(gr) != wantGR {
		t.Errorf("group:\n%s\nwant:\n%s", gr, wantGR)
	}
}

func TestJoinDecision(t *testing.T) {
	tests := []struct {
		name   string
		spec   Spec
		l      Launcher
		shared bool
		size   int
	}{
		{"no launcher", Spec{}, Launcher{LocalSize: -1}, false, 0},
		{"no-join", Spec{NoJoin: true}, Launcher{Step: "s", LocalSize: 4}, false, 0},
		{"alone on node", Spec{}, Launcher{Step: "s", LocalSize: 1}, false, 0},
		{"four local", Spec{}, Launcher{Step: "s", LocalSize: 4}, true, 4},
		{"unknown size", Spec{}, Launcher{Step: "s", LocalSize: -1}, true, 0},
		{"join key", Spec{JoinKey: "k", JoinSize: 3}, Launcher{}, true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := planJoin(&tt.spec, tt.l)
			if j.Shared != tt.shared || j.Size != tt.size || j.Why == "" {
				t.Fatalf("got %+v", j)
			}
		})
	}
}

func TestMountInputs(t *testing.T) {
	a := &Spec{Image: "/img", Binds: []BindSpec{{Src: "/a", Dst: "/a"}}}
	b := &Spec{Image: "/img", Binds: []BindSpec{{Src: "/a", Dst: "/a"}}, EnvEdits: []EnvEdit{{Op: "set", Name: "X"}}, Command: []string{"other"}}
	env := []string{"HOME=/h", "PMI_RANK=1"}
	if MountInputs(a, env, "/w") != MountInputs(b, []string{"HOME=/h", "PMI_RANK=2", "X=y"}, "/w") {
		t.Error("env edits, rank variables and the command must not change the mount inputs")
	}
	if MountInputs(a, env, "/w") == MountInputs(a, env, "/elsewhere") {
		t.Error("the working directory is bound, so it must change the inputs")
	}
	if MountInputs(a, env, "/w") == MountInputs(a, append(env, "PMIX_SERVER_TMPDIR=/var/spool/x"), "/w") {
		t.Error("PMIx directories are bound, so they must change the inputs")
	}
	nocwd := &Spec{Image: "/img", NoCwd: true}
	if MountInputs(nocwd, env, "/w") != MountInputs(nocwd, env, "/elsewhere") {
		t.Error("with --no-cwd the working directory must not matter")
	}
}

// An image whose /dev is a symlink (here into /tmp) would get the host's
// /dev bound at the link's target and then hidden: refused.
func TestImageKernelTreeSymlinkRefused(t *testing.T) {
	img := testImage(t)
	os.Remove(filepath.Join(img, "dev"))
	os.Symlink("tmp", filepath.Join(img, "dev"))
	_, err := New(&Spec{Image: img, Command: []string{"true"}, NoCwd: true}, testHost("/nonexistent", "/"))
	if err == nil || !strings.Contains(err.Error(), "its /dev is a symlink (to tmp)") {
		t.Fatalf("got %v", err)
	}
}
