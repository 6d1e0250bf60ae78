package integration

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

// The e2e tests of mpiwrap validate run as the test user, under hydra, on
// the Debian 12 image, with few repetitions and short message ranges so
// that each takes well under a minute. Their figures are noise on a busy
// 2-core machine: they check what validate reports and how it exits, not
// that the container is fast (README, Validate, has the measured figures).

// validateReport is the part of validate's JSON these tests read.
type validateReport struct {
	Schema         string `json:"schema"`
	MpiwrapVersion string `json:"mpiwrap_version"`
	Host           struct {
		Hostname string `json:"hostname"`
		CPUs     int    `json:"cpus"`
	} `json:"host"`
	Image struct {
		Path, Kind string
	} `json:"image"`
	Launcher struct {
		Command string   `json:"command"`
		Argv    []string `json:"argv"`
		Kind    string   `json:"kind"`
	} `json:"launcher"`
	Native, Container struct {
		Prefix      []string `json:"prefix"`
		BenchSource string   `json:"bench_source"`
		MPI         struct {
			Summary, Standard, Library string
		} `json:"mpi"`
	}
	Placement struct {
		Native, Container []struct {
			Rank       int
			Host, CPUs string
		}
		Summary string
		EnvDiff []string `json:"env_diff"`
	} `json:"placement"`
	Tolerance struct {
		Latency, Bandwidth, Startup float64
		StartupSlackMS              float64 `json:"startup_slack_ms"`
	} `json:"tolerance"`
	Reps       int `json:"reps"`
	Benchmarks []struct {
		Name    string `json:"name"`
		Kind    string `json:"kind"`
		Unit    string `json:"unit"`
		Verdict string `json:"verdict"`
		Runs    []struct {
			Side string
			Rep  int
			OK   bool
		} `json:"runs"`
		Figures []struct {
			Size             int64     `json:"size"`
			NativeSamples    []float64 `json:"native_samples"`
			ContainerSamples []float64 `json:"container_samples"`
			NativeMedian     float64   `json:"native_median"`
			ContainerMedian  float64   `json:"container_median"`
			Ratio            float64   `json:"ratio"`
			Verdict          string    `json:"verdict"`
		} `json:"figures"`
		Error *struct {
			Side    string
			Exit    int
			Message string
			Quote   []string
		} `json:"error"`
	} `json:"benchmarks"`
	Verdict  string `json:"verdict"`
	ExitCode int    `json:"exit_code"`
}

// runValidate runs mpiwrap validate as the test user with its cache and
// outputs in a directory of its own, and returns the result and the JSON.
func runValidate(t *testing.T, args ...string) (result, *validateReport, string) {
	t.Helper()
	testreq.Require(t, have("mpiexec.mpich") && have("mpicc.mpich"), "mpiexec.mpich and mpicc.mpich (libmpich-dev)")
	a := accounts(t)[1]
	dir := userDir(t, a)
	js := filepath.Join(dir, "validate.json")
	argv := append([]string{bin, "validate", "--launcher", "mpiexec.mpich -n 2", "--cache-dir", filepath.Join(dir, "cache"),
		"--json", js, "--progress", "lines"}, args...)
	start := time.Now()
	r := runAs(t, a, dir, nil, 120*time.Second, argv...)
	t.Logf("mpiwrap validate %s: exit %d in %v", strings.Join(args, " "), r.code, time.Since(start).Round(time.Millisecond))
	if _, err := os.Stat(js); err != nil {
		t.Fatalf("no JSON report: %v\n%s", err, r)
	}
	var rep validateReport
	readJSON(t, js, &rep)
	if rep.ExitCode != r.code {
		t.Fatalf("JSON says exit %d, validate exited %d\n%s", rep.ExitCode, r.code, r)
	}
	return r, &rep, dir
}

// readJSON decodes the JSON file at path into v.
func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, data)
	}
}

func TestValidateHydraTableJSONPlot(t *testing.T) {
	img := debian(t, "bookworm")
	pngPath := "validate.png"
	r, rep, dir := runValidate(t, "--reps", "2", "--sizes", "1:4096", "--iters", "200", "--plot", pngPath, img)
	if r.code != 0 && r.code != 1 {
		t.Fatalf("want PASS (0) or FAIL (1), got %s", r)
	}
	// The table: every benchmark, then the result.
	for _, want := range []string{"mpiwrap validate: container against bare metal", "launcher   mpiexec.mpich -n 2 (hydra)",
		"latency: ping-pong latency, us (PASS if container ≤ native +5%)", "bw: windowed bandwidth, MB/s (PASS if container ≥ native −5%)",
		"bibw: ", "allreduce: ", "init: ", "hello: ", "size  native  container", "result: "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}
	// A plain line per finished benchmark on stderr (not a terminal).
	for _, b := range []string{"latency", "bw", "bibw", "allreduce", "init", "hello"} {
		if !strings.Contains(r.stderr, "mpiwrap validate: "+b+": ") {
			t.Errorf("no progress line for %s:\n%s", b, r.stderr)
		}
	}
	// The JSON: the setting, both sides, and every sample.
	version := strings.Fields(must(t, mpiwrap(t, accounts(t)[1], nil, "version")).stdout)[1]
	switch {
	case rep.Schema != "mpiwrap-validate/1", rep.MpiwrapVersion != version:
		t.Errorf("schema %q, mpiwrap version %q (want %q)", rep.Schema, rep.MpiwrapVersion, version)
	case rep.Host.Hostname == "" || rep.Host.CPUs < 1:
		t.Errorf("host %+v", rep.Host)
	case rep.Image.Path != img || rep.Image.Kind != "directory":
		t.Errorf("image %+v", rep.Image)
	case rep.Launcher.Command != "mpiexec.mpich -n 2" || rep.Launcher.Kind != "hydra":
		t.Errorf("launcher %+v", rep.Launcher)
	case !strings.HasPrefix(rep.Native.MPI.Summary, "MPICH 4.0") || !strings.HasPrefix(rep.Container.MPI.Summary, "MPICH 4.0") || rep.Native.MPI.Standard == "":
		t.Errorf("MPI versions %+v / %+v", rep.Native.MPI, rep.Container.MPI)
	case len(rep.Native.Prefix) != 0 || len(rep.Container.Prefix) != 2 || rep.Container.Prefix[0] != bin || rep.Container.Prefix[1] != img:
		t.Errorf("prefixes %q / %q", rep.Native.Prefix, rep.Container.Prefix)
	case !strings.HasPrefix(rep.Native.BenchSource, "built with the host's mpicc.mpich") || rep.Container.BenchSource != "shipped in the image at /opt/mpiwrap-test/mpich":
		t.Errorf("benchmark sources %q / %q", rep.Native.BenchSource, rep.Container.BenchSource)
	case len(rep.Placement.Native) != 2 || len(rep.Placement.Container) != 2 || !strings.HasPrefix(rep.Placement.Summary, "2 ranks on 1 node") ||
		rep.Placement.EnvDiff == nil:
		t.Errorf("placement %+v", rep.Placement)
	case rep.Tolerance.Latency != 0.05 || rep.Tolerance.Bandwidth != 0.05 || rep.Tolerance.Startup != 0.1 || rep.Tolerance.StartupSlackMS != 50 || rep.Reps != 2:
		t.Errorf("tolerance %+v, reps %d", rep.Tolerance, rep.Reps)
	case len(rep.Benchmarks) != 6:
		t.Fatalf("%d benchmarks, want 6", len(rep.Benchmarks))
	}
	for _, b := range rep.Benchmarks {
		if b.Error != nil || (b.Verdict != "PASS" && b.Verdict != "FAIL") || len(b.Runs) != 6 {
			t.Errorf("%s: verdict %s, error %+v, %d runs", b.Name, b.Verdict, b.Error, len(b.Runs))
			continue
		}
		want := map[string]int{"latency": 13, "bw": 13, "bibw": 13, "allreduce": 11, "init": 1, "hello": 1}[b.Name]
		if len(b.Figures) != want {
			t.Errorf("%s: %d figures, want %d", b.Name, len(b.Figures), want)
		}
		for _, f := range b.Figures {
			if len(f.NativeSamples) != 2 || len(f.ContainerSamples) != 2 || f.NativeMedian <= 0 || f.ContainerMedian <= 0 ||
				f.Ratio <= 0 || (f.Verdict != "PASS" && f.Verdict != "FAIL") {
				t.Errorf("%s %d B: %+v", b.Name, f.Size, f)
			}
		}
	}
	// The PNG: a real one, a panel per benchmark (2 columns, 3 rows).
	data, err := os.ReadFile(filepath.Join(dir, pngPath))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil || !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("%s is not a PNG: %v", pngPath, err)
	}
	if cfg.Width < 1000 || cfg.Height < 1000 || len(data) < 50_000 {
		t.Errorf("PNG of %dx%d, %d bytes: too small for six panels", cfg.Width, cfg.Height, len(data))
	}
}

// A container side slowed on purpose (an LD_PRELOAD shim that delays
// every MPI_Send by 50 µs, set through mpiwrap's own --set-env, which
// applies after mpiwrap drops the host's LD_PRELOAD) is reported FAIL,
// with exit 1; the native side runs without it.
func TestValidateSlowedContainerFails(t *testing.T) {
	img := debian(t, "bookworm")
	const shim = "/opt/mpiwrap-test/mpich/libslowsend.so"
	if _, err := os.Stat(filepath.Join(img, shim)); err != nil {
		testreq.Require(t, false, "the shim "+shim+" in the image (ci/images/build-debian.sh bookworm)")
	}
	r, rep, _ := runValidate(t, "--bench", "latency", "--reps", "2", "--sizes", "8:64", "--iters", "200",
		"--set-env", "LD_PRELOAD="+shim, "--set-env", "SLOWSEND_US=50", img)
	if r.code != 1 || rep.Verdict != "FAIL" {
		t.Fatalf("want FAIL and exit 1, got %s", r)
	}
	if got := strings.Join(rep.Container.Prefix, " "); !strings.Contains(got, "--set-env=LD_PRELOAD="+shim) {
		t.Errorf("container prefix %q lacks the shim", got)
	}
	// The report says what differs between the sides.
	if got := strings.Join(rep.Placement.EnvDiff, "; "); !strings.Contains(got, "LD_PRELOAD="+shim+" in the container (unset natively)") {
		t.Errorf("env_diff %q lacks the shim", got)
	}
	for _, f := range rep.Benchmarks[0].Figures {
		// 50 µs more per message against well under 10 µs natively.
		if f.Verdict != "FAIL" || f.Ratio < 3 || f.ContainerMedian < 50 {
			t.Errorf("latency %d B: %+v", f.Size, f)
		}
	}
	if !strings.Contains(r.stdout, "result: FAIL (4 of 4 figures outside the tolerance: latency 8 B") {
		t.Errorf("table:\n%s", r.stdout)
	}
}

// When the container side can't run (a namespace per rank: MPICH's
// shared memory fails in MPI_Init), the report quotes its error instead
// of figures, and the exit code is 2.
func TestValidateContainerFailureIsQuoted(t *testing.T) {
	img := debian(t, "bookworm")
	r, rep, _ := runValidate(t, "--bench", "latency,bw", "--reps", "1", "--sizes", "1:64", "--iters", "50", "--no-join", img)
	if r.code != 2 || rep.Verdict != "ERROR" {
		t.Fatalf("want ERROR and exit 2, got %s", r)
	}
	for _, b := range rep.Benchmarks {
		e := b.Error
		if e == nil || e.Side != "container" || len(e.Quote) == 0 || len(b.Figures) != 0 {
			t.Fatalf("%s: error %+v, %d figures", b.Name, e, len(b.Figures))
		}
		if q := strings.Join(e.Quote, "\n"); !strings.Contains(q, "Shared memory error") && !strings.Contains(q, "rror") {
			t.Errorf("%s: quote says nothing of the error:\n%s", b.Name, q)
		}
	}
	for _, want := range []string{"the container side failed in warm-up run 1", "      > ", "command: mpiexec.mpich -n 2 " + bin + " --no-join " + img,
		"result: ERROR (no comparison for latency, bw: a run failed); exit 2"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "0.00") {
		t.Errorf("a table of zeros:\n%s", r.stdout)
	}
}

// Bad flags, and a missing mpiwrap-validate, exit 2 (no comparison
// made), never 1 (FAIL).
func TestValidateUsageErrors(t *testing.T) {
	a := accounts(t)[1]
	img := tiny
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"validate"}, "want one IMAGE, got 0 arguments"},
		{[]string{"validate", "--reps", "0", img}, "--reps 0: want at least 1"},
		{[]string{"validate", "--bench", "nope", img}, `no benchmark "nope"`},
		{[]string{"validate", "--tolerance", "x", img}, "want a percentage"},
		{[]string{"validate", "--no-such-flag", img}, "unknown flag: --no-such-flag"},
		{[]string{"validate", "--plot", "out.pdf", img}, "want a .png or .svg file"},
		{[]string{"validate", "--json", "/nonexistent/dir/v.json", img}, "no directory /nonexistent/dir"},
	} {
		wantFail(t, mpiwrap(t, a, nil, c.args...), 2, c.want)
	}
	// mpiwrap alone, without its helper beside it or in $PATH.
	d := userDir(t, a)
	lone := filepath.Join(d, "mpiwrap")
	if out, err := exec.Command("cp", bin, lone).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	r := runAs(t, a, d, nil, 30*time.Second, lone, "validate", img)
	wantFail(t, r, 2, "mpiwrap-validate is not next to mpiwrap nor in $PATH")
}
