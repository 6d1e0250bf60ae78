package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/hostlib/ldcache"
	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

// ldcacheLog counts the ld.so cache builds logged on this node for a.
func ldcacheLog(a account) int {
	data, _ := os.ReadFile(fmt.Sprintf("/var/tmp/mpiwrap-%d/ldcache.log", a.uid))
	return strings.Count(string(data), "built ld.so cache")
}

// freshCache removes a's node cache, so the next run builds.
func freshCache(t *testing.T, a account) {
	t.Helper()
	os.RemoveAll(fmt.Sprintf("/var/tmp/mpiwrap-%d/ldcache", a.uid))
}

func hostLibmpich(t *testing.T) string {
	t.Helper()
	real, err := filepath.EvalSymlinks("/usr/lib/x86_64-linux-gnu/libmpich.so.12")
	testreq.Require(t, err == nil, "host MPICH (libmpich12)")
	return real
}

// The host MPI wins over the image's own copy, in every rank; the cache is
// built once per node and reused; the image is unchanged.
func TestInjectHostMPICH(t *testing.T) {
	testreq.Require(t, have("mpiexec.mpich"), "mpiexec.mpich")
	img := debian(t, "bookworm")
	real := hostLibmpich(t)
	var st syscall.Stat_t
	syscall.Stat(real, &st)
	before := treeHash(t, img)
	forEach(t, func(t *testing.T, a account) {
		freshCache(t, a)
		id := must(t, mpiwrap(t, a, nil, "--profile", "mpich,verbs", img, "stat", "-L", "-c", "%d:%i", "/.mpiwrap/lib/libmpich.so.12"))
		if strings.TrimSpace(id.stdout) != fmt.Sprintf("%d:%d", st.Dev, st.Ino) {
			t.Fatalf("in-container libmpich is %s, host file is %d:%d", id.stdout, st.Dev, st.Ino)
		}
		builds := ldcacheLog(a)
		r := must(t, runAs(t, a, work, nil, 120*time.Second, "mpiexec.mpich", "-n", "4", bin,
			"--profile", "mpich,verbs", img, "/opt/mpiwrap-test/mpich/hello", "maps"))
		if !strings.Contains(r.stdout, helloOut) {
			t.Fatalf("hello: %s", r)
		}
		if n := strings.Count(r.stdout, "lib=/.mpiwrap/host"+real+"\n"); n != 4 {
			t.Fatalf("%d of 4 ranks mapped the injected host %s:\n%s", n, real, r.stdout)
		}
		if got := ldcacheLog(a) - builds; got != 1 {
			t.Fatalf("%d ld.so cache builds for one job on one node, want 1", got)
		}
		must(t, runAs(t, a, work, nil, 120*time.Second, "mpiexec.mpich", "-n", "4", bin,
			"--profile", "mpich,verbs", img, "/opt/mpiwrap-test/mpich/hello"))
		if got := ldcacheLog(a) - builds; got != 1 {
			t.Fatalf("a second run built the ld.so cache again (%d builds)", got)
		}
	})
	if treeHash(t, img) != before {
		t.Fatal("the image changed")
	}
}

// Our ld.so.cache answers every lookup as the image's own ldconfig would
// over the same ld.so.conf.
func TestInjectCacheMatchesLdconfig(t *testing.T) {
	img := debian(t, "bookworm")
	a := accounts(t)[1]
	dir := userDir(t, a)
	ref := filepath.Join(dir, "ref.cache")
	must(t, mpiwrap(t, a, nil, "--profile", "mpich,verbs", "-b", dir+":/out", img, "sh", "-c",
		"cp /etc/ld.so.cache /out/ours.cache && ldconfig -X -C /out/ref.cache -f /etc/ld.so.conf"))
	ours, err := ldcache.ParseFile(filepath.Join(dir, "ours.cache"))
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := ldcache.ParseFile(ref)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range theirs.Entries {
		if seen[e.Key] {
			continue
		}
		seen[e.Key] = true
		opts := ldcache.LookupOptions{Flags: e.Flags}
		x, okX := ours.Lookup(e.Key, opts)
		y, okY := theirs.Lookup(e.Key, opts)
		if okX != okY || x.Value != y.Value {
			t.Errorf("%s: our cache gives %q, ldconfig's gives %q", e.Key, x.Value, y.Value)
		}
	}
	if len(seen) < 50 {
		t.Fatalf("only %d sonames compared", len(seen))
	}
}

// Host MPICH 4.0 needs glibc 2.34: a bullseye image (glibc 2.31) is refused
// before any rank starts, with a message that says why.
func TestInjectGlibcRefusal(t *testing.T) {
	testreq.Require(t, have("mpiexec.mpich"), "mpiexec.mpich")
	img := debian(t, "bullseye")
	hostLibmpich(t)
	forEach(t, func(t *testing.T, a account) {
		for _, image := range []string{img, img + ".sqfs"} {
			r := runAs(t, a, work, nil, 120*time.Second, "mpiexec.mpich", "-n", "4", bin,
				"--profile", "mpich", image, "/opt/mpiwrap-test/mpich/hello")
			if r.code == 0 || strings.Contains(r.stdout, "hello") ||
				!strings.Contains(r.stderr, "needs GLIBC_2.34 but the image's libc.so.6 provides up to GLIBC_2.31") {
				t.Fatalf("%s: want a refusal before launch, got %s", image, r)
			}
		}
	})
}

// A library without new glibc needs injects fine into the same image.
func TestInjectOldGlibcLibraryOK(t *testing.T) {
	img := debian(t, "bullseye")
	a := accounts(t)[1]
	prof := filepath.Join(userDir(t, a), "zlib.toml")
	os.WriteFile(prof, []byte("description = \"host zlib\"\n[[library]]\nname = \"libz.so.1\"\n"), 0o644)
	for _, image := range []string{img, img + ".sqfs"} {
		r := must(t, mpiwrap(t, a, nil, "--profile-file", prof, "--profile", "zlib", image, "sh", "-c",
			"ldconfig -p | grep 'libz.so.1 '; readlink -f /.mpiwrap/lib/libz.so.1"))
		if !strings.Contains(r.stdout, "=> /.mpiwrap/lib/libz.so.1") {
			t.Fatalf("%s: injected zlib not first in the cache: %s", image, r)
		}
	}
}

func TestProfileErrors(t *testing.T) {
	a := accounts(t)[1]
	prof := filepath.Join(userDir(t, a), "broken.toml")
	os.WriteFile(prof, []byte("description = \"x\"\n\n[[library]]\nnmae = \"libz.so.1\"\n"), 0o644)
	wantFail(t, mpiwrap(t, a, nil, "--profile-file", prof, "--profile", "broken", tiny, "true"), 125,
		prof+":4")
	wantFail(t, mpiwrap(t, a, nil, "--profile", "no-such-profile", tiny, "true"), 125, "no-such-profile")
	r := must(t, mpiwrap(t, a, nil, "profile", "list"))
	for _, name := range []string{"mpich", "openmpi", "verbs", "ucx", "libfabric", "nvidia"} {
		if !strings.Contains(r.stdout, name) {
			t.Errorf("profile list lacks %s:\n%s", name, r.stdout)
		}
	}
	r = must(t, mpiwrap(t, a, nil, "profile", "show", "mpich"))
	if !strings.Contains(r.stdout, "libmpich.so.12") {
		t.Errorf("profile show mpich:\n%s", r.stdout)
	}
}

// fakeGPU builds a fake NVIDIA driver tree: libcuda and libnvidia-ml that
// answer cuInit/cuDeviceGetCount, an nvidia-smi, and a device node.
func fakeGPU(t *testing.T, a account) (tree, prog string) {
	t.Helper()
	tree = userDir(t, a)
	for _, d := range []string{"lib", "bin", "dev"} {
		os.MkdirAll(filepath.Join(tree, d), 0o755)
	}
	src := filepath.Join(tree, "fake.c")
	os.WriteFile(src, []byte("int cuInit(unsigned f){(void)f;return 0;}\nint cuDeviceGetCount(int*n){*n=2;return 0;}\nint nvmlInit_v2(void){return 0;}\n"), 0o644)
	main := filepath.Join(tree, "cuda.c")
	os.WriteFile(main, []byte(`#include <dlfcn.h>
#include <stdio.h>
int main(void){void*h=dlopen("libcuda.so.1",RTLD_NOW);if(!h){printf("dlopen: %s\n",dlerror());return 1;}
int(*init)(unsigned)=(int(*)(unsigned))dlsym(h,"cuInit");int(*count)(int*)=(int(*)(int*))dlsym(h,"cuDeviceGetCount");
int n=-1;int r=init(0);count(&n);printf("cuInit=%d devices=%d\n",r,n);return 0;}
`), 0o644)
	prog = filepath.Join(tree, "bin", "cudacount")
	for _, c := range [][]string{
		{"gcc", "-shared", "-fPIC", "-Wl,-soname,libcuda.so.1", "-o", filepath.Join(tree, "lib/libcuda.so.535.54.03"), src},
		{"gcc", "-shared", "-fPIC", "-Wl,-soname,libnvidia-ml.so.1", "-o", filepath.Join(tree, "lib/libnvidia-ml.so.535.54.03"), src},
		{"ln", "-s", "libcuda.so.535.54.03", filepath.Join(tree, "lib/libcuda.so.1")},
		{"ln", "-s", "libnvidia-ml.so.535.54.03", filepath.Join(tree, "lib/libnvidia-ml.so.1")},
		{"gcc", "-o", prog, main},
		{"mknod", "-m", "0666", filepath.Join(tree, "dev/nvidiactl"), "c", "1", "3"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%q: %v %s", c, err, out)
		}
	}
	os.WriteFile(filepath.Join(tree, "bin/nvidia-smi"), []byte("#!/bin/sh\necho 'NVIDIA-SMI 535.54.03 (fake driver tree)'\n"), 0o755)
	exec.Command("chmod", "-R", "a+rX", tree).Run()
	return tree, prog
}

// The nvidia profile's mechanics on a fake driver tree: libraries found in
// extra search directories, the binary and the device injected, and a
// program in the container finds the driver through the injected cache.
func TestNvidiaFakeTree(t *testing.T) {
	testreq.Require(t, have("gcc"), "gcc")
	forEach(t, func(t *testing.T, a account) {
		tree, prog := fakeGPU(t, a)
		prof := filepath.Join(tree, "nvidia.toml")
		os.WriteFile(prof, []byte(fmt.Sprintf(`description = "fake NVIDIA driver"
search_dirs = ["%[1]s/lib"]
[[library]]
names = ["libcuda.so.1"]
[[library]]
name = "libnvidia-ml.so.1"
[[binary]]
name = "%[1]s/bin/nvidia-smi"
[[device]]
path = "%[1]s/dev/nvidiactl"
`, tree)), 0o644)
		r := must(t, mpiwrap(t, a, nil, "--profile-file", prof, "--profile", "nvidia", "-b", prog+":/opt/cudacount",
			tiny, "sh", "-c", tree+"/bin/nvidia-smi; /opt/cudacount; ls -l "+tree+"/dev/nvidiactl"))
		for _, want := range []string{"NVIDIA-SMI 535.54.03", "cuInit=0 devices=2", "crw-rw-rw-"} {
			if !strings.Contains(r.stdout, want) {
				t.Fatalf("want %q in %s", want, r)
			}
		}
	})
}
