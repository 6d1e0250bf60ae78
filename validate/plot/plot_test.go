package plot

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/validate/report"
	"github.com/mpiwrap/mpiwrap/validate/verdict"
)

func sample() *report.Report {
	var lat, bw []report.Figure
	for s := int64(1); s <= 1<<20; s *= 4 {
		lat = append(lat, report.Figure{Size: s, NativeMedian: 0.3 + float64(s)/1e4, ContainerMedian: 0.31 + float64(s)/1e4, Ratio: 1.01, Verdict: verdict.Pass})
		bw = append(bw, report.Figure{Size: s, NativeMedian: float64(s) / 10, ContainerMedian: float64(s) / 10.2, Ratio: 0.98, Verdict: verdict.Pass})
	}
	return &report.Report{Benchmarks: []report.Benchmark{
		{Name: "latency", Title: "ping-pong latency", Kind: verdict.Latency, Unit: "us", Sized: true, Figures: lat, Verdict: verdict.Pass},
		{Name: "bw", Title: "windowed bandwidth", Kind: verdict.Bandwidth, Unit: "MB/s", Sized: true, Figures: bw, Verdict: verdict.Pass},
		{Name: "init", Title: "MPI_Init time", Kind: verdict.Startup, Unit: "ms", Figures: []report.Figure{
			{Label: "MPI_Init avg", NativeSamples: []float64{40, 42, 41}, ContainerSamples: []float64{43, 41, 44}, NativeMedian: 41, ContainerMedian: 43, Ratio: 1.05, Verdict: verdict.Pass}}},
		{Name: "bibw", Title: "bidirectional bandwidth", Kind: verdict.Bandwidth, Unit: "MB/s", Sized: true, Verdict: verdict.Error,
			Error: &report.RunError{Side: "container", Message: "exited with status 1"}},
	}}
}

func TestWritePNGAndSVG(t *testing.T) {
	dir := t.TempDir()
	r := sample()
	pngPath, svgPath := filepath.Join(dir, "v.png"), filepath.Join(dir, "v.svg")
	if err := WriteFile(r, pngPath); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(r, svgPath); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	// Two columns by two rows of 6 x 4 inch panels.
	if b := img.Bounds(); b.Dx() < 1000 || b.Dy() < 700 || b.Dx() <= b.Dy() {
		t.Fatalf("PNG is %v", b)
	}
	svg, err := os.ReadFile(svgPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "latency: ping-pong latency", "container", "native", "no figures", "the container side failed: exited with status 1"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".validate-plot-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestWriteRefuses(t *testing.T) {
	if err := WriteFile(sample(), filepath.Join(t.TempDir(), "v.pdf")); err == nil {
		t.Error("a .pdf was accepted")
	}
	if err := Write(&report.Report{}, &bytes.Buffer{}, "png"); err == nil {
		t.Error("an empty report was drawn")
	}
}

func TestSizeTicks(t *testing.T) {
	ticks := sizeTicks{}.Ticks(1, 1<<20)
	var labels []string
	for _, tk := range ticks {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if got := strings.Join(labels, " "); got != "1 16 256 4K 64K 1M" {
		t.Errorf("labels %q", got)
	}
	if len(ticks) != 21 {
		t.Errorf("%d ticks, want 21", len(ticks))
	}
}
