package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/supertracker/supertracker/election"
	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/testnet/baseline"
	"github.com/supertracker/supertracker/testnet/baseline/helper"
	"github.com/supertracker/supertracker/testnet/capped"
	"github.com/supertracker/supertracker/testnet/events"
	"github.com/supertracker/supertracker/testnet/launcher"
	"github.com/supertracker/supertracker/testnet/metrics"
	"github.com/supertracker/supertracker/testnet/model"
	"github.com/supertracker/supertracker/testnet/report"
	"github.com/supertracker/supertracker/testnet/scenario"
)

// The paper's Fig. 2 claim, measured: "the reliability of server-based
// tracker design can deteriorate quickly under heavy load, whereas the
// DHT-based tracker can scale with load since when the load increases the
// number of servers will increase automatically". The election load sweep
// grows the number of peers N, each issuing lookups at a fixed rate, so λ
// grows with N, and caps every tracker node at the same lookup service
// rate μ (package testnet/capped: one M/M/1 server per node) so that 2
// cores reach saturation:
//
//   - server: n fixed opentracker servers, each behind the cap; every
//     client asks all n (each server sees every lookup, ρ = λ/μ);
//   - overlay: `supertracker node` with the election running (node mode),
//     two seed supernodes, every node capped at μ as a supernode; a lookup
//     is served by the leaf's primary, so ρ = λ/(S·μ), and the election
//     promotes when the supernodes' load or fill calls for it.

// LoadPlan is an election load sweep.
type LoadPlan struct {
	Peers   []int    `json:"peers"` // N values (nodes in all)
	Seeds   []uint64 `json:"seeds"`
	Designs []Design `json:"designs"` // Overlay, Server
	// SeedSupernodes: overlay nodes started as supernodes; Servers: n.
	SeedSupernodes int `json:"seed_supernodes"`
	Servers        int `json:"servers"`
	// PerPeerRate: lookups/s each peer issues (λ = PerPeerRate·N); Mu: the
	// cap of every tracker node, lookups/s.
	PerPeerRate float64 `json:"per_peer_rate"`
	Mu          float64 `json:"mu"`
	// The election: a supernode takes MaxLeaves sessions; eligible after
	// MinUptime.
	MaxLeaves int    `json:"max_leaves"`
	MinUptime string `json:"min_uptime"`
	// Scenario.
	Duration       time.Duration `json:"duration_ns"`
	Warmup         time.Duration `json:"warmup_ns"`
	LookupTimeout  time.Duration `json:"lookup_timeout_ns"`
	Objects        int           `json:"objects"`
	InitialHolders int           `json:"initial_holders"`
	AnnounceRate   float64       `json:"announce_rate"`
	HoldGrace      time.Duration `json:"hold_grace_ns"`
	// Measure: the last part of the window the success and the supernode
	// count are taken over (the election needs time to follow the load).
	Measure time.Duration `json:"measure_ns"`
}

// DefaultLoadPlan: N from 8 to 40, 1.5 lookups/s per peer, μ = 16/s, so
// the 2 fixed servers (λ/2 each) pass ρ = 1 at N ≈ 21.
func DefaultLoadPlan() LoadPlan {
	return LoadPlan{
		Peers: []int{8, 16, 24, 32, 40}, Seeds: []uint64{1}, Designs: []Design{Overlay, Server},
		SeedSupernodes: 2, Servers: 2, PerPeerRate: 1.5, Mu: 16,
		MaxLeaves: 30, MinUptime: "10s",
		Duration: 180 * time.Second, Warmup: 10 * time.Second, LookupTimeout: 3 * time.Second,
		Objects: 40, InitialHolders: 2, AnnounceRate: 0.5, HoldGrace: 2 * time.Second,
		// The election promotes a herd within seconds of the demand and
		// demotes the surplus after MinDwell (30 s) plus its slots: by
		// 120 s the supernode count has settled.
		Measure: 60 * time.Second,
	}
}

// Validate checks the plan.
func (pl LoadPlan) Validate() error {
	switch {
	case len(pl.Peers) == 0 || len(pl.Seeds) == 0 || len(pl.Designs) == 0:
		return errors.New("load sweep: needs peers, seeds and designs")
	case pl.SeedSupernodes < 1 || pl.Servers < 1:
		return errors.New("load sweep: needs ≥ 1 seed supernode and ≥ 1 server")
	case !(pl.PerPeerRate > 0) || !(pl.Mu > 0):
		return errors.New("load sweep: rates must be > 0")
	case pl.Measure <= 0 || pl.Measure > pl.Duration-pl.Warmup:
		return errors.New("load sweep: measure window must fit after the warmup")
	}
	for _, d := range pl.Designs {
		if d != Overlay && d != Server {
			return fmt.Errorf("load sweep: design %q (overlay or server)", d)
		}
	}
	for _, n := range pl.Peers {
		if n <= max(pl.SeedSupernodes, pl.Servers) || n > 120 {
			return fmt.Errorf("load sweep: %d peers outside (%d, 120]", n, max(pl.SeedSupernodes, pl.Servers))
		}
	}
	return nil
}

// trackers is the count of tracker-profile nodes of design d.
func (pl LoadPlan) trackers(d Design) int {
	if d == Server {
		return pl.Servers
	}
	return pl.SeedSupernodes
}

// params is the sweep Params the analysis uses for (N, d).
func (pl LoadPlan) params(n int, d Design) Params {
	t := pl.trackers(d)
	return Params{Trackers: t, Peers: n - t, Duration: pl.Duration, Warmup: pl.Warmup, Objects: pl.Objects,
		InitialHolders: pl.InitialHolders, AnnounceRate: pl.AnnounceRate, LookupRate: pl.PerPeerRate * float64(n),
		LookupTimeout: pl.LookupTimeout, Replication: min(pl.Servers, t), Refresh: 5 * time.Second}
}

// scenarioFor is the scenario of (N, d): no churn; the tracker profile
// (seed supernodes, or the n server hosts) and the peers.
func (pl LoadPlan) scenarioFor(n int, d Design) (*scenario.Scenario, error) {
	t := pl.trackers(d)
	peerRole := scenario.RoleAuto
	if d == Server {
		peerRole = scenario.RoleLeaf
	}
	sc := &scenario.Scenario{
		Name:        fmt.Sprintf("load-%s-N%d", d, n),
		Description: fmt.Sprintf("election load sweep: %d nodes, %g lookups/s each, μ = %g/s per tracker node", n, pl.PerPeerRate, pl.Mu),
		Seed:        1, Duration: scenario.D(pl.Duration), Warmup: scenario.D(pl.Warmup), NodeCount: n,
		Profiles: []scenario.Profile{
			{Name: "tracker", Count: t, UploadBps: 1 << 20, MTTF: scenario.None(), MTTR: scenario.None(), Role: scenario.RoleSupernode},
			{Name: "peer", Count: n - t, UploadBps: 1 << 20, MTTF: scenario.None(), MTTR: scenario.None(), Role: peerRole},
		},
		Objects: pl.Objects, Zipf: scenario.Zipf{S: 1, V: 1}, InitialHolders: pl.InitialHolders,
		AnnounceRate: pl.AnnounceRate, LookupRate: pl.PerPeerRate * float64(n), LookupTimeout: scenario.D(pl.LookupTimeout),
		Churn:     scenario.Churn{Enabled: false},
		Election:  scenario.Election{MinUptime: pl.MinUptime, MinUpload: "131072", MaxLeaves: strconv.Itoa(pl.MaxLeaves)},
		MaxEvents: 200000,
	}
	return sc, sc.Validate()
}

// LoadRun is one (N, seed, design) run of the load sweep.
type LoadRun struct {
	Design Design  `json:"design"`
	Peers  int     `json:"peers"`
	Seed   uint64  `json:"seed"`
	Dir    string  `json:"dir"`
	Error  string  `json:"error,omitempty"`
	Lambda float64 `json:"lambda"` // offered lookups/s
	// Held lookups issued in the measure window.
	Held          int            `json:"held"`
	HeldSucceeded int            `json:"held_succeeded"`
	Outcomes      map[string]int `json:"outcomes"`
	P50MS         float64        `json:"p50_ms"`
	P95MS         float64        `json:"p95_ms"`
	// Tracker nodes: the supernode count (time-weighted, measure window;
	// the server design: n) and the capped servers' utilisation ρ (mean of
	// the nodes serving lookups, sampled each second) and its maximum.
	TrackersMean float64 `json:"trackers_mean"`
	TrackersMax  int     `json:"trackers_max"`
	RhoMean      float64 `json:"rho_mean"`
	RhoMax       float64 `json:"rho_max"`
	RhoSamples   int     `json:"rho_samples"`
	Promotions   int     `json:"promotions"`
	Demotions    int     `json:"demotions"`
	TrackersEnd  int     `json:"trackers_end"` // supernodes at the end of the run
	// Held lookups issued from the warm-up on (the election's transient
	// included).
	AllHeld      int     `json:"all_held"`
	AllSucceeded int     `json:"all_succeeded"`
	ElapsedS     float64 `json:"elapsed_s"`
	// PlanKey: the plan the run was made with (--reuse checks it).
	PlanKey string `json:"plan_key,omitempty"`
}

// LoadReport is the load sweep's output (load.json).
type LoadReport struct {
	Plan    LoadPlan   `json:"plan"`
	Started time.Time  `json:"started"`
	Command string     `json:"command"`
	Runs    []*LoadRun `json:"runs"`
	Points  []LoadPoint
}

// LoadPoint pools a (N, design) over the seeds, with the model.
type LoadPoint struct {
	Design       Design         `json:"design"`
	Peers        int            `json:"peers"`
	Lambda       float64        `json:"lambda"`
	Held         int            `json:"held"`
	Succeeded    int            `json:"succeeded"`
	Rate         float64        `json:"rate"`
	Lo           float64        `json:"lo"`
	Hi           float64        `json:"hi"`
	TrackersMean float64        `json:"trackers_mean"`
	RhoMean      float64        `json:"rho_mean"`
	Outcomes     map[string]int `json:"outcomes"`
	// Model: the paper's model at this N (server: n servers each seeing
	// every lookup; overlay: one capped supernode per lookup, ρ = λ/(Sμ),
	// with the model's S(N) and with the measured S). ModelTrackers: S(N).
	Model         float64 `json:"model"`
	ModelMeasured float64 `json:"model_measured_s"`
	ModelTrackers float64 `json:"model_trackers"`
	// ModelTrackersMax: the high end of the counts the election's
	// hysteresis keeps (ModelTrackersMax); TrackersInBand: the measured
	// mean count within [ModelTrackers − 0.5, ModelTrackersMax + 0.5].
	ModelTrackersMax float64 `json:"model_trackers_max"`
	TrackersInBand   bool    `json:"trackers_in_band"`
	// ModelRho: offered utilisation of a tracker node; ModelCarried: its
	// busy fraction, comparable with the measured RhoMean.
	ModelRho     float64 `json:"model_rho"`
	ModelCarried float64 `json:"model_carried"`
	WithinModel  bool    `json:"within_model"` // the 95% interval overlaps the model (measured S) ± 0.05
	// ModelPaper: the server design under the paper's product form.
	ModelPaper float64 `json:"model_paper,omitempty"`
	// The whole run from the warm-up on (the election's transient
	// included), role changes, and the supernode count at the end (mean
	// over the seeds).
	AllHeld      int     `json:"all_held"`
	AllSucceeded int     `json:"all_succeeded"`
	AllRate      float64 `json:"all_rate"`
	Promotions   int     `json:"promotions"`
	Demotions    int     `json:"demotions"`
	TrackersEnd  float64 `json:"trackers_end"`
}

// The election's thresholds (the node runs --preset local) and a leaf's
// sessions (a primary and its backups): the model of the supernode count
// reads them from the code it models.
var (
	loadElection = election.LocalConfig()
	leafSessions = 1 + leaf.LocalConfig().Backups
)

// Queue is h of the paper's M/M/1/h, every capped node's queue bound:
// ⌊μT/2⌋. The model counts a queued lookup as served; with h = μT a full
// queue's last place waits T on average and would time out half the time
// (the server design's client even gives up at 0.8T), while h services
// exceed T only with probability P(Poisson(μT) < h) ≈ 10⁻⁴ at μT = 48.
func (pl LoadPlan) Queue() int {
	return int(math.Max(1, math.Floor(pl.Mu*pl.LookupTimeout.Seconds()/2)))
}

// overlayRho is the offered utilisation of each of s supernodes at N
// peers: a supernode serves its own lookups itself (no leaf protocol, no
// cap), so the capped supernodes share the N − s leaves' lookups, spread
// over them (leaves move their primary off an overloaded supernode,
// leaf.RebalanceConfig).
func (pl LoadPlan) overlayRho(n, s float64) float64 {
	return pl.PerPeerRate * (n - s) / (s * pl.Mu)
}

// overlayFill is the supernodes' fill: the leaves' sessions (a primary
// and the backups each) over the s supernodes' MaxLeaves.
func (pl LoadPlan) overlayFill(n, s float64) float64 {
	return float64(leafSessions) * (n - s) / (s * float64(pl.MaxLeaves))
}

// ModelTrackers is the low end of the supernode count the election
// settles at: the fewest (at least the seeds) at which the leaves see no
// demand (ρ < PromoteRho and fill < PromoteFill); the election promotes
// while they do.
func (pl LoadPlan) ModelTrackers(n float64) float64 {
	ec := loadElection
	for s := float64(pl.SeedSupernodes); s < n; s++ {
		if pl.overlayRho(n, s) < ec.PromoteRho && pl.overlayFill(n, s) < ec.PromoteFill {
			return s
		}
	}
	return n
}

// overlaySurplus reports whether s supernodes see a surplus (the
// election's surplus rule with an even load): ρ ≤ DemoteRho and fill ≤
// DemoteFill, and one fewer would stay below the promote thresholds.
func (pl LoadPlan) overlaySurplus(n, s float64) bool {
	ec := loadElection
	if s < 2 {
		return false
	}
	rho, fill := pl.overlayRho(n, s), pl.overlayFill(n, s)
	return rho <= ec.DemoteRho && fill <= ec.DemoteFill && rho*s/(s-1) < ec.PromoteRho && fill*s/(s-1) < ec.PromoteFill
}

// ModelTrackersMax is the high end: the most supernodes that see no
// surplus. The election's hysteresis (promote at ρ ≥ PromoteRho, demote at
// ρ ≤ DemoteRho) makes every count from ModelTrackers to this one stable:
// approached from below the count stops at the low end; after a herd of
// promotions it comes down only to the high end.
func (pl LoadPlan) ModelTrackersMax(n float64) float64 {
	lo := pl.ModelTrackers(n)
	hi := lo
	for s := lo + 1; s <= n; s++ {
		if !pl.overlaySurplus(n, s) {
			hi = s
		}
	}
	return hi
}

// Model evaluates the model for design d at N peers (s: the supernode
// count for the overlay; 0 uses ModelTrackers). Rho is the offered
// utilisation of one tracker node; Carried what it serves (≤ 1).
func (pl LoadPlan) Model(d Design, n, s float64) (LoadModel, error) {
	lambda := pl.PerPeerRate * n
	h := pl.Queue()
	if d == Server {
		// A client tries the n servers one at a time (BEP 12), so each
		// sees λ/n and a lookup fails when all n turn it away. Under load
		// their queues fill together: the pool of n M/M/1/h servers is
		// an M/M/n/(n·h) queue (PaperServerModel: the paper's product
		// form, which treats them as independent).
		pb := model.PoolBlock(lambda, pl.Mu, pl.Servers, pl.Servers*h)
		rho := lambda / (float64(pl.Servers) * pl.Mu)
		return LoadModel{Reliability: 1 - pb, Rho: rho, Carried: rho * (1 - pb), Trackers: float64(pl.Servers)}, nil
	}
	if s <= 0 {
		s = pl.ModelTrackers(n)
	}
	if !(s >= 1) || s > n {
		return LoadModel{}, fmt.Errorf("load model: %g supernodes of %g peers", s, n)
	}
	// The leaves' lookups queue at their primaries (M/M/1/h each, even
	// load); the supernodes' own are served locally.
	rho := pl.overlayRho(n, s)
	pb := model.PoolBlock(rho*pl.Mu, pl.Mu, 1, h)
	return LoadModel{Reliability: 1 - (n-s)/n*pb, Rho: rho, Carried: rho * (1 - pb), Trackers: s}, nil
}

// LoadModel is the model's prediction at one N.
type LoadModel struct {
	Reliability float64
	Rho         float64 // offered utilisation of one tracker node
	Carried     float64 // its busy fraction: Rho × (1 − P_block)
	Trackers    float64
}

// PaperServerModel is the paper's server model as it stands at N peers:
// 1 − P_block(λ/(nμ), h)^n, the n servers blocking independently.
func (pl LoadPlan) PaperServerModel(n float64) (float64, error) {
	p := model.Params{MTTF: 1, MTTR: 0, Mu: pl.Mu, H: pl.Queue(), Design: model.Server, N: pl.Servers, Lambda: pl.PerPeerRate * n}
	r, err := model.Evaluate(p)
	return r.Reliability, err
}

// LoadOptions configure RunLoad.
type LoadOptions struct {
	Plan        LoadPlan
	Binary      string
	Helper      string
	Opentracker string
	Work        string
	Figures     string
	Markdown    string
	Log         io.Writer
	Command     string
	// Reuse: a run whose result.json (same plan) is in Work is read, not
	// run again. Only (with Reuse): the N values to run; the others are
	// only read (missing ones are reported as errors). Together they let
	// the sweep be run one N at a time and assembled at the end.
	Reuse bool
	Only  []int
}

// RunLoad runs the election load sweep and writes load.json, the figure
// and the markdown.
func RunLoad(ctx context.Context, o LoadOptions) (*LoadReport, error) {
	pl := o.Plan
	if err := pl.Validate(); err != nil {
		return nil, err
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
	rep := &LoadReport{Plan: pl, Started: time.Now(), Command: o.Command}
	var errs []error
	for _, n := range pl.Peers {
		for _, seed := range pl.Seeds {
			for _, d := range pl.Designs {
				if ctx.Err() != nil {
					break
				}
				lr, err := reuseOrRunLoad(ctx, o, n, seed, d)
				rep.Runs = append(rep.Runs, lr)
				if err != nil {
					errs = append(errs, fmt.Errorf("N=%d seed %d %s: %w", n, seed, d, err))
				}
				if o.Log != nil {
					fmt.Fprintf(o.Log, "load sweep: %-8s N=%-3d λ=%.0f/s  success %d/%d  trackers %.2f  ρ %.2f (max %.2f)  %.0fs\n",
						d, n, lr.Lambda, lr.HeldSucceeded, lr.Held, lr.TrackersMean, lr.RhoMean, lr.RhoMax, lr.ElapsedS)
				}
			}
		}
	}
	var err error
	if rep.Points, err = loadPoints(pl, rep.Runs); err != nil {
		return rep, err
	}
	if err := writeLoadOutputs(o, rep); err != nil {
		return rep, err
	}
	return rep, errors.Join(errs...)
}

// reuseOrRunLoad reads the run's stored result when o.Reuse allows it,
// else runs it (unless o.Only leaves N out).
func reuseOrRunLoad(ctx context.Context, o LoadOptions, n int, seed uint64, d Design) (*LoadRun, error) {
	dir := loadRunDir(o.Work, n, seed, d)
	if o.Reuse {
		var lr LoadRun
		b, err := os.ReadFile(filepath.Join(dir, ResultFile))
		if err == nil && json.Unmarshal(b, &lr) == nil && lr.Error == "" && lr.PlanKey == o.Plan.key() {
			return &lr, nil
		}
		if len(o.Only) > 0 && !slices.Contains(o.Only, n) {
			lr := &LoadRun{Design: d, Peers: n, Seed: seed, Dir: dir, Error: "no stored run (--reuse, not in --peers)"}
			return lr, errors.New(lr.Error)
		}
	}
	return runLoadOne(ctx, o, n, seed, d)
}

// loadRunDir is the work directory of run (N, seed, d).
func loadRunDir(work string, n int, seed uint64, d Design) string {
	return filepath.Join(work, "load", fmt.Sprintf("N%d", n), "seed"+strconv.FormatUint(seed, 10), string(d))
}

// key identifies the plan's parameters a run depends on (not its lists of
// N, seeds and designs), so a stored run of another plan is not reused.
func (pl LoadPlan) key() string {
	c := pl
	c.Peers, c.Seeds, c.Designs = nil, nil, nil
	b, _ := json.Marshal(c)
	return string(b)
}

func runLoadOne(ctx context.Context, o LoadOptions, n int, seed uint64, d Design) (*LoadRun, error) {
	pl := o.Plan
	lr := &LoadRun{Design: d, Peers: n, Seed: seed, Lambda: pl.PerPeerRate * float64(n), Outcomes: map[string]int{}, PlanKey: pl.key()}
	dir := loadRunDir(o.Work, n, seed, d)
	lr.Dir = dir
	fail := func(err error) (*LoadRun, error) { lr.Error = err.Error(); return lr, err }
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	sc, err := pl.scenarioFor(n, d)
	if err != nil {
		return fail(err)
	}
	bin, mode, err := prepareLoad(dir, o, pl, d)
	if err != nil {
		return fail(err)
	}
	stderr, err := os.Create(filepath.Join(dir, "launcher-stderr.log"))
	if err != nil {
		return fail(err)
	}
	defer stderr.Close()
	// Poll the capped servers' stats once a second while the run lasts.
	pctx, stopPoll := context.WithCancel(ctx)
	var samples []rhoSample
	var mu sync.Mutex
	var t0 time.Time
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		seen := map[string]time.Time{}
		for {
			select {
			case <-pctx.Done():
				return
			case <-tick.C:
			}
			dirs, _ := filepath.Glob(filepath.Join(dir, "out", "nodes", "node*"))
			for _, nd := range dirs {
				st, err := capped.ReadStats(nd)
				if err != nil || !st.At.After(seen[nd]) {
					continue
				}
				seen[nd] = st.At
				mu.Lock()
				if !t0.IsZero() && st.Lambda > 0 {
					samples = append(samples, rhoSample{st.At.Sub(t0), st.Rho})
				}
				mu.Unlock()
			}
		}
	})
	began := time.Now()
	cfg := launcher.Config{
		Scenario: sc, Seed: seed, Out: filepath.Join(dir, "out"), Binary: bin, NodeCommand: mode, LogLevel: "warn",
		Timeout: pl.Duration + 4*time.Minute, ReadyTimeout: 30 * time.Second, Progress: report.ProgressOff,
		Stdout: io.Discard, Stderr: stderr,
		Observe: func(ev events.Event) {
			if _, ok := ev.Payload.(events.ScheduleStart); ok {
				mu.Lock()
				t0 = time.Now()
				mu.Unlock()
			}
		},
	}
	res, runErr := launcher.Run(ctx, cfg)
	stopPoll()
	wg.Wait()
	lr.ElapsedS = time.Since(began).Seconds()
	if runErr != nil {
		return fail(runErr)
	}
	from := pl.Duration - pl.Measure
	if err := analyzeLoad(lr, res.EventsPath, pl, n, d, from); err != nil {
		return fail(err)
	}
	var sum float64
	for _, s := range samples {
		if s.at >= from && s.at < pl.Duration {
			sum += s.rho
			lr.RhoSamples++
			lr.RhoMax = math.Max(lr.RhoMax, s.rho)
		}
	}
	if lr.RhoSamples > 0 {
		lr.RhoMean = sum / float64(lr.RhoSamples)
	}
	b, _ := json.MarshalIndent(lr, "", " ")
	_ = os.WriteFile(filepath.Join(dir, ResultFile), append(b, '\n'), 0o644)
	return lr, nil
}

type rhoSample struct {
	at  time.Duration // since schedule time zero
	rho float64
}

// prepareLoad writes the node wrapper: the overlay runs `node` (election)
// with --service-rate; the server design runs the baseline helper with a
// capped proxy per tracker.
func prepareLoad(dir string, o LoadOptions, pl LoadPlan, d Design) (bin, mode string, err error) {
	bin = filepath.Join(dir, "node.sh")
	if d == Overlay {
		script := fmt.Sprintf(`#!/bin/sh
# supertracker node with the load sweep's service cap (μ = %g lookups/s, h = %d)
bin=%s
case "$1" in
node) shift; exec "$bin" node "$@" --service-rate %g --service-queue %d ;;
*)    exec "$bin" "$@" ;;
esac
`, pl.Mu, pl.Queue(), shellQuote(o.Binary), pl.Mu, pl.Queue())
		return bin, "on", os.WriteFile(bin, []byte(script), 0o755)
	}
	if o.Opentracker == "" {
		if o.Opentracker, err = FindOpentracker(); err != nil {
			return "", "", err
		}
	}
	wl := filepath.Join(dir, "whitelist.txt")
	if err := os.WriteFile(wl, baseline.Whitelist(pl.Objects), 0o644); err != nil {
		return "", "", err
	}
	cfg := &baseline.Config{Design: baseline.DesignServer, Refresh: 5 * time.Second,
		LookupWait: pl.LookupTimeout - min(pl.LookupTimeout/5, 500*time.Millisecond), NumWant: 50,
		Whitelist: wl, Opentracker: o.Opentracker, ServiceRate: pl.Mu, ServiceQueue: pl.Queue(), LookupFailover: true}
	for j := range pl.Servers {
		ip := fmt.Sprintf("127.0.0.%d", j+2)
		port, err := freePort(ip)
		if err != nil {
			return "", "", err
		}
		capPort, err := freePort(ip)
		if err != nil {
			return "", "", err
		}
		cfg.Servers = append(cfg.Servers, baseline.Server{IP: ip, Port: port, CapPort: capPort})
	}
	if err := cfg.Validate(); err != nil {
		return "", "", err
	}
	cfgPath := filepath.Join(dir, "baseline.json")
	if err := baseline.WriteConfig(cfgPath, cfg); err != nil {
		return "", "", err
	}
	return bin, "off", baseline.WriteWrapper(bin, o.Helper, helper.Subcommand, "-config", cfgPath)
}

// analyzeLoad takes the held lookups issued after from, and the tracker
// count over [from, Duration).
func analyzeLoad(lr *LoadRun, eventsPath string, pl LoadPlan, n int, d Design, from time.Duration) error {
	log, err := events.ReadFile(eventsPath)
	if err != nil {
		return err
	}
	trackers := pl.trackers(d)
	// announces[obj]: when peers were told to announce it (no churn: they
	// stay up).
	announces := map[int][]time.Duration{}
	for _, ev := range log.Events {
		if e, ok := ev.Payload.(events.OpIssued); ok && e.Op == "announce" && e.Skipped == "" && e.Node >= trackers {
			announces[e.Object] = append(announces[e.Object], e.At)
		}
	}
	rows, err := metrics.LookupRows(log)
	if err != nil {
		return err
	}
	var lat []float64
	for _, r := range rows {
		if r.Issued < pl.Warmup || r.Issued >= pl.Duration {
			continue
		}
		held := false
		for _, at := range announces[r.Object] {
			if at+pl.HoldGrace <= r.Issued {
				held = true
				break
			}
		}
		if !held {
			continue
		}
		lr.AllHeld++
		if r.Outcome == metrics.OutcomeSuccess {
			lr.AllSucceeded++
		}
		if r.Issued < from {
			continue
		}
		lr.Held++
		lr.Outcomes[r.Outcome]++
		if r.Outcome == metrics.OutcomeSuccess {
			lr.HeldSucceeded++
		}
		if r.Status == events.StatusOK {
			lat = append(lat, float64(r.Latency.Microseconds())/1000)
		}
	}
	sort.Float64s(lat)
	lr.P50MS, lr.P95MS = Percentile(lat, 50), Percentile(lat, 95)
	if d == Server {
		lr.TrackersMean, lr.TrackersMax, lr.TrackersEnd = float64(pl.Servers), pl.Servers, pl.Servers
		return nil
	}
	s, err := metrics.Compute(log, metrics.Options{})
	if err != nil {
		return err
	}
	lr.Promotions, lr.Demotions = s.RoleChanges.Promotions, s.RoleChanges.Demotions
	// Time-weighted supernode count over [from, Duration).
	var area float64
	series := s.Supernodes.Series
	for i, pt := range series {
		lo := math.Max(pt.TS, from.Seconds())
		hi := pl.Duration.Seconds()
		if i+1 < len(series) {
			hi = math.Min(hi, series[i+1].TS)
		}
		if hi > lo {
			area += float64(pt.Count) * (hi - lo)
			lr.TrackersMax = max(lr.TrackersMax, pt.Count)
		}
	}
	lr.TrackersMean = area / pl.Measure.Seconds()
	if len(series) > 0 {
		lr.TrackersEnd = series[len(series)-1].Count
	}
	return nil
}

func loadPoints(pl LoadPlan, runs []*LoadRun) ([]LoadPoint, error) {
	var out []LoadPoint
	for _, n := range pl.Peers {
		for _, d := range pl.Designs {
			pt := LoadPoint{Design: d, Peers: n, Lambda: pl.PerPeerRate * float64(n), Outcomes: map[string]int{}}
			var trackers, rho, end float64
			var k int
			for _, r := range runs {
				if r.Design != d || r.Peers != n || r.Error != "" {
					continue
				}
				k++
				pt.Held += r.Held
				pt.Succeeded += r.HeldSucceeded
				pt.AllHeld += r.AllHeld
				pt.AllSucceeded += r.AllSucceeded
				pt.Promotions += r.Promotions
				pt.Demotions += r.Demotions
				trackers += r.TrackersMean
				end += float64(r.TrackersEnd)
				rho += r.RhoMean
				for o, c := range r.Outcomes {
					pt.Outcomes[o] += c
				}
			}
			if k > 0 {
				pt.TrackersMean, pt.RhoMean, pt.TrackersEnd = trackers/float64(k), rho/float64(k), end/float64(k)
			}
			pt.Rate = ratio(pt.Succeeded, pt.Held)
			pt.AllRate = ratio(pt.AllSucceeded, pt.AllHeld)
			if d == Server {
				mp, err := pl.PaperServerModel(float64(n))
				if err != nil {
					return nil, err
				}
				pt.ModelPaper = mp
			}
			pt.Lo, pt.Hi = Wilson(pt.Succeeded, pt.Held)
			m, err := pl.Model(d, float64(n), 0)
			if err != nil {
				return nil, err
			}
			pt.Model, pt.ModelRho, pt.ModelCarried = m.Reliability, m.Rho, m.Carried
			pt.ModelTrackers, pt.ModelTrackersMax = m.Trackers, m.Trackers
			pt.TrackersInBand = true
			if d == Overlay {
				pt.ModelTrackersMax = pl.ModelTrackersMax(float64(n))
				pt.TrackersInBand = pt.TrackersMean >= pt.ModelTrackers-0.5 && pt.TrackersMean <= pt.ModelTrackersMax+0.5
			}
			pt.ModelMeasured = pt.Model
			if d == Overlay && pt.TrackersMean > 0 {
				mm, err := pl.Model(d, float64(n), pt.TrackersMean)
				if err != nil {
					return nil, err
				}
				pt.ModelMeasured = mm.Reliability
			}
			pt.WithinModel = pt.Held > 0 && pt.Lo <= pt.ModelMeasured+DefaultTolerance && pt.Hi >= pt.ModelMeasured-DefaultTolerance
			out = append(out, pt)
		}
	}
	return out, nil
}

// ReanalyzeLoad loads a load.json written by RunLoad and redoes the
// analysis from each run's event log (still under its Dir) with this
// code: success windows, tracker counts, models, figure and markdown. ρ is
// kept as stored (its samples are not in the event log).
func ReanalyzeLoad(jsonPath string, o LoadOptions) (*LoadReport, error) {
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		return nil, err
	}
	var rep LoadReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("%s: %w", jsonPath, err)
	}
	pl := rep.Plan
	for _, lr := range rep.Runs {
		if lr.Error != "" || lr.Dir == "" {
			continue
		}
		fresh := &LoadRun{Design: lr.Design, Peers: lr.Peers, Seed: lr.Seed, Dir: lr.Dir, Lambda: lr.Lambda,
			Outcomes: map[string]int{}, RhoMean: lr.RhoMean, RhoMax: lr.RhoMax, RhoSamples: lr.RhoSamples, ElapsedS: lr.ElapsedS, PlanKey: lr.PlanKey}
		if err := analyzeLoad(fresh, filepath.Join(lr.Dir, "out", "events.jsonl"), pl, lr.Peers, lr.Design, pl.Duration-pl.Measure); err != nil {
			return nil, fmt.Errorf("%s: %w", lr.Dir, err)
		}
		*lr = *fresh
	}
	if rep.Points, err = loadPoints(pl, rep.Runs); err != nil {
		return nil, err
	}
	o.Plan = pl
	if o.Figures, err = filepath.Abs(o.Figures); err != nil {
		return nil, err
	}
	if o.Command != "" {
		rep.Command = o.Command
	}
	return &rep, writeLoadOutputs(o, &rep)
}
