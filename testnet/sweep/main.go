package sweep

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Main implements the sweep command (see cmd/sweep). The helper it starts
// for baseline nodes is this same executable unless --helper says
// otherwise.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: sweep [--plan full|quick] [--out DIR] [--md FILE] [--work DIR] [--binary PATH] [flags]

Runs the reliability sweeps (lookup success against load, churn and
replication) for the supertracker overlay, n opentracker servers and a flat
kad-dht, with the same scenario and seed for all three, puts the paper's
model next to the measurements, and writes the figures, sweep.json and the
results markdown. Needs the supertracker binary and the Debian package
opentracker.

Flags:
`)
		fs.PrintDefaults()
	}
	planName := fs.String("plan", "full", "full (make figures), quick (the CI sweep) or election-load (the paper's Fig. 2 with the election running and capped tracker nodes)")
	out := fs.String("out", "docs/figures", "directory for the PNG figures and sweep.json")
	md := fs.String("md", "docs/results.md", "results markdown to write (empty: none)")
	work := fs.String("work", "testnet-out/sweep", "directory for the runs (event logs, node logs)")
	bin := fs.String("binary", "bin/supertracker", "supertracker binary for the overlay")
	helperBin := fs.String("helper", "", "baseline node helper (default: this executable)")
	ot := fs.String("opentracker", "", "opentracker binary (default: from PATH)")
	seeds := fs.String("seeds", "", "comma-separated seeds (default: the plan's)")
	designs := fs.String("designs", "", "comma-separated designs: overlay,server,flatdht (default: all)")
	tol := fs.Float64("tolerance", -1, "±X of the model check (default: the plan's)")
	reuse := fs.Bool("reuse", false, "reuse runs whose result.json exists in --work")
	fromJSON := fs.String("from-json", "", "re-analyse the runs stored in a sweep.json (no runs): models, figures, markdown")
	peers := fs.String("peers", "", "election-load: comma-separated N values (default: the plan's); with --reuse, runs of other N already in --work are kept")
	rerunDir := fs.String("reruns", "", "with --from-json: a sweep work directory whose runs repeat points of the stored sweep (same parameters and seeds), reported beside the gaps they check")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *planName == "election-load" && *fromJSON != "" {
		m := *md
		if m == "docs/results.md" {
			m = "docs/load.md"
		}
		rep, err := ReanalyzeLoad(*fromJSON, LoadOptions{Figures: *out, Markdown: m, Command: "sweep " + strings.Join(args, " ")})
		if err != nil {
			fmt.Fprintln(stderr, "sweep:", err)
			return 1
		}
		fmt.Fprintf(stdout, "re-analysed %d runs from %s: %d points\n", len(rep.Runs), *fromJSON, len(rep.Points))
		return 0
	}
	if *planName == "election-load" {
		return mainLoad(args, loadFlags{out: *out, md: *md, work: *work, bin: *bin, helper: *helperBin, ot: *ot,
			seeds: *seeds, designs: *designs, peers: *peers, reuse: *reuse}, stdout, stderr)
	}
	var pl Plan
	switch *planName {
	case "full":
		pl = FullPlan()
	case "quick":
		pl = QuickPlan()
	default:
		fmt.Fprintf(stderr, "sweep: --plan %q: want full or quick\n", *planName)
		return 2
	}
	if *seeds != "" {
		pl.Seeds = nil
		for _, f := range strings.Split(*seeds, ",") {
			v, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
			if err != nil {
				fmt.Fprintf(stderr, "sweep: --seeds: %v\n", err)
				return 2
			}
			pl.Seeds = append(pl.Seeds, v)
		}
	}
	if *designs != "" {
		ds, err := ParseDesigns(*designs)
		if err != nil {
			fmt.Fprintln(stderr, "sweep:", err)
			return 2
		}
		pl.Designs = ds
	}
	if *tol >= 0 {
		pl.Tolerance = *tol
	}
	if *fromJSON != "" {
		var reruns []*RunResult
		if *rerunDir != "" {
			var err error
			if reruns, err = LoadReruns(*rerunDir); err != nil {
				fmt.Fprintln(stderr, "sweep:", err)
				return 1
			}
		}
		rep, err := Reanalyze(*fromJSON, *out, *md, "sweep "+strings.Join(args, " "), reruns)
		if err != nil {
			fmt.Fprintln(stderr, "sweep:", err)
			return 1
		}
		fmt.Fprintf(stdout, "re-analysed %d runs from %s: %d points\n", len(rep.Runs), *fromJSON, len(rep.Points))
		return 0
	}
	h := *helperBin
	if h == "" {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(stderr, "sweep:", err)
			return 2
		}
		h = exe
	}
	if _, err := os.Stat(*bin); err != nil {
		fmt.Fprintf(stderr, "sweep: --binary %s: %v (run `make build`)\n", *bin, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	rep, err := Run(ctx, Options{
		Plan: pl, Binary: *bin, Helper: h, Opentracker: *ot, Work: *work, Figures: *out, Markdown: *md,
		Reuse: *reuse, Log: stderr, Command: "sweep " + strings.Join(args, " "),
	})
	if rep != nil {
		pass, in, inPass := 0, 0, 0
		for _, p := range rep.Points {
			scope := "in scope"
			if !p.InScope {
				scope = "out of scope (" + p.OutOfScope + ")"
			}
			fmt.Fprintf(stdout, "%-12s %-8g %-8s measured %.3f [%.3f, %.3f]  model: realized churn %.3f %s, planning %.3f  %s\n",
				p.Sweep, p.X, p.Design, p.Rate, p.Lo, p.Hi, p.ModelRealized, p.Verdict(), p.Model, scope)
			if p.Pass {
				pass++
			}
			if p.InScope {
				in++
				if p.Pass {
					inPass++
				}
			}
		}
		fmt.Fprintf(stdout, "within ±%.2f of the model: %d/%d points in scope, %d/%d in all; %d runs in %s\n",
			pl.Tolerance, inPass, in, pass, len(rep.Points), len(rep.Runs), time.Since(start).Round(time.Second))
	}
	if err != nil {
		fmt.Fprintln(stderr, "sweep:", err)
		return 1
	}
	return 0
}

// loadFlags are the flags mainLoad uses.
type loadFlags struct {
	out, md, work, bin, helper, ot string
	seeds, designs, peers          string
	reuse                          bool
}

// mainLoad runs the election load sweep (--plan election-load).
func mainLoad(args []string, f loadFlags, stdout, stderr io.Writer) int {
	pl := DefaultLoadPlan()
	out, md, work, bin, helperBin, ot := f.out, f.md, f.work, f.bin, f.helper, f.ot
	if f.seeds != "" {
		pl.Seeds = nil
		for _, s := range strings.Split(f.seeds, ",") {
			v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
			if err != nil {
				fmt.Fprintf(stderr, "sweep: --seeds: %v\n", err)
				return 2
			}
			pl.Seeds = append(pl.Seeds, v)
		}
	}
	if f.designs != "" {
		ds, err := ParseDesigns(f.designs)
		if err != nil {
			fmt.Fprintln(stderr, "sweep:", err)
			return 2
		}
		pl.Designs = ds
	}
	var only []int
	if f.peers != "" {
		for _, s := range strings.Split(f.peers, ",") {
			v, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				fmt.Fprintf(stderr, "sweep: --peers: %v\n", err)
				return 2
			}
			only = append(only, v)
		}
		if !f.reuse {
			pl.Peers = only
			only = nil
		}
	}
	if md == "docs/results.md" {
		md = "docs/load.md" // never overwrite the Figs. 2–4 page
	}
	h := helperBin
	if h == "" {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(stderr, "sweep:", err)
			return 2
		}
		h = exe
	}
	if _, err := os.Stat(bin); err != nil {
		fmt.Fprintf(stderr, "sweep: --binary %s: %v (run `make build`)\n", bin, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := RunLoad(ctx, LoadOptions{Plan: pl, Binary: bin, Helper: h, Opentracker: ot, Work: work,
		Figures: out, Markdown: md, Log: stderr, Command: "sweep " + strings.Join(args, " "), Reuse: f.reuse, Only: only})
	if rep != nil {
		for _, pt := range rep.Points {
			fmt.Fprintf(stdout, "N=%-3d %-8s success %.4f [%.4f, %.4f]  model %.4f (measured S: %.4f)  trackers %.2f (model %.0f)  ρ %.2f (model %.2f)\n",
				pt.Peers, pt.Design, pt.Rate, pt.Lo, pt.Hi, pt.Model, pt.ModelMeasured, pt.TrackersMean, pt.ModelTrackers, pt.RhoMean, pt.ModelRho)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "sweep:", err)
		return 1
	}
	return 0
}
