package scale

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Lookup outcomes (the tracker paper's criterion: at least one holder
// returned that is alive when the answer arrives).
const (
	OutcomeSuccess     = "success"
	OutcomeNoLive      = "no_live_holder" // holders returned, none alive
	OutcomeNoHolders   = "no_holders"     // empty answer
	OutcomeTimeout     = "timeout"
	OutcomeError       = "error"
	OutcomeIssuerGone  = "issuer_gone" // the issuer left before the lookup ran
	outcomeNotFoundYet = "not_found"
)

// LookupRec is one lookup's result.
type LookupRec struct {
	At        time.Duration `json:"at_ns"`
	Slot      int           `json:"slot"`
	Object    int           `json:"object"`
	LatencyMS float64       `json:"latency_ms"`
	Holders   int           `json:"holders"`
	Live      int           `json:"live"`
	Outcome   string        `json:"outcome"`
	Err       string        `json:"err,omitempty"`
}

// PublishRec is one new object's announce and time to findable: from the
// start of the announce to the first lookup by another peer that returns
// the publisher (lookups every PublishProbe until LookupTimeout·3).
type PublishRec struct {
	At         time.Duration `json:"at_ns"`
	Slot       int           `json:"slot"`
	Prober     int           `json:"prober"`
	AnnounceMS float64       `json:"announce_ms"`
	FindableMS float64       `json:"findable_ms"` // 0: not found
	Probes     int           `json:"probes"`
	Err        string        `json:"err,omitempty"`
}

// PublishProbe is the interval between time-to-findable lookups.
const PublishProbe = 250 * time.Millisecond

// Phase is a snapshot at a phase boundary.
type Phase struct {
	Name    string          `json:"name"`
	At      time.Duration   `json:"at_ns"`
	CPU     time.Duration   `json:"cpu_ns"` // process user+system time so far
	Traffic map[int]Traffic `json:"-"`
}

// DesignRun is what one design measured on the schedule.
type DesignRun struct {
	Design     string         `json:"design"`
	Params     map[string]any `json:"params"`
	SetupS     float64        `json:"setup_s"`
	SetupErr   string         `json:"setup_error,omitempty"`
	Lookups    []LookupRec    `json:"lookups"`
	Publishes  []PublishRec   `json:"publishes"`
	JoinErrors int            `json:"join_errors"`
	JoinErr    string         `json:"join_error_example,omitempty"`
	Phases     []Phase        `json:"phases"`
	// Roles by slot ("supernode", "leaf", "dht") and when each slot's
	// node was live (for per-role traffic).
	Roles map[int]string `json:"-"`
	// Memory after setup and at the end.
	HeapSetupMB  float64     `json:"heap_setup_mb"`
	RSSPeakMB    float64     `json:"rss_peak_mb"`
	Goroutines   int         `json:"goroutines_setup"`
	WallS        float64     `json:"wall_s"`
	LateEvents   int         `json:"late_events"` // events started > 1 s after their time (overload)
	MaxLateMS    float64     `json:"max_late_ms"`
	Upkeep       []UpkeepRec `json:"upkeep"`
	maintenance  map[string]RoleTraffic
	measureTraff map[string]RoleTraffic
}

// UpkeepRec is what one round of a periodic maintenance task cost: bytes
// (in + out) per node of each role, beyond the quiet window's rate over
// the same time, and the rate that is over its period.
type UpkeepRec struct {
	Name      string             `json:"name"`
	Period    time.Duration      `json:"period_ns"`
	DurationS float64            `json:"duration_s"`
	Err       string             `json:"error,omitempty"`
	Fraction  float64            `json:"sampled_fraction"` // of the nodes that ran it
	BytesPer  map[string]float64 `json:"bytes_per_node_round"`
	RatePer   map[string]float64 `json:"bytes_per_s_amortised"`
}

// Progress receives one line per notable step.
type Progress func(format string, args ...any)

// RunDesign carries out s with design d on a fresh mocknet and returns
// what it measured. Every host and goroutine it started is stopped.
func RunDesign(ctx context.Context, s *Schedule, rtt *RTTTable, d design, log Progress) (*DesignRun, error) {
	if log == nil {
		log = func(string, ...any) {}
	}
	run := &DesignRun{Design: d.name(), Roles: map[int]string{}}
	w := newWorld(rtt, s.Cfg.Seed)
	defer w.close()
	defer d.close()
	wall := time.Now()
	log("%s: starting %d peers", d.name(), len(s.Initial))
	if err := d.setup(ctx, s, w); err != nil {
		run.SetupErr = err.Error()
		return run, fmt.Errorf("%s setup: %w", d.name(), err)
	}
	run.Params = d.params()
	run.SetupS = time.Since(wall).Seconds()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	run.HeapSetupMB = float64(ms.HeapInuse) / (1 << 20)
	writeHeapProfile(d.name())
	run.Goroutines = runtime.NumGoroutine()
	log("%s: %d peers up in %.0fs (heap %.0f MB, %d goroutines); running the %s schedule",
		d.name(), len(s.Initial), run.SetupS, run.HeapSetupMB, run.Goroutines, s.Cfg.Total())
	for _, sl := range s.Slots {
		run.Roles[sl.ID] = d.role(sl.ID)
	}

	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		cfg = s.Cfg
	)
	start := time.Now()
	snap := func(name string) {
		run.Phases = append(run.Phases, Phase{Name: name, At: time.Since(start), CPU: cpuTime(), Traffic: w.snapshot()})
	}
	bounds := []struct {
		at   time.Duration
		name string
	}{{cfg.Warmup, "measure"}, {cfg.Warmup + cfg.Measure, "quiet"}, {cfg.Total(), "end"}}
	snap("warmup")
	bi := 0
	wait := func(at time.Duration) bool {
		for bi < len(bounds) && bounds[bi].at <= at {
			if !sleepUntil(ctx, start.Add(bounds[bi].at)) {
				return false
			}
			snap(bounds[bi].name)
			bi++
		}
		return sleepUntil(ctx, start.Add(at))
	}
	for _, ev := range s.Events {
		if !wait(ev.At) {
			break
		}
		if late := time.Since(start) - ev.At; late > time.Second {
			run.LateEvents++
			run.MaxLateMS = max(run.MaxLateMS, float64(late)/1e6)
		}
		switch ev.Kind {
		case EvDepart:
			w.remove(ev.Slot)
			d.leave(ev.Slot)
		case EvArrive:
			wg.Go(func() {
				if err := d.join(ctx, ev.Slot); err != nil {
					mu.Lock()
					run.JoinErrors++
					run.JoinErr = err.Error()
					mu.Unlock()
				}
			})
		case EvLookup:
			wg.Go(func() {
				rec := doLookup(ctx, d, w, ev, cfg.LookupTimeout)
				mu.Lock()
				run.Lookups = append(run.Lookups, rec)
				mu.Unlock()
			})
		case EvPublish:
			wg.Go(func() {
				rec := doPublish(ctx, d, w, ev, cfg.LookupTimeout)
				mu.Lock()
				run.Publishes = append(run.Publishes, rec)
				mu.Unlock()
			})
		}
	}
	wait(cfg.Total())
	log("%s: schedule done; waiting for operations in flight", d.name())
	wg.Wait()
	run.maintenance = roleTraffic(run, "quiet", "end")
	run.measureTraff = roleTraffic(run, "measure", "quiet")
	for _, task := range d.upkeep() {
		if ctx.Err() != nil {
			break
		}
		log("%s: upkeep round: %s", d.name(), task.Name)
		run.Upkeep = append(run.Upkeep, measureUpkeep(ctx, run, w, task))
	}
	run.WallS = time.Since(wall).Seconds()
	run.RSSPeakMB = rssPeakMB()
	return run, ctx.Err()
}

// measureUpkeep runs task once and charges its traffic to the roles.
func measureUpkeep(ctx context.Context, run *DesignRun, w *world, task upkeepTask) UpkeepRec {
	rec := UpkeepRec{Name: task.Name, Period: task.Period, BytesPer: map[string]float64{}, RatePer: map[string]float64{}}
	before, t0 := w.snapshot(), time.Now()
	tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	if err := task.Run(tctx); err != nil {
		rec.Err = err.Error()
	}
	cancel()
	after := w.snapshot()
	rec.DurationS = time.Since(t0).Seconds()
	n := map[string]int{}
	for slot, b := range after {
		a, ok := before[slot]
		if !ok {
			continue
		}
		role := run.Roles[slot]
		rec.BytesPer[role] += float64(b.Sub(a).Total())
		n[role]++
	}
	frac := task.Fraction
	if frac <= 0 || frac > 1 {
		frac = 1
	}
	for role, k := range n {
		bytes := rec.BytesPer[role]/float64(k) - run.maintenance[role].BytesPerS*rec.DurationS
		rec.BytesPer[role] = max(0, bytes) / frac // a full round
		rec.RatePer[role] = rec.BytesPer[role] / task.Period.Seconds()
	}
	rec.Fraction = frac
	return rec
}

// heapProfileDir, if set, receives a heap profile after each setup.
var heapProfileDir string

func writeHeapProfile(name string) {
	if heapProfileDir == "" {
		return
	}
	if f, err := os.Create(filepath.Join(heapProfileDir, name+".heap")); err == nil {
		_ = pprof.WriteHeapProfile(f)
		f.Close()
	}
	if f, err := os.Create(filepath.Join(heapProfileDir, name+".goroutines")); err == nil {
		_ = pprof.Lookup("goroutine").WriteTo(f, 1)
		f.Close()
	}
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}

func doLookup(ctx context.Context, d design, w *world, ev Event, timeout time.Duration) LookupRec {
	rec := LookupRec{At: ev.At, Slot: ev.Slot, Object: ev.Object}
	if w.node(ev.Slot) == nil {
		rec.Outcome = OutcomeIssuerGone
		return rec
	}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t0 := time.Now()
	hs, err := d.lookup(lctx, ev.Slot, ev.Object, w.alive)
	rec.LatencyMS = float64(time.Since(t0)) / 1e6
	rec.Holders = len(hs)
	for _, h := range hs {
		if w.alive(h) {
			rec.Live++
		}
	}
	switch {
	case rec.Live > 0:
		rec.Outcome = OutcomeSuccess
	case err != nil && (errors.Is(err, context.DeadlineExceeded) || lctx.Err() != nil):
		rec.Outcome, rec.Err = OutcomeTimeout, err.Error()
	case err != nil:
		rec.Outcome, rec.Err = OutcomeError, err.Error()
	case len(hs) > 0:
		rec.Outcome = OutcomeNoLive
	default:
		rec.Outcome = OutcomeNoHolders
	}
	return rec
}

func doPublish(ctx context.Context, d design, w *world, ev Event, timeout time.Duration) PublishRec {
	rec := PublishRec{At: ev.At, Slot: ev.Slot, Prober: ev.Peer}
	pub := w.node(ev.Slot)
	if pub == nil {
		rec.Err = OutcomeIssuerGone
		return rec
	}
	self := pub.raw.ID()
	t0 := time.Now()
	if err := d.announce(ctx, ev.Slot, []int{ev.Object}); err != nil {
		rec.Err = "announce: " + err.Error()
		return rec
	}
	rec.AnnounceMS = float64(time.Since(t0)) / 1e6
	deadline := t0.Add(3 * timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		rec.Probes++
		lctx, cancel := context.WithTimeout(ctx, timeout)
		hs, _ := d.lookup(lctx, ev.Peer, ev.Object, func(p peer.ID) bool { return p == self })
		cancel()
		for _, h := range hs {
			if h == self {
				rec.FindableMS = float64(time.Since(t0)) / 1e6
				return rec
			}
		}
		if !sleepUntil(ctx, time.Now().Add(PublishProbe)) {
			break
		}
	}
	rec.Err = outcomeNotFoundYet
	return rec
}

// RoleTraffic is the mean traffic of the nodes of one role that were live
// through a whole window.
type RoleTraffic struct {
	Nodes      int                `json:"nodes"`
	BytesPerS  float64            `json:"bytes_per_s"` // in + out
	OutPerS    float64            `json:"out_bytes_per_s"`
	ByClassBPS map[string]float64 `json:"by_class_bytes_per_s"`
}

func roleTraffic(run *DesignRun, from, to string) map[string]RoleTraffic {
	var a, b *Phase
	for i := range run.Phases {
		switch run.Phases[i].Name {
		case from:
			a = &run.Phases[i]
		case to:
			b = &run.Phases[i]
		}
	}
	if a == nil || b == nil || b.At <= a.At {
		return nil
	}
	secs := (b.At - a.At).Seconds()
	out := map[string]RoleTraffic{}
	for slot, tb := range b.Traffic {
		ta, ok := a.Traffic[slot]
		if !ok {
			continue // joined during the window
		}
		role := run.Roles[slot]
		d := tb.Sub(ta)
		rt := out[role]
		if rt.ByClassBPS == nil {
			rt.ByClassBPS = map[string]float64{}
		}
		rt.Nodes++
		rt.BytesPerS += float64(d.Total()) / secs
		var o int64
		for c := range nClasses {
			o += d.Out[c]
			rt.ByClassBPS[classNames[c]] += float64(d.In[c]+d.Out[c]) / secs
		}
		rt.OutPerS += float64(o) / secs
		out[role] = rt
	}
	for role, rt := range out {
		n := float64(rt.Nodes)
		rt.BytesPerS /= n
		rt.OutPerS /= n
		for c := range rt.ByClassBPS {
			rt.ByClassBPS[c] /= n
		}
		out[role] = rt
	}
	return out
}

// cpuTime is the process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rssPeakMB is the process's peak resident set (VmHWM), 0 if unknown.
func rssPeakMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
