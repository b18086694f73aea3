package sweep

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Files of the load sweep.
const (
	LoadJSON   = "load.json"
	LoadFigure = "fig2-election-load.png"
)

func writeLoadOutputs(o LoadOptions, rep *LoadReport) error {
	if err := os.MkdirAll(o.Figures, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rep, "", " ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.Figures, LoadJSON), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := loadFigure(filepath.Join(o.Figures, LoadFigure), rep); err != nil {
		return err
	}
	if o.Markdown == "" {
		return nil
	}
	rel, err := filepath.Rel(filepath.Dir(mustAbs(o.Markdown)), o.Figures)
	if err != nil {
		rel = o.Figures
	}
	return os.WriteFile(o.Markdown, []byte(loadMarkdown(rep, rel)), 0o644)
}

// loadFigure: success, tracker count and ρ against peers, one panel each,
// measured points and the model's curves.
func loadFigure(path string, rep *LoadReport) error {
	pl := rep.Plan
	lo, hi := float64(pl.Peers[0]), float64(pl.Peers[len(pl.Peers)-1])
	var xs []float64
	for x := math.Max(2, lo/2); x <= hi*1.25; x += 0.5 {
		xs = append(xs, x)
	}
	panels := make([]*plot.Plot, 3)
	titles := []string{"lookup success (held objects)", "tracker nodes (supernodes / servers)", "utilisation ρ of a tracker node"}
	for i := range panels {
		p := plot.New()
		p.Y.Label.Text = titles[i]
		p.Add(plotter.NewGrid())
		p.Legend.TextStyle.Font.Size = vg.Points(7)
		panels[i] = p
	}
	panels[0].Title.Text = fmt.Sprintf("The paper's Fig. 2 measured: %g lookups/s per peer, every tracker node capped at μ = %g/s", pl.PerPeerRate, pl.Mu)
	panels[2].X.Label.Text = "peers N (λ = N × per-peer rate)"
	panels[0].Legend.Top, panels[0].Legend.Left = false, true
	panels[1].Legend.Top, panels[1].Legend.Left = true, true
	panels[2].Legend.Top, panels[2].Legend.Left = true, true
	for di, d := range pl.Designs {
		c := designColor[d]
		var succ, trk, rho plotter.XYs
		for _, x := range xs {
			m, err := pl.Model(d, x, 0)
			if err != nil {
				continue
			}
			succ = append(succ, plotter.XY{X: x, Y: m.Reliability})
			t := float64(pl.Servers)
			if d == Overlay {
				t = pl.ModelTrackers(x)
			}
			trk = append(trk, plotter.XY{X: x, Y: t})
			rho = append(rho, plotter.XY{X: x, Y: math.Min(m.Rho, 2)})
		}
		for i, line := range []plotter.XYs{succ, trk, rho} {
			l, err := plotter.NewLine(line)
			if err != nil {
				return err
			}
			l.Color, l.Width = c, vg.Points(1.5)
			panels[i].Add(l)
			label := DesignLabel(d) + ": model"
			if d == Server && i == 0 {
				label = DesignLabel(d) + ": model (pool of n M/M/1/h)"
			}
			panels[i].Legend.Add(label, l)
		}
		if d == Server {
			var paper plotter.XYs
			for _, x := range xs {
				if r, err := pl.PaperServerModel(x); err == nil {
					paper = append(paper, plotter.XY{X: x, Y: r})
				}
			}
			if l, err := plotter.NewLine(paper); err == nil {
				l.Color, l.Width, l.Dashes = c, vg.Points(1), []vg.Length{vg.Points(4), vg.Points(3)}
				panels[0].Add(l)
				panels[0].Legend.Add(DesignLabel(d)+": the paper's form (independent servers)", l)
			}
		}
		var ms, mt, mr errXY
		for _, pt := range rep.Points {
			if pt.Design != d || pt.Held == 0 {
				continue
			}
			x := float64(pt.Peers) + 0.3*float64(di*2-1)
			ms.XYs = append(ms.XYs, plotter.XY{X: x, Y: pt.Rate})
			ms.YErrors = append(ms.YErrors, struct{ Low, High float64 }{pt.Rate - pt.Lo, pt.Hi - pt.Rate})
			mt.XYs = append(mt.XYs, plotter.XY{X: x, Y: pt.TrackersMean})
			mt.YErrors = append(mt.YErrors, struct{ Low, High float64 }{0, 0})
			mr.XYs = append(mr.XYs, plotter.XY{X: x, Y: pt.RhoMean})
			mr.YErrors = append(mr.YErrors, struct{ Low, High float64 }{0, 0})
		}
		for i, pts := range []errXY{ms, mt, mr} {
			if len(pts.XYs) == 0 {
				continue
			}
			sc, err := plotter.NewScatter(pts.XYs)
			if err != nil {
				return err
			}
			sc.Color, sc.Shape, sc.Radius = c, designShape[d], vg.Points(3.5)
			panels[i].Add(sc)
			if i == 0 {
				eb, err := plotter.NewYErrorBars(pts)
				if err != nil {
					return err
				}
				eb.Color = c
				panels[i].Add(eb)
			}
			panels[i].Legend.Add(DesignLabel(d)+": measured", sc)
		}
	}
	panels[0].Y.Min, panels[0].Y.Max = 0, 1.02
	panels[1].Y.Min = 0
	panels[2].Y.Min, panels[2].Y.Max = 0, 2
	for _, p := range panels {
		p.X.Min, p.X.Max = math.Max(0, lo/2), hi*1.25
	}
	const w, h = 8 * vg.Inch, 10 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 3, Cols: 1, PadY: vg.Points(8)}
	canvases := plot.Align([][]*plot.Plot{{panels[0]}, {panels[1]}, {panels[2]}}, tiles, dc)
	for i := range panels {
		panels[i].Draw(canvases[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func loadMarkdown(rep *LoadReport, rel string) string {
	pl := rep.Plan
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# The paper's Fig. 2 claim, measured: success against load with the election running\n\n")
	w("_Generated by `%s` on %s; do not edit by hand._\n\n", rep.Command, rep.Started.UTC().Format("2006-01-02 15:04 UTC"))
	w("The paper argues, from its model only, that \"the reliability of server-based tracker design can deteriorate quickly under heavy load, whereas the DHT-based tracker can scale with load since when the load increases the number of servers will increase automatically\". ")
	w("This sweep measures it: the number of peers N grows (%v), each peer looks objects up at %g/s (so λ = %g·N lookups/s), and **every tracker node serves at most μ = %g lookups/s**: one FIFO server with exponential service times per node (package `testnet/capped`, an M/M/1 queue bounded at h = ⌊μT/2⌋ = %d lookups in the node, T = %s the lookup timeout: the paper's M/M/1/h, with h small enough that a queued lookup is answered within T; a lookup that finds the queue full is turned away at once, RATE_LIMITED or HTTP 503, as the model loses it), so that 2 cores can reach saturation.\n\n",
		pl.Peers, pl.PerPeerRate, pl.PerPeerRate, pl.Mu, pl.Queue(), fmtDur(pl.LookupTimeout))
	w("- **server** (DS+M+U): n = %d opentracker servers, each behind a capped proxy for lookups (announces go straight to opentracker, to all n); a client tries the n servers one at a time in an order shuffled per lookup and moves on when one turns it away (BEP 12's tier), so each server sees λ/n: ρ = λ/(nμ). The paper's server model, R = 1 − P_block(λ/(nμ), h)^n (dashed), treats the n servers' blocking as independent; but a client turned away by one loads the others, so under overload their queues are full together and the n servers lose like one pool: at most nμ of λ lookups/s get through, success ≤ nμ/λ, which the paper's form exceeds beyond ρ = 1 (at ρ = 1.5 it predicts 0.889 against a bound of 0.667). The model used here is that pool, an M/M/n/(n·h) queue: R = 1 − P_K (Erlang's loss formula with a waiting room; `model.PoolBlock`).\n", pl.Servers)
	w("- **overlay**: every peer runs `supertracker node --preset local --service-rate %g --service-queue %d` with the election running (%d seed supernodes, max %d leaf sessions per supernode, eligible after %s); a lookup is served by the leaf's primary, so ρ = λ/(S·μ). A capped lookup reaches the supernode when its service begins, so the supernode's own load meter (a request's time from read to answer) measures ρ = λ/μ, and the election promotes while the mean ρ its leaves see is ≥ PromoteRho = 0.8. The model: S(N) = max(seeds, ⌊λ/(0.8μ)⌋ + 1, the fill's ⌈3N/(1+0.9·max leaves)⌉), R = 1 − P_block(λ/(S·μ), h).\n\n", pl.Mu, pl.Queue(), pl.SeedSupernodes, pl.MaxLeaves, pl.MinUptime)
	w("Success is over the held lookups issued in the last %s of each %s run: the election needs the first part to follow the load. It promotes a herd within seconds of the demand (every leaf sees the same overloaded supernodes and the score stagger is shorter than the time a promotion takes to relieve them) and demotes the surplus after MinDwell (30 s) and its demotion slots, so the count settles at about the model's S by ~2 min; the columns *whole run* (from the %s warm-up on) and *promotions / demotions* show that transient. The tracker count is the time-weighted mean over the measure window, and the count at the end; ρ is the mean utilisation of the capped servers that served lookups, sampled each second.\n\n", fmtDur(pl.Measure), fmtDur(pl.Duration), fmtDur(pl.Warmup))
	w("![success, tracker nodes and ρ against peers](%s/%s)\n\n", rel, LoadFigure)
	w("| N | λ (lookups/s) | design | held | measured [95%% CI] | model (model S) | model (measured S) | within ±%.2f | the paper's form | whole run | tracker nodes: mean / end / model | promotions / demotions | ρ measured / model | failures |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n", DefaultTolerance)
	for _, pt := range rep.Points {
		within := "no"
		if pt.WithinModel {
			within = "yes"
		}
		paper := "–"
		if pt.Design == Server {
			paper = fmt.Sprintf("%.4f", pt.ModelPaper)
		}
		w("| %d | %.0f | %s | %d | **%.4f** [%.4f, %.4f] | %.4f | %.4f | %s | %s | %.4f (%d/%d) | %.2f / %.0f / %.0f | %d / %d | %.2f / %.2f | %s |\n",
			pt.Peers, pt.Lambda, DesignLabel(pt.Design), pt.Held, pt.Rate, pt.Lo, pt.Hi, pt.Model, pt.ModelMeasured, within, paper,
			pt.AllRate, pt.AllSucceeded, pt.AllHeld, pt.TrackersMean, pt.TrackersEnd, pt.ModelTrackers, pt.Promotions, pt.Demotions,
			pt.RhoMean, pt.ModelRho, outcomeString(pt.Outcomes))
	}
	var fellBelow, overlayHeld bool
	overlayMin := 1.0
	for _, pt := range rep.Points {
		if pt.Design == Server && pt.Held > 0 && pt.Rate < 0.99 {
			fellBelow = true
		}
		if pt.Design == Overlay && pt.Held > 0 {
			overlayHeld = true
			overlayMin = math.Min(overlayMin, pt.Rate)
		}
	}
	within := len(rep.Points) > 0
	for _, pt := range rep.Points {
		within = within && pt.WithinModel
	}
	w("\n**Claim:** the fixed-n server design falls below 0.99: **%v**; the overlay stays ≥ 0.999 at every N: **%v** (lowest %.4f); every point within ±%.2f of the model (with the measured tracker count): **%v**.\n\n", fellBelow, overlayHeld && overlayMin >= 0.999, overlayMin, DefaultTolerance, within)
	w("Raw runs: `%s/%s`; per-run event logs and node logs under the sweep's work directory (`load/N*/seed*/DESIGN`).\n", rel, LoadJSON)
	return b.String()
}
