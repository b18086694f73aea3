package scale

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	golog "github.com/ipfs/go-log/v2"
)

// DefaultConfig is what `make scale` runs: 1,000 peers, BitTorrent churn
// at its measured time scale, 63 supernodes (the election's defaults),
// 20 lookups/s for 3 minutes.
func DefaultConfig() (Config, error) {
	w, err := ChurnProfile("bt-debian")
	if err != nil {
		return Config{}, err
	}
	return Config{
		N: 1000, Seed: 1, Churn: w, Speedup: 1,
		MinUptime: 2 * time.Hour,
		Objects:   2000, HoldPerPeer: 4, ZipfS: 1,
		Warmup: 30 * time.Second, Measure: 3 * time.Minute, Quiet: time.Minute,
		LookupRate: 20, PublishRate: 0.5,
		LookupTimeout: 10 * time.Second, Grace: 30 * time.Second,
		BootstrapSupernodes: 8,
	}, nil
}

// Report is report.json: the configuration, the schedule's counts and
// every design's statistics.
type Report struct {
	Started     time.Time               `json:"started"`
	Command     string                  `json:"command"`
	Config      Config                  `json:"config"`
	RTTSource   string                  `json:"rtt_source"`
	RTTTableMS  float64                 `json:"rtt_table_median_ms"`
	RTTMedianMS float64                 `json:"rtt_median_ms"` // of the links actually drawn
	ChurnSource string                  `json:"churn_source"`
	Schedule    ScheduleStats           `json:"schedule"`
	Designs     map[string]*DesignStats `json:"designs"`
	Summary     Summary                 `json:"summary"`
	Errors      []string                `json:"errors,omitempty"`
	// Past one machine: the run's costs fed to the capacity model.
	Calibration   *Calibration `json:"calibration,omitempty"`
	Extrapolation []ExtrapRow  `json:"extrapolation,omitempty"`
}

// ScheduleStats counts what the schedule holds.
type ScheduleStats struct {
	Initial         int     `json:"initial"`
	Supernodes      int     `json:"supernodes"`
	Eligible        int     `json:"eligible_min_uptime"`
	Departures      int     `json:"departures"`
	SupernodeDeaths int     `json:"supernode_departures"`
	Arrivals        int     `json:"arrivals"`
	Lookups         int     `json:"lookups"`
	Publishes       int     `json:"publishes"`
	MeanSessionMin  float64 `json:"mean_session_min"`
	MedianSessionM  float64 `json:"median_session_min"`
}

// Main runs `supertracker scale` (and `make scale`); it returns the exit
// status: 0 done, 1 a design failed, 2 bad flags.
func Main(args []string, stdout, stderr io.Writer) int {
	cfg, err := DefaultConfig()
	if err != nil {
		fmt.Fprintln(stderr, "scale:", err)
		return 1
	}
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "scale-out", "output directory")
	designs := fs.String("designs", "overlay,flat_kad", "designs to run, in order (overlay, flat_kad)")
	churn := fs.String("churn", cfg.Churn.Name, "session-length fit from data/churn-stutzbach-rejaie-2006.csv")
	memLimit := fs.Int("mem-limit-gb", 11, "Go soft memory limit, GiB (0: none)")
	pprofDir := fs.String("pprof", "", "write heap profiles after each design's setup into this directory")
	doc := fs.String("doc", "", "also write this markdown page (e.g. docs/scale.md) with the plots copied next to it under figures/")
	fromReport := fs.String("from-report", "", "redo the analysis, outputs and --doc from a report.json of an earlier run (no run)")
	stress := fs.String("stress", "", "with --doc: add a section for each of these report.json files (comma-separated) of other runs (faster churn, other N)")
	fs.IntVar(&cfg.N, "n", cfg.N, "peers online")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "schedule seed")
	fs.Float64Var(&cfg.Speedup, "churn-speedup", cfg.Speedup, "divide session lengths by this (1: measured time scale)")
	fs.IntVar(&cfg.Supernodes, "supernodes", 0, "overlay supernodes (0: the election's defaults, N/16)")
	fs.IntVar(&cfg.Objects, "objects", cfg.Objects, "objects K")
	fs.IntVar(&cfg.HoldPerPeer, "hold", cfg.HoldPerPeer, "objects each leaf holds")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "warm-up phase (churn only)")
	fs.DurationVar(&cfg.Measure, "measure", cfg.Measure, "measured phase (lookups, publishes, churn)")
	fs.DurationVar(&cfg.Quiet, "quiet", cfg.Quiet, "maintenance window (churn only)")
	fs.Float64Var(&cfg.LookupRate, "lookup-rate", cfg.LookupRate, "lookups/s over the network")
	fs.Float64Var(&cfg.PublishRate, "publish-rate", cfg.PublishRate, "new objects/s (time to findable)")
	fs.DurationVar(&cfg.LookupTimeout, "lookup-timeout", cfg.LookupTimeout, "lookup timeout")
	fs.IntVar(&cfg.BootstrapSupernodes, "bootstrap-supernodes", cfg.BootstrapSupernodes, "supernodes a leaf knows at start")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if cfg.Churn, err = ChurnProfile(*churn); err != nil {
		fmt.Fprintln(stderr, "scale:", err)
		return 2
	}
	var ds []string
	for _, d := range strings.Split(*designs, ",") {
		switch d = strings.TrimSpace(d); d {
		case DesignOverlay, DesignFlat:
			ds = append(ds, d)
		case "":
		default:
			fmt.Fprintf(stderr, "scale: unknown design %q\n", d)
			return 2
		}
	}
	if *memLimit > 0 {
		debug.SetMemoryLimit(int64(*memLimit) << 30)
	}
	if os.Getenv("GOLOG_LOG_LEVEL") == "" {
		_ = golog.SetLogLevel("*", "fatal")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logf := func(format string, a ...any) {
		fmt.Fprintf(stdout, "%s scale: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
	}
	heapProfileDir = *pprofDir
	var rep *Report
	if *fromReport != "" {
		rep, err = LoadReport(*fromReport)
	} else {
		rep, err = Run(ctx, cfg, ds, *out, logf)
	}
	if rep != nil && (*fromReport == "" || rep.Command == "") {
		rep.Command = "supertracker scale " + strings.Join(args, " ")
	}
	if rep != nil {
		if werr := WriteOutputs(*out, rep); werr != nil {
			fmt.Fprintln(stderr, "scale:", werr)
			return 1
		}
		if *doc != "" {
			var extra []*Report
			for _, f := range strings.Split(*stress, ",") {
				if f == "" {
					continue
				}
				sr, serr := LoadReport(f)
				if serr != nil {
					fmt.Fprintln(stderr, "scale:", serr)
					return 1
				}
				extra = append(extra, sr)
			}
			if werr := WriteDoc(*doc, *out, rep, extra...); werr != nil {
				fmt.Fprintln(stderr, "scale:", werr)
				return 1
			}
		}
		fmt.Fprint(stdout, screen(rep))
	}
	if err != nil {
		fmt.Fprintln(stderr, "scale:", err)
		return 1
	}
	return 0
}

// Run builds the schedule and carries it out with every design in turn
// (one at a time: memory), then analyses the runs.
func Run(ctx context.Context, cfg Config, designs []string, out string, log Progress) (*Report, error) {
	rtt, err := LoadRTT()
	if err != nil {
		return nil, err
	}
	s, err := NewSchedule(cfg)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	rep := &Report{Started: time.Now(), Config: s.Cfg, Designs: map[string]*DesignStats{},
		RTTSource:   "WonderNetwork pings 2020-07-19/20 (" + RTTFile + ")",
		RTTTableMS:  rtt.MedianMS(),
		ChurnSource: fmt.Sprintf("Stutzbach & Rejaie, IMC 2006: %s, Weibull k=%g, λ=%g min (%s)", s.Cfg.Churn.System, s.Cfg.Churn.Shape, s.Cfg.Churn.ScaleMin, ChurnFile),
		Schedule:    scheduleStats(s)}
	rep.RTTMedianMS = drawnMedianMS(rtt, s)
	rep.Summary = Summary{N: s.Cfg.N, Supernodes: len(s.Supernodes), RTTMedianMS: rep.RTTMedianMS}
	log("schedule: %d peers (%d supernodes, %d eligible by uptime), %d departures, %d arrivals, %d lookups, %d publishes over %s; median link RTT %.1f ms",
		len(s.Initial), len(s.Supernodes), s.Eligible, rep.Schedule.Departures, rep.Schedule.Arrivals,
		rep.Schedule.Lookups, rep.Schedule.Publishes, s.Cfg.Total(), rep.RTTMedianMS)
	var errs []error
	for _, name := range designs {
		var d design
		if name == DesignOverlay {
			d = newOverlay()
		} else {
			d = newFlat()
		}
		run, err := RunDesign(ctx, s, rtt, d, log)
		if err != nil {
			errs = append(errs, err)
			rep.Errors = append(rep.Errors, err.Error())
		}
		st := Analyze(run, rep.RTTMedianMS)
		rep.Designs[name] = &st
		if err == nil {
			if name == DesignOverlay {
				rep.Summary.Overlay = summarize(st)
			} else {
				rep.Summary.FlatKad = summarize(st)
			}
		}
		log("%s: success %.4f (%d/%d), lookup p50 %.0f ms = %.2f RTT, p99 %.2f RTT, findable p50 %.0f ms, setup %.0fs, peak RSS %.0f MB",
			name, st.Success, st.Succeeded, st.Counted, st.LatencyMS.P50, st.LatencyRTT.P50, st.LatencyRTT.P99,
			st.FindableMS.P50, st.SetupS, st.RSSPeakMB)
		if err := writeRecords(filepath.Join(out, name+"-lookups.csv"), run); err != nil {
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	rep.Calibration = calibrate(rep)
	rep.Extrapolation = Extrapolate(rep)
	return rep, errors.Join(errs...)
}

func scheduleStats(s *Schedule) ScheduleStats {
	st := ScheduleStats{Initial: len(s.Initial), Supernodes: len(s.Supernodes), Eligible: s.Eligible,
		Lookups: s.Count(EvLookup), Publishes: s.Count(EvPublish), Arrivals: s.Count(EvArrive),
		MeanSessionMin: s.Cfg.Churn.Mean().Minutes() / s.Cfg.Speedup, MedianSessionM: s.Cfg.Churn.Median().Minutes() / s.Cfg.Speedup}
	for _, e := range s.Events {
		if e.Kind == EvDepart {
			st.Departures++
			if s.Slots[e.Slot].Supernode {
				st.SupernodeDeaths++
			}
		}
	}
	return st
}

// drawnMedianMS is the median RTT over the links between the initial
// peers (the unit of lookup_p*_rtt).
func drawnMedianMS(rtt *RTTTable, s *Schedule) float64 {
	w := &world{rtt: rtt, seed: s.Cfg.Seed}
	var xs []float64
	n := len(s.Initial)
	step := max(1, n*n/200000) // sample at most ~200k pairs
	k := 0
	for i := range n {
		for j := i + 1; j < n; j++ {
			if k++; k%step == 0 {
				xs = append(xs, durMS(w.pairRTT(s.Initial[i], s.Initial[j])))
			}
		}
	}
	return percentiles(xs).P50
}

// WriteOutputs writes summary.json, report.json, report.md and the plots.
func WriteOutputs(dir string, rep *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	write := func(name string, v any) error {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name), append(b, '\n'), 0o644)
	}
	if err := write("summary.json", rep.Summary); err != nil {
		return err
	}
	if err := write("report.json", rep); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(markdown(rep)), 0o644); err != nil {
		return err
	}
	return writePlots(dir, rep)
}

// LoadReport reads a report.json and redoes what follows the runs (the
// summary, the calibration and the extrapolation).
func LoadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for name, st := range rep.Designs {
		if name == DesignOverlay {
			rep.Summary.Overlay = summarize(*st)
		} else {
			rep.Summary.FlatKad = summarize(*st)
		}
	}
	rep.Calibration = calibrate(&rep)
	rep.Extrapolation = Extrapolate(&rep)
	return &rep, nil
}

// WriteDoc writes the documentation page at path: the method, the
// sources, the run's report with its plots (copied to figures/ next to
// path) and how to reproduce it.
func WriteDoc(path, out string, rep *Report, stress ...*Report) error {
	figs := filepath.Join(filepath.Dir(path), "figures")
	if err := os.MkdirAll(figs, 0o755); err != nil {
		return err
	}
	for _, f := range []string{PlotLatency, PlotFindable, PlotMaint} {
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(figs, f), b, 0o644); err != nil {
			return err
		}
	}
	body := markdown(rep)
	for _, f := range []string{PlotLatency, PlotFindable, PlotMaint} {
		body = strings.ReplaceAll(body, "("+f+")", "(figures/"+f+")")
	}
	return os.WriteFile(path, []byte(docPage(rep, body, stress...)), 0o644)
}

func writeRecords(path string, run *DesignRun) error {
	var b strings.Builder
	b.WriteString("at_s,slot,object,latency_ms,holders,live,outcome\n")
	for _, l := range run.Lookups {
		fmt.Fprintf(&b, "%.3f,%d,%d,%.3f,%d,%d,%s\n", l.At.Seconds(), l.Slot, l.Object, l.LatencyMS, l.Holders, l.Live, l.Outcome)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
