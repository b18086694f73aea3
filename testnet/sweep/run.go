package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/supertracker/supertracker/testnet/baseline"
	"github.com/supertracker/supertracker/testnet/baseline/helper"
	"github.com/supertracker/supertracker/testnet/events"
	"github.com/supertracker/supertracker/testnet/launcher"
	"github.com/supertracker/supertracker/testnet/report"
)

// Runner runs single (point, seed, design) runs with the testnet launcher.
type Runner struct {
	Binary      string // the supertracker binary (overlay)
	Helper      string // a binary that runs helper.Main as `Helper baseline-node …`
	Opentracker string // opentracker binary (server design)
	Work        string // runs go to Work/runs/KEY/seedN/DESIGN
	Log         io.Writer
	// Reuse: skip a run whose result.json exists with the same parameters.
	Reuse     bool
	MinSettle time.Duration
	HoldGrace time.Duration
	// Observe, if set, sees every launcher event of every run (from many
	// goroutines; it must not block).
	Observe func(run RunInfo, ev events.Event)
}

// RunInfo names the run an observed event belongs to.
type RunInfo struct {
	Design Design
	Params Params
	Seed   uint64
	Dir    string // the run directory; the launcher's output is Dir/out
}

// FlatNumWant is the count a flat-DHT lookup passes to FindProvidersAsync.
const FlatNumWant = 1

// runDir is where one run's files go.
func (r *Runner) runDir(p Params, seed uint64, d Design) string {
	return filepath.Join(r.Work, "runs", p.Key(), "seed"+strconv.FormatUint(seed, 10), string(d))
}

// ResultFile is each run directory's result.
const ResultFile = "result.json"

func (r *Runner) logf(format string, args ...any) {
	if r.Log != nil {
		fmt.Fprintf(r.Log, format+"\n", args...)
	}
}

// Run carries out one run (or loads it with Reuse). Every process it
// starts is stopped before it returns.
func (r *Runner) Run(ctx context.Context, p Params, seed uint64, d Design) (*RunResult, error) {
	dir := r.runDir(p, seed, d)
	if r.Reuse {
		// Skip the launcher run, redo the analysis from its files.
		if old, err := loadResult(filepath.Join(dir, ResultFile)); err == nil && old.Key == p.Key() && old.Error == "" {
			rr := &RunResult{Key: p.Key(), Design: d, Seed: seed, Params: p, Dir: dir,
				ElapsedS: old.ElapsedS, NodePIDs: old.NodePIDs, LoadAvg: old.LoadAvg}
			if err := r.finish(rr, filepath.Join(dir, "out", launcher.EventsFile), p, d); err == nil {
				r.logf("sweep: %-8s seed %d  reused %s", d, seed, dir)
				rr.Reused = true
				return rr, nil
			}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	sc, err := p.Scenario()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "scenario.json"), append(sc.Canonical(), '\n'), 0o644); err != nil {
		return nil, err
	}
	bin, err := r.prepare(dir, p, d)
	if err != nil {
		return nil, err
	}
	stderr, err := os.Create(filepath.Join(dir, "launcher-stderr.log"))
	if err != nil {
		return nil, err
	}
	defer stderr.Close()
	cfg := launcher.Config{
		Scenario: sc, Seed: seed, Out: filepath.Join(dir, "out"), Binary: bin,
		NodeCommand: "off", LogLevel: "warn",
		Timeout:      p.Duration + 2*time.Minute,
		ReadyTimeout: 20 * time.Second, SettleTimeout: 20 * time.Second,
		MinSettle: r.MinSettle, Progress: report.ProgressOff,
		Stdout: io.Discard, Stderr: stderr,
	}
	if r.Observe != nil {
		info := RunInfo{Design: d, Params: p, Seed: seed, Dir: dir}
		cfg.Observe = func(ev events.Event) { r.Observe(info, ev) }
	}
	r.logf("sweep: %-8s seed %d  %s", d, seed, p.Key())
	res, runErr := launcher.Run(ctx, cfg)
	rr := &RunResult{Key: p.Key(), Design: d, Seed: seed, Params: p, Dir: dir, LoadAvg: loadAvg()}
	if res != nil {
		rr.ElapsedS = res.Elapsed.Seconds()
		rr.NodePIDs = len(res.PIDs)
	}
	if runErr != nil {
		rr.Error = runErr.Error()
		_ = saveResult(filepath.Join(dir, ResultFile), rr)
		return rr, runErr
	}
	if err := r.finish(rr, res.EventsPath, p, d); err != nil {
		rr.Error = err.Error()
		_ = saveResult(filepath.Join(dir, ResultFile), rr)
		return rr, err
	}
	r.logf("sweep: %-8s seed %d  held %d/%d = %.3f  raw %d/%d  avail %.3f  %.0fs",
		d, seed, rr.HeldSucceeded, rr.Held, ratio(rr.HeldSucceeded, rr.Held), rr.Succeeded, rr.Lookups, rr.TrackerAvail, rr.ElapsedS)
	return rr, nil
}

// finish analyses a completed run from its files and saves result.json.
func (r *Runner) finish(rr *RunResult, eventsPath string, p Params, d Design) error {
	if err := analyze(rr, eventsPath, p, d, r.HoldGrace); err != nil {
		return err
	}
	nodes := filepath.Join(rr.Dir, "out", "nodes")
	var err error
	if d != Overlay {
		if rr.Ops, err = baseline.ReadOps(nodes); err != nil {
			return err
		}
	}
	if d == Server {
		pids, err := baseline.ServerPIDs(nodes)
		if err != nil {
			return err
		}
		for _, list := range pids {
			for _, pid := range list {
				rr.ServerPIDs = append(rr.ServerPIDs, pid)
				if processRunning(pid) {
					rr.ServerPIDsAlive++
				}
			}
		}
	}
	return saveResult(filepath.Join(rr.Dir, ResultFile), rr)
}

// loadAvg returns the 1-minute load average (0 if unknown).
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// processRunning reports whether pid exists and is not a zombie.
func processRunning(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ')' {
			return i+2 < len(s) && s[i+2] != 'Z'
		}
	}
	return true
}

// prepare writes the design's launcher binary (a wrapper script) and
// config into dir.
func (r *Runner) prepare(dir string, p Params, d Design) (bin string, err error) {
	bin = filepath.Join(dir, "node.sh")
	switch d {
	case Overlay:
		// Classic mode: `supernode --local` for tracker nodes, `leaf` for
		// peers; the wrapper adds the replication knobs.
		script := fmt.Sprintf(`#!/bin/sh
# supertracker with the sweep's replication knobs (m = %d)
bin=%s
case "$1" in
supernode) exec "$bin" "$@" --replication %d --record-ttl %s ;;
leaf)      exec "$bin" "$@" --backups %d ;;
*)         exec "$bin" "$@" ;;
esac
`, p.Replication, shellQuote(r.Binary), p.Replication, 3*p.Refresh, p.Replication-1)
		return bin, os.WriteFile(bin, []byte(script), 0o755)
	case Server, FlatDHT:
	default:
		return "", fmt.Errorf("unknown design %q", d)
	}
	cfg := &baseline.Config{
		Design:     string(d),
		Refresh:    p.Refresh,
		LookupWait: p.LookupTimeout - min(p.LookupTimeout/5, 500*time.Millisecond),
		NumWant:    50,
	}
	if d == Server {
		wl := filepath.Join(dir, "whitelist.txt")
		if err := os.WriteFile(wl, baseline.Whitelist(p.Objects), 0o644); err != nil {
			return "", err
		}
		cfg.Design, cfg.Whitelist, cfg.Opentracker = baseline.DesignServer, wl, r.Opentracker
		for j := range p.Replication { // server j is hosted by node j (a tracker node)
			ip := fmt.Sprintf("127.0.0.%d", j+2)
			port, err := freePort(ip)
			if err != nil {
				return "", err
			}
			cfg.Servers = append(cfg.Servers, baseline.Server{IP: ip, Port: port})
		}
	} else {
		// FindProvidersAsync(cid, 1), as `ipfs routing findprovs -n 1`,
		// answered as soon as the provider arrives. Reading a count-50
		// query until its channel closes added up to a second or two at
		// p95 in trial runs while the first provider came within tens of ms.
		cfg.Design, cfg.BucketSize, cfg.NumWant = baseline.DesignFlatDHT, p.Replication, FlatNumWant
	}
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	cfgPath := filepath.Join(dir, "baseline.json")
	if err := baseline.WriteConfig(cfgPath, cfg); err != nil {
		return "", err
	}
	return bin, baseline.WriteWrapper(bin, r.Helper, helper.Subcommand, "-config", cfgPath)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// freePort asks the kernel for a free TCP port on ip.
func freePort(ip string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func saveResult(path string, rr *RunResult) error {
	b, err := json.MarshalIndent(rr, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func loadResult(path string) (*RunResult, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rr RunResult
	if err := json.Unmarshal(b, &rr); err != nil {
		return nil, err
	}
	return &rr, nil
}

// FindOpentracker returns the opentracker binary in PATH (or /usr/bin).
func FindOpentracker() (string, error) {
	if p, err := exec.LookPath("opentracker"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/opentracker"); err == nil {
		return "/usr/bin/opentracker", nil
	}
	return "", errors.New("opentracker not found: install the Debian package `opentracker` (apt-get install opentracker)")
}
