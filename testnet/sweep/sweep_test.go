package sweep

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/supertracker/supertracker/testnet/baseline"
	"github.com/supertracker/supertracker/testnet/events"
)

// buildBinaries builds bin/supertracker and the sweep command (the
// baseline helper) without the race detector into dir.
func buildBinaries(t *testing.T, dir string) (supertracker, helperBin string) {
	t.Helper()
	root := filepath.Join("..", "..") // the module root
	supertracker = filepath.Join(dir, "supertracker")
	helperBin = filepath.Join(dir, "sweep")
	for _, b := range []struct{ out, pkg string }{{supertracker, "./cmd/supertracker"}, {helperBin, "./testnet/sweep/cmd/sweep"}} {
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return supertracker, helperBin
}

// pgrepNone polls (bounded) until no process's command line contains
// pattern.
func pgrepNone(t *testing.T, pattern string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := exec.Command("pgrep", "-a", "-f", pattern).Output()
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 1 {
			return // none
		}
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("pgrep: %v", err)
		}
		if time.Now().After(deadline) {
			t.Errorf("processes left behind (pgrep -f %s):\n%s", pattern, bytes.TrimSpace(out))
			return
		}
		<-time.After(100 * time.Millisecond) // poll interval, bounded by the deadline
	}
}

// killWatch checks, for every churn kill of a node hosting an opentracker,
// that the opentracker process of that incarnation disappears.
type killWatch struct {
	mu       sync.Mutex
	wg       sync.WaitGroup
	killed   []int // opentracker PIDs seen to die after a node kill
	survived []int
	errs     []string
}

func (k *killWatch) observe(run RunInfo, ev events.Event) {
	kill, ok := ev.Payload.(events.NodeKill)
	if !ok || run.Design != Server || kill.Cause == events.CauseShutdown || kill.Node >= run.Params.Replication {
		return
	}
	// Observe runs before the launcher sends the SIGKILL: the last PID in
	// the node's file is the tracker of the incarnation being killed.
	pidsFile := filepath.Join(run.Dir, "out", "nodes", "node"+strconv.Itoa(kill.Node), baseline.PIDsFile)
	b, err := os.ReadFile(pidsFile)
	fields := strings.Fields(string(b))
	if err != nil || len(fields) == 0 {
		k.mu.Lock()
		k.errs = append(k.errs, "no opentracker PID recorded for node "+strconv.Itoa(kill.Node))
		k.mu.Unlock()
		return
	}
	pid, _ := strconv.Atoi(fields[len(fields)-1])
	k.wg.Go(func() {
		deadline := time.Now().Add(5 * time.Second)
		for processRunning(pid) && time.Now().Before(deadline) {
			<-time.After(20 * time.Millisecond) // poll interval, bounded by the deadline
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		if processRunning(pid) {
			k.survived = append(k.survived, pid)
		} else {
			k.killed = append(k.killed, pid)
		}
	})
}

// TestQuickSweep is the reduced sweep CI runs: 2 points × 1 seed × 3
// designs on 5 nodes with fast churn (about a minute of runs). It checks
// that the figures and the markdown are produced, that the server baseline
// really started opentracker processes and that the churn really killed
// them, that the flat-DHT baseline really ran kad-dht lookups
// (FindProvidersAsync calls that found providers), and that no process is
// left behind.
func TestQuickSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a reduced sweep of real processes; skipped with -short")
	}
	ot, err := FindOpentracker()
	if err != nil {
		t.Skip("opentracker is not installed: apt-get install opentracker (Debian package `opentracker`)")
	}
	tmp := t.TempDir()
	bin, helperBin := buildBinaries(t, filepath.Join(tmp, "bin"))
	work, figs, md := filepath.Join(tmp, "work"), filepath.Join(tmp, "docs", "figures"), filepath.Join(tmp, "docs", "results.md")

	pl := QuickPlan()
	// The schedule must kill a server host, or the kill check proves nothing.
	kills := 0
	for _, p := range pl.UniqueParams() {
		sc, err := p.Scenario()
		if err != nil {
			t.Fatal(err)
		}
		kills += scheduledKills(t, sc, pl.Seeds[0], p.Replication)
	}
	if kills == 0 {
		t.Fatal("the quick plan's schedule kills no server host; choose another seed")
	}

	kw := &killWatch{}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	start := time.Now()
	rep, err := Run(ctx, Options{
		Plan: pl, Binary: bin, Helper: helperBin, Opentracker: ot,
		Work: work, Figures: figs, Markdown: md, Command: "go test -run TestQuickSweep ./testnet/sweep/",
		Log: testWriter{t}, Observe: kw.observe,
	})
	elapsed := time.Since(start)
	kw.wg.Wait()
	// Nothing survives, success or not.
	for _, p := range []string{work, filepath.Join(tmp, "bin")} {
		pgrepNone(t, p)
	}
	if err != nil {
		t.Fatalf("sweep: %v", err)
	}
	t.Logf("quick sweep: %d runs in %s", len(rep.Runs), elapsed.Round(time.Second))
	if want := len(pl.UniqueParams()) * len(pl.Seeds) * len(pl.Designs); len(rep.Runs) != want {
		t.Fatalf("%d runs, want %d", len(rep.Runs), want)
	}

	// Figures and markdown.
	for _, s := range pl.Sweeps {
		b, err := os.ReadFile(filepath.Join(figs, s.Figure))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 10_000 {
			t.Errorf("%s: not a plausible PNG (%d bytes)", s.Figure, len(b))
		}
	}
	if _, err := os.Stat(filepath.Join(figs, JSONFile)); err != nil {
		t.Error(err)
	}
	mdText, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"±0.05", "figures/fig3-churn.png", "PASS", "opentracker"} {
		if !bytes.Contains(mdText, []byte(want)) {
			t.Errorf("results.md lacks %q", want)
		}
	}
	if len(rep.Points) != len(pl.Points())*len(pl.Designs) {
		t.Errorf("%d point results, want %d", len(rep.Points), len(pl.Points())*len(pl.Designs))
	}
	for _, pr := range rep.Points {
		if pr.Held == 0 || pr.Model <= 0 || pr.Model > 1 {
			t.Errorf("%s %g %s: held %d, model %v", pr.Sweep, pr.X, pr.Design, pr.Held, pr.Model)
		}
	}

	// Server baseline: opentracker processes started, killed by the churn,
	// restarted, none alive now.
	var started, maxPerRun int
	for _, r := range rep.Runs {
		if r.Design != Server {
			continue
		}
		started += len(r.ServerPIDs)
		maxPerRun = max(maxPerRun, len(r.ServerPIDs))
		if r.ServerPIDsAlive != 0 {
			t.Errorf("%s: %d opentracker process(es) still alive", r.Dir, r.ServerPIDsAlive)
		}
		if len(r.ServerPIDs) < r.Params.Replication {
			t.Errorf("%s: %d opentracker PIDs for n = %d", r.Dir, len(r.ServerPIDs), r.Params.Replication)
		}
	}
	kw.mu.Lock()
	t.Logf("opentracker: %d started, %d killed by churn and gone, %d survived a kill", started, len(kw.killed), len(kw.survived))
	if len(kw.errs) > 0 || len(kw.survived) > 0 {
		t.Errorf("kill check: errors %v, survivors %v", kw.errs, kw.survived)
	}
	if len(kw.killed) == 0 {
		t.Error("no opentracker process was killed by the churn")
	}
	if maxPerRun <= pl.Base.Replication {
		t.Errorf("no server was restarted: at most %d opentracker PIDs per run", maxPerRun)
	}
	kw.mu.Unlock()
	for _, pid := range allServerPIDs(rep) {
		if processRunning(pid) {
			t.Errorf("opentracker pid %d still running", pid)
		}
	}

	// Flat DHT: stock kad-dht lookups ran and found providers.
	for _, r := range rep.Runs {
		if r.Design != FlatDHT {
			continue
		}
		t.Logf("flatdht %s: %d FindProvidersAsync calls, %d providers found, %.1f RPCs/lookup", r.Key, r.Ops.Lookups, r.Ops.ProvidersFound, r.Ops.RPCsPerLookup)
		if r.Ops.Lookups < r.Lookups/2 || r.Ops.ProvidersFound == 0 || r.Ops.LookupsFound == 0 || r.Ops.RPCs == 0 || r.Ops.AnnouncesOK == 0 {
			t.Errorf("flatdht %s: ops %+v for %d lookups", r.Key, r.Ops, r.Lookups)
		}
	}
}

func allServerPIDs(rep *Report) []int {
	var out []int
	for _, r := range rep.Runs {
		out = append(out, r.ServerPIDs...)
	}
	return out
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
