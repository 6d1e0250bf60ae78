package verdict

import (
	"math"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{1, math.NaN(), 5}, 3},
		{[]float64{10, 10, 10, 1000}, 10},
	} {
		if got := Median(c.in); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if !math.IsNaN(Median(nil)) || !math.IsNaN(Median([]float64{math.NaN()})) {
		t.Error("Median of no samples is not NaN")
	}
}

func TestJudge(t *testing.T) {
	tol := 0.05
	for _, c := range []struct {
		name              string
		kind              Kind
		native, container []float64
		ratio             float64
		want              Verdict
	}{
		{"latency equal", Latency, []float64{2, 2, 2}, []float64{2, 2, 2}, 1, Pass},
		{"latency faster", Latency, []float64{2}, []float64{1.5}, 0.75, Pass},
		{"latency at the limit", Latency, []float64{1}, []float64{1.05}, 1.05, Pass},
		{"latency over", Latency, []float64{1}, []float64{1.06}, 1.06, Fail},
		{"latency median ignores an outlier", Latency, []float64{1, 1, 9}, []float64{1, 9, 1.01}, 1.01, Pass},
		{"latency outliers don't save a slow side", Latency, []float64{1, 1, 1}, []float64{2, 2, 0.5}, 2, Fail},
		{"bandwidth equal", Bandwidth, []float64{100}, []float64{100}, 1, Pass},
		{"bandwidth higher", Bandwidth, []float64{100}, []float64{130}, 1.3, Pass},
		{"bandwidth at the limit", Bandwidth, []float64{100}, []float64{95}, 0.95, Pass},
		{"bandwidth under", Bandwidth, []float64{100}, []float64{94}, 0.94, Fail},
		{"bandwidth even count", Bandwidth, []float64{90, 110}, []float64{80, 100}, 0.9, Fail},
		{"startup within its own tolerance", Startup, []float64{100}, []float64{104}, 1.04, Pass},
		{"startup over", Startup, []float64{100}, []float64{106}, 1.06, Fail},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := Judge(c.kind, tol, c.native, c.container)
			if r.Verdict != c.want || math.Abs(r.Ratio-c.ratio) > 1e-12 {
				t.Fatalf("Judge = %+v, want ratio %v and %s", r, c.ratio, c.want)
			}
		})
	}
}

func TestJudgeErrors(t *testing.T) {
	for _, c := range []struct {
		name              string
		native, container []float64
	}{
		{"no native samples", nil, []float64{1}},
		{"no container samples", []float64{1}, nil},
		{"zero native", []float64{0}, []float64{1}},
		{"negative container", []float64{1}, []float64{-1}},
		{"infinite", []float64{1}, []float64{math.Inf(1)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := Judge(Bandwidth, 0.05, c.native, c.container)
			if r.Verdict != Error || r.Why == "" || r.Ratio != 0 {
				t.Fatalf("Judge = %+v, want ERROR with a reason and no ratio", r)
			}
			for _, f := range []float64{r.NativeMedian, r.ContainerMedian} {
				if math.IsNaN(f) || math.IsInf(f, 0) {
					t.Fatalf("Judge = %+v: a median JSON can't hold", r)
				}
			}
		})
	}
}

func TestJudgeWithStartupSlack(t *testing.T) {
	tol := Tolerance{Latency: 0.05, Bandwidth: 0.05, Startup: 0.1, StartupSlackMS: 50}
	for _, c := range []struct {
		name              string
		kind              Kind
		native, container float64
		want              Verdict
	}{
		{"within the ratio", Startup, 100, 109, Pass},
		{"over the ratio, within the slack", Startup, 30, 75, Pass},
		{"over both", Startup, 100, 160, Fail},
		{"the slack is for start-up only", Latency, 30, 75, Fail},
	} {
		r := JudgeWith(c.kind, tol, []float64{c.native}, []float64{c.container})
		if r.Verdict != c.want {
			t.Errorf("%s: %+v, want %s", c.name, r, c.want)
		}
	}
	tol.StartupSlackMS = 0
	if r := JudgeWith(Startup, tol, []float64{30}, []float64{75}); r.Verdict != Fail {
		t.Errorf("no slack: %+v", r)
	}
	if got := (Tolerance{Startup: 0.1, StartupSlackMS: 50}).Rule(Startup); got != "container ≤ native +10% or +50 ms" {
		t.Errorf("rule %q", got)
	}
}

func TestToleranceForAndRule(t *testing.T) {
	tol := Tolerance{Latency: 0.05, Bandwidth: 0.03, Startup: 0.2}
	for _, c := range []struct {
		k    Kind
		want float64
		rule string
	}{
		{Latency, 0.05, "container ≤ native +5%"},
		{Bandwidth, 0.03, "container ≥ native −3%"},
		{Startup, 0.2, "container ≤ native +20%"},
	} {
		if got := tol.For(c.k); got != c.want {
			t.Errorf("For(%s) = %v, want %v", c.k, got, c.want)
		}
		if got := tol.Rule(c.k); got != c.rule {
			t.Errorf("Rule(%s) = %q, want %q", c.k, got, c.rule)
		}
	}
	if p := Percent(0.025); p != "2.5%" {
		t.Errorf("Percent(0.025) = %q", p)
	}
}

func TestWorseAndExitCode(t *testing.T) {
	for _, c := range []struct {
		a, b, want Verdict
		code       int
	}{
		{Pass, Pass, Pass, 0},
		{Pass, Fail, Fail, 1},
		{Fail, Pass, Fail, 1},
		{Fail, Error, Error, 2},
		{Error, Pass, Error, 2},
	} {
		got := Worse(c.a, c.b)
		if got != c.want || ExitCode(got) != c.code {
			t.Errorf("Worse(%s, %s) = %s (exit %d), want %s (exit %d)", c.a, c.b, got, ExitCode(got), c.want, c.code)
		}
	}
}
