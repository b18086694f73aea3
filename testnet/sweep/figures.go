package sweep

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

var designColor = map[Design]color.Color{
	Overlay: color.RGBA{R: 31, G: 119, B: 180, A: 255},
	Server:  color.RGBA{R: 214, G: 39, B: 40, A: 255},
	FlatDHT: color.RGBA{R: 44, G: 160, B: 44, A: 255},
}

var hollowShape = map[Design]draw.GlyphDrawer{
	Overlay: draw.RingGlyph{},
	Server:  draw.SquareGlyph{},
	FlatDHT: draw.TriangleGlyph{},
}

var designShape = map[Design]draw.GlyphDrawer{
	Overlay: draw.CircleGlyph{},
	Server:  draw.BoxGlyph{},
	FlatDHT: draw.PyramidGlyph{},
}

// DesignLabel names a design in figures and tables.
func DesignLabel(d Design) string {
	switch d {
	case Overlay:
		return "overlay (supernodes)"
	case Server:
		return "server (opentracker)"
	case FlatDHT:
		return "flat kad-dht"
	}
	return string(d)
}

type errXY struct {
	plotter.XYs
	plotter.YErrors
}

// curveXs returns the x values of a sweep's model curve.
func curveXs(s Sweep) []float64 {
	if !s.LogX {
		var xs []float64
		for x := s.CurveFrom; x <= s.CurveTo+1e-9; x++ {
			xs = append(xs, x)
		}
		return xs
	}
	const n = 80
	xs := make([]float64, n)
	a, b := math.Log(s.CurveFrom), math.Log(s.CurveTo)
	for i := range xs {
		xs[i] = math.Exp(a + (b-a)*float64(i)/float64(n-1))
	}
	return xs
}

// offset spreads the three designs' markers around x.
func offset(s Sweep, x float64, i int) float64 {
	k := float64(i - 1)
	if s.LogX {
		return x * math.Pow(1.07, k)
	}
	return x + 0.08*k
}

func writeFigures(dir string, rep *Report) ([]string, error) {
	var files []string
	for _, s := range rep.Plan.Sweeps {
		path := filepath.Join(dir, s.Figure)
		if err := successFigure(path, s, rep); err != nil {
			return files, fmt.Errorf("%s: %w", s.Figure, err)
		}
		files = append(files, path)
		if s.Name == SweepLoad {
			lp := filepath.Join(dir, "latency-load.png")
			if err := latencyFigure(lp, s, rep); err != nil {
				return files, fmt.Errorf("latency: %w", err)
			}
			files = append(files, lp)
		}
	}
	rf, err := writeRepairFigures(dir, rep)
	return append(files, rf...), err
}

func successFigure(path string, s Sweep, rep *Report) error {
	p := plot.New()
	p.Title.Text = s.Title
	p.X.Label.Text = s.XLabel
	p.Y.Label.Text = "lookup success (held objects)"
	if s.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	p.Add(plotter.NewGrid())
	// The curves fall with load and rise with MTTF and replication: put
	// the legend in the empty bottom corner.
	p.Legend.Top, p.Legend.Left = false, s.Name == SweepLoad
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	ymin := 1.0
	for i, d := range rep.Plan.Designs {
		// Model curve.
		var line plotter.XYs
		for _, x := range curveXs(s) {
			res, err := Predict(d, s.Apply(rep.Plan.Base, x), rep.Calib[d], 0)
			if err != nil {
				continue
			}
			line = append(line, plotter.XY{X: x, Y: res.Reliability})
			if x >= s.Values[0]/2 && x <= 2*s.Values[len(s.Values)-1] {
				ymin = math.Min(ymin, res.Reliability)
			}
		}
		if len(line) > 0 {
			l, err := plotter.NewLine(line)
			if err != nil {
				return err
			}
			l.Color = designColor[d]
			l.Width = vg.Points(1.5)
			if !s.LogX {
				l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			}
			p.Add(l)
			p.Legend.Add(DesignLabel(d)+": model", l)
		}
		// Measured points with 95% Wilson intervals.
		var pts errXY
		for _, pr := range rep.Points {
			if pr.Sweep != s.Name || pr.Design != d || pr.Held == 0 {
				continue
			}
			pts.XYs = append(pts.XYs, plotter.XY{X: offset(s, pr.X, i), Y: pr.Rate})
			pts.YErrors = append(pts.YErrors, struct{ Low, High float64 }{pr.Rate - pr.Lo, pr.Hi - pr.Rate})
			ymin = math.Min(ymin, pr.Lo)
		}
		if len(pts.XYs) == 0 {
			continue
		}
		eb, err := plotter.NewYErrorBars(pts)
		if err != nil {
			return err
		}
		eb.Color = designColor[d]
		eb.LineStyle.Width = vg.Points(1.2)
		sc, err := plotter.NewScatter(pts.XYs)
		if err != nil {
			return err
		}
		sc.Color = designColor[d]
		sc.Shape = designShape[d]
		sc.Radius = vg.Points(3.5)
		p.Add(eb, sc)
		p.Legend.Add(DesignLabel(d)+": measured (95% CI)", sc)
		// The model on the churn these runs realized.
		var real plotter.XYs
		for _, pr := range rep.Points {
			if pr.Sweep == s.Name && pr.Design == d && pr.Held > 0 {
				real = append(real, plotter.XY{X: offset(s, pr.X, i), Y: pr.ModelRealized})
				ymin = math.Min(ymin, pr.ModelRealized)
			}
		}
		rs, err := plotter.NewScatter(real)
		if err != nil {
			return err
		}
		rs.Color = designColor[d]
		rs.Shape = hollowShape[d]
		rs.Radius = vg.Points(5)
		p.Add(rs)
		p.Legend.Add(DesignLabel(d)+": model on the realized churn", rs)
	}
	p.Y.Min = math.Max(0, math.Floor(ymin*10-0.5)/10)
	if s.Name == SweepLoad {
		p.Y.Min = 0 // show where the model predicts the collapse
	}
	p.Y.Max = 1.02
	p.Y.Tick.Marker = yTicks{}
	if s.LogX {
		p.X.Min, p.X.Max = s.CurveFrom, s.CurveTo
	} else {
		p.X.Min, p.X.Max = s.CurveFrom-0.3, s.CurveTo+0.3
	}
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}

func latencyFigure(path string, s Sweep, rep *Report) error {
	p := plot.New()
	p.Title.Text = "Lookup latency vs load (answered lookups of held objects)"
	p.X.Label.Text = s.XLabel
	p.Y.Label.Text = "latency (ms, log scale)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	lo, hi := math.Inf(1), 0.0
	for _, d := range rep.Plan.Designs {
		for _, q := range []struct {
			name string
			get  func(PointResult) float64
			dash bool
		}{{"p50", func(r PointResult) float64 { return r.P50MS }, false}, {"p95", func(r PointResult) float64 { return r.P95MS }, true}} {
			var xy plotter.XYs
			for _, pr := range rep.Points {
				if pr.Sweep == s.Name && pr.Design == d && q.get(pr) > 0 {
					v := q.get(pr)
					xy = append(xy, plotter.XY{X: pr.X, Y: v})
					lo, hi = math.Min(lo, v), math.Max(hi, v)
				}
			}
			if len(xy) == 0 {
				continue
			}
			l, sc, err := plotter.NewLinePoints(xy)
			if err != nil {
				return err
			}
			l.Color, sc.Color = designColor[d], designColor[d]
			sc.Shape = designShape[d]
			if q.dash {
				l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			}
			p.Add(l, sc)
			p.Legend.Add(DesignLabel(d)+" "+q.name, l, sc)
		}
	}
	if hi > 0 {
		p.Y.Min, p.Y.Max = math.Max(lo/2, 0.01), hi*2
	}
	p.X.Min, p.X.Max = s.Values[0]/1.5, s.Values[len(s.Values)-1]*1.5
	return p.Save(8*vg.Inch, 4.5*vg.Inch, path)
}

// yTicks: a labelled tick every 0.1 (0.05 on short ranges), minor ticks
// between.
type yTicks struct{}

func (yTicks) Ticks(lo, hi float64) []plot.Tick {
	step := 0.1
	if hi-lo < 0.35 {
		step = 0.05
	}
	var ts []plot.Tick
	for i := int(math.Ceil(lo / (step / 2))); float64(i)*step/2 <= hi+1e-9; i++ {
		v := math.Round(float64(i)*step/2*1e6) / 1e6 // no 0.7000000000000001 labels
		t := plot.Tick{Value: v}
		if i%2 == 0 {
			t.Label = strconv.FormatFloat(v, 'f', -1, 64)
		}
		ts = append(ts, t)
	}
	return ts
}
