// Package run makes mpiwrap validate's runs: it finds or builds the
// benchmark programs for the host and the image, probes both sides' MPI
// library and rank placement, then runs each benchmark natively and in
// the container under the same launcher, alternately (A B A B ...), and
// turns the outputs into a report.Report.
package run

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/mpiwrap/mpiwrap/validate"
	"github.com/mpiwrap/mpiwrap/validate/osu"
	"github.com/mpiwrap/mpiwrap/validate/report"
	"github.com/mpiwrap/mpiwrap/validate/verdict"
	"golang.org/x/sys/unix"
)

// Progress is told what runs, so that it can draw a bar or log lines.
type Progress interface {
	// Start announces the number of benchmark and probe runs to come.
	Start(total int)
	// Step says what runs now.
	Step(label string)
	// Done counts one of the announced runs.
	Done()
	// Line is a line for the log: a finished benchmark, a setup step,
	// a command (--verbose).
	Line(text string)
	// Stop ends the display.
	Stop()
}

// Runner makes a validation.
type Runner struct {
	Opts     validate.Options
	Progress Progress // nil: silent
	// Env is the environment of every run; nil: this process's.
	Env []string
}

// side is one way of running a benchmark.
type side struct {
	name   string
	prefix []string          // before the program: nothing, or mpiwrap FLAGS IMAGE
	progs  map[string]string // benchmark name (and validate.VersionProgram) -> path
}

type nopProgress struct{}

func (nopProgress) Start(int)   {}
func (nopProgress) Step(string) {}
func (nopProgress) Done()       {}
func (nopProgress) Line(string) {}
func (nopProgress) Stop()       {}

// Run makes the validation. The error is for what kept any comparison
// from being made (no image, no mpiwrap, benchmarks that can't be
// built); the report then holds what was found so far and its Error.
// Failed benchmark runs are not errors: the report holds them.
func (r *Runner) Run(ctx context.Context) (*report.Report, error) {
	if r.Progress == nil {
		r.Progress = nopProgress{}
	}
	o := &r.Opts
	rep := &report.Report{
		Schema:    report.SchemaV1,
		Started:   time.Now(),
		Tolerance: o.Tolerance,
		Reps:      o.Reps,
		Warmups:   o.Warmups,
		Order:     "native and container alternately (A B A B ...), one benchmark at a time",
	}
	err := r.run(ctx, rep)
	rep.Seconds = time.Since(rep.Started).Seconds()
	rep.Finish()
	if err != nil {
		rep.Error = err.Error()
		rep.Verdict, rep.ExitCode = verdict.Error, verdict.ExitCode(verdict.Error)
	}
	return rep, err
}

func (r *Runner) run(ctx context.Context, rep *report.Report) error {
	o := &r.Opts
	env := environ(r.Env)
	rep.Host = hostFacts()
	kind, err := imageKind(o.Image)
	if err != nil {
		return err
	}
	rep.Image = report.Image{Path: o.Image, Kind: kind}

	words, _ := validate.SplitWords(o.Launcher)
	lkind := LauncherKind(words[0], env)
	argv, err := WithCPUBind(words, lkind, o.CPUBind)
	if err != nil {
		return err
	}
	rep.Launcher = report.Launcher{Command: o.Launcher, Argv: argv, Kind: lkind, CPUBind: o.CPUBind}
	family := o.MPI
	if family == "" {
		family = FamilyFor(lkind, argv)
	}

	mpiwrap, err := findMpiwrap(o.Mpiwrap, env)
	if err != nil {
		return err
	}
	rep.MpiwrapVersion = r.mpiwrapVersion(ctx, mpiwrap, env)
	cache, err := cacheDir(o.CacheDir)
	if err != nil {
		return err
	}
	benches := o.SelectedBenches()

	r.Progress.Step("building the host's benchmarks")
	native, nativeInfo, err := r.hostSide(ctx, family, cache, benches, env)
	if err != nil {
		return err
	}
	rep.Native = nativeInfo
	container := &side{name: report.Container, prefix: append(append([]string{mpiwrap}, o.MpiwrapArgs...), o.Image)}
	r.Progress.Step("looking for the image's benchmarks")
	containerInfo, err := r.imageSide(ctx, container, mpiwrap, family, cache, benches, env)
	if err != nil {
		return err
	}
	containerInfo.Prefix = container.prefix
	rep.Container = containerInfo

	r.Progress.Step("reading the MPI library versions")
	rep.Native.MPI = r.version(ctx, native, env)
	rep.Container.MPI = r.version(ctx, container, env)

	r.Progress.Start(2 + 2*len(benches)*(o.Reps+o.Warmups))
	rep.Placement = r.placement(ctx, argv, native, container, env)

	for _, b := range benches {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted")
		}
		bm := r.bench(ctx, b, argv, native, container, env)
		rep.Benchmarks = append(rep.Benchmarks, bm)
		r.Progress.Line(benchLine(bm))
	}
	return nil
}

// hostSide finds the native side's programs: a site's OSU binaries, or
// the project's built with the host's mpicc.
func (r *Runner) hostSide(ctx context.Context, family, cache string, benches []validate.Bench, env []string) (*side, report.SideInfo, error) {
	o := &r.Opts
	s := &side{name: report.Native, progs: map[string]string{}}
	info := report.SideInfo{Prefix: []string{}}
	mpicc := o.MPICC
	if mpicc == "" {
		mpicc = "mpicc." + family
		if _, err := lookPath(mpicc, env); err != nil {
			mpicc = "mpicc"
		}
	}
	dir, reused, buildErr := buildHost(ctx, cache, mpicc, env, o.Timeout)
	if buildErr == nil {
		s.progs[validate.VersionProgram] = filepath.Join(dir, validate.VersionProgram)
		r.Progress.Line(fmt.Sprintf("host benchmarks: %s (%s)", dir, builtOrReused(reused, mpicc)))
	}
	if o.OSUDir != "" {
		for _, b := range benches {
			p := filepath.Join(o.OSUDir, b.OSUProgram)
			if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
				return nil, info, fmt.Errorf("--osu-dir %s: no executable %s for benchmark %s", o.OSUDir, b.OSUProgram, b.Name)
			}
			s.progs[b.Name] = p
		}
		info.BenchDir, info.BenchSource = o.OSUDir, "from the site's OSU binaries in "+o.OSUDir
		return s, info, nil
	}
	if buildErr != nil {
		return nil, info, buildErr
	}
	for _, b := range benches {
		s.progs[b.Name] = filepath.Join(dir, b.Program)
	}
	info.BenchDir, info.BenchSource = dir, "built with the host's "+mpicc+" in "+dir
	return s, info, nil
}

func builtOrReused(reused bool, cc string) string {
	if reused {
		return "built earlier with " + cc
	}
	return "built now with " + cc
}

// imageSide finds the container side's programs: a site's OSU binaries in
// the image, the project's as the image ships them, or the project's
// built with the image's own compiler through mpiwrap.
func (r *Runner) imageSide(ctx context.Context, s *side, mpiwrap, family, cache string, benches []validate.Bench, env []string) (report.SideInfo, error) {
	o := &r.Opts
	s.progs = map[string]string{}
	info := report.SideInfo{}
	shipped := o.ImageBenchDir
	if shipped == "" {
		shipped = "/opt/mpiwrap-test/" + family
	}
	var want []string // programs we look for in the shipped directory
	osuDir := o.ImageOSUDir
	if osuDir == "" {
		osuDir = o.OSUDir
	}
	if osuDir != "" {
		var names []string
		for _, b := range benches {
			names = append(names, b.OSUProgram)
			s.progs[b.Name] = filepath.Join(osuDir, b.OSUProgram)
		}
		missing, err := r.missingInImage(ctx, s, osuDir, names, env)
		if err != nil {
			return info, err
		}
		if len(missing) > 0 {
			return info, fmt.Errorf("the image has no %s in %s (--image-osu-dir)", strings.Join(missing, ", "), osuDir)
		}
		info.BenchDir, info.BenchSource = osuDir, "from the site's OSU binaries in the image's "+osuDir
		want = []string{validate.VersionProgram}
	} else {
		for _, b := range benches {
			want = append(want, b.Program)
		}
		want = append(want, validate.VersionProgram)
	}
	missing, err := r.missingInImage(ctx, s, shipped, want, env)
	if err != nil {
		return info, err
	}
	dir := shipped
	source := "shipped in the image at " + shipped
	if len(missing) > 0 {
		r.Progress.Step("building the benchmarks with the image's compiler")
		built, reused, err := r.buildInImage(ctx, mpiwrap, family, cache, env)
		switch {
		case err != nil && osuDir == "":
			return info, fmt.Errorf("the image lacks %s in %s and they could not be built in it: %w", strings.Join(missing, ", "), shipped, err)
		case err != nil:
			r.Progress.Line("no mpiversion for the image: " + err.Error())
			return info, nil
		}
		dir = built
		source = "built with the image's compiler in " + built
		r.Progress.Line(fmt.Sprintf("image benchmarks: %s (%s, the image lacks %s in %s)", built, builtOrReused(reused, "the image's mpicc"), strings.Join(missing, ", "), shipped))
	}
	s.progs[validate.VersionProgram] = filepath.Join(dir, validate.VersionProgram)
	if osuDir == "" {
		for _, b := range benches {
			s.progs[b.Name] = filepath.Join(dir, b.Program)
		}
		info.BenchDir, info.BenchSource = dir, source
	}
	return info, nil
}

// missingInImage lists which of names are not executables in dir inside
// the container (mpiwrap's flags included: they may bind dir).
func (r *Runner) missingInImage(ctx context.Context, s *side, dir string, names []string, env []string) ([]string, error) {
	argv := append(slices.Clone(s.prefix), "/bin/sh", "-c", missingScript, "sh", dir)
	argv = append(argv, names...)
	r.verbose(argv)
	out := execute(ctx, argv, env, r.Opts.Timeout)
	if out.failure != "" {
		return nil, &report.RunError{Side: report.Container, Argv: argv, Exit: out.exit,
			Message: "mpiwrap could not run a shell in the image to look for the benchmarks: " + out.failure,
			Quote:   quoteLines(8, out.stderr, out.stdout)}
	}
	return strings.Fields(out.stdout), nil
}

// buildInImage compiles the project's programs with the image's mpicc in
// a cache directory bound into the container.
func (r *Runner) buildInImage(ctx context.Context, mpiwrap, family, cache string, env []string) (string, bool, error) {
	hash, err := sourcesHash()
	if err != nil {
		return "", false, err
	}
	key := cacheKey("image", hash, fileID(r.Opts.Image), family)
	return buildCached(cache, key, func(tmp string) error {
		argv := []string{mpiwrap, "-b", tmp, r.Opts.Image, "/bin/sh", "-c", imageBuildScript, "sh", tmp, family}
		argv = append(argv, programsToBuild...)
		r.verbose(argv)
		out := execute(ctx, argv, env, r.Opts.Timeout)
		if out.failure != "" {
			q := quoteLines(8, out.stderr, out.stdout)
			return fmt.Errorf("%s: %s", out.failure, strings.Join(q, "; "))
		}
		return nil
	})
}

// version runs the side's mpiversion without a launcher.
func (r *Runner) version(ctx context.Context, s *side, env []string) report.MPI {
	p, ok := s.progs[validate.VersionProgram]
	if !ok {
		return report.MPI{Error: "no mpiversion program on this side"}
	}
	argv := append(slices.Clone(s.prefix), p)
	r.verbose(argv)
	out := execute(ctx, argv, env, r.Opts.Timeout)
	if out.failure != "" {
		return report.MPI{Error: out.failure + ": " + strings.Join(quoteLines(3, out.stderr, out.stdout), "; ")}
	}
	return parseVersion(out.stdout)
}

// placement runs the placement probe on each side under the launcher.
func (r *Runner) placement(ctx context.Context, launcher []string, native, container *side, env []string) report.Placement {
	var pl report.Placement
	var errs []string
	envs := map[string]map[int]map[string]string{}
	probe := func(s *side) []report.Rank {
		r.Progress.Step("placement probe, " + s.name)
		argv := append(append(slices.Clone(launcher), s.prefix...), "/bin/sh", "-c", placementScript)
		r.verbose(argv)
		out := execute(ctx, argv, env, r.Opts.Timeout)
		r.Progress.Done()
		if out.failure != "" {
			errs = append(errs, fmt.Sprintf("the %s probe %s: %s", s.name, out.failure, strings.Join(quoteLines(3, out.stderr, out.stdout), "; ")))
			return nil
		}
		envs[s.name] = parseProbeEnv(out.stdout)
		return parsePlacement(out.stdout)
	}
	pl.Native, pl.Container = probe(native), probe(container)
	if envs[report.Native] != nil && envs[report.Container] != nil {
		pl.EnvDiff = envDiff(envs[report.Native], envs[report.Container])
	}
	if pl.Native == nil {
		pl.Native = []report.Rank{}
	}
	if pl.Container == nil {
		pl.Container = []report.Rank{}
	}
	host, _ := os.Hostname()
	pl.Summary = comparePlacement(pl.Native, pl.Container, host, runtime.NumCPU())
	pl.Error = strings.Join(errs, "; ")
	return pl
}

// bench runs one benchmark: warm-up pairs, then timed pairs, native
// first in each; it stops at the first failed run.
func (r *Runner) bench(ctx context.Context, b validate.Bench, launcher []string, native, container *side, env []string) report.Benchmark {
	o := &r.Opts
	start := time.Now()
	args := o.BenchArgs(b)
	bm := report.Benchmark{Name: b.Name, Title: b.Title, Kind: b.Kind, Unit: b.Unit, Sized: b.Sized,
		Rule:    o.Tolerance.Rule(b.Kind),
		Native:  report.Program{Path: native.progs[b.Name], Args: args},
		Contain: report.Program{Path: container.progs[b.Name], Args: args},
		Runs:    []report.Run{}}
	samples := map[string][]map[int64]float64{} // side -> timed reps -> size -> value
	complete := completeFunc(b, o)
	planned := 2 * (o.Warmups + o.Reps)
	made := 0
	for rep := -o.Warmups; rep < o.Reps; rep++ {
		for _, s := range []*side{native, container} {
			what := fmt.Sprintf("timed %d/%d", rep+1, o.Reps)
			if rep < 0 {
				what = fmt.Sprintf("warm-up %d/%d", rep+o.Warmups+1, o.Warmups)
			}
			r.Progress.Step(fmt.Sprintf("%s: %s, %s", b.Name, s.name, what))
			argv := append(append(append(slices.Clone(launcher), s.prefix...), s.progs[b.Name]), args...)
			var out outcome
			for attempt := 0; ; attempt++ {
				r.verbose(argv)
				out = executeSpec(ctx, runSpec{argv: argv, env: env, timeout: o.Timeout, complete: complete, grace: o.FinalizeGrace})
				if !out.hung || attempt == maxHangRetries {
					break
				}
				bm.Runs = append(bm.Runs, report.Run{Side: s.name, Rep: rep, WallMS: ms(out.wall), Hung: true})
				bm.HungRuns++
				r.Progress.Line(fmt.Sprintf("%s: a %s run printed its result but did not end within %v (MPICH 4.0.2 can hang in MPI_Finalize over TCP); stopped, running it again",
					b.Name, s.name, o.FinalizeGrace))
			}
			made++
			r.Progress.Done()
			vals, rerr := extract(b, out)
			bm.Runs = append(bm.Runs, report.Run{Side: s.name, Rep: rep, WallMS: ms(out.wall), OK: rerr == nil, Hung: out.hung})
			if rerr != nil {
				rerr.Side, rerr.Rep, rerr.Argv = s.name, rep, argv
				bm.Error = rerr
				for ; made < planned; made++ {
					r.Progress.Done()
				}
				bm.Seconds = time.Since(start).Seconds()
				bm.Judge()
				return bm
			}
			if rep >= 0 {
				samples[s.name] = append(samples[s.name], vals)
			}
		}
	}
	bm.Figures = figures(b, o.Tolerance, samples[report.Native], samples[report.Container])
	bm.Seconds = time.Since(start).Seconds()
	bm.Judge()
	return bm
}

// maxHangRetries is how many times a run that hung after its result is
// run again before the benchmark fails.
const maxHangRetries = 4

// completeFunc says whether a run's output so far holds its whole result:
// the row of the last message size, osu_init's line, any output of hello.
func completeFunc(b validate.Bench, o *validate.Options) func(string) bool {
	switch {
	case b.Sized:
		if _, ok := o.Extra[b.Name]; ok {
			return nil // its own arguments may change the sizes
		}
		last := validate.LastSize(o.SizeRange(b))
		return func(out string) bool {
			res, err := osu.ParseString(out)
			if err != nil {
				return false
			}
			_, ok := res.Value(last)
			return ok
		}
	case b.Name == "init":
		return func(out string) bool {
			res, err := osu.ParseString(out)
			return err == nil && res.Init != nil
		}
	}
	return func(out string) bool { return strings.TrimSpace(out) != "" }
}

// extract reads a run's figures by message size (size 0 for an unsized
// benchmark), or says why it has none.
func extract(b validate.Bench, out outcome) (map[int64]float64, *report.RunError) {
	fail := func(msg string) *report.RunError {
		return &report.RunError{Exit: out.exit, Message: msg, Quote: quoteLines(8, out.stderr, out.stdout),
			Stderr: tailLines(40, out.stderr), Stdout: tailLines(20, out.stdout)}
	}
	if out.failure != "" {
		return nil, fail(out.failure)
	}
	if b.Name == "hello" {
		return map[int64]float64{0: ms(out.wall)}, nil
	}
	res, err := osu.ParseString(out.stdout)
	if err != nil {
		return nil, fail("its output can't be read: " + err.Error())
	}
	vals := map[int64]float64{}
	if b.Sized {
		for _, row := range res.Rows {
			vals[row.Size] = row.Value
		}
		if len(vals) == 0 {
			return nil, fail("no figures in its output (no rows under a \"# Size\" header)")
		}
		return vals, nil
	}
	if res.Init == nil {
		return nil, fail("no \"nprocs: ..., avg: ...\" line in its output")
	}
	scale := map[string]float64{"ms": 1, "us": 1e-3, "s": 1e3}[res.Init.Unit]
	if scale == 0 {
		return nil, fail("osu_init's unit " + res.Init.Unit + " is not ms, us or s")
	}
	vals[0] = res.Init.Avg * scale
	return vals, nil
}

// figures compares the sides size by size: the sizes of the native runs,
// in order, each with the samples the runs have.
func figures(b validate.Bench, tol verdict.Tolerance, native, container []map[int64]float64) []report.Figure {
	var sizes []int64
	for _, run := range native {
		for s := range run {
			if !slices.Contains(sizes, s) {
				sizes = append(sizes, s)
			}
		}
	}
	slices.Sort(sizes)
	collect := func(runs []map[int64]float64, size int64) []float64 {
		out := []float64{}
		for _, run := range runs {
			if v, ok := run[size]; ok {
				out = append(out, v)
			}
		}
		return out
	}
	var figs []report.Figure
	for _, size := range sizes {
		f := report.Figure{Size: size, NativeSamples: collect(native, size), ContainerSamples: collect(container, size)}
		if !b.Sized {
			f.Label = map[string]string{"init": "MPI_Init avg", "hello": "job wall time"}[b.Name]
		}
		row := verdict.JudgeWith(b.Kind, tol, f.NativeSamples, f.ContainerSamples)
		f.NativeMedian, f.ContainerMedian, f.Ratio, f.Verdict, f.Why = row.NativeMedian, row.ContainerMedian, row.Ratio, row.Verdict, row.Why
		figs = append(figs, f)
	}
	return figs
}

// benchLine is the log line for a finished benchmark.
func benchLine(bm report.Benchmark) string {
	runs := fmt.Sprintf("%d runs, %.1f s", len(bm.Runs), bm.Seconds)
	if bm.Error != nil {
		return fmt.Sprintf("%s: %s, the %s side %s (%s)", bm.Name, verdict.Error, bm.Error.Side, bm.Error.Message, runs)
	}
	worst, at := 0.0, ""
	for _, f := range bm.Figures {
		if f.Verdict == verdict.Error {
			continue
		}
		// The figure furthest on the bad side of 1.
		bad := f.Ratio
		if !bm.Kind.LowerIsBetter() {
			bad = 2 - f.Ratio
		}
		if at == "" || bad > worst {
			worst, at = bad, fmt.Sprintf("%.3f", f.Ratio)
			if bm.Sized {
				at += fmt.Sprintf(" at %d B", f.Size)
			}
		}
	}
	return fmt.Sprintf("%s: %s, worst ratio %s (%s)", bm.Name, bm.Verdict, at, runs)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }

func (r *Runner) verbose(argv []string) {
	if r.Opts.Verbose {
		r.Progress.Line("run: " + strings.Join(argv, " "))
	}
}

// findMpiwrap is the given mpiwrap, or the one next to this executable,
// or the one in $PATH.
func findMpiwrap(given string, env []string) (string, error) {
	if given != "" {
		p, err := lookPath(given, env)
		if err != nil {
			return "", fmt.Errorf("--mpiwrap %s: %w", given, err)
		}
		return filepath.Abs(p)
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "mpiwrap")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := lookPath("mpiwrap", env)
	if err != nil {
		return "", fmt.Errorf("no mpiwrap next to this program nor in $PATH; give --mpiwrap")
	}
	return filepath.Abs(p)
}

func (r *Runner) mpiwrapVersion(ctx context.Context, mpiwrap string, env []string) string {
	out := execute(ctx, []string{mpiwrap, "version"}, env, time.Minute)
	f := strings.Fields(out.stdout)
	if out.failure != "" || len(f) < 2 {
		return "unknown"
	}
	return f[1]
}

// cacheDir is --cache-dir or $XDG_CACHE_HOME/mpiwrap/validate.
func cacheDir(given string) (string, error) {
	if given != "" {
		return given, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for the benchmarks (%v); give --cache-dir", err)
	}
	return filepath.Join(base, "mpiwrap", "validate"), nil
}

// imageKind says whether IMAGE is a directory or a SquashFS file.
func imageKind(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("image: %w", err)
	}
	if st.IsDir() {
		return "directory", nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("image: %w", err)
	}
	defer f.Close()
	magic := make([]byte, 4)
	if _, err := f.Read(magic); err != nil || string(magic) != "hsqs" {
		return "", fmt.Errorf("image %s is neither a directory nor a SquashFS file", path)
	}
	return "squashfs", nil
}

func hostFacts() report.Host {
	h := report.Host{CPUs: runtime.NumCPU()}
	h.Hostname, _ = os.Hostname()
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		h.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	if f, err := os.Open("/etc/os-release"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
				h.OS = strings.Trim(v, `"`)
			}
		}
	}
	return h
}
