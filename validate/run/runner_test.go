package run

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/validate"
	"github.com/mpiwrap/mpiwrap/validate/report"
	"github.com/mpiwrap/mpiwrap/validate/verdict"
)

// fakeProg is every fake benchmark: it prints OSU-layout output by its
// name, its figures scaled by FAKE_FACTOR in the container (where the
// fake mpiwrap sets FAKE_SIDE), logs each run and fails on request.
const fakeProg = `#!/bin/sh
side=${FAKE_SIDE:-native}
echo "$side ${0##*/}" >>"$FAKE_LOG"
f=1
[ "$side" = container ] && f=${FAKE_FACTOR:-1}
if [ "$side" = "${FAKE_FAIL:-none}" ]; then
	echo "Abort(1090447) on node 0: Fatal error in internal_Init: Other MPI error, error stack:" >&2
	echo "MPIDU_Init_shm_init(179): unable to allocate shared memory" >&2
	exit 1
fi
hang() {
	# FAKE_HANG=SIDE:N: the first N runs of that side hang after their
	# result, as MPICH 4.0.2 can in MPI_Finalize.
	[ "${FAKE_HANG%%:*}" = "$side" ] && [ "${0##*/}" != mpiversion ] || return 0
	n=$(cat "$FAKE_LOG.hangs" 2>/dev/null || echo 0)
	[ "$n" -lt "${FAKE_HANG#*:}" ] || return 0
	echo $((n + 1)) >"$FAKE_LOG.hangs"
	exec sleep 60
}
trap hang EXIT
case ${0##*/} in
osu_latency) echo "# OSU MPI Latency Test v7.4"; echo "# Datatype: MPI_CHAR."; echo "# Size       Avg Latency(us)"
	awk -v f="$f" 'BEGIN { for (s = 1; s <= 1024; s *= 4) printf "%-10d%18.2f\n", s, (1 + s / 100) * f }' ;;
osu_bw) echo "# Size      Bandwidth (MB/s)"
	awk -v f="$f" 'BEGIN { for (s = 1; s <= 1024; s *= 4) printf "%-10d%18.2f\n", s, s * 10 / f }' ;;
osu_init) echo "# OSU MPI Init Test"; awk -v f="$f" 'BEGIN { printf "nprocs: 2, min: %.2f ms, max: %.2f ms, avg: %.2f ms\n", 40 * f, 42 * f, 41 * f }' ;;
osu_hello|hello) echo "hello size=2 sum=1" ;;
mpiversion) echo "MPI 4.0"; printf 'MPICH Version:\t4.0.2\nMPICH Device:\tch4:%s\n' "$side" ;;
*) echo "fake: unknown program ${0##*/}" >&2; exit 9 ;;
esac
`

// fakeMpiwrap drops its flags and the image and runs the command as the
// container side.
const fakeMpiwrap = `#!/bin/sh
[ "$1" = version ] && { echo "mpiwrap 9.9-test"; exit 0; }
while [ $# -gt 0 ]; do
	case $1 in
	-b) shift 2 ;;
	-*) shift ;;
	*) shift; break ;;
	esac
done
FAKE_SIDE=container exec "$@"
`

// fakeLauncher is a one-rank launcher.
const fakeLauncher = `#!/bin/sh
PMI_RANK=0 exec "$@"
`

// fakeCC "compiles" a program by linking the fake one under its name.
const fakeCC = `#!/bin/sh
while [ $# -gt 0 ]; do
	[ "$1" = -o ] && out=$2
	shift
done
cp "$FAKE_PROG" "$out"
`

type fake struct {
	dir, log, image string
	opts            validate.Options
	env             []string
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
}

func newFake(t *testing.T) *fake {
	t.Helper()
	d := t.TempDir()
	f := &fake{dir: d, log: filepath.Join(d, "log"), image: filepath.Join(d, "image")}
	write(t, filepath.Join(d, "prog"), fakeProg)
	write(t, filepath.Join(d, "bin", "mpiwrap"), fakeMpiwrap)
	write(t, filepath.Join(d, "bin", "launch"), fakeLauncher)
	write(t, filepath.Join(d, "bin", "fakecc"), fakeCC)
	if err := os.MkdirAll(f.image, 0o755); err != nil {
		t.Fatal(err)
	}
	// What the image ships: the fake programs under the project's names.
	for _, p := range programsToBuild {
		write(t, filepath.Join(d, "shipped", p), fakeProg)
	}
	f.env = []string{"PATH=" + filepath.Join(d, "bin") + ":/usr/bin:/bin", "FAKE_LOG=" + f.log, "FAKE_PROG=" + filepath.Join(d, "prog"), "HOME=" + d}
	o := validate.Defaults()
	o.Image = f.image
	o.Launcher = "launch"
	o.Benches = []string{"latency", "bw", "init", "hello"}
	o.Reps, o.Warmups = 3, 1
	o.MPICC = "fakecc"
	o.Mpiwrap = filepath.Join(d, "bin", "mpiwrap")
	o.MpiwrapArgs = []string{"--profile=mpich"}
	o.ImageBenchDir = filepath.Join(d, "shipped")
	o.CacheDir = filepath.Join(d, "cache")
	o.Progress = validate.ProgressOff
	// The fake mpiwrap is a shell more: the start-up times differ.
	o.Tolerance.Startup = 10
	o.Timeout = 30 * time.Second
	if err := o.Finish(d); err != nil {
		t.Fatal(err)
	}
	f.opts = o
	return f
}

func (f *fake) run(t *testing.T, env ...string) *report.Report {
	t.Helper()
	rec := &recorder{}
	r := &Runner{Opts: f.opts, Env: append(append([]string{}, f.env...), env...), Progress: rec}
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rec.done != rec.total || !rec.started {
		t.Errorf("progress: %d of %d runs counted", rec.done, rec.total)
	}
	return rep
}

type recorder struct {
	started     bool
	total, done int
	lines       []string
}

func (r *recorder) Start(n int)      { r.started, r.total = true, n }
func (r *recorder) Step(string)      {}
func (r *recorder) Done()            { r.done++ }
func (r *recorder) Line(text string) { r.lines = append(r.lines, text) }
func (r *recorder) Stop()            {}

func TestRunEqualSidesPass(t *testing.T) {
	f := newFake(t)
	rep := f.run(t)
	if rep.Verdict != verdict.Pass || rep.ExitCode != 0 {
		t.Fatalf("verdict %s exit %d, want PASS 0: %+v", rep.Verdict, rep.ExitCode, rep.Benchmarks)
	}
	if rep.MpiwrapVersion != "9.9-test" {
		t.Errorf("mpiwrap version %q", rep.MpiwrapVersion)
	}
	if rep.Native.MPI.Summary != "MPICH 4.0.2 (ch4:native)" || rep.Container.MPI.Summary != "MPICH 4.0.2 (ch4:container)" || rep.Native.MPI.Standard != "4.0" {
		t.Errorf("MPI versions %+v / %+v", rep.Native.MPI, rep.Container.MPI)
	}
	if got := strings.Join(rep.Container.Prefix, " "); got != f.opts.Mpiwrap+" --profile=mpich "+f.image {
		t.Errorf("container prefix %q", got)
	}
	if !strings.HasPrefix(rep.Native.BenchSource, "built with the host's fakecc") || !strings.HasPrefix(rep.Container.BenchSource, "shipped in the image") {
		t.Errorf("bench sources %q / %q", rep.Native.BenchSource, rep.Container.BenchSource)
	}
	if len(rep.Placement.Native) != 1 || rep.Placement.Native[0].Rank != 0 || !strings.Contains(rep.Placement.Summary, "the same in the container") {
		t.Errorf("placement %+v", rep.Placement)
	}
	if len(rep.Benchmarks) != 4 {
		t.Fatalf("%d benchmarks", len(rep.Benchmarks))
	}
	lat := rep.Benchmarks[0]
	if lat.Name != "latency" || len(lat.Figures) != 6 || lat.Figures[0].Size != 1 || lat.Figures[5].Size != 1024 {
		t.Fatalf("latency figures %+v", lat.Figures)
	}
	for _, fg := range lat.Figures {
		if len(fg.NativeSamples) != 3 || len(fg.ContainerSamples) != 3 || fg.Ratio != 1 {
			t.Errorf("latency figure %+v", fg)
		}
	}
	if got := strings.Join(lat.Native.Args, " "); got != "-m 1:1048576" {
		t.Errorf("latency args %q", got)
	}
	if in := rep.Benchmarks[2]; in.Name != "init" || in.Figures[0].NativeMedian != 41 || in.Figures[0].Label != "MPI_Init avg" {
		t.Errorf("init %+v", in.Figures)
	}
	if h := rep.Benchmarks[3]; h.Name != "hello" || h.Figures[0].NativeMedian <= 0 || h.Unit != "ms" {
		t.Errorf("hello %+v", h.Figures)
	}
	// The runs alternate, native first, warm-ups included: A B A B ...
	log, err := os.ReadFile(f.log)
	if err != nil {
		t.Fatal(err)
	}
	var latRuns []string
	for _, l := range strings.Split(strings.TrimSpace(string(log)), "\n") {
		if strings.HasSuffix(l, " osu_latency") {
			latRuns = append(latRuns, strings.Fields(l)[0])
		}
	}
	if got := strings.Join(latRuns, " "); got != "native container native container native container native container" {
		t.Errorf("latency runs in order: %s", got)
	}
	if runs := lat.Runs; len(runs) != 8 || runs[0].Rep != -1 || runs[2].Rep != 0 || runs[7].Side != report.Container {
		t.Errorf("runs %+v", runs)
	}
}

func TestRunSlowContainerFails(t *testing.T) {
	f := newFake(t)
	f.opts.Benches = []string{"latency", "bw"}
	rep := f.run(t, "FAKE_FACTOR=1.5")
	if rep.Verdict != verdict.Fail || rep.ExitCode != 1 {
		t.Fatalf("verdict %s exit %d, want FAIL 1", rep.Verdict, rep.ExitCode)
	}
	for _, b := range rep.Benchmarks {
		for _, fg := range b.Figures {
			if fg.Verdict != verdict.Fail {
				t.Errorf("%s %d B: %+v", b.Name, fg.Size, fg)
			}
		}
	}
	if r := rep.Benchmarks[0].Figures[1].Ratio; math.Abs(r-1.5) > 0.01 {
		t.Errorf("latency ratio %v, want 1.5", r)
	}
	var out strings.Builder
	if err := rep.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "result: FAIL (12 of 12 figures outside the tolerance: latency 1 B 1.505, latency 4 B 1.500, latency 16 B 1.500, latency 64 B 1.500, latency 256 B 1.500 and 7 more); exit 1") {
		t.Errorf("table:\n%s", out.String())
	}
}

func TestRunContainerErrorIsQuoted(t *testing.T) {
	f := newFake(t)
	f.opts.Benches = []string{"latency", "bw"}
	rep := f.run(t, "FAKE_FAIL=container")
	if rep.Verdict != verdict.Error || rep.ExitCode != 2 {
		t.Fatalf("verdict %s exit %d, want ERROR 2", rep.Verdict, rep.ExitCode)
	}
	for _, b := range rep.Benchmarks {
		e := b.Error
		if e == nil || e.Side != report.Container || e.Exit != 1 || e.Rep != -1 || len(b.Figures) != 0 {
			t.Fatalf("%s: error %+v, figures %d", b.Name, e, len(b.Figures))
		}
		if len(e.Quote) != 2 || !strings.Contains(e.Quote[0], "Fatal error in internal_Init") {
			t.Errorf("%s: quote %q", b.Name, e.Quote)
		}
		if len(b.Runs) != 2 {
			t.Errorf("%s: %d runs, want the warm-up pair only", b.Name, len(b.Runs))
		}
	}
	var out strings.Builder
	rep.WriteTable(&out)
	for _, want := range []string{"the container side failed in warm-up run 1: exited with status 1", "> Abort(1090447)", "command: launch " + f.opts.Mpiwrap + " --profile=mpich ", "result: ERROR (no comparison for latency, bw: a run failed); exit 2"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "0.00") {
		t.Errorf("table shows figures of a failed run:\n%s", out.String())
	}
}

func TestRunOSUDir(t *testing.T) {
	f := newFake(t)
	osu := filepath.Join(f.dir, "osu")
	for _, p := range []string{"osu_latency", "osu_bw", "osu_init", "osu_hello"} {
		write(t, filepath.Join(osu, p), fakeProg)
	}
	f.opts.OSUDir = osu
	rep := f.run(t)
	if rep.Verdict != verdict.Pass {
		t.Fatalf("verdict %s", rep.Verdict)
	}
	if rep.Benchmarks[0].Native.Path != filepath.Join(osu, "osu_latency") || rep.Benchmarks[3].Contain.Path != filepath.Join(osu, "osu_hello") {
		t.Errorf("programs %+v %+v", rep.Benchmarks[0].Native, rep.Benchmarks[3].Contain)
	}
	if !strings.Contains(rep.Native.BenchSource, "site's OSU") || !strings.Contains(rep.Container.BenchSource, "site's OSU") {
		t.Errorf("sources %q %q", rep.Native.BenchSource, rep.Container.BenchSource)
	}
	// A missing OSU program is a set-up error.
	os.Remove(filepath.Join(osu, "osu_bw"))
	r := &Runner{Opts: f.opts, Env: f.env}
	if _, err := r.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "no executable osu_bw") {
		t.Errorf("want a missing osu_bw error, got %v", err)
	}
}

func TestRunBuildsInImage(t *testing.T) {
	f := newFake(t)
	// The image ships nothing: the programs are built "in it" with the
	// fake compiler (the fake mpiwrap runs the build script on the host).
	f.opts.ImageBenchDir = filepath.Join(f.dir, "empty")
	write(t, filepath.Join(f.dir, "bin", "mpicc.mpich"), fakeCC)
	f.opts.Benches = []string{"latency"}
	rep := f.run(t)
	if rep.Verdict != verdict.Pass || !strings.HasPrefix(rep.Container.BenchSource, "built with the image's compiler in "+f.opts.CacheDir) {
		t.Fatalf("verdict %s, container source %q", rep.Verdict, rep.Container.BenchSource)
	}
	// The second run reuses both builds.
	before, _ := filepath.Glob(filepath.Join(f.opts.CacheDir, "*"))
	f.run(t)
	after, _ := filepath.Glob(filepath.Join(f.opts.CacheDir, "*"))
	if len(before) != 2 || strings.Join(before, " ") != strings.Join(after, " ") {
		t.Errorf("cache before %q, after %q", before, after)
	}
}

func TestRunSetupErrors(t *testing.T) {
	f := newFake(t)
	o := f.opts
	o.Image = filepath.Join(f.dir, "nothing")
	if _, err := (&Runner{Opts: o, Env: f.env}).Run(context.Background()); err == nil || !strings.Contains(err.Error(), "image") {
		t.Errorf("missing image: %v", err)
	}
	o = f.opts
	o.MPICC = "no-such-mpicc"
	rep, err := (&Runner{Opts: o, Env: f.env}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "host MPI compiler no-such-mpicc") || rep.ExitCode != 2 || rep.Error == "" {
		t.Errorf("missing mpicc: %v (report exit %d)", err, rep.ExitCode)
	}
	o = f.opts
	o.CPUBind = "core"
	if _, err := (&Runner{Opts: o, Env: f.env}).Run(context.Background()); err == nil || !strings.Contains(err.Error(), "--cpu-bind") {
		t.Errorf("cpu-bind on an unknown launcher: %v", err)
	}
}

func TestBenchLine(t *testing.T) {
	f := newFake(t)
	f.opts.Benches = []string{"latency"}
	rec := &recorder{}
	r := &Runner{Opts: f.opts, Env: append(f.env, "FAKE_FACTOR=1.2"), Progress: rec}
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	last := rec.lines[len(rec.lines)-1]
	if !strings.HasPrefix(last, "latency: FAIL, worst ratio 1.2") || !strings.Contains(last, "(8 runs, ") {
		t.Errorf("bench line %q", last)
	}
}

func TestRunStopsAndRerunsAHungRun(t *testing.T) {
	f := newFake(t)
	f.opts.Benches = []string{"latency", "init"}
	f.opts.Reps, f.opts.Warmups = 2, 0
	f.opts.FinalizeGrace = 300 * time.Millisecond
	f.opts.Sizes = "1:1024"
	start := time.Now()
	rep := f.run(t, "FAKE_HANG=container:2")
	if rep.Verdict != verdict.Pass || time.Since(start) > 20*time.Second {
		t.Fatalf("verdict %s after %v", rep.Verdict, time.Since(start))
	}
	lat := rep.Benchmarks[0]
	if lat.HungRuns != 2 || len(lat.Runs) != 6 || !lat.Runs[1].Hung || lat.Runs[1].OK || !lat.Runs[3].OK || lat.Runs[3].Side != report.Container {
		t.Fatalf("hung %d, runs %+v", lat.HungRuns, lat.Runs)
	}
	if len(lat.Figures[0].ContainerSamples) != 2 {
		t.Errorf("samples %+v", lat.Figures[0])
	}
	var out strings.Builder
	rep.WriteTable(&out)
	if !strings.Contains(out.String(), "2 run(s) printed their result but did not end (MPI_Finalize hang); stopped and run again") {
		t.Errorf("table:\n%s", out.String())
	}
	// A side that always hangs fails after the retries, with the reason.
	f = newFake(t)
	f.opts.Benches, f.opts.Reps, f.opts.Warmups, f.opts.FinalizeGrace = []string{"init"}, 1, 0, 200*time.Millisecond
	rep = f.run(t, "FAKE_HANG=native:99")
	e := rep.Benchmarks[0].Error
	if rep.ExitCode != 2 || e == nil || e.Side != report.Native || !strings.Contains(e.Message, "did not end within 200ms") || rep.Benchmarks[0].HungRuns != maxHangRetries {
		t.Fatalf("exit %d, error %+v, hung %d", rep.ExitCode, e, rep.Benchmarks[0].HungRuns)
	}
}
