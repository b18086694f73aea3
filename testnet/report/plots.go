package report

import (
	"image/color"
	"io"
	"math"
	"strconv"

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
	green  = color.RGBA{R: 44, G: 160, B: 44, A: 255}
	purple = color.RGBA{R: 148, G: 103, B: 189, A: 255}
	black  = color.RGBA{A: 255}
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

// markStyle: how each kind of churn mark is drawn.
var markStyle = map[string]struct {
	c     color.Color
	width vg.Length
	dash  []vg.Length
	name  string
}{
	metrics.MarkKill:        {red, vg.Points(0.8), []vg.Length{vg.Points(3), vg.Points(3)}, "kill (churn)"},
	metrics.MarkRestart:     {green, vg.Points(0.8), []vg.Length{vg.Points(1), vg.Points(2)}, "restart"},
	metrics.MarkTargeted:    {purple, vg.Points(1.8), nil, "targeted supernode kill"},
	metrics.MarkMassFailure: {black, vg.Points(2.5), nil, "mass failure"},
}

// addMarks draws the window's kills, restarts and mass failure as vertical
// lines from lo to hi, with one legend entry per kind.
func addMarks(p *plot.Plot, s *metrics.Summary, lo, hi float64) error {
	seen := map[string]bool{}
	for _, kind := range []string{metrics.MarkKill, metrics.MarkRestart, metrics.MarkTargeted, metrics.MarkMassFailure} {
		st := markStyle[kind]
		for _, m := range s.Marks {
			if m.Kind != kind {
				continue
			}
			l, err := plotter.NewLine(plotter.XYs{{X: m.TS, Y: lo}, {X: m.TS, Y: hi}})
			if err != nil {
				return err
			}
			l.Color, l.Width, l.Dashes = st.c, st.width, st.dash
			p.Add(l)
			if !seen[kind] {
				seen[kind] = true
				p.Legend.Add(st.name, l)
			}
		}
	}
	return nil
}

// intTicks labels integer values only (counts).
type intTicks struct{}

func (intTicks) Ticks(lo, hi float64) []plot.Tick {
	step := math.Max(1, math.Ceil((hi-lo)/10))
	var ts []plot.Tick
	for v := math.Ceil(lo); v <= hi+1e-9; v += step {
		ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', 0, 64)})
	}
	return ts
}

// rateTicks labels 0, 0.2, …, 1 (the range above 1 holds the legend).
type rateTicks struct{}

func (rateTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for i := 0; i <= 10; i++ {
		v := float64(i) / 10
		t := plot.Tick{Value: v}
		if i%2 == 0 {
			t.Label = strconv.FormatFloat(v, 'f', -1, 64)
		}
		ts = append(ts, t)
	}
	return ts
}

// plotSuccess: success rate per bin (bins without lookups are left out).
func plotSuccess(w io.Writer, s *metrics.Summary) error {
	p := newPlot("Lookup success rate", "success rate", s)
	p.Y.Min, p.Y.Max = 0, 1.55 // room above 1 for the legend
	p.Y.Tick.Marker = rateTicks{}
	if err := addMarks(p, s, 0, 1.05); err != nil {
		return err
	}
	p.Legend.Top = true
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

// latencyFloorMS: latencies below this are drawn at it (log axis).
const latencyFloorMS = 0.01

// plotLatency: p50/p95/p99 of answered lookups per bin, on a log axis (on
// loopback p50 is a fraction of a millisecond and p99 can be seconds).
func plotLatency(w io.Writer, s *metrics.Summary) error {
	p := newPlot("Lookup latency", "latency (ms, log scale)", s)
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	var p50, p95, p99 plotter.XYs
	top, bottom := 1.0, math.Inf(1)
	at := func(v float64) float64 { return math.Max(v, latencyFloorMS) }
	for _, b := range s.Bins {
		if b.Answered == 0 {
			continue
		}
		p50 = append(p50, plotter.XY{X: mid(b), Y: at(b.P50MS)})
		p95 = append(p95, plotter.XY{X: mid(b), Y: at(b.P95MS)})
		p99 = append(p99, plotter.XY{X: mid(b), Y: at(b.P99MS)})
		top = max(top, at(b.P99MS))
		bottom = min(bottom, at(b.P50MS))
	}
	if math.IsInf(bottom, 1) {
		bottom = latencyFloorMS
	}
	// Whole decades around the data, so the log ticks are labelled.
	p.Y.Min = math.Pow(10, math.Floor(math.Log10(bottom)))
	// and one decade more above for the legend.
	p.Y.Max = math.Pow(10, math.Ceil(math.Log10(top*1.05))+1)
	if err := addMarks(p, s, p.Y.Min, p.Y.Max); err != nil {
		return err
	}
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
	p.Y.Min, p.Y.Max = 0, math.Ceil(float64(top)*1.6)+1 // room above for the legend
	p.Y.Tick.Marker = intTicks{}
	if err := addMarks(p, s, 0, float64(top)+0.5); err != nil {
		return err
	}
	if err := addLine(p, xy, blue, "supernodes", plotter.PostStep); err != nil {
		return err
	}
	p.Legend.Top = true
	return save(p, w)
}
