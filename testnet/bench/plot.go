package bench

import (
	"fmt"
	"image/color"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// errPoints are ratios with their min–max over rounds.
type errPoints struct {
	plotter.XYs
	plotter.XErrors
}

// plotRatios draws every row's ratio ours/baseline (median, min–max bar)
// on a log axis, one line per row, with 1 (parity) marked: left of it the
// overlay is faster or smaller, except in throughput rows (marked ↑),
// where right of it is better.
func plotRatios(rep *Report, path string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("supertracker / baseline (median, min–max over rounds) — %s run, git %s", rep.Mode, rep.Git)
	p.X.Label.Text = "ratio ours / baseline (log; < 1: ours lower; ↑ rows: > 1 is better)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	var pts errPoints
	var labels []string
	lo, hi := 1.0, 1.0
	// A log axis has no place for a ratio ≤ 0 (a baseline or ours that
	// measured nothing in a short run): such rows stay in the table only.
	var rows []Row
	for _, r := range rep.Rows {
		if r.Ratio > 0 && r.RatioMin > 0 && r.RatioMax > 0 {
			rows = append(rows, r)
		}
	}
	n := len(rows)
	for i, r := range rows {
		y := float64(n - 1 - i) // first row at the top
		pts.XYs = append(pts.XYs, plotter.XY{X: r.Ratio, Y: y})
		pts.XErrors = append(pts.XErrors, struct{ Low, High float64 }{r.Ratio - r.RatioMin, r.RatioMax - r.Ratio})
		lo, hi = math.Min(lo, r.RatioMin), math.Max(hi, r.RatioMax)
		mark := ""
		if isThroughput(r) {
			mark = " ↑"
		}
		labels = append(labels, fmt.Sprintf("%s %s · %s vs %s%s", r.ID, r.Variant, cut(shortMetric(r.Metric)), cut(r.Baseline), mark))
	}
	rev := make([]string, n)
	for i, l := range labels {
		rev[n-1-i] = l
	}
	if n > 0 {
		s, err := plotter.NewScatter(pts.XYs)
		if err != nil {
			return err
		}
		s.GlyphStyle.Shape = draw.CircleGlyph{}
		s.GlyphStyle.Color = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 255}
		eb, err := plotter.NewXErrorBars(pts)
		if err != nil {
			return err
		}
		p.Add(eb, s)
		p.NominalY(rev...)
	}
	line, err := plotter.NewLine(plotter.XYs{{X: 1, Y: -0.5}, {X: 1, Y: float64(n) - 0.5}})
	if err != nil {
		return err
	}
	line.LineStyle.Color = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 255}
	line.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(line, plotter.NewGrid())
	p.X.Min, p.X.Max = lo/1.5, hi*1.5
	height := vg.Length(max(n, 4))*vg.Points(14) + vg.Points(80)
	return p.Save(32*vg.Centimeter, height, path)
}

func isThroughput(r Row) bool {
	return len(r.Metric) >= len(HigherIsBetter) && r.Metric[len(r.Metric)-len(HigherIsBetter):] == HigherIsBetter
}

func shortMetric(m string) string {
	if isThroughput(Row{Metric: m}) {
		return m[:len(m)-len(HigherIsBetter)]
	}
	return m
}

// cut drops a parenthesised or comma-separated tail (the table has it).
func cut(s string) string {
	if i := strings.IndexAny(s, "(,"); i > 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}
