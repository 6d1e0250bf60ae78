package profile

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/internal/testreq"
	"golang.org/x/sys/unix"
)

// fakeDriverTree lays out a host root the way an NVIDIA driver install
// does: driver libraries with the driver version in their file names
// (one of them outside the standard paths, under /usr/local/nvidia),
// nvidia-smi, and the device nodes. The libraries are real ELF objects
// built here with the driver's sonames.
func fakeDriverTree(t *testing.T) string {
	t.Helper()
	testreq.Require(t, os.Geteuid() == 0, "root (mknod for the fake device nodes)")
	_, err := exec.LookPath("gcc")
	testreq.Require(t, err == nil, "gcc")
	root := t.TempDir()
	src := filepath.Join(root, "fake.c")
	write(t, src, "int cuInit(unsigned f){(void)f;return 0;}\n")
	multiarch := "x86_64-linux-gnu"
	libs := map[string]string{ // soname -> directory
		"libcuda.so.1":                  "/usr/lib/" + multiarch,
		"libnvidia-ml.so.1":             "/usr/lib/" + multiarch,
		"libnvidia-ptxjitcompiler.so.1": "/usr/local/nvidia/lib64", // outside the standard paths
		"libnvidia-nvvm.so.4":           "/usr/local/nvidia/lib64",
	}
	for soname, dir := range libs {
		d := filepath.Join(root, dir)
		os.MkdirAll(d, 0o755)
		real := strings.SplitN(soname, ".so.", 2)[0] + ".so.550.54.14"
		out, err := exec.Command("gcc", "-shared", "-fPIC", "-Wl,-soname,"+soname, "-o", filepath.Join(d, real), src).CombinedOutput()
		if err != nil {
			t.Fatalf("build %s: %v %s", soname, err, out)
		}
		os.Symlink(real, filepath.Join(d, soname))
	}
	write(t, filepath.Join(root, "usr/bin/nvidia-smi"), "#!/bin/sh\n")
	os.Chmod(filepath.Join(root, "usr/bin/nvidia-smi"), 0o755)
	os.MkdirAll(filepath.Join(root, "dev"), 0o755)
	for _, dev := range []string{"nvidiactl", "nvidia0", "nvidia-uvm"} {
		if err := unix.Mknod(filepath.Join(root, "dev", dev), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
			t.Fatalf("mknod %s: %v", dev, err)
		}
	}
	// The host's ld.so.cache knows the standard directory only.
	write(t, filepath.Join(root, "etc/ld.so.conf"), "/usr/lib/"+multiarch+"\n")
	if out, err := exec.Command("ldconfig", "-r", root).CombinedOutput(); err != nil {
		t.Fatalf("ldconfig -r: %v %s", err, out)
	}
	return root
}

// The built-in nvidia profile on a fake driver tree: libraries by soname
// from the cache and from its extra search directories, nvidia-smi, the
// device nodes, and only optional items missing.
func TestBuiltinNvidiaOnFakeTree(t *testing.T) {
	root := fakeDriverTree(t)
	set, err := Load(Roots{})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := set.Get("nvidia")
	host, err := NewHost(root)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Resolve([]*Profile{p}, host, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Err(); err != nil {
		t.Fatalf("required items missing on a complete driver tree: %v", err)
	}
	got := map[string]string{}
	for _, f := range res.Files {
		got[f.Dest] = f.Real
	}
	for dest, real := range map[string]string{
		"/.mpiwrap/lib/libcuda.so.1":                  "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14",
		"/.mpiwrap/lib/libnvidia-ml.so.1":             "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.14",
		"/.mpiwrap/lib/libnvidia-ptxjitcompiler.so.1": "/usr/local/nvidia/lib64/libnvidia-ptxjitcompiler.so.550.54.14",
		"/.mpiwrap/lib/libnvidia-nvvm.so.4":           "/usr/local/nvidia/lib64/libnvidia-nvvm.so.550.54.14",
		"/usr/bin/nvidia-smi":                         "/usr/bin/nvidia-smi",
	} {
		if got[dest] != real {
			t.Errorf("%s <- %q, want %q", dest, got[dest], real)
		}
	}
	devs := map[string]bool{}
	for _, d := range res.Devices {
		devs[d.Dest] = true
	}
	for _, d := range []string{"/dev/nvidiactl", "/dev/nvidia0", "/dev/nvidia-uvm"} {
		if !devs[d] {
			t.Errorf("device %s not injected (got %v)", d, res.Devices)
		}
	}
	for _, m := range res.Missing {
		if m.Required {
			t.Errorf("required item missing: %+v", m)
		}
	}
}

// Without the device node the profile is refused, naming the file:line.
func TestBuiltinNvidiaMissingDevice(t *testing.T) {
	root := fakeDriverTree(t)
	os.Remove(filepath.Join(root, "dev/nvidiactl"))
	set, _ := Load(Roots{})
	p, _ := set.Get("nvidia")
	host, _ := NewHost(root)
	res, err := Resolve([]*Profile{p}, host, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Err(); err == nil || !strings.Contains(err.Error(), "/dev/nvidiactl") || !strings.Contains(err.Error(), "nvidia.toml:") {
		t.Fatalf("want a refusal naming /dev/nvidiactl and nvidia.toml:LINE, got %v", err)
	}
}
