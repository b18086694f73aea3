package sweep

import (
	"math"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/supertracker/supertracker/testnet/model"
)

// repairFigure names the model-with-repair figure of a sweep.
func repairFigure(s Sweep) string { return strings.TrimSuffix(s.Figure, ".png") + "-repair.png" }

// writeRepairFigures draws, for every sweep, the model with repair against
// the measured success of the designs it covers (overlay, flat DHT).
func writeRepairFigures(dir string, rep *Report) ([]string, error) {
	var files []string
	for _, s := range rep.Plan.Sweeps {
		path := filepath.Join(dir, repairFigure(s))
		if err := repairSuccessFigure(path, s, rep); err != nil {
			return files, err
		}
		files = append(files, path)
	}
	return files, nil
}

func repairSuccessFigure(path string, s Sweep, rep *Report) error {
	p := plot.New()
	p.Title.Text = s.Title + ": the model with repair"
	p.X.Label.Text = s.XLabel
	p.Y.Label.Text = "lookup success (held objects)"
	if s.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	ymin := 1.0
	for i, d := range rep.Plan.Designs {
		if d == Server {
			continue
		}
		var line plotter.XYs
		for _, x := range curveXs(s) {
			pt := s.Apply(rep.Plan.Base, x)
			if pt.Validate() != nil {
				continue
			}
			rp, ok, err := repairParams(d, pt, rep.Plan.MembershipRepair)
			if err != nil || !ok {
				continue
			}
			rp.Samples = 48 // a curve, not a check
			res, err := model.EvaluateRepair(rp)
			if err != nil {
				continue
			}
			pq := 1.0
			if m, err := Predict(d, pt, rep.Calib[d], 0); err == nil {
				pq = m.PQueued
			}
			line = append(line, plotter.XY{X: x, Y: res.Reliability * pq})
			if x >= s.Values[0]/2 && x <= 2*s.Values[len(s.Values)-1] {
				ymin = math.Min(ymin, res.Reliability*pq)
			}
		}
		if len(line) > 0 {
			l, err := plotter.NewLine(line)
			if err != nil {
				return err
			}
			l.Color = designColor[d]
			l.Width = vg.Points(1.5)
			p.Add(l)
			p.Legend.Add(DesignLabel(d)+": model with repair", l)
		}
		var pts errXY
		var real plotter.XYs
		for _, pr := range rep.Points {
			if pr.Sweep != s.Name || pr.Design != d || pr.Held == 0 || !pr.HasRepair {
				continue
			}
			x := offset(s, pr.X, i)
			pts.XYs = append(pts.XYs, plotter.XY{X: x, Y: pr.Rate})
			pts.YErrors = append(pts.YErrors, struct{ Low, High float64 }{pr.Rate - pr.Lo, pr.Hi - pr.Rate})
			real = append(real, plotter.XY{X: x, Y: pr.RepairRealized})
			ymin = math.Min(ymin, math.Min(pr.Lo, pr.RepairRealized))
		}
		if len(pts.XYs) == 0 {
			continue
		}
		eb, err := plotter.NewYErrorBars(pts)
		if err != nil {
			return err
		}
		eb.Color = designColor[d]
		sc, err := plotter.NewScatter(pts.XYs)
		if err != nil {
			return err
		}
		sc.Color, sc.Shape, sc.Radius = designColor[d], designShape[d], vg.Points(3.5)
		rs, err := plotter.NewScatter(real)
		if err != nil {
			return err
		}
		rs.Color, rs.Shape, rs.Radius = designColor[d], hollowShape[d], vg.Points(5)
		p.Add(eb, sc, rs)
		p.Legend.Add(DesignLabel(d)+": measured (95% CI)", sc)
		p.Legend.Add(DesignLabel(d)+": model with repair on the realized churn", rs)
	}
	p.Y.Min = math.Max(0, math.Floor(ymin*20-0.5)/20)
	p.Y.Max = 1.005
	p.Y.Tick.Marker = yTicks{}
	if s.LogX {
		p.X.Min, p.X.Max = s.CurveFrom, s.CurveTo
	} else {
		p.X.Min, p.X.Max = s.CurveFrom-0.3, s.CurveTo+0.3
	}
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}
