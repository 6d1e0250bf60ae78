package plan

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/hostlib/abi"
)

var update = flag.Bool("update", false, "rewrite testdata/describe.golden")

// TestDescribeGolden pins Plan.Describe for a plain plan, an injection in
// each ld.so cache state and a SquashFS image. Temporary paths become
// placeholders; the optional default binds (/etc/hosts, /etc/resolv.conf)
// are left out, as they depend on the host.
func TestDescribeGolden(t *testing.T) {
	stack := fakeHostStack(t, "")
	home := dirOutsideTmp(t)
	work := filepath.Join(home, "work")
	os.Mkdir(work, 0o755)
	data := dirOutsideTmp(t)
	img := testImage(t, "opt")
	envFile := filepath.Join(t.TempDir(), "env")
	os.WriteFile(envFile, []byte("FROMFILE=1\n"), 0o644)
	sqfs := fakeSquashFS(t)
	squashfuse := filepath.Join(filepath.Dir(sqfs), "bin/squashfuse_ll")
	hydra := []string{"PMI_RANK=1", "PMI_SIZE=2", "MPI_LOCALRANKID=1", "MPI_LOCALNRANKS=2", "PMI_PORT=node1:4242", "PMI_ID=1"}
	pmix := []string{"PMIX_NAMESPACE=ns", "PMIX_RANK=0", "PMIX_SERVER_URI41=x"}
	refuse := &abi.Report{Base: abi.BaseResult{Verdict: abi.Refuse, Messages: []string{"image glibc 2.28 lacks GLIBC_2.34"}}}

	repl := []string{stack.dir, "<STACK>", home, "<HOME>", data, "<DATA>", img, "<IMAGE>",
		filepath.Dir(sqfs), "<SQUASHFS>", envFile, "<ENVFILE>"}
	var out bytes.Buffer
	render := func(name string, p *Plan, cache *fakeNodeCache) {
		t.Helper()
		r := slices.Clone(repl)
		if p.Inject != nil {
			r = append(r, p.Inject.Key, "<KEY>", cache.dir, "<NODECACHE>")
		}
		var b bytes.Buffer
		p.Describe(&b, "check: ")
		out.WriteString("== " + name + "\n")
		for _, line := range strings.SplitAfter(placeholders(r).Replace(b.String()), "\n") {
			if !strings.Contains(line, "/etc/hosts") && !strings.Contains(line, "/etc/resolv.conf") {
				out.WriteString(line)
			}
		}
	}
	plan := func(spec *Spec, env []string, report *abi.Report) (*Plan, *fakeNodeCache) {
		t.Helper()
		h, cache := injectHost(t, env...)
		h.Home, h.Cwd = home, work
		cache.report = report
		p, err := New(spec, h)
		if err != nil {
			t.Fatal(err)
		}
		return p, cache
	}

	p, c := plan(&Spec{Image: img, Command: []string{"./solver", "-n", "4"}, PMI: PMIAuto,
		Binds:    []BindSpec{{Src: data, Dst: "/data", ReadOnly: true}, {Src: data, Dst: "/scratch"}},
		EnvEdits: []EnvEdit{{Op: "set", Name: "FOO", Value: "bar"}, {Op: "file", Name: envFile}}},
		append([]string{"LD_LIBRARY_PATH=/host/lib"}, hydra...), nil)
	render("plain directory image under hydra", p, c)

	spec := stack.spec(img, "sh", "-c", "true")
	spec.NoCwd, spec.NoHome, spec.PMI = false, false, PMIAuto
	p, c = plan(spec, pmix, nil)
	render("injection, ld.so cache to build", p, c)
	p.RecordLdCache(LdCacheBuilt, &abi.Report{}, nil)
	render("injection, ld.so cache built by this run", p, c)

	p, c = plan(stack.spec(img, "true"), nil, &abi.Report{})
	render("injection, ld.so cache reused", p, c)
	p, c = plan(stack.spec(img, "true"), nil, refuse)
	render("injection, ld.so cache reused, ABI refused", p, c)

	sq := stack.spec(sqfs, "/opt/app/solver")
	sq.NoJoin, sq.PMI = true, PMIAuto
	p, c = plan(sq, hydra, nil)
	repl = append(repl, squashfuse, "<SQUASHFUSE>")
	render("SquashFS image, ld.so cache built at start", p, c)

	golden := filepath.Join("testdata", "describe.golden")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestDescribeGolden -update to write it)", err)
	}
	if got := out.String(); got != string(want) {
		t.Errorf("Describe differs from %s (go test -run TestDescribeGolden -update rewrites it):\n%s", golden, lineDiff(string(want), got))
	}
}

// placeholders replaces each path (even) with its placeholder (odd),
// longest paths first, so that no path's prefix is replaced instead.
func placeholders(pairs []string) *strings.Replacer {
	var ps [][2]string
	for i := 0; i+1 < len(pairs); i += 2 {
		ps = append(ps, [2]string{pairs[i], pairs[i+1]})
	}
	slices.SortStableFunc(ps, func(a, b [2]string) int { return len(b[0]) - len(a[0]) })
	var flat []string
	for _, p := range ps {
		flat = append(flat, p[0], p[1])
	}
	return strings.NewReplacer(flat...)
}

// lineDiff lists the lines only in want (-) or only in got (+).
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for _, l := range w {
		if !slices.Contains(g, l) {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			b.WriteString("+ " + l + "\n")
		}
	}
	if b.Len() == 0 {
		return "(the same lines in another order)"
	}
	return b.String()
}

func TestDescribeFlags(t *testing.T) {
	tests := []struct {
		m    Mount
		want string
	}{
		{Mount{}, "read-write"},
		{Mount{Recursive: true, NoSuidDev: true}, "recursive, read-write, nosuid, nodev"},
		{Mount{ReadOnly: true, NoSuidDev: true, Optional: true}, "read-only, nosuid, nodev, optional"},
	}
	for _, tt := range tests {
		if got := tt.m.describeFlags(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.m, got, tt.want)
		}
	}
	p := &Plan{Image: Image{Path: "/img", Kind: ImageDir}, Env: &Env{}, Argv: []string{"true"}, Cwd: "/",
		Mounts: []Mount{{Src: "/etc/hosts", Dst: "/etc/hosts", ReadOnly: true, Optional: true, Why: "default"},
			{Dst: "/mnt/tmp", Dir: true, Detach: true, Why: "hide it"}}}
	var b bytes.Buffer
	p.Describe(&b, "> ")
	for _, line := range []string{"> bind /etc/hosts -> /etc/hosts (read-only, optional; default)\n", "> unmount /mnt/tmp (hide it)\n"} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("Describe:\n%s\nwant the line %q", b.String(), line)
		}
	}
}
