package scale

import (
	"image/color"
	"math"
	"path/filepath"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Plot files written next to summary.json.
const (
	PlotLatency  = "scale-latency-rtt.png"
	PlotFindable = "scale-findable.png"
	PlotMaint    = "scale-maintenance.png"
)

var designColors = map[string]color.Color{
	DesignOverlay: color.RGBA{R: 31, G: 119, B: 180, A: 255},
	DesignFlat:    color.RGBA{R: 44, G: 160, B: 44, A: 255},
}

var designLabels = map[string]string{DesignOverlay: "overlay (supernodes + leaves)", DesignFlat: "flat kad-dht (every peer a server)"}

func writePlots(dir string, rep *Report) error {
	for _, f := range []struct {
		name string
		draw func(*Report) (*plot.Plot, error)
	}{{PlotLatency, latencyCDF}, {PlotFindable, findableCDF}, {PlotMaint, maintBars}} {
		p, err := f.draw(rep)
		if err != nil {
			return err
		}
		if err := p.Save(8*vg.Inch, 4.5*vg.Inch, filepath.Join(dir, f.name)); err != nil {
			return err
		}
	}
	return nil
}

// cdf is the empirical CDF of xs as a step line.
func cdf(xs []float64) plotter.XYs {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	out := make(plotter.XYs, 0, len(s))
	for i, x := range s {
		out = append(out, plotter.XY{X: x, Y: float64(i+1) / float64(len(s))})
	}
	return out
}

func cdfPlot(title, xlabel string, rep *Report, sample func(*DesignStats) []float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = "fraction of operations"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Min, p.Y.Max = 0, 1
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = false, false
	lo, hi := math.Inf(1), 0.0
	for _, d := range designOrder(rep) {
		xs := sample(rep.Designs[d])
		var pos []float64
		for _, x := range xs {
			if x > 0 {
				pos = append(pos, x)
			}
		}
		if len(pos) == 0 {
			continue
		}
		line := cdf(pos)
		lo, hi = math.Min(lo, line[0].X), math.Max(hi, line[len(line)-1].X)
		l, err := plotter.NewLine(line)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width = designColors[d], vg.Points(1.8)
		p.Add(l)
		p.Legend.Add(designLabels[d], l)
	}
	if hi > 0 {
		p.X.Min = math.Pow(10, math.Floor(math.Log10(lo)))
		p.X.Max = math.Pow(10, math.Ceil(math.Log10(hi)))
	} else {
		p.X.Min, p.X.Max = 0.1, 10
	}
	return p, nil
}

func latencyCDF(rep *Report) (*plot.Plot, error) {
	return cdfPlot("Lookup latency of successful lookups, in RTTs (median link RTT "+fmtF(rep.RTTMedianMS, 1)+" ms)",
		"lookup latency / median RTT (log scale)", rep, func(st *DesignStats) []float64 { return st.LatRTT })
}

func findableCDF(rep *Report) (*plot.Plot, error) {
	return cdfPlot("Time to findable: announce start until another peer's lookup returns the publisher",
		"time to findable (ms, log scale)", rep, func(st *DesignStats) []float64 { return st.FindMS })
}

// maintBars: maintenance bytes/s per node by role and cause (the quiet
// window's continuous upkeep, and each periodic task amortised).
func maintBars(rep *Report) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Maintenance traffic per node (bytes/s, in + out)"
	p.Y.Label.Text = "bytes/s"
	type bar struct {
		label string
		parts map[string]float64
	}
	var bars []bar
	for _, d := range designOrder(rep) {
		st := rep.Designs[d]
		roles := []string{"supernode", "leaf"}
		if d == DesignFlat {
			roles = []string{"dht"}
		}
		for _, role := range roles {
			b := bar{label: d + " " + role, parts: map[string]float64{"continuous (quiet window)": st.Maintenance[role].BytesPerS}}
			for _, u := range st.Upkeep {
				b.parts[u.Name] += u.RatePer[role]
			}
			bars = append(bars, b)
		}
	}
	names := map[string]bool{}
	for _, b := range bars {
		for k := range b.parts {
			names[k] = true
		}
	}
	var keys []string
	for k := range names {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	palette := []color.Color{
		color.RGBA{R: 31, G: 119, B: 180, A: 255}, color.RGBA{R: 255, G: 127, B: 14, A: 255},
		color.RGBA{R: 44, G: 160, B: 44, A: 255}, color.RGBA{R: 214, G: 39, B: 40, A: 255},
		color.RGBA{R: 148, G: 103, B: 189, A: 255}, color.RGBA{R: 140, G: 86, B: 75, A: 255},
	}
	var prev *plotter.BarChart
	for i, k := range keys {
		vals := make(plotter.Values, len(bars))
		for j, b := range bars {
			vals[j] = b.parts[k]
		}
		bc, err := plotter.NewBarChart(vals, vg.Points(40))
		if err != nil {
			return nil, err
		}
		bc.Color = palette[i%len(palette)]
		bc.LineStyle.Width = 0
		if prev != nil {
			bc.StackOn(prev)
		}
		p.Add(bc)
		p.Legend.Add(k, bc)
		prev = bc
	}
	labels := make([]string, len(bars))
	for i, b := range bars {
		var total float64
		for _, v := range b.parts {
			total += v
		}
		labels[i] = b.label + " (" + fmtBps(total) + ")"
	}
	p.NominalX(labels...)
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.TextStyle.Font.Size = vg.Points(7)
	p.Y.Min = 0
	var top float64
	for _, b := range bars {
		var s float64
		for _, v := range b.parts {
			s += v
		}
		top = math.Max(top, s)
	}
	p.Y.Max = top*1.6 + 1 // room for the legend
	p.Y.Tick.Marker = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		ts := plot.DefaultTicks{}.Ticks(lo, hi)
		for i := range ts {
			if ts[i].Label != "" {
				ts[i].Label = strconv.FormatFloat(ts[i].Value, 'f', 0, 64)
			}
		}
		return ts
	})
	return p, nil
}

func fmtF(v float64, prec int) string {
	return plotFloat(v, prec)
}
