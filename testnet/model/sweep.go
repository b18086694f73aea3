package model

import (
	"encoding/csv"
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"
	"text/tabwriter"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// SweepParam names the parameter a sweep varies.
type SweepParam string

// Sweepable parameters. Integer parameters are rounded to the nearest
// integer and repeated values are dropped.
const (
	SweepLambda     SweepParam = "lambda"     // Lambda (load; the paper's Fig. 2)
	SweepN          SweepParam = "n"          // N (server replication)
	SweepM          SweepParam = "m"          // M (DHT replication)
	SweepReplicas   SweepParam = "replicas"   // N and M together (the paper's Fig. 4)
	SweepK          SweepParam = "k"          // K (fixed DHT path length)
	SweepMTTF       SweepParam = "mttf"       // MTTF (churn; the paper's Fig. 3)
	SweepMTTR       SweepParam = "mttr"       // MTTR
	SweepSupernodes SweepParam = "supernodes" // Supernodes (K automatic unless set)
	SweepMu         SweepParam = "mu"         // Mu
	SweepH          SweepParam = "h"          // H
)

// SweepParams lists the sweepable parameters in documentation order.
var SweepParams = []SweepParam{SweepLambda, SweepN, SweepM, SweepReplicas, SweepK,
	SweepMTTF, SweepMTTR, SweepSupernodes, SweepMu, SweepH}

// MaxSweepSteps bounds SweepSpec.Steps.
const MaxSweepSteps = 100000

// SweepSpec describes a sweep: Steps points from From to To (inclusive),
// evenly spaced, or geometrically spaced when Log is set (From > 0).
type SweepSpec struct {
	Param SweepParam `json:"param"`
	From  float64    `json:"from"`
	To    float64    `json:"to"`
	Steps int        `json:"steps"`
	Log   bool       `json:"log"`
}

// SweepPoint is one point of a sweep: both designs evaluated at X.
type SweepPoint struct {
	X      float64 `json:"x"`
	Server Result  `json:"server"`
	DHT    Result  `json:"dht"`
}

func (s SweepParam) integer() bool {
	switch s {
	case SweepN, SweepM, SweepReplicas, SweepK, SweepSupernodes, SweepH:
		return true
	}
	return false
}

func (s SweepParam) valid() bool {
	for _, v := range SweepParams {
		if v == s {
			return true
		}
	}
	return false
}

// maxSweepInt keeps rounded integer sweep values exactly representable.
const maxSweepInt = 1 << 53

// Sweep evaluates both designs at every point of spec, starting from base
// (whose Design is ignored). Every point must be valid for both designs;
// the first invalid one is reported with its x value and a *ParamError.
func Sweep(base Params, spec SweepSpec) ([]SweepPoint, error) {
	if !spec.Param.valid() {
		return nil, paramErr("Param", fmt.Sprintf("%q", string(spec.Param)), fmt.Sprintf("must be one of %v", SweepParams))
	}
	if spec.Steps < 1 || spec.Steps > MaxSweepSteps {
		return nil, paramErr("Steps", spec.Steps, fmt.Sprintf("must be in [1, %d]", MaxSweepSteps))
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"From", spec.From}, {"To", spec.To}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return nil, paramErr(f.name, f.v, "must be finite")
		}
		if spec.Log && f.v <= 0 {
			return nil, paramErr(f.name, f.v, "must be > 0 for a logarithmic sweep")
		}
		if spec.Param.integer() && math.Abs(f.v) > maxSweepInt {
			return nil, paramErr(f.name, f.v, fmt.Sprintf("must be at most %d in magnitude for integer parameter %s", maxSweepInt, spec.Param))
		}
	}
	if spec.To < spec.From {
		return nil, paramErr("To", spec.To, fmt.Sprintf("must be ≥ From (%g)", spec.From))
	}
	xs := sweepXs(spec)
	pts := make([]SweepPoint, 0, len(xs))
	for _, x := range xs {
		p := base
		setSweep(&p, spec.Param, x)
		pt := SweepPoint{X: x}
		var err error
		p.Design = Server
		if pt.Server, err = Evaluate(p); err != nil {
			return nil, fmt.Errorf("sweep %s = %g: %w", spec.Param, x, err)
		}
		p.Design = DHT
		if pt.DHT, err = Evaluate(p); err != nil {
			return nil, fmt.Errorf("sweep %s = %g: %w", spec.Param, x, err)
		}
		pts = append(pts, pt)
	}
	return pts, nil
}

func sweepXs(spec SweepSpec) []float64 {
	xs := make([]float64, 0, spec.Steps)
	for i := range spec.Steps {
		var x float64
		switch {
		case spec.Steps == 1 || i == 0:
			x = spec.From
		case i == spec.Steps-1:
			x = spec.To
		case spec.Log:
			t := float64(i) / float64(spec.Steps-1)
			x = math.Exp(math.Log(spec.From) + t*(math.Log(spec.To)-math.Log(spec.From)))
		default:
			t := float64(i) / float64(spec.Steps-1)
			x = spec.From + t*(spec.To-spec.From) // no overflow: both finite, weights in [0,1]
			if math.IsInf(x, 0) {
				x = spec.From*(1-t) + spec.To*t
			}
		}
		if spec.Param.integer() {
			x = math.Round(x)
			if n := len(xs); n > 0 && xs[n-1] == x {
				continue
			}
		}
		xs = append(xs, x)
	}
	return xs
}

func setSweep(p *Params, param SweepParam, x float64) {
	i := int(x) // integral and within ±2^53 for integer params
	switch param {
	case SweepLambda:
		p.Lambda = x
	case SweepN:
		p.N = i
	case SweepM:
		p.M = i
	case SweepReplicas:
		p.N, p.M = i, i
	case SweepK:
		p.K = i
	case SweepMTTF:
		p.MTTF = x
	case SweepMTTR:
		p.MTTR = x
	case SweepSupernodes:
		p.Supernodes = i
	case SweepMu:
		p.Mu = x
	case SweepH:
		p.H = i
	}
}

// CSVHeader is the header row written by WriteCSV.
var CSVHeader = []string{"param", "x",
	"server_reliability", "dht_reliability",
	"server_unreliability", "dht_unreliability",
	"server_node_reliability", "dht_node_reliability",
	"server_rho", "dht_rho", "dht_k"}

func fmtF(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// WriteCSV writes a header row (CSVHeader) and one row per point.
func WriteCSV(w io.Writer, param SweepParam, pts []SweepPoint) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, pt := range pts {
		row := []string{string(param), fmtF(pt.X),
			fmtF(pt.Server.Reliability), fmtF(pt.DHT.Reliability),
			fmtF(pt.Server.Unreliability), fmtF(pt.DHT.Unreliability),
			fmtF(pt.Server.NodeReliability), fmtF(pt.DHT.NodeReliability),
			fmtF(pt.Server.Rho), fmtF(pt.DHT.Rho), strconv.Itoa(pt.DHT.PathLength)}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteTable writes the points as an aligned text table.
func WriteTable(w io.Writer, param SweepParam, pts []SweepPoint) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tR_server\tR_DHT\tRs\tRp\trho_s\trho_p\tk\t\n", param)
	for _, pt := range pts {
		fmt.Fprintf(tw, "%.6g\t%.9f\t%.9f\t%.6f\t%.6f\t%.4g\t%.4g\t%d\t\n", pt.X,
			pt.Server.Reliability, pt.DHT.Reliability,
			pt.Server.NodeReliability, pt.DHT.NodeReliability,
			pt.Server.Rho, pt.DHT.Rho, pt.DHT.PathLength)
	}
	return tw.Flush()
}

// PlotOptions adjusts WritePlot. The zero value gives a 6×4 inch PNG.
type PlotOptions struct {
	Title         string    // default "Lookup success vs <param>"
	XLabel        string    // default derived from the parameter
	Width, Height vg.Length // default 6 and 4 inches
	LogX          bool      // logarithmic x axis (all x must be > 0)
	Format        string    // "png" (default), "svg", "pdf", ...
}

var xLabels = map[SweepParam]string{
	SweepLambda:     "lookup arrival rate λ (lookups per time unit)",
	SweepN:          "server replicas n",
	SweepM:          "replicas per DHT hop m",
	SweepReplicas:   "replication (n = m)",
	SweepK:          "DHT path length k (hops)",
	SweepMTTF:       "MTTF (mean time to failure)",
	SweepMTTR:       "MTTR (mean time to repair)",
	SweepSupernodes: "supernodes",
	SweepMu:         "service rate μ per node",
	SweepH:          "queue capacity h",
}

// WritePlot renders lookup success probability against the swept parameter,
// with the server and DHT curves on the same axes (as the paper's Figs.
// 2–4), and writes the image to w.
func WritePlot(w io.Writer, param SweepParam, pts []SweepPoint, opt PlotOptions) (err error) {
	if len(pts) == 0 {
		return paramErr("Points", 0, "need at least one sweep point to plot")
	}
	if opt.LogX {
		for _, pt := range pts {
			if !(pt.X > 0) {
				return paramErr("LogX", pt.X, "logarithmic x axis needs every x > 0")
			}
		}
	}
	// gonum/plot panics on some degenerate inputs; never let that escape.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("model: plotting failed: %v", r)
		}
	}()
	p := plot.New()
	p.Title.Text = opt.Title
	if p.Title.Text == "" {
		p.Title.Text = "Lookup success vs " + string(param)
	}
	p.X.Label.Text = opt.XLabel
	if p.X.Label.Text == "" {
		p.X.Label.Text = xLabels[param]
	}
	p.Y.Label.Text = "P(lookup success)"
	p.Add(plotter.NewGrid())
	// Put the legend in the bottom corner the curves leave empty: bottom
	// left when reliability falls along x (Fig. 2), bottom right otherwise.
	firstY := pts[0].Server.Reliability + pts[0].DHT.Reliability
	lastY := pts[len(pts)-1].Server.Reliability + pts[len(pts)-1].DHT.Reliability
	p.Legend.Top = false
	p.Legend.Left = lastY < firstY
	p.Legend.YOffs = vg.Points(6)
	if p.Legend.Left {
		p.Legend.XOffs = vg.Points(6)
	} else {
		p.Legend.XOffs = -vg.Points(12)
	}

	srv := make(plotter.XYs, len(pts))
	dht := make(plotter.XYs, len(pts))
	lo, hi := 1.0, 0.0
	for i, pt := range pts {
		srv[i] = plotter.XY{X: pt.X, Y: pt.Server.Reliability}
		dht[i] = plotter.XY{X: pt.X, Y: pt.DHT.Reliability}
		lo = math.Min(lo, math.Min(pt.Server.Reliability, pt.DHT.Reliability))
		hi = math.Max(hi, math.Max(pt.Server.Reliability, pt.DHT.Reliability))
	}
	first := pts[0]
	series := []struct {
		xy    plotter.XYs
		name  string
		col   color.Color
		shape draw.GlyphDrawer
	}{
		{srv, serverLabel(param, first), color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, draw.BoxGlyph{}},
		{dht, dhtLabel(param, first), color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, draw.CircleGlyph{}},
	}
	for _, s := range series {
		line, sc, err := plotter.NewLinePoints(s.xy)
		if err != nil {
			return err
		}
		line.Color = s.col
		line.Width = vg.Points(1.5)
		sc.Color = s.col
		sc.Shape = s.shape
		p.Add(line, sc)
		p.Legend.Add(s.name, line, sc)
	}
	pad := 0.05 * (hi - lo)
	if pad == 0 {
		pad = 0.01
	}
	p.Y.Min, p.Y.Max = math.Max(0, lo-pad), math.Min(1, hi+pad)
	if opt.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	wd, ht := opt.Width, opt.Height
	if wd <= 0 {
		wd = 6 * vg.Inch
	}
	if ht <= 0 {
		ht = 4 * vg.Inch
	}
	format := opt.Format
	if format == "" {
		format = "png"
	}
	wt, err := p.WriterTo(wd, ht, format)
	if err != nil {
		return err
	}
	_, err = wt.WriteTo(w)
	return err
}

func serverLabel(param SweepParam, pt SweepPoint) string {
	in := pt.Server.Inputs
	if param == SweepN || param == SweepReplicas {
		return "server"
	}
	return fmt.Sprintf("server (n=%d)", in.N)
}

func dhtLabel(param SweepParam, pt SweepPoint) string {
	in := pt.DHT.Inputs
	switch param {
	case SweepM, SweepReplicas:
		return fmt.Sprintf("DHT (%d supernodes, k=%d)", in.Supernodes, pt.DHT.PathLength)
	case SweepK:
		return fmt.Sprintf("DHT (%d supernodes, m=%d)", in.Supernodes, in.M)
	case SweepSupernodes:
		return fmt.Sprintf("DHT (m=%d)", in.M)
	}
	return fmt.Sprintf("DHT (%d supernodes, m=%d, k=%d)", in.Supernodes, in.M, pt.DHT.PathLength)
}
