package report

import (
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/supertracker/supertracker/testnet/metrics"
)

const (
	plotW = 8 * vg.Inch
	plotH = 4 * vg.Inch
)

var (
	blue   = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	orange = color.RGBA{R: 255, G: 127, B: 14, A: 255}
	red    = color.RGBA{R: 214, G: 39, B: 40, A: 255}
)

func newPlot(title, ylabel string, s *metrics.Summary) *plot.Plot {
	p := plot.New()
	p.Title.Text = title + " (" + s.Scenario + ")"
	p.X.Label.Text = "time since schedule start (s)"
	p.Y.Label.Text = ylabel
	p.X.Min, p.X.Max = 0, max(s.WindowS, 1)
	p.Add(plotter.NewGrid())
	return p
}

func addLine(p *plot.Plot, xy plotter.XYs, c color.Color, name string, step plotter.StepKind) error {
	if len(xy) == 0 {
		return nil
	}
	l, err := plotter.NewLine(xy)
	if err != nil {
		return err
	}
	l.Color = c
	l.Width = vg.Points(1.5)
	l.StepStyle = step
	p.Add(l)
	if step == plotter.NoStep {
		sc, err := plotter.NewScatter(xy)
		if err != nil {
			return err
		}
		sc.Color = c
		sc.Shape = draw.CircleGlyph{}
		sc.Radius = vg.Points(2)
		p.Add(sc)
	}
	if name != "" {
		p.Legend.Add(name, l)
	}
	return nil
}

func mid(b metrics.Bin) float64 { return (b.StartS + b.EndS) / 2 }

func save(p *plot.Plot, w io.Writer) error {
	c := vgimg.New(plotW, plotH)
	p.Draw(draw.New(c))
	_, err := vgimg.PngCanvas{Canvas: c}.WriteTo(w)
	return err
}

// plotSuccess: success rate per bin (bins without lookups are left out).
func plotSuccess(w io.Writer, s *metrics.Summary) error {
	p := newPlot("Lookup success rate", "success rate", s)
	p.Y.Min, p.Y.Max = 0, 1.05
	var xy plotter.XYs
	for _, b := range s.Bins {
		if b.Lookups > 0 {
			xy = append(xy, plotter.XY{X: mid(b), Y: b.SuccessRate})
		}
	}
	if err := addLine(p, xy, blue, "", plotter.NoStep); err != nil {
		return err
	}
	return save(p, w)
}

// plotLatency: p50/p95/p99 of answered lookups per bin.
func plotLatency(w io.Writer, s *metrics.Summary) error {
	p := newPlot("Lookup latency", "latency (ms)", s)
	p.Y.Min = 0
	var p50, p95, p99 plotter.XYs
	top := 1.0
	for _, b := range s.Bins {
		if b.Answered == 0 {
			continue
		}
		p50 = append(p50, plotter.XY{X: mid(b), Y: b.P50MS})
		p95 = append(p95, plotter.XY{X: mid(b), Y: b.P95MS})
		p99 = append(p99, plotter.XY{X: mid(b), Y: b.P99MS})
		top = max(top, b.P99MS)
	}
	p.Y.Max = top * 1.05
	for _, l := range []struct {
		xy   plotter.XYs
		c    color.Color
		name string
	}{{p50, blue, "p50"}, {p95, orange, "p95"}, {p99, red, "p99"}} {
		if err := addLine(p, l.xy, l.c, l.name, plotter.NoStep); err != nil {
			return err
		}
	}
	p.Legend.Top = true
	return save(p, w)
}

// plotSupernodes: the supernode-count step function.
func plotSupernodes(w io.Writer, s *metrics.Summary) error {
	p := newPlot("Supernodes", "supernode count", s)
	var xy plotter.XYs
	top := 1
	for _, pt := range s.Supernodes.Series {
		xy = append(xy, plotter.XY{X: pt.TS, Y: float64(pt.Count)})
		top = max(top, pt.Count)
	}
	if n := len(xy); n > 0 && xy[n-1].X < s.WindowS {
		xy = append(xy, plotter.XY{X: s.WindowS, Y: xy[n-1].Y})
	}
	p.Y.Min, p.Y.Max = 0, float64(top)+0.5
	if err := addLine(p, xy, blue, "", plotter.PostStep); err != nil {
		return err
	}
	return save(p, w)
}
