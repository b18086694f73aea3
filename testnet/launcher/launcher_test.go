package launcher

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/supertracker/supertracker/testnet/events"
	"github.com/supertracker/supertracker/testnet/report"
	"github.com/supertracker/supertracker/testnet/scenario"
	"github.com/supertracker/supertracker/testnet/workload"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binary builds cmd/supertracker once per test binary run.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs real supertracker processes")
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "supertracker-launcher-test")
		if buildErr != nil {
			return
		}
		builtBin = filepath.Join(buildDir, "supertracker")
		cmd := exec.Command("go", "build", "-o", builtBin, "./cmd/supertracker")
		cmd.Dir = filepath.Join("..", "..") // the module root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.New(err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("building the binary: %v", buildErr)
	}
	return builtBin
}

// checkNoneLeft fails if any started PID still runs the binary or any
// process runs it at all (pgrep on its unique temp path).
func checkNoneLeft(t *testing.T, bin string, pids []int) {
	t.Helper()
	for _, pid := range pids {
		if pid <= 0 {
			t.Fatalf("bad pid %d", pid)
		}
		if err := syscall.Kill(pid, 0); err == nil {
			cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
			if bytes.Contains(cmdline, []byte(bin)) {
				t.Errorf("pid %d (%q) is still running", pid, cmdline)
			}
		}
	}
	out, err := exec.Command("pgrep", "-f", bin).Output()
	if err == nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("pgrep -f %s found %q", bin, out)
	} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("pgrep: %v", err)
	}
}

// TestScheduleDeterministic: same scenario and seed give a byte-identical
// schedule.jsonl as the launcher writes it; another seed changes it.
func TestScheduleDeterministic(t *testing.T) {
	for _, name := range scenario.BuiltinNames() {
		sc, err := scenario.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		var files [3][]byte
		for i, seed := range []uint64{7, 7, 8} {
			s, err := workload.Generate(sc, seed)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), ScheduleFile)
			if err := writeSchedule(p, s); err != nil {
				t.Fatal(err)
			}
			if files[i], err = os.ReadFile(p); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(files[0], files[1]) {
			t.Errorf("%s: same seed, different schedule.jsonl", name)
		}
		if bytes.Equal(files[0], files[2]) {
			t.Errorf("%s: seeds 7 and 8 gave the same schedule", name)
		}
	}
}

func TestNodeArgs(t *testing.T) {
	sc, err := scenario.Builtin("default")
	if err != nil {
		t.Fatal(err)
	}
	specs := sc.NodeSpecs()
	var seed, stable, flaky scenario.NodeSpec
	for _, s := range specs {
		switch s.Profile {
		case "seed":
			seed = s
		case "stable":
			stable = s
		case "flaky":
			flaky = s
		}
	}
	sns := []string{"/ip4/127.0.0.2/tcp/1/p2p/A", "/ip4/127.0.0.3/tcp/1/p2p/B"}
	classic := Capabilities{Mode: ModeClassic}
	args, role, _ := nodeArgs(classic, sc, seed, "/ip4/127.0.0.2/tcp/1", "d", "127.0.0.2:2", "warn", nil)
	if role != RoleSupernode || args[0] != "supernode" || !slicesContains(args, "--local") || slicesContains(args, "--bootstrap") {
		t.Errorf("classic seed: %s %v", role, args)
	}
	args, _, _ = nodeArgs(classic, sc, seed, "l", "d", "a", "warn", sns)
	if !hasPair(args, "--bootstrap", sns[0]+","+sns[1]) {
		t.Errorf("classic second seed: %v", args)
	}
	args, role, _ = nodeArgs(classic, sc, stable, "l", "d", "a", "warn", sns)
	if role != RoleLeaf || args[0] != "leaf" || !hasPair(args, "--supernode", sns[0]+","+sns[1]) {
		t.Errorf("classic stable: %s %v", role, args)
	}
	flags := map[string]bool{}
	for _, f := range []string{"listen", "data", "api", "log-level", "preset", "role", "bootstrap", "supernode", "bandwidth-limit", "min-uptime", "min-upload", "max-leaves"} {
		flags[f] = true
	}
	node := Capabilities{Mode: ModeNode, NodeFlags: flags}
	args, role, dropped := nodeArgs(node, sc, seed, "l", "d", "a", "warn", nil)
	if role != RoleSupernode || args[0] != "node" || !hasPair(args, "--role", "supernode") || !hasPair(args, "--preset", "local") ||
		!hasPair(args, "--bandwidth-limit", "1048576") || !hasPair(args, "--max-leaves", sc.Election.MaxLeaves) ||
		!hasPair(args, "--min-uptime", sc.Election.MinUptime) || !hasPair(args, "--min-upload", sc.Election.MinUpload) || len(dropped) > 0 {
		t.Errorf("node seed: %s %v %v", role, args, dropped)
	}
	for _, s := range []scenario.NodeSpec{stable, flaky} {
		args, role, _ = nodeArgs(node, sc, s, "l", "d", "a", "warn", sns)
		if role != RoleLeaf || !hasPair(args, "--role", "auto") || !hasPair(args, "--bootstrap", sns[0]+","+sns[1]) || !hasPair(args, "--supernode", sns[0]+","+sns[1]) {
			t.Errorf("node %s: %s %v", s.Profile, role, args)
		}
	}
	delete(flags, "min-upload")
	_, _, dropped = nodeArgs(node, sc, flaky, "l", "d", "a", "warn", sns)
	if !reflect.DeepEqual(dropped, []string{"--min-upload"}) {
		t.Errorf("dropped %v", dropped)
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func hasPair(args []string, flag, value string) bool {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag && args[i+1] == value {
			return true
		}
	}
	return false
}

func TestDetect(t *testing.T) {
	dir := t.TempDir()
	with := filepath.Join(dir, "with")
	without := filepath.Join(dir, "without")
	os.WriteFile(with, []byte("#!/bin/sh\n[ \"$1\" = node ] || exit 2\ncat <<EOF\nUsage: x\nFlags:\n  -api string\n    \tthe API\n  -role string\n  --preset string\nEOF\n"), 0o755)
	os.WriteFile(without, []byte("#!/bin/sh\necho 'unknown command' >&2\nexit 2\n"), 0o755)
	c := Detect(t.Context(), with)
	if c.Mode != ModeNode || !c.NodeFlags["api"] || !c.NodeFlags["role"] || !c.NodeFlags["preset"] || c.NodeFlags["string"] {
		t.Errorf("with node: %+v", c)
	}
	if c := Detect(t.Context(), without); c.Mode != ModeClassic {
		t.Errorf("without node: %+v", c)
	}
	if c := Detect(t.Context(), filepath.Join(dir, "missing")); c.Mode != ModeClassic {
		t.Errorf("missing binary: %+v", c)
	}
}

func TestProcParsing(t *testing.T) {
	stat := "1234 (super tracker) (x)) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 12 0 100 0 0"
	cpu, err := parseStatCPU(stat)
	if err != nil || cpu != 3.25 {
		t.Errorf("cpu %v %v, want 3.25", cpu, err)
	}
	if _, err := parseStatCPU("garbage"); err == nil {
		t.Error("garbage stat accepted")
	}
	rss, err := parseStatusRSS("Name:\tx\nVmPeak:\t 100 kB\nVmRSS:\t   2048 kB\n")
	if err != nil || rss != 2048*1024 {
		t.Errorf("rss %v %v", rss, err)
	}
	// The test process itself.
	cpu, rss, err = procUsage(os.Getpid())
	if err != nil || cpu < 0 || rss <= 0 {
		t.Errorf("own usage: %v %v %v", cpu, rss, err)
	}
}

func TestTrafficClass(t *testing.T) {
	for key, want := range map[string]string{
		"/supertracker/kad/1.0.0":       events.ClassDHT,
		"/supertracker/replicate/1.0.0": events.ClassAnnounce,
		"/supertracker/leaf/1.0.0":      events.ClassOther,
		"/supertracker/leaf/lookup":     events.ClassLookup,
		"/supertracker/leaf/announce":   events.ClassAnnounce,
		"/ipfs/ping/1.0.0":              events.ClassOther,
	} {
		if got := trafficClass(key); got != want {
			t.Errorf("%s: %s, want %s", key, got, want)
		}
	}
}

// runScenario runs sc with the real binary and checks the invariants every
// run must keep, whatever it measured.
func runScenario(t *testing.T, ctx context.Context, sc *scenario.Scenario, seed uint64, nodeCmd string, observe func(events.Event)) (*Result, string, error) {
	t.Helper()
	bin := binary(t)
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	start := time.Now()
	res, err := Run(ctx, Config{
		Scenario: sc, Seed: seed, Out: out, Binary: bin, NodeCommand: nodeCmd,
		Progress: report.ProgressOff, Stdout: &stdout, Stderr: &stderr, Observe: observe,
	})
	t.Logf("run of %s (%s) took %s\nstdout:\n%s\nstderr:\n%s", sc.Name, nodeCmd, time.Since(start).Round(time.Millisecond), stdout.String(), stderr.String())
	if res == nil {
		t.Fatalf("no result: %v", err)
	}
	if len(res.PIDs) == 0 && err == nil {
		t.Error("no PIDs recorded")
	}
	checkNoneLeft(t, bin, res.PIDs)
	return res, out, err
}

func readLog(t *testing.T, path string) *events.Log {
	t.Helper()
	l, err := events.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestSmokeRun: the smoke scenario end to end with real processes.
func TestSmokeRun(t *testing.T) {
	for _, nodeCmd := range []string{"off", "on"} {
		t.Run("node-command="+nodeCmd, func(t *testing.T) {
			if nodeCmd == "on" && Detect(t.Context(), binary(t)).Mode != ModeNode {
				t.Skip("the binary has no `node` command")
			}
			sc, err := scenario.Builtin("smoke")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			res, out, err := runScenario(t, ctx, sc, sc.Seed, nodeCmd, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Elapsed > sc.Duration.Duration+30*time.Second {
				t.Errorf("run took %s", res.Elapsed)
			}
			s := res.Summary
			l := &s.Lookups
			if l.Total == 0 || l.SuccessRate < 0 || l.SuccessRate > 1 || l.AnswerableSuccessRate < 0 || l.AnswerableSuccessRate > 1 {
				t.Fatalf("lookups %+v", l)
			}
			// Both modes must serve most lookups: classic with fixed roles,
			// node mode with at least one election (asserted below).
			if l.SuccessRate <= 0.5 {
				t.Errorf("lookup success %.3f, want > 0.5", l.SuccessRate)
			}
			t.Logf("%s: lookup success %.3f (answerable %.3f), %d role changes", res.Mode, l.SuccessRate, l.AnswerableSuccessRate, s.RoleChanges.Total)
			if nodeCmd != "off" && s.RoleChanges.Total == 0 {
				t.Errorf("node mode: no election happened (0 role changes)")
			}
			if s.Churn.KillsByCause[events.CauseChurn] == 0 || s.Churn.KillsByCause[events.CauseTargeted] != 1 || s.Churn.Restarts == 0 {
				t.Errorf("churn %+v", s.Churn)
			}
			if s.Churn.Shutdowns == 0 || s.Resources[RoleLeaf].Samples == 0 || s.Supernodes.Samples == 0 || s.Announces.OK == 0 {
				t.Errorf("summary: shutdowns %d, resources %+v, supernode samples %d, announces %+v",
					s.Churn.Shutdowns, s.Resources, s.Supernodes.Samples, s.Announces)
			}
			for _, f := range append([]string{EventsFile, ScheduleFile, ScenarioFile, NodesFile}, report.SummaryJSON, report.SummaryText,
				report.LookupsCSV, report.SupernodesCSV, report.BinsCSV, report.SuccessPNG, report.LatencyPNG, report.SupernodesPNG) {
				if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
					t.Errorf("%s: %v", f, err)
				}
			}
			// Every op was issued once, in schedule order; results only for issued requests.
			sched, err := workload.Generate(sc, sc.Seed)
			if err != nil {
				t.Fatal(err)
			}
			log := readLog(t, res.EventsPath)
			ops := issuedOps(log)
			if len(ops) != len(sched.Ops) {
				t.Fatalf("%d ops issued, schedule has %d", len(ops), len(sched.Ops))
			}
			for i, o := range ops {
				so := sched.Ops[i]
				if o.OpID != so.ID || o.Op != string(so.Kind) || o.At != so.At || o.Object != so.Object ||
					(so.Node >= 0 && o.Node != so.Node) {
					t.Fatalf("op %d issued as %+v, scheduled %+v", i, o, so)
				}
			}
			var killSN events.OpIssued
			for _, o := range ops {
				if o.Op == string(workload.KillSupernode) {
					killSN = o
				}
			}
			if killSN.Node < 0 || killSN.Skipped != "" {
				t.Errorf("targeted kill %+v", killSN)
			}
			if !strings.Contains(readFile(t, filepath.Join(out, report.SummaryText)), "Lookups") {
				t.Error("summary.txt has no Lookups line")
			}
		})
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func issuedOps(l *events.Log) []events.OpIssued {
	var ops []events.OpIssued
	for _, ev := range l.Events {
		if o, ok := ev.Payload.(events.OpIssued); ok {
			ops = append(ops, o)
		}
	}
	// Ops are issued in schedule order by one goroutine; sort by ID anyway
	// (lines from other goroutines interleave, not these).
	for i := 1; i < len(ops); i++ {
		for j := i; j > 0 && ops[j].OpID < ops[j-1].OpID; j-- {
			ops[j], ops[j-1] = ops[j-1], ops[j]
		}
	}
	return ops
}

// tiny is a short scenario for the cheap runs: 3 nodes, 5 s, no churn.
const tiny = `{
  "name": "tiny", "seed": 3, "duration": "5s", "warmup": "1s", "nodes": 3,
  "profiles": [
    {"name": "seed", "count": 1, "upload_bps": 1048576, "mttf": "none", "mttr": "none", "role": "supernode"},
    {"name": "leaf", "count": 2, "upload_bps": 65536, "mttf": "none", "mttr": "none", "role": "leaf"}
  ],
  "objects": 5, "zipf": {"s": 1.0, "v": 1.0}, "initial_holders": 1,
  "announce_rate": 1.0, "lookup_rate": 4.0, "lookup_timeout": "2s",
  "churn": {"enabled": false, "targeted": {"at": [], "rate": 0, "restart_after": "none"}, "mass_failure": null},
  "election": {"min_uptime": "5s", "min_upload": "1024", "max_leaves": "10"},
  "max_events": 1000
}`

// TestSameSeedSameOps: two real runs with one seed issue the same op
// sequence and write the same schedule.jsonl.
func TestSameSeedSameOps(t *testing.T) {
	sc, err := scenario.Parse([]byte(tiny))
	if err != nil {
		t.Fatal(err)
	}
	var seqs [2][]events.OpIssued
	var scheds [2]string
	for i := range seqs {
		res, _, err := runScenario(t, t.Context(), sc, 11, "off", nil)
		if err != nil {
			t.Fatal(err)
		}
		seqs[i] = issuedOps(readLog(t, res.EventsPath))
		scheds[i] = readFile(t, res.SchedulePath)
		if res.Summary.Lookups.Total == 0 {
			t.Errorf("run %d: no lookups", i)
		}
	}
	if scheds[0] != scheds[1] {
		t.Error("schedule.jsonl differs between runs with the same seed")
	}
	if len(seqs[0]) == 0 || !reflect.DeepEqual(seqs[0], seqs[1]) {
		t.Errorf("op sequences differ:\n%v\n%v", seqs[0], seqs[1])
	}
}

// TestCancelMidRun: cancelling the context while the schedule runs stops
// every process promptly and still leaves a readable log and a report.
func TestCancelMidRun(t *testing.T) {
	sc, err := scenario.Builtin("smoke")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var once sync.Once
	var cancelledAt time.Time
	var mu sync.Mutex
	observe := func(ev events.Event) {
		// Cancel once churn has begun: a node killed, the run mid-way.
		if k, ok := ev.Payload.(events.NodeKill); ok && k.Cause == events.CauseChurn {
			once.Do(func() {
				mu.Lock()
				cancelledAt = time.Now()
				mu.Unlock()
				cancel()
			})
		}
	}
	res, out, err := runScenario(t, ctx, sc, sc.Seed, "auto", observe)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("err %v, want ErrInterrupted", err)
	}
	mu.Lock()
	at := cancelledAt
	mu.Unlock()
	if at.IsZero() {
		t.Fatal("never cancelled")
	}
	if d := time.Since(at); d > 15*time.Second {
		t.Errorf("shutdown took %s after cancellation", d)
	}
	log := readLog(t, res.EventsPath)
	var end *events.RunEnd
	shutdowns := 0
	for _, ev := range log.Events {
		switch p := ev.Payload.(type) {
		case events.RunEnd:
			end = &p
		case events.NodeKill:
			if p.Cause == events.CauseShutdown {
				shutdowns++
			}
		}
	}
	if end == nil || end.Reason != "interrupted" || shutdowns == 0 {
		t.Errorf("run_end %+v, %d shutdown kills", end, shutdowns)
	}
	if res.Summary == nil || res.Summary.WindowS >= sc.Duration.Seconds() {
		t.Errorf("summary of the interrupted run: %+v", res.Summary)
	}
	if _, err := os.Stat(filepath.Join(out, report.SummaryText)); err != nil {
		t.Error(err)
	}
}

// TestDemo: `supertracker testnet --demo` still works.
func TestDemo(t *testing.T) {
	bin := binary(t)
	var stdout, stderr bytes.Buffer
	code := Main([]string{"--demo", "--out", t.TempDir(), "--binary", bin}, &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "6/6 lookups found their announcer") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	checkNoneLeft(t, bin, nil)
}

func TestMainUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"--scenario", "no-such-scenario-file.json"}, &stdout, &stderr); code != ExitUsage {
		t.Errorf("missing scenario: exit %d", code)
	}
	if code := Main([]string{"--help"}, &stdout, &stderr); code != 0 || !strings.Contains(stderr.String(), "--scenario") {
		t.Errorf("--help: exit %d %s", code, stderr.String())
	}
	if code := Main([]string{"extra"}, &stdout, &stderr); code != ExitUsage {
		t.Errorf("extra argument: exit %d", code)
	}
}
