package launcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/supertracker/supertracker/testnet/events"
	"github.com/supertracker/supertracker/testnet/metrics"
	"github.com/supertracker/supertracker/testnet/report"
	"github.com/supertracker/supertracker/testnet/scenario"
	"github.com/supertracker/supertracker/testnet/workload"
)

// Files the launcher writes into the output directory besides the report.
const (
	EventsFile   = "events.jsonl"   // the raw event log (package events)
	ScheduleFile = "schedule.jsonl" // the generated schedule (package workload)
	ScenarioFile = "scenario.json"  // the scenario as run (canonical JSON)
	NodesFile    = "nodes.json"     // index, profile, address, API and peer ID of every node
	LauncherLog  = "launcher.log"   // the launcher's own warnings
	nodesDir     = "nodes"          // per-node data directories
	logsDir      = "logs"           // per-node stderr logs
	nodesMarker  = ".supertracker-testnet"
)

// Skip reasons beyond those of package events.
const skipNodeUp = "node_up" // restart of a node that is running

// ErrInterrupted is returned (wrapped) when the run was cancelled, by
// Ctrl-C or by the caller's context.
var ErrInterrupted = errors.New("testnet interrupted")

// Config describes one scenario run.
type Config struct {
	Scenario *scenario.Scenario
	Seed     uint64
	Out      string // output directory (created)
	Binary   string // the supertracker binary the nodes run
	// NodeCommand: "auto" (default: use `node` if the binary has it), "on"
	// (require it) or "off" (supernode/leaf commands).
	NodeCommand string
	LogLevel    string // nodes' --log-level (default "warn")
	// Timeout bounds the whole run (0: scenario duration + 3 minutes).
	Timeout time.Duration
	// ReadyTimeout bounds each process start (default 30 s); SettleTimeout
	// the wait for every leaf to attach before the schedule (default 30 s;
	// 90 s in node mode, where the election may first have to promote
	// supernodes: with the default scenario's 4 leaf slots per supernode
	// two seed supernodes cannot take ten nodes, and until the stable peers
	// qualify (15 s uptime) and are promoted, two nodes have no supernode
	// and every request they make times out).
	ReadyTimeout  time.Duration
	SettleTimeout time.Duration
	// MinSettle: start the schedule no earlier than this long after the
	// first node started (0: as soon as the overlay has settled). The
	// scenario's warmup is part of the measured window; this is not.
	MinSettle   time.Duration
	SampleEvery time.Duration // default 1 s
	Progress    report.ProgressMode
	Stdout      io.Writer // the summary (nil: discard)
	Stderr      io.Writer // progress bar and warnings (nil: discard)
	// Observe, if set, sees every event after it is logged (from many
	// goroutines; it must be fast and must not block).
	Observe func(events.Event)
}

// Result is what a run produced. Run returns it, as far as it got, also
// with an error.
type Result struct {
	Mode         Mode
	Summary      *metrics.Summary // nil if the schedule never started
	Files        report.Files
	EventsPath   string
	SchedulePath string
	PIDs         []int // every process started, in start order
	Elapsed      time.Duration
}

type runner struct {
	cfg   Config
	sc    *scenario.Scenario
	sched *workload.Schedule
	caps  Capabilities
	w     *events.Writer
	cl    *Cluster
	nodes []*node

	startCtx  context.Context // restarts; cancelled at shutdown
	reqCtx    context.Context // announces and lookups; cancelled at shutdown
	reqCancel context.CancelFunc
	reqs      sync.WaitGroup // in-flight announces and lookups
	bg        sync.WaitGroup // restarts in progress
	watch     sync.WaitGroup // exit watchers

	mu       sync.Mutex
	byPeer   map[string]int  // peer ID → node
	picked   map[uint64]int  // kill_supernode op ID → victim
	pids     []int           // every PID started
	warned   map[string]bool // warnOnce keys
	closed   atomic.Bool     // the event log is closed
	logFile  io.Writer       // launcher.log
	warnings atomic.Int64
	quiet    bool // progress bar on: warnings only to launcher.log
}

func (r *runner) emit(p events.Payload) {
	t := r.w.Now()
	if err := r.w.Emit(t, p); err != nil {
		if !r.closed.Load() {
			r.warn("event %s: %v", p.Kind(), err)
		}
		return
	}
	if r.cfg.Observe != nil {
		r.cfg.Observe(events.Event{T: t, Payload: p})
	}
}

func (r *runner) warn(format string, args ...any) {
	r.warnings.Add(1)
	msg := fmt.Sprintf(format, args...)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.logFile != nil {
		fmt.Fprintf(r.logFile, "%s %s\n", time.Now().Format(time.TimeOnly), msg)
	}
	if !r.quiet {
		fmt.Fprintln(r.cfg.Stderr, "testnet:", msg)
	}
}

func (r *runner) warnOnce(key, format string, args ...any) {
	r.mu.Lock()
	seen := r.warned[key]
	r.warned[key] = true
	r.mu.Unlock()
	if !seen {
		r.warn(format, args...)
	}
}

func (r *runner) recordPID(pid int) {
	r.mu.Lock()
	r.pids = append(r.pids, pid)
	r.mu.Unlock()
}

func (r *runner) info(format string, args ...any) {
	fmt.Fprintf(r.cfg.Stderr, format+"\n", args...)
}

// prepareOut creates the output directory and clears the node data left
// by a previous run there (leaves persist what they announce, so stale data
// would leak into this run). It refuses to clear a nodes/ directory it did
// not create.
func prepareOut(out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	nd := filepath.Join(out, nodesDir)
	if _, err := os.Stat(nd); err == nil {
		if _, err := os.Stat(filepath.Join(nd, nodesMarker)); err != nil {
			return fmt.Errorf("%s exists and was not created by supertracker testnet; choose another --out", nd)
		}
		if err := os.RemoveAll(nd); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(nd, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(nd, nodesMarker), []byte("node data of a supertracker testnet run; removed by the next run\n"), 0o644); err != nil {
		return err
	}
	_ = os.RemoveAll(filepath.Join(out, logsDir))
	return os.MkdirAll(filepath.Join(out, logsDir), 0o755)
}

func writeSchedule(path string, s *workload.Schedule) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := s.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Run runs cfg.Scenario with real processes and writes the event log,
// schedule and report into cfg.Out. Every process it starts is stopped
// before it returns, whatever happens. Cancelling ctx interrupts the run:
// the report covers what was measured and the error wraps ErrInterrupted.
func Run(ctx context.Context, cfg Config) (res *Result, err error) {
	began := time.Now()
	if cfg.Scenario == nil || cfg.Binary == "" || cfg.Out == "" {
		return nil, errors.New("launcher: Config needs Scenario, Binary and Out")
	}
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	if cfg.Stderr == nil {
		cfg.Stderr = io.Discard
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "warn"
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 30 * time.Second
	}
	settleDefault := cfg.SettleTimeout == 0
	if settleDefault {
		cfg.SettleTimeout = 30 * time.Second
	}
	if cfg.SampleEvery == 0 {
		cfg.SampleEvery = time.Second
	}
	sc := cfg.Scenario
	if cfg.Timeout == 0 {
		cfg.Timeout = sc.Duration.Duration + 3*time.Minute
	}
	if sc.NodeCount > 251 {
		return nil, fmt.Errorf("launcher: %d nodes do not fit on 127.0.0.2–127.0.0.252", sc.NodeCount)
	}
	ctx, cancelTimeout := context.WithTimeoutCause(ctx, cfg.Timeout, fmt.Errorf("%w: --timeout %s reached", ErrInterrupted, cfg.Timeout))
	defer cancelTimeout()

	sched, err := workload.Generate(sc, cfg.Seed)
	if err != nil {
		return nil, err
	}
	out, err := filepath.Abs(cfg.Out)
	if err != nil {
		return nil, err
	}
	if err := prepareOut(out); err != nil {
		return nil, fmt.Errorf("launcher: %w", err)
	}
	res = &Result{EventsPath: filepath.Join(out, EventsFile), SchedulePath: filepath.Join(out, ScheduleFile)}
	if err := writeSchedule(res.SchedulePath, sched); err != nil {
		return res, err
	}
	if err := os.WriteFile(filepath.Join(out, ScenarioFile), append(sc.Canonical(), '\n'), 0o644); err != nil {
		return res, err
	}
	lf, err := os.Create(filepath.Join(out, LauncherLog))
	if err != nil {
		return res, err
	}
	defer lf.Close()

	caps := Capabilities{Mode: ModeClassic}
	switch cfg.NodeCommand {
	case "", "auto":
		caps = Detect(ctx, cfg.Binary)
	case "on":
		if caps = Detect(ctx, cfg.Binary); caps.Mode != ModeNode {
			return res, fmt.Errorf("launcher: %s has no `node` command", cfg.Binary)
		}
	case "off":
	default:
		return res, fmt.Errorf("launcher: node command %q is not auto, on or off", cfg.NodeCommand)
	}
	res.Mode = caps.Mode
	if settleDefault && caps.Mode == ModeNode {
		cfg.SettleTimeout = 90 * time.Second
	}

	w, err := events.Create(res.EventsPath, events.Run{
		Scenario: sc.Name, ScenarioSHA256: sc.Hash(), Seed: cfg.Seed, Nodes: sc.NodeCount,
		Objects: sc.Objects, Duration: sc.Duration.Duration, LookupTimeout: sc.LookupTimeout.Duration,
	})
	if err != nil {
		return res, err
	}
	r := &runner{
		cfg: cfg, sc: sc, sched: sched, caps: caps, w: w, cl: &Cluster{},
		byPeer: map[string]int{}, picked: map[uint64]int{}, warned: map[string]bool{}, logFile: lf,
	}
	startCtx, cancelStarts := context.WithCancel(ctx)
	r.startCtx = startCtx
	r.reqCtx, r.reqCancel = context.WithCancel(context.Background())

	sampCtx, stopSampler := context.WithCancel(ctx)
	var sampDone sync.WaitGroup

	// Whatever happens below, nothing survives Run.
	defer func() {
		stopSampler()
		sampDone.Wait()
		cancelStarts()
		r.reqCancel()
		r.bg.Wait()
		r.cl.StopAll(2 * time.Second)
		r.watch.Wait()
		r.closed.Store(true)
		_ = w.Close()
		r.mu.Lock()
		res.PIDs = append([]int(nil), r.pids...)
		r.mu.Unlock()
		res.Elapsed = time.Since(began)
	}()

	for _, spec := range sc.NodeSpecs() {
		n, err := newNode(out, spec)
		if err != nil {
			return res, err
		}
		r.nodes = append(r.nodes, n)
	}
	r.info("testnet: scenario %s (seed %d): %d nodes, %s, %d ops; mode %s; output in %s",
		sc.Name, cfg.Seed, sc.NodeCount, sc.Duration.Duration, len(sched.Ops), describeMode(caps), out)
	if err := r.startAll(ctx); err != nil {
		r.stopAll()
		return res, interruptedOr(ctx, fmt.Errorf("launcher: starting nodes: %w", err))
	}
	r.writeNodes(filepath.Join(out, NodesFile))

	// Sample from now on, so role changes while settling are logged too.
	prog := report.NewProgress(cfg.Stderr, int64(sc.Duration.Duration/time.Second), "testnet "+sc.Name, cfg.Progress)
	var t0ns atomic.Int64
	t0ns.Store(-1)
	sampDone.Go(func() {
		r.sampler(sampCtx, cfg.SampleEvery, func() {
			if t0 := t0ns.Load(); t0 >= 0 {
				prog.Set(int64((w.Now() - time.Duration(t0)) / time.Second))
			}
		})
	})
	r.settle(ctx)
	if cfg.MinSettle > 0 {
		r.info("testnet: letting the overlay settle until %s after start", cfg.MinSettle)
		sleepCtx(ctx, cfg.MinSettle-w.Now())
	}
	if ctx.Err() != nil {
		stopSampler()
		sampDone.Wait()
		r.stopAll()
		return res, interruptedOr(ctx, ctx.Err())
	}

	// Schedule.
	r.mu.Lock()
	r.quiet = prog.Enabled()
	r.mu.Unlock()
	t0 := w.Now()
	if err := w.Emit(t0, events.ScheduleStart{Ops: len(sched.Ops)}); err != nil {
		return res, err
	}
	t0ns.Store(int64(t0))
	if cfg.Observe != nil {
		cfg.Observe(events.Event{T: t0, Payload: events.ScheduleStart{Ops: len(sched.Ops)}})
	}
	reason := r.execute(ctx, t0)
	if reason == "done" {
		r.drain(ctx)
	}
	if ctx.Err() != nil {
		reason = "interrupted"
	}
	r.reqCancel()
	r.reqs.Wait()
	cancelStarts() // restarts still in progress are abandoned
	r.bg.Wait()
	r.emit(events.RunEnd{Reason: reason})
	stopSampler()
	sampDone.Wait()
	if reason == "done" {
		prog.Finish()
	} else if prog.Enabled() {
		fmt.Fprintln(cfg.Stderr)
	}
	r.stopAll()
	r.watch.Wait()
	r.closed.Store(true)
	if err := w.Close(); err != nil {
		return res, err
	}

	// Report.
	log, err := events.ReadFile(res.EventsPath)
	if err != nil {
		return res, err
	}
	s, files, err := report.Generate(out, log, metrics.Options{})
	res.Summary, res.Files = s, files
	if err != nil {
		return res, err
	}
	_ = report.WriteText(cfg.Stdout, s)
	fmt.Fprintf(cfg.Stdout, "Report      %s (summary.txt, *.png, *.csv, %s, %s)\n", out, EventsFile, ScheduleFile)
	if n := r.warnings.Load(); n > 0 {
		fmt.Fprintf(cfg.Stderr, "testnet: %d warning(s), see %s\n", n, filepath.Join(out, LauncherLog))
	}
	if reason != "done" {
		return res, interruptedOr(ctx, ctx.Err())
	}
	return res, nil
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// interruptedOr wraps err in ErrInterrupted if ctx was cancelled.
func interruptedOr(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	if c := context.Cause(ctx); c != nil && errors.Is(c, ErrInterrupted) {
		return c
	}
	return fmt.Errorf("%w: %v", ErrInterrupted, context.Cause(ctx))
}

// startAll starts the supernode-hinted nodes (the first alone, so the
// others can bootstrap from it), then everyone else, a few at a time.
func (r *runner) startAll(ctx context.Context) error {
	var seeds, rest []*node
	for _, n := range r.nodes {
		if n.spec.Role == scenario.RoleSupernode {
			seeds = append(seeds, n)
		} else {
			rest = append(rest, n)
		}
	}
	if len(seeds) > 0 {
		if err := r.startFirst(ctx, seeds[0]); err != nil {
			return err
		}
		seeds = seeds[1:]
	}
	for _, group := range [][]*node{seeds, rest} {
		if err := r.startParallel(ctx, group, 4); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) startParallel(ctx context.Context, nodes []*node, par int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, n := range nodes {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := r.startFirst(ctx, n); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		})
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return first
}

// settle waits (bounded by SettleTimeout) until every node's API answers
// and every leaf reports an attached supernode; in classic mode also when
// every supernode up is full (leaves >= max_leaves; backups count), since
// nothing will add one. In node mode the election promotes supernodes when
// the ones up are full, and the schedule starts once it has.
func (r *runner) settle(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.SettleTimeout)
	defer cancel()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	type poll struct {
		st  *nodeStatus
		err error
	}
	var unanswered, detached int
	for {
		polls := make([]poll, len(r.nodes))
		var wg sync.WaitGroup
		for i, n := range r.nodes {
			if n.up() {
				wg.Go(func() {
					sctx, c := context.WithTimeout(ctx, time.Second)
					defer c()
					polls[i].st, polls[i].err = getStatus(sctx, n.api)
				})
			}
		}
		wg.Wait()
		if ctx.Err() != nil { // keep the counts of the last complete poll
			if context.Cause(ctx) == context.DeadlineExceeded {
				r.warn("after %s: %d node(s) not answering, %d leaf/leaves not attached (supernodes not full); starting the schedule anyway",
					r.cfg.SettleTimeout, unanswered, detached)
			}
			return
		}
		unanswered, detached = 0, 0
		full := true
		for i, n := range r.nodes {
			p := polls[i]
			switch {
			case !n.up():
			case p.err != nil:
				unanswered++
			case p.st.Role == RoleSupernode:
				if p.st.MaxLeaves <= 0 || p.st.Leaves == nil || *p.st.Leaves < p.st.MaxLeaves {
					full = false
				}
			case len(p.st.Supernodes) == 0:
				detached++
			}
		}
		// In node mode the election adds supernodes when the ones up are
		// full, so wait for it: a node without a supernode can do nothing,
		// and measuring the overlay means measuring it once it has formed.
		// In classic mode the supernode count is fixed: full is final.
		if unanswered == 0 && (detached == 0 || (full && r.caps.Mode != ModeNode)) {
			if detached == 0 {
				r.info("testnet: overlay formed %.1f s after the first start: every node attached", r.w.Now().Seconds())
			}
			return
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}

// stopAll stops every node at the end of the run.
func (r *runner) stopAll() {
	var wg sync.WaitGroup
	for _, n := range r.nodes {
		wg.Go(func() { r.stop(n, 3*time.Second) })
	}
	wg.Wait()
}

// drain waits for the end of the scheduled window, then for the requests
// still in flight (each bounded by its own timeout).
func (r *runner) drain(ctx context.Context) {
	done := make(chan struct{})
	go func() { r.reqs.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

type nodeInfo struct {
	Node    int    `json:"node"`
	Profile string `json:"profile"`
	Role    string `json:"role_hint"`
	API     string `json:"api"`
	Addr    string `json:"addr"`
	PeerID  string `json:"peer_id"`
	DataDir string `json:"data_dir"`
	Log     string `json:"log"`
}

func (r *runner) writeNodes(path string) {
	var list []nodeInfo
	for _, n := range r.nodes {
		n.mu.Lock()
		list = append(list, nodeInfo{n.idx, n.spec.Profile, n.spec.Role, n.api, n.addr, n.peerID, n.dataDir, n.logPath})
		n.mu.Unlock()
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Node < list[j].Node })
	b, _ := json.MarshalIndent(list, "", "  ")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		r.warn("%s: %v", path, err)
	}
}
