package bench

import (
	"context"
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
)

// Options is one run.
type Options struct {
	Config Config
	// Binary is bin/supertracker (P4's leaf process).
	Binary string
	// Helper runs the baseline node helper (P4's flat-DHT process).
	Helper HelperCommand
	// Opentracker is the opentracker binary (default: "opentracker").
	Opentracker string
	// Out receives bench.json, bench.md and bench.png; scratch files go to
	// Out/work and are removed at the end.
	Out string
	// Docs, if set, is where docs/performance.md is written.
	Docs string
	// Progress receives one line per step (nil: silent).
	Progress io.Writer
}

// run is the state of one Run.
type run struct {
	opts  Options
	cfg   Config
	work  string
	rows  *collector
	errs  []string
	start time.Time
}

func (b *run) logf(format string, a ...any) {
	if b.opts.Progress != nil {
		fmt.Fprintf(b.opts.Progress, "[%6.1fs] %s\n", time.Since(b.start).Seconds(), fmt.Sprintf(format, a...))
	}
}

// noteAbandoned logs hosts that did not close in time (closeHosts); they
// keep their goroutines and sockets until the bench exits.
func (b *run) noteAbandoned(what string, n int) {
	if n > 0 {
		b.logf("warning: %s: %d libp2p host(s) did not close within %s and were abandoned", what, n, hostCloseTimeout)
	}
}

// fail records a failed measurement; the run goes on without it.
func (b *run) fail(what string, err error) {
	b.logf("FAILED %s: %v", what, err)
	b.errs = append(b.errs, fmt.Sprintf("%s: %v", what, err))
}

// Run measures everything Config asks for and writes the report files. It
// returns the report (also when some measurement failed, which the report
// lists in Errors and the error repeats).
func Run(ctx context.Context, opts Options) (*Report, error) {
	cfg := opts.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Opentracker == "" {
		opts.Opentracker = "opentracker"
	}
	if opts.Binary == "" || opts.Helper == nil || opts.Out == "" {
		return nil, errors.New("bench: Binary, Helper and Out are required")
	}
	if _, err := os.Stat(opts.Binary); err != nil {
		return nil, fmt.Errorf("bench: overlay binary: %w (build it: go build -o bin/supertracker ./cmd/supertracker)", err)
	}
	if _, err := exec.LookPath(opts.Opentracker); err != nil {
		return nil, fmt.Errorf("bench: %w (apt-get install opentracker)", err)
	}
	quietLibp2p()
	out, err := filepath.Abs(opts.Out) // opentracker chroots into its directory
	if err != nil {
		return nil, err
	}
	opts.Out = out
	b := &run{opts: opts, cfg: cfg, work: filepath.Join(opts.Out, "work"), rows: newCollector(), start: time.Now()}
	if err := os.RemoveAll(b.work); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(b.work, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(b.work)
	every := 10 * time.Second
	if cfg.Mode == "smoke" {
		every = time.Second
	}
	load := startLoadSampler(every)
	rep := &Report{Git: gitCommit(), Date: b.start.UTC().Format(time.RFC3339), Mode: cfg.Mode, Config: cfg}

	for _, n := range cfg.Ns {
		if !cfg.Runs("lookup") {
			break
		}
		if err := b.lookupPhase(ctx, n); err != nil {
			b.fail(fmt.Sprintf("P1/P2/P4 at N=%d", n), err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	for _, s := range cfg.GrowthS {
		if ctx.Err() != nil || !cfg.Runs("growth") {
			break
		}
		if err := b.growthPhase(ctx, s); err != nil {
			b.fail(fmt.Sprintf("growth/P3 at S=%d", s), err)
		}
	}
	if ctx.Err() == nil && cfg.Runs("store") {
		if err := b.storePhase(ctx); err != nil {
			b.fail("P5", err)
		}
	}

	rep.Rows = b.rows.finish()
	rep.Errors = b.errs
	rep.WallSeconds = round4(time.Since(b.start).Seconds())
	rep.Machine = machine(opts.Opentracker)
	rep.Machine.LoadAvg = load.stop()
	rep.Machine.LoadEvery = every.Seconds()
	if err := writeReport(rep, opts); err != nil {
		return rep, err
	}
	b.logf("wrote %s (%d rows)", filepath.Join(opts.Out, "bench.json"), len(rep.Rows))
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}
	if len(b.errs) > 0 {
		return rep, fmt.Errorf("bench: %d measurement(s) failed: %s", len(b.errs), strings.Join(b.errs, "; "))
	}
	return rep, nil
}

func writeReport(rep *Report, opts Options) error {
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(opts.Out, "bench.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(opts.Out, "bench.md"), []byte(markdownTable(rep)), 0o644); err != nil {
		return err
	}
	if err := plotRatios(rep, filepath.Join(opts.Out, "bench.png")); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if opts.Docs != "" {
		if err := os.MkdirAll(filepath.Dir(opts.Docs), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(opts.Docs, []byte(performanceDoc(rep)), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// gitCommit is the short HEAD commit, "-dirty" when tracked files changed.
func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		c += "-dirty"
	}
	return c
}

func machine(otBin string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m.Model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %f kB", &kb); err == nil {
			m.MemGB = round4(kb / (1 << 20))
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("dpkg-query", "-W", "-f=${Version}", "opentracker").Output(); err == nil && len(out) > 0 {
		m.Opentracker = "Debian package opentracker " + strings.TrimSpace(string(out))
	} else {
		m.Opentracker = otBin
	}
	return m
}
