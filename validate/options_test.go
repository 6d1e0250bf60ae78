package validate

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/validate/verdict"
	"github.com/spf13/pflag"
)

func parseFlags(t *testing.T, args ...string) (Options, error) {
	t.Helper()
	o := Defaults()
	fs := pflag.NewFlagSet("validate", pflag.ContinueOnError)
	fs.SetOutput(&strings.Builder{})
	AddFlags(fs, &o)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() == 1 {
		o.Image = fs.Arg(0)
	}
	return o, o.Finish("/work")
}

func TestDefaults(t *testing.T) {
	o, err := parseFlags(t, "img")
	if err != nil {
		t.Fatal(err)
	}
	if o.Image != "/work/img" || o.Reps != 5 || o.Warmups != 1 || o.Tolerance != verdict.DefaultTolerance ||
		strings.Join(o.Benches, ",") != "latency,bw,bibw,allreduce,init,hello" || o.Sizes != "1:1048576" || o.Timeout != 10*time.Minute ||
		o.FinalizeGrace != 10*time.Second {
		t.Fatalf("defaults %+v", o)
	}
	if len(o.MpiwrapArgs) != 0 {
		t.Errorf("mpiwrap args %q", o.MpiwrapArgs)
	}
}

func TestFlags(t *testing.T) {
	o, err := parseFlags(t, "--launcher", "srun -N2 -n2 --mpi=pmi2", "--bench", "bw,latency,bw", "--reps", "9",
		"--tolerance", "3%", "--startup-tolerance", "25", "--startup-slack", "20ms", "--sizes", "8:65536", "--iters", "50", "--warmup-iters", "5",
		"--bench-args", "bw=-W 32", "--json", "out/v.json", "--plot", "v.svg", "--cpu-bind", "core", "--mpi", "mpich",
		"--profile", "mpich,verbs", "--set-env", "LD_PRELOAD=/x.so", "--keep-ld-env", "-b", "/data", "--no-join",
		"--mpiwrap-arg", "--pmi=proxy", "--no-profile", "--osu-dir", "osu", "--image-osu-dir", "/opt/osu", "--finalize-grace", "3s", "img.sqfs")
	if err != nil {
		t.Fatal(err)
	}
	want := Options{
		Image: "/work/img.sqfs", Launcher: "srun -N2 -n2 --mpi=pmi2", Benches: []string{"bw", "latency"}, Reps: 9, Warmups: 1,
		Tolerance: verdict.Tolerance{Latency: 0.03, Bandwidth: 0.03, Startup: 0.25, StartupSlackMS: 20}, Sizes: "8:65536", Iters: 50, Skip: 5,
		Extra: map[string]string{"bw": "-W 32"}, JSONFile: "/work/out/v.json", PlotFile: "/work/v.svg", CPUBind: "core", MPI: "mpich",
		OSUDir: "/work/osu", ImageOSUDir: "/opt/osu", Timeout: 10 * time.Minute, FinalizeGrace: 3 * time.Second, Progress: ProgressAuto,
		MpiwrapArgs: []string{"--profile=mpich,verbs", "--set-env=LD_PRELOAD=/x.so", "--keep-ld-env", "--bind=/data", "--no-join", "--pmi=proxy", "--no-profile=all"},
	}
	if !reflect.DeepEqual(o, want) {
		t.Fatalf("got  %+v\nwant %+v", o, want)
	}
	if got := o.SelectedBenches(); len(got) != 2 || got[0].Name != "latency" || got[1].Name != "bw" {
		t.Errorf("selected %+v", got)
	}
	// The options travel as JSON from mpiwrap to mpiwrap-validate.
	data, err := json.Marshal(&o)
	if err != nil {
		t.Fatal(err)
	}
	var back Options
	if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(back, o) {
		t.Fatalf("JSON round trip: %v\n%+v\n%+v", err, back, o)
	}
}

func TestFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{}, "needs an IMAGE"},
		{[]string{"--bench", "latency,nope", "i"}, `no benchmark "nope"`},
		{[]string{"--bench", "", "i"}, "no benchmark chosen"},
		{[]string{"--reps", "0", "i"}, "--reps 0"},
		{[]string{"--warmups", "-1", "i"}, "--warmups -1"},
		{[]string{"--tolerance", "abc", "i"}, "want a percentage"},
		{[]string{"--tolerance", "100", "i"}, "want a percentage"},
		{[]string{"--sizes", "9:8", "i"}, "--sizes"},
		{[]string{"--sizes", "x", "i"}, "--sizes"},
		{[]string{"--iters", "-2", "i"}, "--iters -2"},
		{[]string{"--warmup-iters", "-2", "i"}, "--warmup-iters -2"},
		{[]string{"--launcher", "", "i"}, "--launcher is empty"},
		{[]string{"--launcher", "mpiexec 'n", "i"}, "unterminated '"},
		{[]string{"--mpi", "intel", "i"}, "--mpi"},
		{[]string{"--progress", "fancy", "i"}, "--progress"},
		{[]string{"--plot", "v.pdf", "i"}, "want a .png or .svg"},
		{[]string{"--image-osu-dir", "rel", "i"}, "absolute path inside the image"},
		{[]string{"--image-bench-dir", "rel", "i"}, "absolute path inside the image"},
		{[]string{"--bench-args", "nope=-x", "i"}, "--bench-args nope"},
		{[]string{"--timeout", "0s", "i"}, "--timeout"},
		{[]string{"--startup-slack", "fast", "i"}, "want a duration"},
		{[]string{"--finalize-grace", "-1s", "i"}, "--finalize-grace"},
	} {
		_, err := parseFlags(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: want an error with %q, got %v", c.args, c.want, err)
		}
	}
}

func TestBenchArgs(t *testing.T) {
	o := Defaults()
	lat, _ := LookupBench("latency")
	bw, _ := LookupBench("bw")
	ar, _ := LookupBench("allreduce")
	in, _ := LookupBench("init")
	for _, c := range []struct {
		edit func(*Options)
		b    Bench
		want string
	}{
		{nil, lat, "-m 1:1048576"},
		{nil, bw, "-m 1:1048576"},
		{nil, ar, "-m 4:1048576"},
		{nil, in, ""},
		{func(o *Options) { o.Sizes = "1:2" }, ar, "-m 4:4"},
		{func(o *Options) { o.Sizes = "65536"; o.Iters = 20; o.Skip = 2 }, bw, "-m 1:65536 -i 20 -x 2"},
		{func(o *Options) { o.Extra = map[string]string{"bw": "-W 'a b'"} }, bw, "-m 1:1048576 -W a b"},
	} {
		o := o
		if c.edit != nil {
			c.edit(&o)
		}
		if got := strings.Join(o.BenchArgs(c.b), " "); got != c.want {
			t.Errorf("%s: %q, want %q", c.b.Name, got, c.want)
		}
	}
}

func TestSplitWords(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"mpiexec.mpich -n 2", []string{"mpiexec.mpich", "-n", "2"}},
		{"  srun\t-N2  -n2 ", []string{"srun", "-N2", "-n2"}},
		{`mpirun -x 'A=b c' "--host" "h1,h2"`, []string{"mpirun", "-x", "A=b c", "--host", "h1,h2"}},
		{`a\ b "x\"y" 'it'\''s'`, []string{"a b", `x"y`, "it's"}},
		{`""`, []string{""}},
		{"", nil},
	} {
		got, err := SplitWords(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("SplitWords(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{`'a`, `"a`, `a\`} {
		if _, err := SplitWords(bad); err == nil {
			t.Errorf("SplitWords(%q): no error", bad)
		}
	}
}

func TestLastSize(t *testing.T) {
	for _, c := range []struct{ lo, hi, want int64 }{
		{1, 1048576, 1048576}, {1, 1000, 512}, {0, 0, 0}, {0, 5, 4}, {8, 8, 8}, {4, 1048576, 1048576}, {3, 20, 12},
	} {
		if got := LastSize(c.lo, c.hi); got != c.want {
			t.Errorf("LastSize(%d, %d) = %d, want %d", c.lo, c.hi, got, c.want)
		}
	}
}

func TestBenchArgsRepeat(t *testing.T) {
	o, err := parseFlags(t, "--bench-args", "latency=-i 10000", "--bench-args", "bw=-i 200", "img")
	if err != nil {
		t.Fatal(err)
	}
	lat, _ := LookupBench("latency")
	bw, _ := LookupBench("bw")
	if got := strings.Join(o.BenchArgs(lat), " "); got != "-m 1:1048576 -i 10000" {
		t.Errorf("latency %q", got)
	}
	if got := strings.Join(o.BenchArgs(bw), " "); got != "-m 1:1048576 -i 200" {
		t.Errorf("bw %q", got)
	}
}
