package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

// Refusals are for what the command needs: an injected library that the
// command does not load and that needs what the image lacks is injected
// with a note, an optional item that fails the image is dropped with a
// note, and the user's own profile directory can't break a run it has no
// part in. What a program needs is still refused before launch.

const mpichHello = "/opt/mpiwrap-test/mpich/hello"

var cOnly struct {
	once      sync.Once
	dir, sqfs string
	err       error
}

// cOnlyImage is a small image made from host files (ci/images/mpi-small.sh:
// the tiny image plus the host MPICH hello and its libraries), without
// libstdc++, libgcc_s or libgfortran, as a C-only image is; and its
// SquashFS copy. It is made once, next to the scratch directory.
func cOnlyImage(t *testing.T) (dir, sqfs string) {
	t.Helper()
	needSetup(t)
	testreq.Require(t, have("mpicc.mpich") && have("mpiexec.mpich"), "mpicc.mpich and mpiexec.mpich (libmpich-dev, mpich)")
	cOnly.once.Do(func() {
		dir := filepath.Join(filepath.Dir(work), "c-only")
		sqfs := dir + ".sqfs"
		if out, err := exec.Command("../images/mpi-small.sh", dir).CombinedOutput(); err != nil {
			cOnly.err = fmt.Errorf("mpi-small.sh: %v\n%s", err, out)
			return
		}
		var removed []string
		filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			base := filepath.Base(p)
			if err == nil && !fi.IsDir() && (strings.HasPrefix(base, "libstdc++.so") || strings.HasPrefix(base, "libgcc_s.so") || strings.HasPrefix(base, "libgfortran.so")) {
				removed = append(removed, p)
			}
			return nil
		})
		for _, p := range removed {
			os.Remove(p)
		}
		for _, c := range [][]string{{"ldconfig", "-X", "-r", dir}, {"mksquashfs", dir, sqfs, "-noappend", "-quiet", "-no-progress", "-comp", "lz4"},
			{"chmod", "-R", "a+rX", dir, sqfs}} {
			if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
				cOnly.err = fmt.Errorf("%q: %v\n%s", c, err, out)
				return
			}
		}
		cOnly.dir, cOnly.sqfs = dir, sqfs
	})
	if cOnly.err != nil {
		t.Fatal(cOnly.err)
	}
	return cOnly.dir, cOnly.sqfs
}

// The C hello with --profile mpich in an image with no libstdc++ or
// libgfortran runs: the C++ and Fortran bindings, which it never loads,
// are injected, and check and -v say what they lack.
func TestRefusalCOnlyImageRunsMPICH(t *testing.T) {
	img, sqfs := cOnlyImage(t)
	hostLibmpich(t)
	note := "libmpichcxx.so.12 injected, needs libstdc++.so.6 the image lacks"
	forEach(t, func(t *testing.T, a account) {
		freshCache(t, a)
		r := must(t, mpiwrap(t, a, nil, "check", "--profile", "mpich", img, mpichHello))
		for _, want := range []string{"ABI check: allowed", "ABI note: /lib/x86_64-linux-gnu/" + note, "not loaded libmpichcxx.so.12"} {
			if !strings.Contains(r.stdout, want) {
				t.Fatalf("check (ld.so cache to build) lacks %q:\n%s", want, r.stdout)
			}
		}
		for _, image := range []string{img, sqfs} {
			r := must(t, runAs(t, a, work, nil, 120*time.Second, "mpiexec.mpich", "-n", "2", bin, "--profile", "mpich", image, mpichHello))
			if !strings.Contains(r.stdout, "hello size=2 sum=1") || strings.Contains(r.stderr, "libmpichcxx") {
				t.Fatalf("%s: want the hello of 2 ranks and no word of libmpichcxx, got %s", image, r)
			}
			// The entry is built now; -v shows the stored notes.
			r = must(t, runAs(t, a, work, nil, 120*time.Second, "mpiexec.mpich", "-n", "2", bin, "-v", "--profile", "mpich", image, mpichHello))
			if !strings.Contains(r.stderr, "ABI note: /lib/x86_64-linux-gnu/"+note) {
				t.Fatalf("%s: -v of a warm run lacks the note %q:\n%s", image, note, r.stderr)
			}
		}
		r = must(t, mpiwrap(t, a, nil, "check", "--profile", "mpich", img, mpichHello))
		if !strings.Contains(r.stdout, "ld.so.cache reused") || !strings.Contains(r.stdout, "ABI note: /lib/x86_64-linux-gnu/"+note) {
			t.Fatalf("check (ld.so cache reused) lacks the note %q:\n%s", note, r.stdout)
		}
	})
}

// Host MPICH 4.0 needs glibc 2.34: on bullseye the hello is still refused
// before any rank starts, directly or behind sh -c; check says so, and that
// the optional C++/Fortran bindings are dropped.
func TestRefusalOldGlibcStillRefused(t *testing.T) {
	testreq.Require(t, have("mpiexec.mpich"), "mpiexec.mpich")
	img := debian(t, "bullseye")
	hostLibmpich(t)
	refusal := "needs GLIBC_2.34 but the image's libc.so.6 provides up to GLIBC_2.31"
	forEach(t, func(t *testing.T, a account) {
		for _, cmd := range [][]string{{img, mpichHello}, {img + ".sqfs", mpichHello}, {img, "/bin/sh", "-c", mpichHello}} {
			r := runAs(t, a, work, nil, 120*time.Second, append([]string{"mpiexec.mpich", "-n", "2", bin, "--profile", "mpich"}, cmd...)...)
			if r.code == 0 || strings.Contains(r.stdout, "hello") || !strings.Contains(r.stderr, "libmpich.so.12 "+refusal) {
				t.Fatalf("%q: want a refusal before launch, got %s", cmd, r)
			}
		}
		r := mpiwrap(t, a, nil, "check", "--profile", "mpich", img, mpichHello)
		for _, want := range []string{"ABI check: refused: hostlib: /lib/x86_64-linux-gnu/libmpich.so.12 " + refusal,
			"ABI note: dropped optional item library libmpichfort.so.12 | libmpifort.so.12 | libmpichcxx.so.12 | libmpicxx.so.12 (profile mpich, builtin:mpich.toml:12) because "} {
			if !strings.Contains(r.stdout, want) {
				t.Fatalf("check lacks %q:\n%s", want, r)
			}
		}
	})
}

// A site profile with an optional [[binary]] lstopo-no-graphics, whose
// host copy and libhwloc need glibc 2.34, does not stop a bullseye run:
// the item is dropped, check says so, and the image keeps its own tool.
func TestRefusalOptionalBinaryDropped(t *testing.T) {
	img := debian(t, "bullseye")
	host, err := os.Stat("/usr/bin/lstopo-no-graphics")
	testreq.Require(t, err == nil, "host lstopo-no-graphics (hwloc)")
	own, err := os.Stat(filepath.Join(img, "usr/bin/lstopo-no-graphics"))
	testreq.Require(t, err == nil && own.Size() != host.Size(), "bullseye's own lstopo-no-graphics, unlike the host's")
	forEach(t, func(t *testing.T, a account) {
		prof := filepath.Join(userDir(t, a), "hwloc.toml")
		os.WriteFile(prof, []byte("description = \"site hwloc tools\"\n\n[[binary]]\nname = \"lstopo-no-graphics\"\nrequired = false\n"), 0o644)
		args := []string{"--profile-file", prof, "--profile", "hwloc"}
		r := must(t, mpiwrap(t, a, nil, append(append([]string{"check"}, args...), img, "true")...))
		for _, want := range []string{"ABI check: allowed",
			"ABI note: dropped optional item binary lstopo-no-graphics (profile hwloc, " + prof + ":4) because ",
			"needs GLIBC_2.34 but the image's libc.so.6 provides up to GLIBC_2.31"} {
			if !strings.Contains(r.stdout, want) {
				t.Fatalf("check lacks %q:\n%s", want, r.stdout)
			}
		}
		r = must(t, mpiwrap(t, a, nil, append(args, img, "stat", "-L", "-c", "%s", "/usr/bin/lstopo-no-graphics")...))
		if got := strings.TrimSpace(r.stdout); got != fmt.Sprint(own.Size()) {
			t.Fatalf("lstopo-no-graphics in the container has %s bytes, want the image's own (%d)", got, own.Size())
		}
		must(t, mpiwrap(t, a, nil, append(args, img+".sqfs", "true")...))
	})
}

// HOME names a directory the user can't read (a launcher started by
// another user hands the ranks its own HOME): the user's profile directory
// is skipped, -v says which and why, and the run goes on. For root, who
// reads anything, the directory is a symlink loop.
func TestRefusalUnreadableHome(t *testing.T) {
	home, err := os.MkdirTemp(work, "home-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	os.Chmod(home, 0o700) // root's: testu can't read it
	profiles := filepath.Join(home, ".config/mpiwrap/profiles.d")
	os.MkdirAll(filepath.Dir(profiles), 0o755)
	if err := os.Symlink("profiles.d", profiles); err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{"root": "too many levels of symbolic links"}
	forEach(t, func(t *testing.T, a account) {
		reason, ok := reasons[a.name]
		if !ok {
			reason = "permission denied"
		}
		env := []string{"HOME=" + home}
		for _, args := range [][]string{{tiny, "true"}, {"--no-home", tiny, "true"}} {
			r := must(t, mpiwrap(t, a, env, append([]string{"-v"}, args...)...))
			if want := "warning: skipped the user profile directory " + profiles + ": " + reason; !strings.Contains(r.stderr, want) {
				t.Fatalf("%q: -v lacks %q:\n%s", args, want, r.stderr)
			}
		}
		if img, _ := cOnlyImage(t); img != "" {
			r := must(t, mpiwrap(t, a, env, "--no-home", "--profile", "mpich", img, mpichHello))
			if !strings.Contains(r.stdout, "hello size=1 sum=0") {
				t.Fatalf("the hello with --profile mpich: %s", r)
			}
		}
	})
}

// A broken file in the user's profiles.d breaks only the runs that select
// a profile it could define, and says file:line; other runs go on, and -v
// warns with file:line.
func TestRefusalBrokenUserProfile(t *testing.T) {
	forEach(t, func(t *testing.T, a account) {
		xdg := userDir(t, a)
		dir := filepath.Join(xdg, "mpiwrap", "profiles.d")
		os.MkdirAll(dir, 0o755)
		for _, d := range []string{filepath.Dir(dir), dir} {
			os.Chown(d, a.uid, a.gid)
		}
		broken := filepath.Join(dir, "broken.toml")
		os.WriteFile(broken, []byte("description = \"x\"\n\n[[library]]\nnmae = \"libz.so.1\"\n"), 0o644)
		env := []string{"XDG_CONFIG_HOME=" + xdg}
		must(t, mpiwrap(t, a, env, tiny, "true"))
		must(t, mpiwrap(t, a, env, "--no-profile", tiny, "true"))
		r := must(t, mpiwrap(t, a, env, "-v", tiny, "true"))
		if want := "(a run that selects profile broken fails): profile " + broken + ":4: key \"library.nmae\": unknown key"; !strings.Contains(r.stderr, want) {
			t.Fatalf("-v lacks %q:\n%s", want, r.stderr)
		}
		wantFail(t, mpiwrap(t, a, env, "--profile", "broken", tiny, "true"), 125, `select profile "broken": profile `+broken+":4:")
		// One that would override a built-in fails the runs that select
		// that built-in, not the others.
		mpich := filepath.Join(dir, "mpich.toml")
		os.WriteFile(mpich, []byte("abi = 12\n"), 0o644)
		wantFail(t, mpiwrap(t, a, env, "--profile", "mpich", tiny, "true"), 125, `select profile "mpich": profile `+mpich+":1:")
		os.WriteFile(filepath.Join(dir, "zlib.toml"), []byte("[[library]]\nname = \"libz.so.1\"\n"), 0o644)
		must(t, mpiwrap(t, a, env, "--profile", "zlib", tiny, "true"))
	})
}
