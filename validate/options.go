package validate

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mpiwrap/mpiwrap/validate/verdict"
	"github.com/spf13/pflag"
)

// Bench is one benchmark validate knows.
type Bench struct {
	Name string `json:"name"`
	// Program is the project's program (ci/progs), in the host cache and
	// in the image's benchmark directory.
	Program string `json:"program"`
	// OSUProgram is the name among a site's OSU binaries (--osu-dir).
	OSUProgram string       `json:"osu_program"`
	Kind       verdict.Kind `json:"kind"`
	Unit       string       `json:"unit"`
	// Sized benchmarks report a figure per message size; the others one
	// figure per run.
	Sized bool   `json:"sized"`
	Title string `json:"title"`
	// MinSize is the smallest message size the benchmark accepts.
	MinSize int64 `json:"-"`
}

// Benches are the benchmarks, in the order they run.
var Benches = []Bench{
	{Name: "latency", Program: "osu_latency", OSUProgram: "osu_latency", Kind: verdict.Latency, Unit: "us", Sized: true, Title: "ping-pong latency"},
	{Name: "bw", Program: "osu_bw", OSUProgram: "osu_bw", Kind: verdict.Bandwidth, Unit: "MB/s", Sized: true, Title: "windowed bandwidth"},
	{Name: "bibw", Program: "osu_bibw", OSUProgram: "osu_bibw", Kind: verdict.Bandwidth, Unit: "MB/s", Sized: true, Title: "bidirectional bandwidth"},
	{Name: "allreduce", Program: "osu_allreduce", OSUProgram: "osu_allreduce", Kind: verdict.Latency, Unit: "us", Sized: true, Title: "MPI_Allreduce latency", MinSize: 4},
	{Name: "init", Program: "osu_init", OSUProgram: "osu_init", Kind: verdict.Startup, Unit: "ms", Title: "MPI_Init time (mean over ranks)"},
	{Name: "hello", Program: "hello", OSUProgram: "osu_hello", Kind: verdict.Startup, Unit: "ms", Title: "wall time of a whole hello job"},
}

// BenchNames lists the names of Benches.
func BenchNames() []string {
	var names []string
	for _, b := range Benches {
		names = append(names, b.Name)
	}
	return names
}

// LookupBench finds a benchmark by name.
func LookupBench(name string) (Bench, bool) {
	for _, b := range Benches {
		if b.Name == name {
			return b, true
		}
	}
	return Bench{}, false
}

// VersionProgram prints the MPI library's version without MPI_Init
// (ci/progs/mpiversion.c); validate runs it on each side.
const VersionProgram = "mpiversion"

// Progress modes.
const (
	ProgressAuto  = "auto"  // a bar on a terminal, plain lines otherwise
	ProgressBar   = "bar"   // always the bar
	ProgressLines = "lines" // one line per finished benchmark
	ProgressOff   = "off"
)

// Options is a whole validation: what mpiwrap validate's flags set. It
// travels as JSON from mpiwrap to mpiwrap-validate.
type Options struct {
	Image string `json:"image"`
	// Launcher is the launcher command line, split into words like a
	// shell would (quotes, backslashes; no expansion).
	Launcher string   `json:"launcher"`
	Benches  []string `json:"benches"`
	// Reps is the number of timed native/container pairs per benchmark.
	Reps int `json:"reps"`
	// Warmups untimed pairs run first (page cache, mpiwrap's caches).
	Warmups   int               `json:"warmups"`
	Tolerance verdict.Tolerance `json:"tolerance"`
	// Sizes is MIN:MAX (or MAX) of the message sizes in bytes.
	Sizes string `json:"sizes"`
	// Iters is the loop count for every size (-i); 0: the programs'
	// defaults (OSU's: 10000, 1000 above 8 KiB, for latency).
	Iters int `json:"iters"`
	// Skip is the warm-up loop count (-x); -1: the default.
	Skip int `json:"skip"`
	// Extra holds more arguments per benchmark ("bw" -> "-W 32").
	Extra       map[string]string `json:"extra,omitempty"`
	JSONFile    string            `json:"json_file,omitempty"`
	PlotFile    string            `json:"plot_file,omitempty"`
	CPUBind     string            `json:"cpu_bind,omitempty"`
	MPI         string            `json:"mpi,omitempty"`
	MPICC       string            `json:"mpicc,omitempty"`
	OSUDir      string            `json:"osu_dir,omitempty"`
	ImageOSUDir string            `json:"image_osu_dir,omitempty"`
	// ImageBenchDir is where the image ships the project's programs;
	// "" means /opt/mpiwrap-test/MPI.
	ImageBenchDir string        `json:"image_bench_dir,omitempty"`
	CacheDir      string        `json:"cache_dir,omitempty"`
	Timeout       time.Duration `json:"timeout"`
	// FinalizeGrace is how long a job may take to end once its output is
	// complete; a job past it is stopped and run again (MPICH 4.0.2 can
	// hang in MPI_Finalize over TCP). 0: no limit but Timeout.
	FinalizeGrace time.Duration `json:"finalize_grace"`
	// Mpiwrap is the mpiwrap that runs the container side.
	Mpiwrap string `json:"mpiwrap,omitempty"`
	// MpiwrapArgs are mpiwrap's flags for the container side, in order
	// (--profile, --set-env, ...).
	MpiwrapArgs []string `json:"mpiwrap_args,omitempty"`
	Progress    string   `json:"progress"`
	Verbose     bool     `json:"verbose,omitempty"`
}

// Defaults returns the options before any flag.
func Defaults() Options {
	return Options{
		Launcher:      "mpiexec -n 2",
		Benches:       BenchNames(),
		Reps:          5,
		Warmups:       1,
		Tolerance:     verdict.DefaultTolerance,
		Sizes:         "1:1048576",
		Skip:          -1,
		Timeout:       10 * time.Minute,
		FinalizeGrace: 10 * time.Second,
		Progress:      ProgressAuto,
	}
}

// AddFlags defines validate's flags on fs, writing into o.
func AddFlags(fs *pflag.FlagSet, o *Options) {
	fs.StringVar(&o.Launcher, "launcher", o.Launcher, "the launcher `COMMAND` line both sides run under, e.g. 'srun -N2 -n2 --mpi=pmi2'")
	fs.Var(benchFlag{&o.Benches}, "bench", "benchmarks to run, `NAME,...` of "+strings.Join(BenchNames(), ",")+" or all")
	fs.IntVar(&o.Reps, "reps", o.Reps, "timed native/container pairs per benchmark, run interleaved (A B A B ...)")
	fs.IntVar(&o.Warmups, "warmups", o.Warmups, "untimed pairs before the timed ones")
	fs.Var(percentFlag{&o.Tolerance.Latency, &o.Tolerance.Bandwidth}, "tolerance", "`PCT`: latency may be this much above native, bandwidth this much below")
	fs.Var(percentFlag{&o.Tolerance.Startup}, "startup-tolerance", "`PCT` that MPI_Init and whole-job times may be above native")
	fs.Var(msFlag{&o.Tolerance.StartupSlackMS}, "startup-slack", "or `DURATION` that they may be above native, whichever is more")
	fs.StringVar(&o.Sizes, "sizes", o.Sizes, "message sizes in bytes, `MIN:MAX` or MAX (powers of two between)")
	fs.IntVar(&o.Iters, "iters", o.Iters, "loops per message size, `N` (-i; 0: the program's default)")
	fs.IntVar(&o.Skip, "warmup-iters", o.Skip, "untimed loops per message size, `N` (-x; -1: the program's default)")
	fs.StringToStringVar(&o.Extra, "bench-args", o.Extra, "more arguments for a benchmark, `NAME=ARGS` (e.g. bw='-W 32')")
	fs.StringVar(&o.JSONFile, "json", o.JSONFile, "write the report with every sample to `FILE`")
	fs.StringVar(&o.PlotFile, "plot", o.PlotFile, "plot native against container to `FILE.png|FILE.svg`")
	fs.StringVar(&o.CPUBind, "cpu-bind", o.CPUBind, "bind ranks with the launcher's own option, `VALUE` (hydra -bind-to, srun --cpu-bind, mpirun --bind-to)")
	fs.StringVar(&o.MPI, "mpi", o.MPI, "the MPI of both sides, `mpich|openmpi` (default: from the launcher)")
	fs.StringVar(&o.MPICC, "mpicc", o.MPICC, "the host's MPI compiler `PATH` (default: mpicc.mpich or mpicc.openmpi)")
	fs.StringVar(&o.OSUDir, "osu-dir", o.OSUDir, "use a site's OSU binaries in host `DIR` for the native side")
	fs.StringVar(&o.ImageOSUDir, "image-osu-dir", o.ImageOSUDir, "OSU binaries inside the image, `DIR` (default: the --osu-dir path)")
	fs.StringVar(&o.ImageBenchDir, "image-bench-dir", o.ImageBenchDir, "where the image ships mpiwrap's benchmarks, `DIR` (default /opt/mpiwrap-test/MPI; built in the image when absent)")
	fs.StringVar(&o.CacheDir, "cache-dir", o.CacheDir, "where benchmarks are built, `DIR` (default $XDG_CACHE_HOME/mpiwrap/validate; on a shared file system for jobs across nodes)")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "give up a run after `DURATION`")
	fs.DurationVar(&o.FinalizeGrace, "finalize-grace", o.FinalizeGrace, "stop a job that printed its whole result but has not ended after `DURATION`, and run it again (up to 4 times; 0: never)")
	fs.StringVar(&o.Mpiwrap, "mpiwrap", o.Mpiwrap, "the mpiwrap `PATH` for the container side (default: the running one)")
	fs.StringVar(&o.Progress, "progress", o.Progress, "progress display, `auto|bar|lines|off` (auto: a bar on a terminal, a line per benchmark otherwise)")
	fs.BoolVar(&o.Verbose, "verbose", o.Verbose, "print every command that validate runs")

	// mpiwrap's own flags for the container side, kept in order.
	w := &o.MpiwrapArgs
	fs.Var(wrapFlag{w, "profile", false}, "profile", "container side: inject the host stacks of profiles `NAME,...`")
	fs.Var(wrapFlag{w, "no-profile", false}, "no-profile", "container side: drop the site's default profiles, `all|NAME,...`")
	fs.Lookup("no-profile").NoOptDefVal = "all"
	fs.VarP(wrapFlag{w, "bind", false}, "bind", "b", "container side: bind `SRC[:DST[:ro]]` (repeatable)")
	fs.Var(wrapFlag{w, "set-env", false}, "set-env", "container side: set `NAME=VALUE` (repeatable; LD_PRELOAD too)")
	fs.Var(wrapFlag{w, "unset-env", false}, "unset-env", "container side: unset variables matching `GLOB` (repeatable)")
	fs.Var(wrapFlag{w, "env-file", false}, "env-file", "container side: set variables from `FILE` (repeatable)")
	fs.Var(wrapFlag{w, "keep-ld-env", true}, "keep-ld-env", "container side: keep the host's LD_LIBRARY_PATH and LD_PRELOAD")
	fs.Lookup("keep-ld-env").NoOptDefVal = "true"
	fs.Var(wrapFlag{w, "no-join", true}, "no-join", "container side: a namespace per rank (MPI shared memory then fails)")
	fs.Lookup("no-join").NoOptDefVal = "true"
	fs.Var(wrapFlag{w, "pmi", false}, "pmi", "container side: `auto|passthrough|proxy|off`")
	fs.Var(wrapFlag{w, "fabric", false}, "fabric", "container side: use `IFACE[,RDMADEV]` as the fabric")
	fs.Var(rawFlag{w}, "mpiwrap-arg", "container side: pass `ARG` to mpiwrap before IMAGE (repeatable)")
}

// Finish checks o and fills in what follows from it. cwd makes relative
// paths absolute.
func (o *Options) Finish(cwd string) error {
	if o.Image == "" {
		return fmt.Errorf("validate needs an IMAGE (a directory or SquashFS file)")
	}
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(cwd, *p)
		}
	}
	for _, p := range []*string{&o.Image, &o.JSONFile, &o.PlotFile, &o.OSUDir, &o.CacheDir} {
		abs(p)
	}
	if o.Mpiwrap != "" && strings.ContainsRune(o.Mpiwrap, '/') {
		abs(&o.Mpiwrap)
	}
	if o.MPICC != "" && strings.ContainsRune(o.MPICC, '/') {
		abs(&o.MPICC)
	}
	words, err := SplitWords(o.Launcher)
	if err != nil {
		return fmt.Errorf("--launcher: %w", err)
	}
	if len(words) == 0 {
		return fmt.Errorf("--launcher is empty")
	}
	if len(o.Benches) == 0 {
		return fmt.Errorf("--bench: no benchmark chosen (want some of %s)", strings.Join(BenchNames(), ","))
	}
	if o.Reps < 1 {
		return fmt.Errorf("--reps %d: want at least 1", o.Reps)
	}
	if o.Warmups < 0 {
		return fmt.Errorf("--warmups %d: want 0 or more", o.Warmups)
	}
	if _, _, err := ParseSizes(o.Sizes); err != nil {
		return err
	}
	if o.Iters < 0 {
		return fmt.Errorf("--iters %d: want 0 (the default) or more", o.Iters)
	}
	if o.Skip < -1 {
		return fmt.Errorf("--warmup-iters %d: want -1 (the default) or more", o.Skip)
	}
	for name, args := range o.Extra {
		if _, ok := LookupBench(name); !ok {
			return fmt.Errorf("--bench-args %s: no such benchmark (want one of %s)", name, strings.Join(BenchNames(), ","))
		}
		if _, err := SplitWords(args); err != nil {
			return fmt.Errorf("--bench-args %s: %w", name, err)
		}
	}
	switch o.MPI {
	case "", "mpich", "openmpi":
	default:
		return fmt.Errorf("--mpi %q: want mpich or openmpi", o.MPI)
	}
	switch o.Progress {
	case ProgressAuto, ProgressBar, ProgressLines, ProgressOff:
	default:
		return fmt.Errorf("--progress %q: want auto, bar, lines or off", o.Progress)
	}
	if o.PlotFile != "" {
		switch strings.ToLower(filepath.Ext(o.PlotFile)) {
		case ".png", ".svg":
		default:
			return fmt.Errorf("--plot %s: want a .png or .svg file", o.PlotFile)
		}
	}
	if o.ImageOSUDir != "" && !filepath.IsAbs(o.ImageOSUDir) {
		return fmt.Errorf("--image-osu-dir %s: want an absolute path inside the image", o.ImageOSUDir)
	}
	if o.ImageBenchDir != "" && !filepath.IsAbs(o.ImageBenchDir) {
		return fmt.Errorf("--image-bench-dir %s: want an absolute path inside the image", o.ImageBenchDir)
	}
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout %v: want a positive duration", o.Timeout)
	}
	if o.FinalizeGrace < 0 {
		return fmt.Errorf("--finalize-grace %v: want 0 (never) or a positive duration", o.FinalizeGrace)
	}
	return nil
}

// ParseSizes reads MIN:MAX or MAX.
func ParseSizes(s string) (lo, hi int64, err error) {
	bad := func() (int64, int64, error) {
		return 0, 0, fmt.Errorf("--sizes %q: want MIN:MAX or MAX in bytes, 0 <= MIN <= MAX", s)
	}
	a, b, ok := strings.Cut(s, ":")
	if !ok {
		a, b = "1", s
	}
	if lo, err = strconv.ParseInt(strings.TrimSpace(a), 10, 64); err != nil {
		return bad()
	}
	if hi, err = strconv.ParseInt(strings.TrimSpace(b), 10, 64); err != nil {
		return bad()
	}
	if lo < 0 || hi < lo || hi > 1<<30 {
		return bad()
	}
	return lo, hi, nil
}

// SizeRange is the message sizes b runs with: --sizes, raised to b's
// smallest size.
func (o *Options) SizeRange(b Bench) (lo, hi int64) {
	lo, hi, _ = ParseSizes(o.Sizes)
	lo = max(lo, b.MinSize)
	return lo, max(hi, lo)
}

// LastSize is the largest size that a run from lo to hi prints: the
// sizes are lo, then doubled (0 is followed by 1), while at most hi.
func LastSize(lo, hi int64) int64 {
	last := lo
	for s := lo; s <= hi; {
		last = s
		if s == 0 {
			s = 1
		} else {
			s *= 2
		}
	}
	return last
}

// BenchArgs are the arguments for b's program: message sizes, loop counts
// and --bench-args.
func (o *Options) BenchArgs(b Bench) []string {
	var args []string
	if b.Sized {
		lo, hi := o.SizeRange(b)
		args = append(args, "-m", fmt.Sprintf("%d:%d", lo, hi))
		if o.Iters > 0 {
			args = append(args, "-i", strconv.Itoa(o.Iters))
		}
		if o.Skip >= 0 {
			args = append(args, "-x", strconv.Itoa(o.Skip))
		}
	}
	if extra, ok := o.Extra[b.Name]; ok {
		words, _ := SplitWords(extra)
		args = append(args, words...)
	}
	return args
}

// SelectedBenches returns the chosen benchmarks in catalogue order.
func (o *Options) SelectedBenches() []Bench {
	var out []Bench
	for _, b := range Benches {
		if slices.Contains(o.Benches, b.Name) {
			out = append(out, b)
		}
	}
	return out
}

// benchFlag is --bench: names or all, each checked.
type benchFlag struct{ names *[]string }

func (f benchFlag) String() string {
	if f.names == nil {
		return ""
	}
	return strings.Join(*f.names, ",")
}
func (f benchFlag) Type() string { return "names" }
func (f benchFlag) Set(v string) error {
	var out []string
	for _, n := range strings.Split(v, ",") {
		n = strings.TrimSpace(n)
		switch {
		case n == "":
		case n == "all":
			out = append(out, BenchNames()...)
		default:
			if _, ok := LookupBench(n); !ok {
				return fmt.Errorf("no benchmark %q (want some of %s, or all)", n, strings.Join(BenchNames(), ","))
			}
			out = append(out, n)
		}
	}
	slices.Sort(out)
	*f.names = slices.Compact(out)
	return nil
}

// percentFlag sets one or more fractions from "5", "5%" or "0.5%".
type percentFlag []*float64

func (f percentFlag) String() string {
	if len(f) == 0 || f[0] == nil {
		return ""
	}
	return verdict.Percent(*f[0])
}
func (f percentFlag) Type() string { return "percent" }
func (f percentFlag) Set(v string) error {
	p, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), "%"), 64)
	if err != nil || p < 0 || p >= 100 {
		return fmt.Errorf("want a percentage from 0 to 100, like 5 or 2.5%%, not %q", v)
	}
	for _, d := range f {
		*d = p / 100
	}
	return nil
}

// msFlag sets milliseconds from a duration ("50ms", "0").
type msFlag struct{ ms *float64 }

func (f msFlag) String() string {
	if f.ms == nil {
		return ""
	}
	return (time.Duration(*f.ms * float64(time.Millisecond))).String()
}
func (f msFlag) Type() string { return "duration" }
func (f msFlag) Set(v string) error {
	if v == "0" {
		*f.ms = 0
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return fmt.Errorf("want a duration like 50ms, or 0, not %q", v)
	}
	*f.ms = float64(d) / float64(time.Millisecond)
	return nil
}

// wrapFlag appends --name=value (or --name for a boolean) to mpiwrap's
// arguments in command-line order.
type wrapFlag struct {
	args    *[]string
	name    string
	boolean bool
}

func (f wrapFlag) String() string { return "" }
func (f wrapFlag) Type() string {
	if f.boolean {
		return "bool"
	}
	return "string"
}
func (f wrapFlag) IsBoolFlag() bool { return f.boolean }
func (f wrapFlag) Set(v string) error {
	if f.boolean {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return err
		}
		if on {
			*f.args = append(*f.args, "--"+f.name)
		}
		return nil
	}
	*f.args = append(*f.args, "--"+f.name+"="+v)
	return nil
}

// rawFlag appends its value as one argument.
type rawFlag struct{ args *[]string }

func (f rawFlag) String() string     { return "" }
func (f rawFlag) Type() string       { return "string" }
func (f rawFlag) Set(v string) error { *f.args = append(*f.args, v); return nil }

// SplitWords splits s into words as a POSIX shell would, without
// expansions: blanks separate words, single quotes keep everything,
// double quotes keep all but \" \\ \$ \` escapes, a backslash outside
// quotes escapes the next character.
func SplitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated ' in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated \" in %q", s)
			}
			inWord = true
		case c == '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("trailing backslash in %q", s)
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
