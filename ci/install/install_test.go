package install

import (
	"bufio"
	"debug/elf"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/internal/testreq"
	"github.com/mpiwrap/mpiwrap/pmi/pmix"
)

// repo is the repository root, from this package's directory.
const repo = "../.."

func have(cmd string) bool {
	_, err := exec.LookPath(cmd)
	return err == nil
}

func needMake(t *testing.T) {
	t.Helper()
	testreq.Require(t, have("make"), "make")
	testreq.Require(t, have("gcc"), "gcc, for cgo (make deps)")
}

// runMake runs make -s in the repository with args; env is added to this
// process's environment.
func runMake(t *testing.T, env []string, args ...string) string {
	t.Helper()
	out, err := makeCmd(env, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func makeCmd(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command("make", append([]string{"-s", "-C", repo}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// manifest is install-manifest: the files installed and the directories
// made, as paths on the target (without DESTDIR).
type manifest struct{ files, dirs []string }

func readManifest(t *testing.T, path string) manifest {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	defer f.Close()
	var m manifest
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		kind, p, _ := strings.Cut(sc.Text(), " ")
		switch kind {
		case "f":
			m.files = append(m.files, p)
		case "d":
			m.dirs = append(m.dirs, p)
		case "#":
		default:
			t.Errorf("manifest %s: bad line %q", path, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// tree lists the files and directories under root (root itself left out),
// as paths from root with a leading slash.
func tree(t *testing.T, root string) (files, dirs []string) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel := "/" + strings.TrimPrefix(p, root+"/")
		if d.IsDir() {
			dirs = append(dirs, rel)
		} else {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, dirs
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// builtinProfiles are the names of hostlib/profile/builtin/*.toml.
func builtinProfiles(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(repo, "hostlib/profile/builtin/*.toml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("built-in profiles: %v %v", paths, err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, strings.TrimSuffix(filepath.Base(p), ".toml"))
	}
	return names
}

// commands walks "Available Commands:" of bin's help, depth first: every
// command path but help's, from the root ("mpiwrap") down.
func commands(t *testing.T, bin string, path ...string) [][]string {
	t.Helper()
	out, err := exec.Command(bin, append(slices.Clone(path), "--help")...).CombinedOutput()
	if err != nil {
		t.Fatalf("mpiwrap %s --help: %v\n%s", strings.Join(path, " "), err, out)
	}
	all := [][]string{append([]string{"mpiwrap"}, path...)}
	in := false
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case line == "Available Commands:":
			in = true
		case in && strings.HasPrefix(line, "  "):
			name := strings.Fields(line)[0]
			if name != "help" {
				all = append(all, commands(t, bin, append(slices.Clone(path), name)...)...)
			}
		default:
			in = false
		}
	}
	return all
}

// want is every file make install should put under prefix (a target
// path), with its mode.
func want(t *testing.T, prefix, bin string) map[string]fs.FileMode {
	w := map[string]fs.FileMode{
		prefix + "/bin/mpiwrap":                                    0o755,
		prefix + "/bin/mpiwrap-pmix":                               0o755,
		prefix + "/bin/mpiwrap-validate":                           0o755,
		prefix + "/share/man/man5/mpiwrap-profile.5":               0o644,
		prefix + "/share/bash-completion/completions/mpiwrap":      0o644,
		prefix + "/share/zsh/site-functions/_mpiwrap":              0o644,
		prefix + "/share/fish/vendor_completions.d/mpiwrap.fish":   0o644,
		prefix + "/share/mpiwrap/install-manifest":                 0o644,
		prefix + "/share/man/man1/mpiwrap-completion-powershell.1": 0o644,
	}
	for _, c := range commands(t, bin) {
		w[prefix+"/share/man/man1/"+strings.Join(c, "-")+".1"] = 0o644
	}
	for _, n := range builtinProfiles(t) {
		w[prefix+"/share/mpiwrap/profiles/"+n+".toml"] = 0o644
	}
	for _, p := range []string{"mpiwrap", "mpiwrap-run", "mpiwrap-check", "mpiwrap-profile", "mpiwrap-profile-list",
		"mpiwrap-profile-show", "mpiwrap-version", "mpiwrap-completion"} {
		if _, ok := w[prefix+"/share/man/man1/"+p+".1"]; !ok {
			t.Errorf("mpiwrap --help does not list the command of %s.1", p)
		}
	}
	return w
}

// TestInstallUninstall installs into an empty DESTDIR, checks every file
// and runs the installed mpiwrap, then uninstalls and finds nothing left.
func TestInstallUninstall(t *testing.T) {
	needMake(t)
	tmp := t.TempDir()
	dest := filepath.Join(tmp, "dest")
	if err := os.Mkdir(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	const prefix = "/usr/local"
	vars := []string{"BIN=" + filepath.Join(tmp, "build", "mpiwrap"), "DESTDIR=" + dest, "PREFIX=" + prefix}
	runMake(t, nil, append([]string{"install"}, vars...)...)

	bin := filepath.Join(dest, prefix, "bin", "mpiwrap")
	m := readManifest(t, filepath.Join(dest, prefix, "share/mpiwrap/install-manifest"))
	files, dirs := tree(t, dest)
	w := want(t, prefix, bin)
	if !sameSet(files, slices.Collect(maps.Keys(w))) {
		t.Errorf("installed files:\n%s\nwant:\n%s", strings.Join(sorted(files), "\n"), strings.Join(sorted(slices.Collect(maps.Keys(w))), "\n"))
	}
	if !sameSet(append(slices.Clone(m.files), prefix+"/share/mpiwrap/install-manifest"), files) {
		t.Errorf("manifest files %q, installed %q", m.files, files)
	}
	if !sameSet(m.dirs, dirs) { // DESTDIR was empty: install made every directory
		t.Errorf("manifest directories %q, made %q", m.dirs, dirs)
	}
	for f, mode := range w {
		if st, err := os.Stat(filepath.Join(dest, f)); err == nil && st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", f, st.Mode().Perm(), mode)
		}
	}
	checkBinaries(t, bin)
	checkProfiles(t, tmp, bin, filepath.Join(dest, prefix, "share/mpiwrap/profiles"))
	checkManPages(t, filepath.Join(dest, prefix, "share/man"))
	checkCompletion(t, filepath.Join(dest, prefix, "share"))

	runMake(t, nil, append([]string{"uninstall"}, vars...)...)
	if files, dirs := tree(t, dest); len(files)+len(dirs) > 0 {
		t.Errorf("left after make uninstall: %q %q", files, dirs)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// checkBinaries: mpiwrap runs, is static (musl where musl-gcc is
// installed) and has its PMIx helper where it looks for it.
func checkBinaries(t *testing.T, bin string) {
	t.Helper()
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "mpiwrap version ") {
		t.Errorf("mpiwrap --version: %v %q", err, out)
	}
	interp, glibc := elfInfo(t, bin)
	if interp {
		t.Errorf("%s has an ELF interpreter; want a static binary", bin)
	}
	if glibc && have("musl-gcc") {
		t.Errorf("%s is linked against glibc (it has .note.ABI-tag) although musl-gcc is installed", bin)
	}
	// pmix.FindHelper looks next to the executable first.
	helper := filepath.Join(filepath.Dir(bin), pmix.HelperName)
	if interp, _ := elfInfo(t, helper); !interp {
		t.Errorf("%s is static; the helper must be dynamic (it dlopens libpmix)", helper)
	}
	// Without its socket it says who should start it, so it loads and runs.
	out, _ = exec.Command(helper).CombinedOutput()
	if !strings.Contains(string(out), "this helper is started by mpiwrap") {
		t.Errorf("%s: %q", helper, out)
	}
}

// elfInfo says whether path has a PT_INTERP and glibc's ABI note.
func elfInfo(t *testing.T, path string) (interp, glibc bool) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		interp = interp || p.Type == elf.PT_INTERP
	}
	return interp, f.Section(".note.ABI-tag") != nil
}

// checkProfiles: profile list shows the built-ins, and each example is
// the built-in file under a header and, as a user's profile, replaces
// the built-in one.
func checkProfiles(t *testing.T, tmp, bin, dir string) {
	t.Helper()
	home := filepath.Join(tmp, "home")
	user := filepath.Join(home, "mpiwrap", "profiles.d")
	if err := os.MkdirAll(user, 0o755); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "XDG_CONFIG_HOME="+home)
	list := func() string {
		cmd := exec.Command(bin, "profile", "list")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("mpiwrap profile list: %v\n%s", err, out)
		}
		return string(out)
	}
	before := list()
	for _, n := range builtinProfiles(t) {
		if !strings.Contains(before, "builtin:"+n+".toml") {
			t.Errorf("mpiwrap profile list lacks %s:\n%s", n, before)
		}
		src, err := os.ReadFile(filepath.Join(repo, "hostlib/profile/builtin", n+".toml"))
		if err != nil {
			t.Fatal(err)
		}
		ex, err := os.ReadFile(filepath.Join(dir, n+".toml"))
		if err != nil {
			t.Error(err)
			continue
		}
		s := string(ex)
		if !strings.HasPrefix(s, `# Example: mpiwrap's built-in profile "`+n+`"`) ||
			!strings.Contains(s, "/etc/mpiwrap/profiles.d/"+n+".toml") || !strings.HasSuffix(s, string(src)) {
			t.Errorf("%s.toml: want a header naming the profile and /etc/mpiwrap/profiles.d/%s.toml, then the built-in file:\n%s", n, n, s)
		}
		if err := os.WriteFile(filepath.Join(user, n+".toml"), ex, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	after := list()
	for _, n := range builtinProfiles(t) {
		if !strings.Contains(after, filepath.Join(user, n+".toml")+" (overrides ") {
			t.Errorf("the example %s.toml does not override the built-in profile:\n%s", n, after)
		}
	}
}

// checkManPages: every page has a header of its section and a NAME line
// that whatis can read; man renders them where it is installed.
func checkManPages(t *testing.T, man string) {
	t.Helper()
	pages, _ := filepath.Glob(filepath.Join(man, "man[15]", "*"))
	if len(pages) == 0 {
		t.Fatalf("no man pages in %s", man)
	}
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		base := filepath.Base(p)
		name, section := strings.TrimSuffix(base, filepath.Ext(base)), filepath.Ext(base)[1:]
		th := `.TH "` + strings.ToUpper(name) + `" "` + section + `" `
		if !strings.Contains(string(b), "\n"+th) || !strings.Contains(string(b), ".SH NAME\n"+name+` \- `) {
			t.Errorf("%s: want a %q header and a NAME line %q:\n%.300s", p, th, name+` \- `, b)
		}
	}
	if have("lexgrog") { // man-db's whatis parser
		for _, p := range pages {
			name := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
			if out, err := exec.Command("lexgrog", p).CombinedOutput(); err != nil || !strings.Contains(string(out), `: "`+name+" - ") {
				t.Errorf("lexgrog %s: %v %s", p, err, out)
			}
		}
	}
	if !have("man") {
		t.Logf("man is not installed: pages checked by their headers only")
		return
	}
	for _, p := range pages {
		cmd := exec.Command("man", "-P", "cat", "-l", p)
		cmd.Env = append(os.Environ(), "MANWIDTH=80", "LC_ALL=C.UTF-8")
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("man -l %s: %v\n%s", p, err, out)
			continue
		}
		for _, sec := range []string{"NAME", "SYNOPSIS", "DESCRIPTION"} {
			if !strings.Contains(string(out), "\n"+sec+"\n") {
				t.Errorf("man -l %s: no %s section:\n%s", p, sec, out)
			}
		}
	}
	out, _ := exec.Command("man", "-P", "cat", "-l", filepath.Join(man, "man5", "mpiwrap-profile.5")).Output()
	for _, s := range []string{"FORMAT", "[[library]]", "/etc/mpiwrap/profiles.d", "/etc/mpiwrap/mpiwrap.toml"} {
		if !strings.Contains(string(out), s) {
			t.Errorf("mpiwrap-profile(5) lacks %q", s)
		}
	}
}

// checkCompletion: cobra's scripts for bash, zsh and fish, for mpiwrap.
func checkCompletion(t *testing.T, share string) {
	t.Helper()
	for path, mark := range map[string]string{
		"bash-completion/completions/mpiwrap":    "__start_mpiwrap",
		"zsh/site-functions/_mpiwrap":            "#compdef mpiwrap",
		"fish/vendor_completions.d/mpiwrap.fish": "complete -c mpiwrap",
	} {
		b, err := os.ReadFile(filepath.Join(share, path))
		if err != nil || !strings.Contains(string(b), mark) {
			t.Errorf("%s: %v; want %q in it", path, err, mark)
		}
	}
	if have("bash") {
		if out, err := exec.Command("bash", "-n", filepath.Join(share, "bash-completion/completions/mpiwrap")).CombinedOutput(); err != nil {
			t.Errorf("bash -n on the completion script: %v\n%s", err, out)
		}
	}
}

// TestReinstall: an install over an earlier one keeps the directories the
// earlier one made, removes what only the earlier one installed, and
// uninstall then leaves the files it did not install, with their
// directories.
func TestReinstall(t *testing.T) {
	needMake(t)
	tmp := t.TempDir()
	dest := filepath.Join(tmp, "dest")
	const prefix = "/opt/mpiwrap"
	vars := []string{"BIN=" + filepath.Join(tmp, "build", "mpiwrap"), "DESTDIR=" + dest, "PREFIX=" + prefix}
	runMake(t, nil, append([]string{"install"}, vars...)...)

	man1 := filepath.Join(dest, prefix, "share/man/man1")
	foreign, gone := filepath.Join(man1, "foreign.1"), filepath.Join(man1, "mpiwrap-gone.1")
	for _, f := range []string{foreign, gone} {
		if err := os.WriteFile(f, []byte(".TH X 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mpath := filepath.Join(dest, prefix, "share/mpiwrap/install-manifest")
	first := readManifest(t, mpath)
	mf, err := os.OpenFile(mpath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// As if an older mpiwrap had a command "gone".
	if _, err := mf.WriteString("f " + prefix + "/share/man/man1/mpiwrap-gone.1\n"); err != nil {
		t.Fatal(err)
	}
	mf.Close()

	runMake(t, nil, append([]string{"install"}, vars...)...)
	second := readManifest(t, mpath)
	if _, err := os.Stat(gone); !os.IsNotExist(err) {
		t.Errorf("the second install kept %s, which only the first installed: %v", gone, err)
	}
	if !sameSet(first.dirs, second.dirs) || !sameSet(first.files, second.files) {
		t.Errorf("second manifest %+v, first %+v", second, first)
	}

	runMake(t, nil, append([]string{"uninstall"}, vars...)...)
	files, dirs := tree(t, dest)
	wantDirs := []string{"/opt", "/opt/mpiwrap", "/opt/mpiwrap/share", "/opt/mpiwrap/share/man", "/opt/mpiwrap/share/man/man1"}
	if !sameSet(files, []string{"/opt/mpiwrap/share/man/man1/foreign.1"}) || !sameSet(dirs, wantDirs) {
		t.Errorf("after uninstall: files %q, directories %q; want only foreign.1 and its directories", files, dirs)
	}
	out, err := makeCmd(nil, append([]string{"uninstall"}, vars...)...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "nothing was installed") {
		t.Errorf("a second uninstall: %v\n%s", err, out)
	}
}

// TestFirstBuildInstallsMusl is the first make build on a machine without
// musl-gcc: make must install it (here a stand-in apt-get links the real
// one into PATH) before it decides how to link, so the first binary is
// already the static musl one. Make used to look musl-gcc up when it read
// the Makefile, before any recipe ran, and built against glibc.
func TestFirstBuildInstallsMusl(t *testing.T) {
	needMake(t)
	testreq.Require(t, os.Geteuid() == 0, "root: make installs the toolchain only as root")
	musl, err := exec.LookPath("musl-gcc")
	testreq.Require(t, err == nil, "musl-gcc (make deps)")
	tmp := t.TempDir()
	farm, log := filepath.Join(tmp, "path"), filepath.Join(tmp, "apt.log")
	if err := os.Mkdir(farm, 0o755); err != nil {
		t.Fatal(err)
	}
	// PATH as now, in one directory, without musl-gcc or apt-get.
	for _, dir := range append(filepath.SplitList(os.Getenv("PATH")), "/usr/local/go/bin", "/usr/bin", "/bin") {
		if !filepath.IsAbs(dir) {
			continue
		}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			n := e.Name()
			if n == "musl-gcc" || n == "apt-get" {
				continue
			}
			if err := os.Symlink(filepath.Join(dir, n), filepath.Join(farm, n)); err != nil && !os.IsExist(err) {
				t.Fatal(err)
			}
		}
	}
	shim := "#!/bin/sh\necho \"$*\" >>" + log + "\ncase \"$*\" in *install*musl-tools*) ln -s " + musl + " " + farm + "/musl-gcc ;; esac\n"
	if err := os.WriteFile(filepath.Join(farm, "apt-get"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(tmp, "build", "mpiwrap")
	out := runMake(t, []string{"PATH=" + farm}, "build", "BIN="+bin)
	apt, _ := os.ReadFile(log)
	if !strings.Contains(string(apt), "musl-tools") {
		t.Errorf("make build did not install musl-tools; apt-get got %q; make said:\n%s", apt, out)
	}
	interp, glibc := elfInfo(t, bin)
	if interp || glibc {
		t.Errorf("the first build is not static musl (interpreter %v, glibc %v); make said:\n%s", interp, glibc, out)
	}
}
