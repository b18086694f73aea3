package sweep

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/supertracker/supertracker/testnet/events"
)

// Options configure Run.
type Options struct {
	Plan        Plan
	Binary      string // supertracker binary (overlay nodes)
	Helper      string // binary answering `baseline-node …` (baseline nodes)
	Opentracker string // opentracker binary (server design; default: PATH)
	Work        string // run directories
	Figures     string // PNGs and sweep.json go here
	Markdown    string // results.md ("" = none)
	Reuse       bool   // keep runs whose result.json exists
	Log         io.Writer
	Command     string // the command line, for results.md
	Observe     func(RunInfo, events.Event)
}

// Report is everything a sweep produced.
type Report struct {
	Plan        Plan             `json:"plan"`
	Command     string           `json:"command"`
	Started     time.Time        `json:"started"`
	ElapsedS    float64          `json:"elapsed_s"`
	RunSeconds  float64          `json:"run_seconds"` // sum of the runs' durations
	Machine     string           `json:"machine"`
	Opentracker string           `json:"opentracker"`
	Binary      string           `json:"binary"` // the overlay binary: path, SHA-256 prefix, git HEAD
	Calib       map[Design]Calib `json:"calibration"`
	Points      []PointResult    `json:"points"`
	Runs        []*RunResult     `json:"runs"`
	Figures     []string         `json:"figures"`
	Failed      int              `json:"failed_runs"`
	Reused      int              `json:"reused_runs"`
	// Reanalysed: the command that redid the analysis from the stored runs
	// (Reanalyze), if any.
	Reanalysed string `json:"reanalysed,omitempty"`
	// Reruns: runs repeated later with the same parameters and seeds to
	// check a gap (Reanalyze --reruns); they do not enter the pooled
	// rates, only the reasons.
	Reruns []*RunResult `json:"reruns,omitempty"`
}

// JSONFile is the machine-readable result next to the figures.
const JSONFile = "sweep.json"

// Run runs every (unique point, seed, design) of o.Plan with the testnet
// launcher, then writes the figures, sweep.json and the markdown. Runs
// that fail are recorded and the sweep goes on; the error then says how
// many failed. Cancelling ctx stops the run in progress (every process is
// stopped) and returns what was measured.
func Run(ctx context.Context, o Options) (*Report, error) {
	pl := o.Plan
	if err := pl.Validate(); err != nil {
		return nil, err
	}
	if o.Work == "" || o.Figures == "" {
		return nil, errors.New("sweep: Options need Work and Figures")
	}
	needBaseline := false
	for _, d := range pl.Designs {
		switch d {
		case Overlay:
			if o.Binary == "" {
				return nil, errors.New("sweep: the overlay needs Binary (bin/supertracker)")
			}
		case Server:
			if o.Opentracker == "" {
				p, err := FindOpentracker()
				if err != nil {
					return nil, err
				}
				o.Opentracker = p
			}
			needBaseline = true
		case FlatDHT:
			needBaseline = true
		}
	}
	if needBaseline && o.Helper == "" {
		return nil, errors.New("sweep: the baselines need Helper")
	}
	for _, p := range []*string{&o.Binary, &o.Helper, &o.Opentracker, &o.Work, &o.Figures} {
		if *p != "" {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return nil, err
			}
			*p = abs
		}
	}
	rep := &Report{Plan: pl, Command: o.Command, Started: time.Now(), Calib: map[Design]Calib{},
		Machine: fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU())}
	if o.Opentracker != "" {
		rep.Opentracker = opentrackerVersion(o.Opentracker)
	}
	if o.Binary != "" {
		rep.Binary = describeBinary(o.Binary)
	}
	r := &Runner{Binary: o.Binary, Helper: o.Helper, Opentracker: o.Opentracker, Work: o.Work, Log: o.Log,
		Reuse: o.Reuse, MinSettle: pl.MinSettle, HoldGrace: pl.HoldGrace, Observe: o.Observe}
	var runErrs []string
runs:
	for _, p := range pl.UniqueParams() {
		for _, seed := range pl.Seeds {
			for _, d := range pl.Designs {
				if ctx.Err() != nil {
					break runs
				}
				rr, err := r.Run(ctx, p, seed, d)
				if rr != nil {
					rep.Runs = append(rep.Runs, rr)
					rep.RunSeconds += rr.ElapsedS
					if rr.Reused {
						rep.Reused++
					}
				}
				if err != nil {
					rep.Failed++
					runErrs = append(runErrs, fmt.Sprintf("%s seed %d %s: %v", p.Key(), seed, d, err))
					if r.Log != nil {
						fmt.Fprintf(r.Log, "sweep: run failed: %s\n", runErrs[len(runErrs)-1])
					}
				}
			}
		}
	}
	for _, d := range pl.Designs {
		rep.Calib[d] = calibrate(d, rep.Runs)
	}
	var err error
	if rep.Points, err = aggregate(pl, rep.Runs, rep.Calib); err != nil {
		return rep, err
	}
	rep.ElapsedS = time.Since(rep.Started).Seconds()
	if err := os.MkdirAll(o.Figures, 0o755); err != nil {
		return rep, err
	}
	if rep.Figures, err = writeFigures(o.Figures, rep); err != nil {
		return rep, err
	}
	b, err := json.MarshalIndent(rep, "", " ")
	if err != nil {
		return rep, err
	}
	if err := os.WriteFile(filepath.Join(o.Figures, JSONFile), append(b, '\n'), 0o644); err != nil {
		return rep, err
	}
	if o.Markdown != "" {
		if err := writeMarkdown(o.Markdown, o.Figures, rep); err != nil {
			return rep, err
		}
	}
	if ctx.Err() != nil {
		return rep, fmt.Errorf("sweep interrupted: %w", ctx.Err())
	}
	if len(runErrs) > 0 {
		return rep, fmt.Errorf("sweep: %d run(s) failed: %s", len(runErrs), strings.Join(runErrs, "; "))
	}
	return rep, nil
}

// Reanalyze loads a sweep.json written by Run and redoes everything after
// the runs (calibration, points, models, figures, sweep.json, markdown)
// from the run results it holds: for a model change, no run is repeated.
// The plan, runs and command of the stored report are kept.
func Reanalyze(jsonPath, figures, markdown, command string, reruns []*RunResult) (*Report, error) {
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		return nil, err
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("%s: %w", jsonPath, err)
	}
	if err := rep.Plan.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", jsonPath, err)
	}
	for i, s := range rep.Plan.Sweeps { // the curve ranges are not stored
		var named Sweep
		switch s.Name {
		case SweepLoad:
			named = loadSweep()
		case SweepChurn:
			named = churnSweep()
		case SweepReplication:
			named = replicationSweep()
		default:
			return nil, fmt.Errorf("%s: unknown sweep %q", jsonPath, s.Name)
		}
		rep.Plan.Sweeps[i].CurveFrom, rep.Plan.Sweeps[i].CurveTo = named.CurveFrom, named.CurveTo
	}
	rep.Calib = map[Design]Calib{}
	for _, d := range rep.Plan.Designs {
		rep.Calib[d] = calibrate(d, rep.Runs)
	}
	rep.Reruns = append(rep.Reruns, reruns...)
	if rep.Points, err = aggregate(rep.Plan, rep.Runs, rep.Calib); err != nil {
		return &rep, err
	}
	addReruns(rep.Points, rep.Reruns)
	rep.Reanalysed = command
	if abs, err := filepath.Abs(figures); err == nil {
		figures = abs
	}
	if err := os.MkdirAll(figures, 0o755); err != nil {
		return &rep, err
	}
	if rep.Figures, err = writeFigures(figures, &rep); err != nil {
		return &rep, err
	}
	out, err := json.MarshalIndent(&rep, "", " ")
	if err != nil {
		return &rep, err
	}
	if err := os.WriteFile(filepath.Join(figures, JSONFile), append(out, '\n'), 0o644); err != nil {
		return &rep, err
	}
	if markdown != "" {
		if err := writeMarkdown(markdown, figures, &rep); err != nil {
			return &rep, err
		}
	}
	return &rep, nil
}

// LoadReruns reads every result.json under dir/runs (a sweep work
// directory) as reruns.
func LoadReruns(dir string) ([]*RunResult, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "runs", "*", "seed*", "*", ResultFile))
	if err != nil {
		return nil, err
	}
	var out []*RunResult
	for _, p := range paths {
		rr, err := loadResult(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if rr.Error == "" && rr.Held > 0 {
			out = append(out, rr)
		}
	}
	return out, nil
}

// opentrackerVersion returns the installed Debian package version, if any.
func opentrackerVersion(bin string) string {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Version}", "opentracker").Output()
	if err != nil || len(out) == 0 {
		return bin
	}
	return fmt.Sprintf("%s (Debian package opentracker %s)", bin, strings.TrimSpace(string(out)))
}

// describeBinary names the overlay binary: path, SHA-256 prefix, and the
// git HEAD of the working directory (the binary may include uncommitted
// changes).
func describeBinary(path string) string {
	desc := path
	if b, err := os.ReadFile(path); err == nil {
		desc += fmt.Sprintf(" (sha256 %.12x…)", sha256.Sum256(b))
	}
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		desc += ", tree at git " + strings.TrimSpace(string(out))
	}
	return desc
}
