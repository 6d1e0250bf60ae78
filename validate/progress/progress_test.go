package progress

import (
	"os"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/validate"
)

func display(t *testing.T, mode string, f func(Display)) string {
	t.Helper()
	out, err := os.CreateTemp(t.TempDir(), "progress")
	if err != nil {
		t.Fatal(err)
	}
	d := New(out, mode)
	f(d)
	d.Stop()
	data, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func steps(d Display) {
	d.Step("building")
	d.Line("host benchmarks: /c (built now)")
	d.Start(3)
	for i := 0; i < 3; i++ {
		d.Step("latency: native")
		d.Done()
	}
	d.Line("latency: PASS, worst ratio 1.010 at 8 B (2 runs, 1.0 s)")
}

func TestLinesForALog(t *testing.T) {
	// auto on a file that is no terminal: plain lines, nothing else.
	for _, mode := range []string{validate.ProgressAuto, validate.ProgressLines} {
		got := display(t, mode, steps)
		want := "mpiwrap validate: host benchmarks: /c (built now)\nmpiwrap validate: latency: PASS, worst ratio 1.010 at 8 B (2 runs, 1.0 s)\n"
		if got != want {
			t.Errorf("%s: %q, want %q", mode, got, want)
		}
	}
	if got := display(t, validate.ProgressOff, steps); got != "" {
		t.Errorf("off: %q", got)
	}
}

func TestBarForced(t *testing.T) {
	got := display(t, validate.ProgressBar, steps)
	for _, want := range []string{"mpiwrap validate: building ...", "host benchmarks: /c", "latency: PASS, worst ratio 1.010"} {
		if !strings.Contains(got, want) {
			t.Errorf("bar output lacks %q: %q", want, got)
		}
	}
	// A bar stopped before its end (a failed setup) still returns.
	display(t, validate.ProgressBar, func(d Display) { d.Start(5); d.Done() })
}

func TestIsTerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	if IsTerminal(f) {
		t.Error("a file is a terminal")
	}
}
