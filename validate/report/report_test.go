package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/validate/verdict"
)

func sample() *Report {
	return &Report{
		Schema: SchemaV1, MpiwrapVersion: "1.2.3", Reps: 3, Warmups: 1, Order: "A B A B",
		Host:      Host{Hostname: "n1", Kernel: "6.1", CPUs: 2},
		Image:     Image{Path: "/img", Kind: "directory"},
		Launcher:  Launcher{Command: "mpiexec -n 2", Argv: []string{"mpiexec", "-n", "2"}, Kind: "hydra"},
		Native:    SideInfo{Prefix: []string{}, BenchSource: "built with mpicc.mpich", MPI: MPI{Summary: "MPICH 4.0.2 (ch4:ucx)"}},
		Container: SideInfo{Prefix: []string{"mpiwrap", "/img"}, BenchSource: "shipped in the image", MPI: MPI{Error: "exited with status 1"}},
		Placement: Placement{Summary: "2 ranks on 1 node (n1), not bound: each may run on cpus 0-1"},
		Tolerance: verdict.DefaultTolerance,
		Benchmarks: []Benchmark{
			{Name: "latency", Title: "ping-pong latency", Kind: verdict.Latency, Unit: "us", Sized: true, Rule: "container ≤ native +5%",
				Figures: []Figure{
					{Size: 8, NativeSamples: []float64{1, 1, 1}, ContainerSamples: []float64{1, 1, 1}, NativeMedian: 1, ContainerMedian: 1, Ratio: 1, Verdict: verdict.Pass},
					{Size: 1024, NativeSamples: []float64{2}, ContainerSamples: []float64{3}, NativeMedian: 2, ContainerMedian: 3, Ratio: 1.5, Verdict: verdict.Fail},
				}},
			{Name: "init", Title: "MPI_Init time", Kind: verdict.Startup, Unit: "ms", Rule: "container ≤ native +10%",
				Figures: []Figure{{Label: "MPI_Init avg", NativeMedian: 40, ContainerMedian: 41, Ratio: 1.025, Verdict: verdict.Pass}}},
		},
	}
}

func TestFinish(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Report)
		want verdict.Verdict
		code int
	}{
		{"one figure fails", func(*Report) {}, verdict.Fail, 1},
		{"all pass", func(r *Report) { r.Benchmarks[0].Figures[1].Verdict = verdict.Pass }, verdict.Pass, 0},
		{"a run failed", func(r *Report) {
			r.Benchmarks[1].Figures, r.Benchmarks[1].Error = nil, &RunError{Side: Container, Message: "exited with status 1"}
		}, verdict.Error, 2},
		{"a figure without a ratio", func(r *Report) {
			r.Benchmarks[0].Figures[1].Verdict = verdict.Error
		}, verdict.Error, 2},
		{"no benchmarks", func(r *Report) { r.Benchmarks = nil }, verdict.Error, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := sample()
			c.edit(r)
			r.Finish()
			if r.Verdict != c.want || r.ExitCode != c.code {
				t.Fatalf("verdict %s exit %d, want %s %d", r.Verdict, r.ExitCode, c.want, c.code)
			}
		})
	}
}

func TestWriteJSON(t *testing.T) {
	r := sample()
	r.Finish()
	path := filepath.Join(t.TempDir(), "v.json")
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema", "mpiwrap_version", "host", "image", "launcher", "native", "container", "placement",
		"tolerance", "reps", "benchmarks", "verdict", "exit_code"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	var back Report
	if err := json.Unmarshal(data, &back); err != nil || back.Benchmarks[0].Figures[1].ContainerSamples[0] != 3 || back.Verdict != verdict.Fail {
		t.Errorf("round trip: %v %+v", err, back)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}
	if err := r.WriteJSON(filepath.Join(t.TempDir(), "no", "v.json")); err == nil {
		t.Error("wrote into a missing directory")
	}
}

func TestWriteTable(t *testing.T) {
	r := sample()
	r.Benchmarks = append(r.Benchmarks, Benchmark{Name: "bw", Title: "windowed bandwidth", Unit: "MB/s", Sized: true, Rule: "container ≥ native −5%",
		Error: &RunError{Side: Container, Rep: -1, Argv: []string{"mpiexec", "-n", "2", "mpiwrap", "/my img", "osu_bw"}, Exit: 1,
			Message: "exited with status 1", Quote: []string{"Fatal error in internal_Init"}}})
	r.Finish()
	var b strings.Builder
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"mpiwrap validate: container against bare metal (mpiwrap 1.2.3)",
		"  launcher   mpiexec -n 2 (hydra)",
		"  native     MPICH 4.0.2 (ch4:ucx); bare metal; benchmarks built with mpicc.mpich",
		"  container  MPI unknown (exited with status 1); mpiwrap /img; benchmarks shipped in the image",
		"  placement  2 ranks on 1 node (n1), not bound",
		"latency: ping-pong latency, us (PASS if container ≤ native +5%)  FAIL",
		"size  native  container  ratio  verdict",
		"1024    2.00       3.00  1.500     FAIL",
		"MPI_Init avg   40.00      41.00  1.025     PASS",
		"bw: windowed bandwidth, MB/s (PASS if container ≥ native −5%)  ERROR",
		"the container side failed in warm-up run 1: exited with status 1",
		"      > Fatal error in internal_Init",
		"command: mpiexec -n 2 mpiwrap '/my img' osu_bw",
		"result: ERROR (no comparison for bw: a run failed); exit 2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
