package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

var (
	bin      string // a static mpiwrap that every user can run
	tiny     string // tiny image from host files
	tinySqfs string // the same as SquashFS
	work     string // scratch directory outside /tmp, open to the test user

	// setupErr is why TestMain could not make the above; needSetup turns
	// it into a skip, or a failure under MPIWRAP_TEST_REQUIRE=1.
	setupErr error
)

func TestMain(m *testing.M) {
	os.Exit(setup(m))
}

// setup makes bin, tiny, tinySqfs and work, then runs the tests even when
// that failed: every test that needs them says so through needSetup.
func setup(m *testing.M) int {
	dir, err := os.MkdirTemp("/var/tmp", "mpiwrap-it-")
	if err != nil {
		setupErr = err
		return m.Run()
	}
	defer os.RemoveAll(dir)
	setupErr = prepare(dir)
	if setupErr != nil {
		fmt.Fprintf(os.Stderr, "integration setup failed; tests that need it skip (fail under MPIWRAP_TEST_REQUIRE=1): %v\n", setupErr)
	}
	return m.Run()
}

// prepare builds mpiwrap and the tiny images in dir.
func prepare(dir string) error {
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	b, ti, ts, w := filepath.Join(dir, "mpiwrap"), filepath.Join(dir, "tiny"), filepath.Join(dir, "tiny.sqfs"), filepath.Join(dir, "work")
	if err := os.Mkdir(w, 0o1777); err != nil {
		return err
	}
	steps := [][]string{
		{"make", "-s", "-C", "../..", "build", "BIN=" + b},
		{"../images/tiny.sh", ti},
		{"mksquashfs", ti, ts, "-noappend", "-quiet", "-comp", "lz4"},
		{"chmod", "-R", "a+rX", dir},
	}
	for _, s := range steps {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("setup %q: %v\n%s", s, err, out)
		}
	}
	// Only a complete setup publishes its paths: an empty bin can't run.
	bin, tiny, tinySqfs, work = b, ti, ts, w
	return nil
}

// needSetup requires what TestMain built. accounts, runAs and startJob
// call it, so no test runs a command without it.
func needSetup(t testing.TB) {
	t.Helper()
	why := ""
	if setupErr != nil {
		why = "the integration setup (mpiwrap build, tiny image, SquashFS): " + setupErr.Error()
	}
	testreq.Require(t, setupErr == nil && bin != "", why)
}

func have(cmd string) bool {
	_, err := exec.LookPath(cmd)
	return err == nil
}

// account is who runs a test command.
type account struct {
	name     string
	uid, gid int
	home     string
}

// accounts are root and the unprivileged test user ($MPIWRAP_TEST_USER,
// default testu): users are not root, and every namespace test runs as both.
func accounts(t *testing.T) []account {
	t.Helper()
	needSetup(t)
	testreq.Require(t, os.Geteuid() == 0, "root (to run tests as the test user too)")
	name := os.Getenv("MPIWRAP_TEST_USER")
	if name == "" {
		name = "testu"
	}
	u, err := user.Lookup(name)
	testreq.Require(t, err == nil, "test user "+name+" (ci/testuser.sh makes it)")
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return []account{{"root", 0, 0, "/root"}, {name, uid, gid, u.HomeDir}}
}

// forEach runs f as a subtest for each account.
func forEach(t *testing.T, f func(t *testing.T, a account)) {
	for _, a := range accounts(t) {
		t.Run(a.name, func(t *testing.T) { f(t, a) })
	}
}

// result of one command.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// cmdAs prepares a command run as a, in dir, with a minimal environment
// plus env. Every command is bounded by timeout.
func cmdAs(ctx context.Context, a account, dir string, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=" + a.home,
		"USER=" + a.name, "LANG=C"}, env...)
	if a.uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
			Uid: uint32(a.uid), Gid: uint32(a.gid), Groups: []uint32{uint32(a.gid)}}}
	}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// runAs runs a command to completion within timeout.
func runAs(t *testing.T, a account, dir string, env []string, timeout time.Duration, args ...string) result {
	t.Helper()
	needSetup(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := cmdAs(ctx, a, dir, env, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%q timed out after %v\n%s\n%s", args, timeout, out.String(), errb.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %q: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

// mpiwrap runs the binary as a with args, in the scratch directory.
func mpiwrap(t *testing.T, a account, env []string, args ...string) result {
	t.Helper()
	return runAs(t, a, work, env, 60*time.Second, append([]string{bin}, args...)...)
}

// must checks exit code 0.
func must(t *testing.T, r result) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("want success, got %s", r)
	}
	return r
}

func wantFail(t *testing.T, r result, code int, msg string) {
	t.Helper()
	if r.code != code || !strings.Contains(r.stderr, msg) {
		t.Fatalf("want exit %d and %q on stderr, got %s", code, msg, r)
	}
}

// userDir makes a directory outside /tmp owned by a.
func userDir(t *testing.T, a account) string {
	t.Helper()
	d, err := os.MkdirTemp(work, a.name+"-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chown(d, a.uid, a.gid)
	os.Chmod(d, 0o755)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// eventually polls cond until it holds or the bound passes.
func eventually(t *testing.T, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(bound); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within %v", what, bound)
}
