// Package plot draws mpiwrap validate's figure: one panel per benchmark,
// native against container. Message-size benchmarks show the medians
// against the message size on log axes (latency in µs, bandwidth in MB/s);
// the start-up benchmarks show each timed repetition. It writes PNG or
// SVG by the file's extension, in pure Go (gonum.org/v1/plot), and is only
// in mpiwrap-validate, never in mpiwrap itself.
package plot

import (
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"strings"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/mpiwrap/mpiwrap/validate/report"
)

var (
	nativeColor    = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	containerColor = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
)

// Panel size and the number of panels per row.
const (
	panelW = 6 * vg.Inch
	panelH = 4 * vg.Inch
	cols   = 2
)

// WriteFile writes the figure for r to path (.png or .svg), through a
// temporary file renamed into place.
func WriteFile(r *report.Report, path string) error {
	ext := strings.ToLower(filepath.Ext(path))
	if ext != ".png" && ext != ".svg" {
		return fmt.Errorf("plot %s: want a .png or .svg file", path)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".validate-plot-*"+ext)
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := Write(r, tmp, ext[1:]); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Write draws the figure in format "png" or "svg" to w.
func Write(r *report.Report, w io.Writer, format string) error {
	var plots []*gplot.Plot
	for _, b := range r.Benchmarks {
		p, err := panel(b)
		if err != nil {
			return fmt.Errorf("plot %s: %w", b.Name, err)
		}
		plots = append(plots, p)
	}
	if len(plots) == 0 {
		return fmt.Errorf("plot: no benchmark to draw")
	}
	rows := (len(plots) + cols - 1) / cols
	c := min(cols, len(plots))
	width, height := panelW*vg.Length(c), panelH*vg.Length(rows)
	var canvas vg.CanvasWriterTo
	switch format {
	case "png":
		canvas = vgimg.PngCanvas{Canvas: vgimg.New(width, height)}
	case "svg":
		canvas = vgsvg.New(width, height)
	default:
		return fmt.Errorf("plot: unknown format %q", format)
	}
	dc := draw.New(canvas)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	tiles := draw.Tiles{Rows: rows, Cols: c, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	for i, p := range plots {
		p.Draw(tiles.At(dc, i%c, i/c))
	}
	_, err := canvas.WriteTo(w)
	return err
}

// panel is one benchmark's plot.
func panel(b report.Benchmark) (*gplot.Plot, error) {
	p := gplot.New()
	p.Title.Text = fmt.Sprintf("%s: %s — %s", b.Name, b.Title, b.Verdict)
	p.Legend.Top, p.Legend.Left = true, true
	if b.Error != nil || len(b.Figures) == 0 {
		// No axes of zeros: say what failed instead.
		p.Title.Text = fmt.Sprintf("%s: %s — %s (no figures)", b.Name, b.Title, b.Verdict)
		p.HideAxes()
		msg := "no figures"
		if b.Error != nil {
			msg = fmt.Sprintf("the %s side failed: %s", b.Error.Side, b.Error.Message)
		}
		l, err := plotter.NewLabels(plotter.XYLabels{XYs: []plotter.XY{{X: 0.5, Y: 0.5}}, Labels: []string{msg}})
		if err != nil {
			return nil, err
		}
		p.Add(l)
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1.6, 0, 1
		return p, nil
	}
	p.Add(plotter.NewGrid())
	var nat, con plotter.XYs
	if b.Sized {
		for _, f := range b.Figures {
			if f.Size <= 0 || f.NativeMedian <= 0 || f.ContainerMedian <= 0 {
				continue // no place on a log axis
			}
			nat = append(nat, plotter.XY{X: float64(f.Size), Y: f.NativeMedian})
			con = append(con, plotter.XY{X: float64(f.Size), Y: f.ContainerMedian})
		}
		p.X.Label.Text = "message size (bytes)"
		p.X.Scale, p.X.Tick.Marker = gplot.LogScale{}, sizeTicks{}
		p.Y.Scale, p.Y.Tick.Marker = gplot.LogScale{}, gplot.LogTicks{Prec: -1}
		p.Y.Label.Text = fmt.Sprintf("%s, median (%s)", b.Kind, b.Unit)
	} else {
		f := b.Figures[0]
		for i, v := range f.NativeSamples {
			nat = append(nat, plotter.XY{X: float64(i + 1), Y: v})
		}
		for i, v := range f.ContainerSamples {
			con = append(con, plotter.XY{X: float64(i + 1), Y: v})
		}
		p.X.Label.Text = "timed repetition"
		p.Y.Label.Text = fmt.Sprintf("%s (%s)", f.Label, b.Unit)
		p.Y.Min = 0
	}
	if len(nat) == 0 {
		return p, nil
	}
	for _, s := range []struct {
		name string
		xys  plotter.XYs
		c    color.Color
		sh   draw.GlyphDrawer
	}{
		{"native", nat, nativeColor, draw.CircleGlyph{}},
		{"container", con, containerColor, draw.TriangleGlyph{}},
	} {
		l, pts, err := plotter.NewLinePoints(s.xys)
		if err != nil {
			return nil, err
		}
		l.Color, pts.Color, pts.Shape = s.c, s.c, s.sh
		pts.Radius = vg.Points(2.5)
		p.Add(l, pts)
		p.Legend.Add(s.name, l, pts)
	}
	return p, nil
}

// sizeTicks marks powers of two as message sizes (1, 1K, 64K, 1M) on a
// log axis, every second or fourth one when there are many.
type sizeTicks struct{}

func (sizeTicks) Ticks(lo, hi float64) []gplot.Tick {
	var ticks []gplot.Tick
	var pows []float64
	for v := 1.0; v <= hi*1.0001; v *= 2 {
		if v >= lo*0.9999 {
			pows = append(pows, v)
		}
	}
	step := 1
	for len(pows)/step > 8 {
		step *= 2
	}
	for i, v := range pows {
		label := ""
		if i%step == 0 {
			label = sizeLabel(int64(v))
		}
		ticks = append(ticks, gplot.Tick{Value: v, Label: label})
	}
	return ticks
}

func sizeLabel(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dM", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dK", n>>10)
	}
	return fmt.Sprint(n)
}
