package integration

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

// treeHash digests every path, mode, owner, size, mtime and content of a
// tree, so "unchanged" means byte for byte.
func treeHash(t *testing.T, root string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		fmt.Fprintf(h, "%s %o %d %d %d %d\n", p, fi.Mode(), st.Uid, st.Gid, fi.Size(), fi.ModTime().UnixNano())
		switch {
		case fi.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(h, f)
			return err
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			fmt.Fprintln(h, l)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestIdentityAndReadOnlyImage(t *testing.T) {
	before := treeHash(t, tiny)
	forEach(t, func(t *testing.T, a account) {
		r := must(t, mpiwrap(t, a, nil, tiny, "sh", "-c", "id -u; id -g; id -un; true > /newfile; true > /etc/passwd; true"))
		lines := strings.Split(r.stdout, "\n")
		if lines[0] != strconv.Itoa(a.uid) || lines[1] != strconv.Itoa(a.gid) || lines[2] != a.name {
			t.Fatalf("inside: uid %q gid %q name %q; want %d %d %s", lines[0], lines[1], lines[2], a.uid, a.gid, a.name)
		}
		if strings.Count(r.stderr, "Read-only file system") != 2 {
			t.Fatalf("writing the image did not fail read-only:\n%s", r)
		}
	})
	if after := treeHash(t, tiny); after != before {
		t.Fatal("the image changed")
	}
}

func TestExecInPlaceExitAndSignal(t *testing.T) {
	forEach(t, func(t *testing.T, a account) {
		if r := mpiwrap(t, a, nil, tiny, "sh", "-c", "exit 42"); r.code != 42 {
			t.Fatalf("exit code: %s", r)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := cmdAs(ctx, a, work, nil, bin, tiny, "sh", "-c",
			`trap 'echo got TERM; exit 3' TERM; echo $$; while :; do sleep 0.05; done`)
		out, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		if !sc.Scan() {
			t.Fatal("no pid from the command")
		}
		if pid := sc.Text(); pid != strconv.Itoa(cmd.Process.Pid) {
			t.Fatalf("command pid %s, launched pid %d: mpiwrap must exec in place", pid, cmd.Process.Pid)
		}
		cmd.Process.Signal(syscall.SIGTERM)
		sc.Scan()
		err := cmd.Wait()
		if sc.Text() != "got TERM" || cmd.ProcessState.ExitCode() != 3 {
			t.Fatalf("after TERM: %q, %v", sc.Text(), err)
		}
	})
}

func TestFdPassthrough(t *testing.T) {
	forEach(t, func(t *testing.T, a account) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := cmdAs(ctx, a, work, []string{"PMI_FD=7"}, bin, tiny, "sh", "-c", `echo "hello on $PMI_FD" >&7`)
		cmd.ExtraFiles = []*os.File{nil, nil, nil, nil, w} // fd 7
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		w.Close()
		got, _ := io.ReadAll(r)
		if string(got) != "hello on 7\n" {
			t.Fatalf("fd 7 carried %q", got)
		}
	})
}

func TestCommandNotFound(t *testing.T) {
	forEach(t, func(t *testing.T, a account) {
		wantFail(t, mpiwrap(t, a, nil, tiny, "no-such-command"), 127, "command not found in image "+tiny)
		wantFail(t, mpiwrap(t, a, nil, tiny, "/etc"), 126, "can't run /etc")
	})
}

func TestEnvironment(t *testing.T) {
	forEach(t, func(t *testing.T, a account) {
		dir := userDir(t, a)
		envFile := filepath.Join(dir, "vars.env")
		os.WriteFile(envFile, []byte("FROMFILE=yes\n"), 0o644)
		host := []string{"PMI_FD=99", "PMIX_X=1", "SLURM_X=2", "OMPI_X=3", "HYDRA_X=4", "MPI_LOCALX=5",
			"LD_LIBRARY_PATH=/host/lib", "LD_PRELOAD=/host/x.so", "DROPME_1=a", "DROPME_2=b"}
		r := must(t, mpiwrap(t, a, host, "--set-env", "ADDED=v=1", "--unset-env", "DROPME_*",
			"--env-file", envFile, tiny, "env"))
		for _, want := range []string{"PMI_FD=99", "PMIX_X=1", "SLURM_X=2", "OMPI_X=3", "HYDRA_X=4", "MPI_LOCALX=5", "ADDED=v=1", "FROMFILE=yes"} {
			if !strings.Contains(r.stdout, want+"\n") {
				t.Errorf("missing %s inside", want)
			}
		}
		for _, gone := range []string{"LD_LIBRARY_PATH", "LD_PRELOAD", "DROPME", "_MPIWRAP"} {
			if strings.Contains(r.stdout, gone) {
				t.Errorf("%s leaked into the container:\n%s", gone, r.stdout)
			}
		}
		r = must(t, mpiwrap(t, a, host, "--keep-ld-env", tiny, "env"))
		if !strings.Contains(r.stdout, "LD_LIBRARY_PATH=/host/lib\n") {
			t.Errorf("--keep-ld-env dropped LD_LIBRARY_PATH:\n%s", r.stdout)
		}
	})
}

func TestHomeAndCwd(t *testing.T) {
	forEach(t, func(t *testing.T, a account) {
		dir := userDir(t, a)
		os.WriteFile(filepath.Join(dir, "solver"), []byte("#!/bin/sh\necho solved in $(pwd)\n"), 0o755)
		r := must(t, runAs(t, a, dir, nil, 30*time.Second, bin, tiny, "./solver"))
		if r.stdout != "solved in "+dir+"\n" {
			t.Fatalf("./solver: %s", r)
		}
		r = runAs(t, a, dir, nil, 30*time.Second, bin, "--no-cwd", tiny, "sh", "-c", "pwd; ls "+dir+" 2>&1")
		if !strings.HasPrefix(r.stdout, "/\n") || !strings.Contains(r.stdout, "No such file") {
			t.Fatalf("--no-cwd: %s", r)
		}
		marker := filepath.Join(a.home, ".mpiwrap-test-marker")
		os.WriteFile(marker, nil, 0o644)
		defer os.Remove(marker)
		must(t, mpiwrap(t, a, nil, tiny, "ls", marker))
		if r := mpiwrap(t, a, nil, "--no-home", tiny, "ls", marker); r.code == 0 {
			t.Fatalf("--no-home still shows $HOME: %s", r)
		}
	})
}

func TestBinds(t *testing.T) {
	forEach(t, func(t *testing.T, a account) {
		src := userDir(t, a)
		os.WriteFile(filepath.Join(src, "f"), []byte("data\n"), 0o644)
		r := must(t, mpiwrap(t, a, nil, "-b", src+":/opt/deep/data:ro", "-b", src+":/mnt/rw", tiny, "sh", "-c",
			"cat /opt/deep/data/f; true > /opt/deep/data/g; true > /mnt/rw/h && echo wrote"))
		if !strings.Contains(r.stdout, "data\n") || !strings.Contains(r.stderr, "Read-only file system") || !strings.Contains(r.stdout, "wrote") {
			t.Fatalf("binds: %s", r)
		}
		if _, err := os.Stat(filepath.Join(src, "h")); err != nil {
			t.Fatalf("write through the rw bind did not reach the host: %v", err)
		}
		rel := runAs(t, a, src, nil, 30*time.Second, bin, "-b", ".:/srv/here", tiny, "cat", "/srv/here/f")
		if must(t, rel).stdout != "data\n" {
			t.Fatalf("relative bind: %s", rel)
		}
		wantFail(t, mpiwrap(t, a, nil, "-b", "/nonexistent/src:/x", tiny, "true"), 125,
			"bind source /nonexistent/src does not exist")
	})
}

// A symlink in the image must never lead a mount target out of the image:
// links are resolved inside the image root, and making a mount point in a
// host directory reached through one is refused.
func TestSymlinkEscapeRefused(t *testing.T) {
	forEach(t, func(t *testing.T, a account) {
		img := filepath.Join(userDir(t, a), "img")
		if out, err := exec.Command("cp", "-a", tiny, img).CombinedOutput(); err != nil {
			t.Fatalf("copy image: %v %s", err, out)
		}
		// Host directories the links point at: one under the bound working
		// directory, one under the bound /tmp.
		victim := userDir(t, a)
		tmpVictim, _ := os.MkdirTemp("/tmp", "mpiwrap-victim-")
		defer os.RemoveAll(tmpVictim)
		os.Chown(tmpVictim, a.uid, a.gid)
		links := map[string]string{
			"escape-rel": "../../../../../../../.." + victim,
			"escape-abs": victim,
			"into-tmp":   tmpVictim,
			"inside":     "/opt/inside", // stays in the image: fine
		}
		for name, target := range links {
			os.Symlink(target, filepath.Join(img, name))
		}
		src := userDir(t, a)
		os.WriteFile(filepath.Join(src, "f"), []byte("ok\n"), 0o644)
		for _, link := range []string{"/escape-rel", "/escape-abs", "/into-tmp"} {
			wantFail(t, mpiwrap(t, a, nil, "-b", src+":"+link+"/sub", img, "true"), 125, "resolves outside the image")
		}
		for _, dir := range []string{victim, tmpVictim} {
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("host directory %s was written: %v", dir, entries)
			}
		}
		r := must(t, mpiwrap(t, a, nil, "-b", src+":/inside/sub", img, "cat", "/opt/inside/sub/f"))
		if r.stdout != "ok\n" {
			t.Fatalf("bind through an in-image link: %s", r)
		}
	})
}

func TestSquashFS(t *testing.T) {
	forEach(t, func(t *testing.T, a account) {
		r := must(t, mpiwrap(t, a, nil, tinySqfs, "sh", "-c", "cat /etc/hosts; id -u"))
		if !strings.Contains(r.stdout, "localhost") || !strings.Contains(r.stdout, strconv.Itoa(a.uid)) {
			t.Fatalf("squashfs run: %s", r)
		}
		eventually(t, 10*time.Second, "squashfuse exits with the last rank", func() bool {
			out, _ := exec.Command("pgrep", "-u", strconv.Itoa(a.uid), "-f", "squashfuse.* "+tinySqfs).Output()
			return len(strings.TrimSpace(string(out))) == 0
		})
		wantFail(t, mpiwrap(t, a, []string{"PATH=/nonexistent"}, tinySqfs, "true"), 125, "squashfuse is not installed")
		broken := filepath.Join(userDir(t, a), "broken.sqfs")
		os.WriteFile(broken, append([]byte("hsqs"), make([]byte, 4096)...), 0o644)
		wantFail(t, mpiwrap(t, a, nil, broken, "true"), 125, "squashfuse can't serve image "+broken)
	})
}

func TestErrors(t *testing.T) {
	needSetup(t) // before work is written to
	notImage := filepath.Join(work, "not-an-image")
	os.WriteFile(notImage, []byte("hello"), 0o644)
	forEach(t, func(t *testing.T, a account) {
		wantFail(t, mpiwrap(t, a, nil, "/nonexistent/image", "true"), 125, "image /nonexistent/image does not exist")
		wantFail(t, mpiwrap(t, a, nil, notImage, "true"), 125, "neither a directory nor a SquashFS file")
		wantFail(t, mpiwrap(t, a, nil, "--frobnicate", tiny, "true"), 125, "unknown flag: --frobnicate")
		wantFail(t, mpiwrap(t, a, nil, tiny), 125, "no command given")
		wantFail(t, mpiwrap(t, a, nil, tiny, "/proc"), 126, "can't run /proc in image "+tiny+": /proc is a directory")
		wantFail(t, mpiwrap(t, a, nil, "-b", work+":/proc/self/..", tiny, "true"), 125, "would cover the container's /proc")
		wantFail(t, mpiwrap(t, a, nil, "--abi-policy=x", tiny, "true"), 125, `bad --abi-policy: unknown ABI policy "x"`)
	})
	// User namespaces switched off (inside a namespace of our own, so the
	// host's setting is untouched).
	a := accounts(t)[0]
	r := runAs(t, a, work, nil, 30*time.Second, "unshare", "--user", "--map-root-user", "sh", "-c",
		"echo 0 > /proc/sys/user/max_user_namespaces && exec "+bin+" "+tiny+" true")
	wantFail(t, r, 125, "user namespaces are disabled on this host (sysctl user.max_user_namespaces=0)")
}

func TestCheckPlan(t *testing.T) {
	forEach(t, func(t *testing.T, a account) {
		r := must(t, mpiwrap(t, a, nil, "check", "-b", work+":/data", tiny, "true"))
		for _, want := range []string{"bind /dev -> /dev", "bind /proc -> /proc", "write /etc/passwd", "bind " + work + " -> /data", "exec true"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("check output lacks %q:\n%s", want, r.stdout)
			}
		}
		var plan struct {
			Image  struct{ Kind string }
			Mounts []struct{ Dst string }
		}
		r = must(t, mpiwrap(t, a, nil, "check", "--json", tiny))
		if err := json.Unmarshal([]byte(r.stdout), &plan); err != nil || plan.Image.Kind != "directory" || len(plan.Mounts) < 6 {
			t.Fatalf("check --json: %v\n%s", err, r.stdout)
		}
		v := must(t, mpiwrap(t, a, nil, "-v", tiny, "true"))
		if !strings.Contains(v.stderr, "bind /sys -> /sys") || !strings.Contains(v.stderr, "namespace: own") {
			t.Fatalf("-v does not print the plan:\n%s", v.stderr)
		}
	})
}

// The command keeps the CPU affinity and the cgroup its launcher gave it.
func TestAffinityAndCgroup(t *testing.T) {
	testreq.Require(t, have("taskset"), "taskset (util-linux)")
	forEach(t, func(t *testing.T, a account) {
		host := must(t, runAs(t, a, work, nil, 30*time.Second, "taskset", "-c", "0", "cat", "/proc/self/cgroup"))
		r := must(t, runAs(t, a, work, nil, 30*time.Second, "taskset", "-c", "0", bin, tiny,
			"sh", "-c", "cat /proc/self/status; echo CGROUP; cat /proc/self/cgroup"))
		status, cgroup, _ := strings.Cut(r.stdout, "CGROUP\n")
		if !strings.Contains(status, "Cpus_allowed_list:\t0\n") {
			t.Errorf("affinity lost inside:\n%s", status)
		}
		if cgroup != host.stdout {
			t.Errorf("cgroup inside %q, outside %q", cgroup, host.stdout)
		}
	})
}
